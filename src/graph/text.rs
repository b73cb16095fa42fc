//! Text helpers for the SVG renderer: XML escaping and a font-free width
//! estimate used to truncate labels that would overflow their box (plus,
//! for tests, a tiny XML well-formedness check).

use std::borrow::Cow;

/// Escapes the five XML special characters. Control characters other than
/// tab and newline, which XML 1.0 forbids even escaped, become spaces.
pub(super) fn xml_escape(s: &str) -> Cow<'_, str> {
    let forbidden = |c: char| c.is_control() && c != '\n' && c != '\t';
    let clean = |c: char| !matches!(c, '&' | '<' | '>' | '"' | '\'') && !forbidden(c);
    if s.chars().all(clean) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if forbidden(c) => out.push(' '),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Rough advance width of `c` in ems for a sans-serif font. Without font
/// metrics this errs wide, so truncated text never spills out of its box.
fn char_em(c: char, bold: bool) -> f64 {
    let base = match c {
        'i' | 'j' | 'l' | '.' | ',' | ':' | ';' | '\'' | '|' | '!' | ' ' => 0.3,
        'f' | 't' | 'r' | 'I' | '-' | '(' | ')' | '[' | ']' | '/' => 0.4,
        'm' | 'w' | 'M' | 'W' | '@' => 0.9,
        c if c.is_ascii_uppercase() || c.is_ascii_digit() => 0.65,
        c if c.is_ascii() => 0.6,
        // CJK, emoji and other wide scripts take about a full em.
        c if u32::from(c) >= 0x1100 => 1.0,
        _ => 0.62,
    };
    if bold { base * 1.15 } else { base }
}

pub(super) fn text_width(s: &str, font_size: f64, bold: bool) -> f64 {
    s.chars().map(|c| char_em(c, bold)).sum::<f64>() * font_size
}

/// `s` as one line of SVG text: SVG deletes newlines instead of turning
/// them into spaces, which would glue words together.
pub(super) fn single_line(s: &str) -> Cow<'_, str> {
    if s.chars().any(char::is_control) {
        Cow::Owned(s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect())
    } else {
        Cow::Borrowed(s)
    }
}

/// `s` on one line, cut to fit `max_width` and ending in an ellipsis when
/// cut.
pub(super) fn truncate(s: &str, max_width: f64, font_size: f64, bold: bool) -> String {
    let s = single_line(s);
    if text_width(&s, font_size, bold) <= max_width {
        return s.into_owned();
    }
    let budget = max_width - text_width("…", font_size, bold);
    let mut used = 0.0;
    let mut out = String::new();
    for c in s.chars() {
        used += char_em(c, bold) * font_size;
        if used > budget {
            break;
        }
        out.push(c);
    }
    out.truncate(out.trim_end().len());
    out.push('…');
    out
}

/// Test helper shared with the SVG renderer's tests.
#[cfg(test)]
/// Minimal well-formedness check: tags balance, attribute values are
/// quoted, and `&` only starts one of the predefined entities.
pub(super) fn assert_well_formed(xml: &str) {
    let entity_ok = |rest: &str| {
        ["&amp;", "&lt;", "&gt;", "&quot;", "&apos;"]
            .iter()
            .any(|e| rest.starts_with(e))
    };
    let mut stack: Vec<&str> = Vec::new();
    let mut rest = xml
        .strip_prefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")
        .expect("prolog");
    let mut roots = 0;
    while let Some(open) = rest.find('<') {
        let text = &rest[..open];
        for (i, _) in text.match_indices('&') {
            assert!(entity_ok(&text[i..]), "bare & in text: {text}");
        }
        assert!(text.trim().is_empty() || !stack.is_empty(), "text outside root");
        let close = rest[open..].find('>').expect("unclosed tag") + open;
        let tag = &rest[open + 1..close];
        assert!(!tag.contains('<'), "'<' inside tag: {tag}");
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(stack.pop(), Some(name), "mismatched </{name}>");
        } else {
            let self_closing = tag.ends_with('/');
            let body = tag.trim_end_matches('/');
            let name = body.split_whitespace().next().expect("tag name");
            // Attributes: name="value" pairs, values free of '"' and bare '&'.
            let mut attrs = body[name.len()..].trim();
            while !attrs.is_empty() {
                let eq = attrs.find("=\"").expect("attribute without quoted value");
                let value_end = attrs[eq + 2..].find('"').expect("unterminated value") + eq + 2;
                let value = &attrs[eq + 2..value_end];
                for (i, _) in value.match_indices('&') {
                    assert!(entity_ok(&value[i..]), "bare & in attribute: {value}");
                }
                attrs = attrs[value_end + 1..].trim_start();
            }
            if stack.is_empty() {
                roots += 1;
            }
            if !self_closing {
                stack.push(name);
            }
        }
        rest = &rest[close + 1..];
    }
    assert!(stack.is_empty(), "unclosed: {stack:?}");
    assert!(rest.trim().is_empty());
    assert_eq!(roots, 1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_formedness_check_rejects_broken_xml() {
        let prolog = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
        let ok = format!("{prolog}<a x=\"{}\"><b/>{}</a>", xml_escape("\"&"), xml_escape("<&>"));
        assert_well_formed(&ok);
        for broken in ["<a><b></a></b>", "<a x=\"&\"/>", "<a>&</a>", "<a x=1/>", "<a/><b/>"] {
            let xml = format!("{prolog}{broken}");
            let result = std::panic::catch_unwind(|| assert_well_formed(&xml));
            assert!(result.is_err(), "accepted {broken}");
        }
    }

    #[test]
    fn escapes_all_five_and_controls() {
        assert_eq!(
            xml_escape("<a href=\"x\">'&'</a>\u{1}"),
            "&lt;a href=&quot;x&quot;&gt;&apos;&amp;&apos;&lt;/a&gt; "
        );
        assert!(matches!(xml_escape("plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn truncation_fits_and_marks_the_cut() {
        let long = "a-very-long-step-instance-name-for-europe-west";
        let cut = truncate(long, 120.0, 13.0, true);
        assert!(cut.ends_with('…'));
        assert!(text_width(&cut, 13.0, true) <= 120.0);
        assert!(long.starts_with(cut.trim_end_matches('…')));
        assert_eq!(truncate("fit", 120.0, 13.0, true), "fit");
        assert_eq!(truncate("two\nlines", 120.0, 13.0, true), "two lines");
        // Multi-byte characters are cut on char boundaries.
        let cjk = truncate("训练模型训练模型训练模型训练模型", 60.0, 12.0, false);
        assert!(cjk.ends_with('…'));
    }
}
