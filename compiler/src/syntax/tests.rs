//! Table-driven parser tests: precedence, literals, strings, spans and
//! syntax error messages.

use super::ast::*;
use crate::diagnostic::Diagnostics;
use crate::source::FileId;

/// A fully parenthesised rendering, to make precedence visible.
fn show(e: &Expr) -> String {
    SOURCE.with(|src| show_in(&src.borrow(), e))
}

thread_local! {
    static SOURCE: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

fn show_in(src: &str, e: &Expr) -> String {
    let show = |e: &Expr| show_in(src, e);
    match &e.kind {
        ExprKind::Number { .. } => src[e.span.range()].to_string(),
        ExprKind::Bool { value, .. } => value.to_string(),
        ExprKind::Str { parts, .. } => {
            let inner: Vec<String> = parts
                .iter()
                .map(|p| match p {
                    StrPart::Text(t) => format!("{t:?}"),
                    StrPart::Interp(e) => format!("${{{}}}", show(e)),
                })
                .collect();
            format!("str({})", inner.join(" "))
        }
        ExprKind::List(items) => format!("[{}]", items.iter().map(&show).collect::<Vec<_>>().join(" ")),
        ExprKind::Map(entries) => format!(
            "{{{}}}",
            entries
                .iter()
                .map(|e| format!("{}={}", e.key.name, show(&e.value)))
                .collect::<Vec<_>>()
                .join(" ")
        ),
        ExprKind::Ident(n) => n.clone(),
        ExprKind::Field(b, f) => format!("{}.{}", show(b), f.name),
        ExprKind::Index(b, i) => format!("{}[{}]", show(b), show(i)),
        ExprKind::Star => "*".into(),
        ExprKind::Call(c, args) => format!(
            "{}({})",
            show(c),
            args.iter()
                .map(|a| match &a.name {
                    Some(n) => format!("{}={}", n.name, show(&a.value)),
                    None => show(&a.value),
                })
                .collect::<Vec<_>>()
                .join(" ")
        ),
        ExprKind::Compare(op, l, r) => format!("({} {} {})", show(l), op.as_str(), show(r)),
        ExprKind::Logic(op, l, r) => {
            format!(
                "({} {} {})",
                show(l),
                if *op == LogicOp::And { "and" } else { "or" },
                show(r)
            )
        }
        ExprKind::Not(e) => format!("(not {})", show(e)),
        ExprKind::Paren(e) => show(e),
    }
}

fn parse_expr(src: &str) -> Result<String, Vec<String>> {
    let text = format!("pipeline p {{ param x : any = {src} }}");
    SOURCE.with(|s| *s.borrow_mut() = text.clone());
    let mut diags = Diagnostics::default();
    let module = super::parse(FileId(0), &text, &mut diags);
    if !diags.is_empty() {
        return Err(diags.iter().map(|d| format!("{}: {}", d.code, d.message)).collect());
    }
    let Some(Item::Pipeline(p)) = module.and_then(|m| m.items.into_iter().next()) else {
        return Err(vec!["no pipeline".into()]);
    };
    match p.body.into_iter().next() {
        Some(Stmt::Param(param)) => Ok(show(&param.default.expect("default"))),
        _ => Err(vec!["no param".into()]),
    }
}

#[test]
fn expressions_parse_with_precedence() {
    let cases = [
        ("1", "1"),
        ("a or b and c", "(a or (b and c))"),
        ("a and b or c", "((a and b) or c)"),
        ("not a == b", "(not (a == b))"),
        ("not not a", "(not (not a))"),
        ("a.b.c >= 0.8 and not d.e[0]", "((a.b.c >= 0.8) and (not d.e[0]))"),
        ("(a or b) and c", "((a or b) and c)"),
        ("f(x = 1, 2)", "f(x=1 2)"),
        ("sm.endpoint(model = fit.model)", "sm.endpoint(model=fit.model)"),
        ("fit[*].model", "fit[*].model"),
        ("fit[\"eu\"][2].out", "fit[str(\"eu\")][2].out"),
        ("[1, 2,]", "[1 2]"),
        ("{ a = 1, b { c = 2 } }", "{a=1 b={c=2}}"),
        ("on", "true"),
        ("off", "false"),
        ("online", "online"),
        ("a == b", "(a == b)"),
        ("a != -1.5e-3", "(a != -1.5e-3)"),
        ("30s", "30s"),
        ("\"x ${a.b} $HOME $${y}\"", "str(\"x \" ${a.b} \" $HOME ${y}\")"),
        ("\"tab\\there\"", "str(\"tab\\there\")"),
        ("\"# not a comment\"", "str(\"# not a comment\")"),
    ];
    for (src, want) in cases {
        assert_eq!(parse_expr(src).as_deref(), Ok(want), "{src}");
    }
}

#[test]
fn syntax_errors_name_what_was_expected() {
    let cases = [
        ("pipeline p { step s { image = } }", "expected"),
        ("pipeline p { step s { image: \"x\" } }", "expected"),
        ("pipeline p {", "the end of the file"),
        ("pipline p {}", "`import`, `pipeline`, `target` or `template`"),
        ("pipeline p { param x int = 1 }", "`:`"),
    ];
    for (src, fragment) in cases {
        let mut diags = Diagnostics::default();
        assert!(
            super::parse(FileId(0), src, &mut diags).is_none(),
            "{src} should not parse"
        );
        let d = diags.iter().next().expect("a diagnostic");
        assert_eq!(d.code, crate::code::Code::SyntaxError, "{src}");
        assert!(
            d.message.contains(fragment),
            "{src}: message `{}` lacks `{fragment}`",
            d.message
        );
    }
    let mut diags = Diagnostics::default();
    super::parse(FileId(0), "pipeline p { step s { image: \"x\" } }", &mut diags);
    assert!(
        diags.iter().any(|d| d.hints.iter().any(|h| h.contains("`=`"))),
        "hint for `:` instead of `=`"
    );
}

#[test]
fn comments_are_collected_and_spans_exclude_trailing_trivia() {
    let src = "# head\npipeline p { # open\n  param x : int = 1   # trailing\n  step s { command = [\"#x\", \"${\"#y\"}\"] }\n}\n# tail";
    let mut diags = Diagnostics::default();
    let module = super::parse(FileId(0), src, &mut diags).expect("parses");
    let texts: Vec<&str> = module.comments.iter().map(|c| c.text.as_str()).collect();
    assert_eq!(texts, ["# head", "# open", "# trailing", "# tail"]);
    let Item::Pipeline(p) = &module.items[0] else {
        panic!("pipeline")
    };
    let Stmt::Param(param) = &p.body[0] else {
        panic!("param")
    };
    assert_eq!(&src[param.span.range()], "param x : int = 1");
}

fn corpus() -> Vec<(String, String)> {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let mut files = Vec::new();
    for dir in ["pipelines", "stdlib", "tests/diagnostics", "tests/broken"] {
        let Ok(entries) = std::fs::read_dir(format!("{root}/{dir}")) else {
            continue;
        };
        let mut paths: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
        paths.sort();
        for path in paths
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "wharf"))
        {
            let text = String::from_utf8_lossy(&std::fs::read(&path).expect("readable")).into_owned();
            files.push((path.display().to_string(), text));
        }
    }
    files
}

#[test]
fn fast_parser_accepts_every_valid_example_and_agrees_with_pest() {
    let mut accepted = 0;
    for (name, text) in corpus() {
        match super::parser::parsers_agree(&text) {
            Ok(true) => accepted += 1,
            Ok(false) => {
                // Declining is allowed only where pest finds something to report.
                let mut diags = Diagnostics::default();
                let module = super::parser::parse_with_pest(FileId(0), &text, &mut diags);
                assert!(
                    module.is_none() || !diags.is_empty(),
                    "{name}: the fast parser declined a file pest parses cleanly"
                );
            }
            Err(e) => panic!("{name}: {e}"),
        }
    }
    assert!(accepted >= 15, "only {accepted} files took the fast path");
}

#[test]
fn fast_parser_agrees_with_pest_on_mutations() {
    let corpus = corpus();
    let mut seed: u64 = 0x9e3779b97f4a7c15;
    let mut next = |bound: usize| {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((seed >> 33) as usize) % bound.max(1)
    };
    const PIECES: &[&str] = &[
        "{", "}", "[", "]", "(", ")", "\"", "${", "$${", "#", "=", "==", ".", ",", "*", "\\n", "\n", " ", "-1", "1e-3",
        "30s", "x", "not", "and", "or", "when", "step", "$", "\\", "<=", "!=",
    ];
    let (mut fast, mut total) = (0, 0);
    for round in 0..4000 {
        let (name, text) = &corpus[round % corpus.len()];
        let mut chars: Vec<char> = text.chars().collect();
        for _ in 0..1 + next(2) {
            let at = next(chars.len() + 1);
            if next(2) == 0 && at < chars.len() {
                let end = (at + 1 + next(6)).min(chars.len());
                chars.drain(at..end);
            } else {
                for (i, c) in PIECES[next(PIECES.len())].chars().enumerate() {
                    chars.insert((at + i).min(chars.len()), c);
                }
            }
        }
        let mutated: String = chars.into_iter().collect();
        total += 1;
        match super::parser::parsers_agree(&mutated) {
            Ok(true) => fast += 1,
            Ok(false) => {}
            Err(e) => panic!("round {round} (from {name}):\n{mutated}\n{e}"),
        }
    }
    assert!(fast > total / 20, "the fast path took only {fast} of {total} mutations");
}

#[test]
fn several_syntax_errors_are_reported_without_inventing_any() {
    let src = "pipeline p {\n  step a {\n    image = \n  }\n  step ok { image = \"x\" }\n  step b {\n    command: [\"x\"]\n  }\n  param q : int = 1\n}\n";
    let mut diags = Diagnostics::default();
    assert!(super::parse(FileId(0), src, &mut diags).is_none());
    let lines: Vec<usize> = diags
        .iter()
        .map(|d| src[..d.span.expect("span").start as usize].lines().count())
        .collect();
    assert_eq!(
        lines,
        vec![4, 7],
        "{:?}",
        diags.iter().map(|d| &d.message).collect::<Vec<_>>()
    );
    // A missing `}`: the error where the parser noticed, then the end of the
    // file; nothing is skipped that would make up errors elsewhere.
    let src = "pipeline p {\n  step a {\n    image = \"x\"\n  step b { }\n";
    let mut diags = Diagnostics::default();
    super::parse(FileId(0), src, &mut diags);
    let messages: Vec<&str> = diags.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert!(messages[1].ends_with("found the end of the file"), "{messages:?}");
}
