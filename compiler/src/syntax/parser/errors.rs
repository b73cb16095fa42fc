//! The wording of syntax errors: pest's expected tokens and rules turned into
//! "expected `}` or an attribute (`name = value`), found ..." with hints, and
//! the rounds that look for more than one error per file (`recovery.rs`).

use super::{Grammar, Rule};
use crate::code::Code;
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::source::{FileId, Span};
use crate::syntax::recovery;
use pest::Parser as _;

/// Reports the first syntax error, then looks for more: the statement that
/// holds an error is blanked out and the file parsed again (`recovery.rs`),
/// as long as each round moves forward.
pub(super) fn report_syntax_errors(file: FileId, text: &str, diags: &mut Diagnostics) {
    let mut current = text.to_string();
    let mut last = syntax_error(file, &current);
    for _ in 1..recovery::MAX_SYNTAX_ERRORS {
        let offset = last.span.map_or(0, |s| s.start as usize);
        diags.push(last);
        let Some(region) = recovery::statement_around(&current, offset) else {
            return;
        };
        current = recovery::blank(&current, region);
        if Grammar::parse(Rule::file, &current).is_ok() {
            return;
        }
        let next = syntax_error(file, &current);
        if next.span.is_none_or(|s| (s.start as usize) <= offset) {
            return;
        }
        last = next;
    }
    diags.push(last);
}

/// Re-parses with pest's error detail on, so the message can list the literal
/// tokens that were expected (`}`, `=`) rather than internal rule names.
fn syntax_error(file: FileId, text: &str) -> Diagnostic {
    pest::set_error_detail(true);
    let result = Grammar::parse(Rule::file, text);
    pest::set_error_detail(false);
    let Err(error) = result else {
        return Diagnostic::error(Code::SyntaxError, Span::new(file, 0, 0), "syntax error");
    };
    let mut offset = match error.location {
        pest::error::InputLocation::Pos(p) => p,
        pest::error::InputLocation::Span((s, _)) => s,
    };
    if let Some(attempts) = error.parse_attempts()
        && attempts.max_position >= offset
    {
        offset = attempts.max_position.min(text.len());
    }
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let mut expected: Vec<String> = Vec::new();
    if let Some(attempts) = error.parse_attempts() {
        for token in attempts.expected_tokens() {
            let token = token.to_string();
            // Ranges (`a..z`) and built-ins come from inside names and numbers,
            // which the rule names below describe better.
            if !token.contains("..") && token != "BUILTIN_RULE" && !token.trim().is_empty() {
                expected.push(format!("`{token}`"));
            }
        }
        for stack in attempts.call_stacks() {
            let rule = stack.parent.or(stack.deepest.get_rule().copied());
            if let Some(rule) = rule.and_then(rule_name) {
                expected.push(rule);
            }
        }
    }
    if let pest::error::ErrorVariant::ParsingError { positives, .. } = &error.variant {
        expected.extend(positives.iter().filter_map(|r| rule_name(*r)));
    }
    expected.sort();
    expected.dedup();
    // Comments and the byte-order mark can go anywhere: naming them is noise.
    // So are the first characters of an expression once "an expression" is said.
    let says_expression = expected.iter().any(|e| e == "an expression");
    expected.retain(|e| {
        let starts_expression = ["`\"`", "`(`", "`-`", "`[`", "`{`", "`not`"].contains(&e.as_str());
        e != "`_`" && e != "`#`" && e != "`\u{feff}`" && !(says_expression && starts_expression)
    });
    // After a complete operand, pest lists every operator that could
    // continue the expression; when a separator or a closing bracket is also
    // possible, that is almost always what was missing.
    let closes = ["`,`", "`]`", "`)`", "`}`"];
    if expected.iter().any(|e| closes.contains(&e.as_str())) {
        let continues = [
            "`!=`",
            "`(`",
            "`.`",
            "`[`",
            "`and`",
            "`or`",
            "a comparison",
            "`=`",
            "`{`",
        ];
        expected.retain(|e| !continues.contains(&e.as_str()));
    }
    let found = describe_found(&text[offset..]);
    let message = if expected.is_empty() {
        format!("unexpected {found}")
    } else {
        format!("expected {}, found {found}", join_or(&expected))
    };
    let end = offset + text[offset..].chars().next().map_or(0, char::len_utf8);
    let mut diag = Diagnostic::error(Code::SyntaxError, Span::new(file, offset, end), message);
    let word: String = text[offset..]
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    let keywords = recovery::starters();
    if !word.is_empty()
        && let Some(hint) = crate::suggest::did_you_mean(&word, keywords)
    {
        diag = diag.with_hint(hint);
    }
    if expected.iter().any(|e| e == "`,`") && !text[offset..].starts_with([',', ']', ')', '}']) {
        diag = diag.with_hint("separate items with a comma");
    }
    if text[offset..].starts_with(':') {
        diag = diag.with_hint("attributes are set with `=`, as in `image = \"name:tag\"`");
    }
    diag
}

fn describe_found(rest: &str) -> String {
    match rest.chars().next() {
        None => "the end of the file".into(),
        Some('\n') | Some('\r') => "the end of the line".into(),
        Some(c) if c.is_alphanumeric() || c == '_' => {
            let word: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .take(40)
                .collect();
            format!("`{word}`")
        }
        Some(c) => format!("`{c}`"),
    }
}

fn join_or(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// Readable names for the rules a user can be told were expected.
fn rule_name(rule: Rule) -> Option<String> {
    if rule == Rule::kind {
        let kinds: Vec<&str> = crate::types::StepKind::ALL.iter().map(|k| k.as_str()).collect();
        return Some(format!("a step kind ({})", kinds.join(", ")));
    }
    let name = match rule {
        Rule::ident => "a name",
        Rule::string => "a string",
        Rule::number => "a number",
        Rule::expr | Rule::operand => "an expression",
        Rule::item | Rule::import | Rule::pipeline | Rule::target | Rule::template => {
            "`import`, `pipeline`, `target` or `template`"
        }
        Rule::param => "`param`",
        Rule::for_loop => "`for`",
        Rule::step_decl => "a step",
        Rule::entry => "an attribute (`name = value`)",
        Rule::type_expr => "a type",
        Rule::cmp_op => "a comparison",
        Rule::when_clause => "`when`",
        Rule::EOI => "the end of the file",
        _ => return None,
    };
    Some(name.to_string())
}
