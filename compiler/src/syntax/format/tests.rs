//! Formatter tests: a table of inputs and their canonical form, one group per
//! rule of the style, then properties (idempotent, comments and tree kept)
//! over every case, the design example, and the `.wharf` files of the repository
//! (see `corpus`).

mod corpus;

use super::check::{comment_texts, shape};
use super::format;
use crate::source::FileId;
use crate::syntax::ast::Module;

/// `(what the case shows, input, expected output)`. A leading newline of
/// the expected text is only there for readability and is dropped.
const CASES: &[(&str, &str, &str)] = &[
    // Indentation, spacing, one entry per line, block attributes.
    (
        "indent and spacing",
        r#"pipeline p{step a{image="x" command=["a","b"]}}"#,
        r#"
pipeline p {
  step a {
    image   = "x"
    command = ["a", "b"]
  }
}
"#,
    ),
    (
        "a block attribute stays a block",
        "template step t() { inputs { a = x } outputs = { b = y } }",
        r#"
template step t() {
  inputs  { a = x }
  outputs = { b = y }
}
"#,
    ),
    // Maps and lists: inline when small, else one element per line.
    (
        "maps inline when small",
        r#"template step t() { resources { instance = "ml.m5.xlarge", count = 2 } env { A = "1" B = { C = "2" } }
           long { aaaaaaaaaa = "aaaaaaaaaaaaaaaaaaaa", bbbbbbbbbbbbbb = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", c = "c" } empty {} }"#,
        r#"
template step t() {
  resources { instance = "ml.m5.xlarge", count = 2 }
  env {
    A = "1"
    B = { C = "2" }
  }
  long {
    aaaaaaaaaa     = "aaaaaaaaaaaaaaaaaaaa"
    bbbbbbbbbbbbbb = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
    c              = "c"
  }
  empty {}
}
"#,
    ),
    (
        "lists inline when short, else one item per line with trailing commas",
        r#"template step t() { command = ["python", "train.py"]
           long = ["aaaaaaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbbbbbbbbbbbb", "cccccccccccccccccccccccc", "ddddddddddddd"]
           nested = [[1, 2], []] }"#,
        r#"
template step t() {
  command = ["python", "train.py"]
  long = [
    "aaaaaaaaaaaaaaaaaaaa",
    "bbbbbbbbbbbbbbbbbbbbbbbbbb",
    "cccccccccccccccccccccccc",
    "ddddddddddddd",
  ]
  nested = [[1, 2], []]
}
"#,
    ),
    (
        "long calls and parameter lists break one per line",
        r#"template deploy e(model: output, instance: string = "ml.t2.medium", count: int = 1, extra: int = 2) { x = 1 }
           pipeline p { step deploy = sm.multi_model_endpoint(models = train.model, image = "serving:1.0", instance = "ml.m5.large") }"#,
        r#"
template deploy e(
  model: output,
  instance: string = "ml.t2.medium",
  count: int = 1,
  extra: int = 2,
) {
  x = 1
}

pipeline p {
  step deploy = sm.multi_model_endpoint(
    models = train.model,
    image = "serving:1.0",
    instance = "ml.m5.large",
  )
}
"#,
    ),
    // Alignment runs.
    (
        "alignment runs: comments continue a run, blank lines and multi-line entries end it",
        r#"template step t() {
  a = 1
  bbbb = 2
  # a comment does not end the run
  cc { x = 1 }

  after_blank = 3
  d = 4
  multi = [
    1, # one
  ]
  e = 5
  "quoted key" = 6
}"#,
        r#"
template step t() {
  a    = 1
  bbbb = 2
  # a comment does not end the run
  cc   { x = 1 }

  after_blank = 3
  d           = 4
  multi = [
    1,  # one
  ]
  e            = 5
  "quoted key" = 6
}
"#,
    ),
    (
        "params align `:` and `=`",
        "pipeline p {\nparam data:path=\"data/churn.csv\"\nparam max_depth : int = 6\nparam tags : list[ string ]\n\
         param min_auc : float = 0.80\n\nparam alone : int\n}",
        r#"
pipeline p {
  param data      : path  = "data/churn.csv"
  param max_depth : int   = 6
  param tags      : list[string]
  param min_auc   : float = 0.80

  param alone : int
}
"#,
    ),
    // Blank lines.
    (
        "blank lines kept, collapsed, none inside braces' edges, one between items",
        "\n\n\nimport \"std/local\"\nimport \"std/sagemaker\" as sm\n\n\nimport \"x\"\npipeline p {\n\n\n  step a = f()\n\n\n\n  \
         step b = g()\n\n\n}\ntarget t { backend = docker }\ntarget u { backend = docker }\n\n\n",
        r#"
import "std/local"
import "std/sagemaker" as sm

import "x"

pipeline p {
  step a = f()

  step b = g()
}

target t { backend = docker }

target u { backend = docker }
"#,
    ),
    // Literals and expressions.
    (
        "literals exactly as written",
        r#"template step t(x = 0.80, y = 30s) { a = 10GiB b = on c = "a\"b${ x  }c $HOME $${d}" "v:auc" = -1_000 }"#,
        r#"
template step t(x = 0.80, y = 30s) {
  a       = 10GiB
  b       = on
  c       = "a\"b${ x  }c $HOME $${d}"
  "v:auc" = -1_000
}
"#,
    ),
    (
        "expressions re-spaced, parentheses kept",
        "pipeline p {\n  step a = f(x=1,y) when a.b.c>=params.min and not(x) or (y!=z)\n  step b = g(a[*], a[ \"k\" ], m.f(1)(2))\n}",
        r#"
pipeline p {
  step a = f(x = 1, y)
    when a.b.c >= params.min and not (x) or (y != z)
  step b = g(a[*], a["k"], m.f(1)(2))
}
"#,
    ),
    // `when`, loops, targets.
    (
        "when: on its own line after a call, after `}` for a body",
        "pipeline p { step d = sm.endpoint(model = fit.model) when e.metrics.auc >= 0.8\nstep e { image = \"x\" } when ok }",
        r#"
pipeline p {
  step d = sm.endpoint(model = fit.model)
    when e.metrics.auc >= 0.8
  step e {
    image = "x"
  } when ok
}
"#,
    ),
    (
        "for loops",
        r#"pipeline p { for region in ["eu","us"] { step s = f(region) step t { x = s } } }"#,
        r#"
pipeline p {
  for region in ["eu", "us"] {
    step s = f(region)
    step t {
      x = s
    }
  }
}
"#,
    ),
    (
        "targets: one plain setting stays on one line",
        "target hybrid {\nbackend = docker\nstep fit { backend = sagemaker, instance = \"ml.m5.large\" }\n\
         step other { env { A = \"1\" } }\n}\ntarget one { step fit { backend = sagemaker } }\ntarget two { a = 1, b = 2 }",
        r#"
target hybrid {
  backend = docker
  step fit { backend = sagemaker, instance = "ml.m5.large" }
  step other {
    env { A = "1" }
  }
}

target one {
  step fit { backend = sagemaker }
}

target two {
  a = 1
  b = 2
}
"#,
    ),
    // Comments in hostile places.
    (
        "comment after `{` and before `}`",
        "pipeline p { # after brace\n  step a { # after step brace\n image = \"x\"\n\n # before close\n\n }\n # before pipeline close\n}",
        r#"
pipeline p {  # after brace
  step a {  # after step brace
    image = "x"

    # before close
  }
  # before pipeline close
}
"#,
    ),
    (
        "comments between a step and its `when`",
        "pipeline p {\n  step b = f() # after call\n  # between\n  when ok\n  step c { x = 1 } # after body\n  when ok # after when\n}",
        r#"
pipeline p {
  step b = f()  # after call
    # between
    when ok
  # after body
  step c {
    x = 1
  } when ok  # after when
}
"#,
    ),
    (
        "comments inside multi-line lists, calls and parameter lists",
        "template step t(a, # after a\n b) {\n  command = [ # first\n \"a\", # one\n # own line\n \"b\"\n # last\n ]\n  \
         x = f(# open\n y)\n}",
        r#"
template step t(
  a,  # after a
  b,
) {
  command = [  # first
    "a",  # one
    # own line
    "b",
    # last
  ]
  x = f(  # open
    y,
  )
}
"#,
    ),
    (
        "trailing comments and a comment at the end of a file without a newline",
        "import \"a\"   # first\nimport \"b\" as   b\n# between imports\n\ntarget t { backend = docker }  # inline\n# the end",
        r#"
import "a"  # first
import "b" as b
# between imports

target t { backend = docker }  # inline
# the end
"#,
    ),
    (
        "a comment inside `${...}` belongs to the string; keys align by characters",
        "pipeline p { step a {\n command = [\"echo ${ params.x # in\n }\", \"b\"]\n \"\u{fc}n\u{ef}\" = 1\n b = 2 } }",
        "\npipeline p {\n  step a {\n    command = [\"echo ${ params.x # in\n }\", \"b\"]\n    \"\u{fc}n\u{ef}\"   = 1\n    b       = 2\n  }\n}\n",
    ),
    (
        "CRLF line ends and trailing blanks in comments",
        "pipeline p {\r\n  # crlf  \r\n  step a = f()\r\n\r\n\r\n  step b = g()\t# t \r\n}\r\n",
        "\npipeline p {\n  # crlf\n  step a = f()\n\n  step b = g()  # t\n}\n",
    ),
    (
        "empty bodies",
        "pipeline p {} target t {} template t() {} pipeline q { step a {} for x in [] {} }",
        "\npipeline p {}\n\ntarget t {}\n\ntemplate t() {}\n\npipeline q {\n  step a {}\n  for x in [] {}\n}\n",
    ),
    (
        "a file with only comments",
        "# one\n\n\n# two   \n",
        "\n# one\n\n# two\n",
    ),
    ("an empty file", " \n\n", ""),
];

#[test]
fn every_rule_of_the_canonical_style() {
    for (what, input, expected) in CASES {
        let expected = expected.strip_prefix('\n').unwrap_or(expected);
        match format(input) {
            Ok(output) => assert_eq!(output, expected, "{what}:\n{output}"),
            Err(diags) => panic!("{what}: {diags:?}"),
        }
        assert_properties(what, input);
    }
}

#[test]
fn a_comment_inside_an_expression_moves_before_its_statement() {
    let input = "target t {\n  a = 1\n\n  b = x and # why\n  y\n  c = 2 # two\n}";
    let expected = "target t {\n  a = 1\n\n  # why\n  b = x and y\n  c = 2  # two\n}\n";
    assert_eq!(format(input).ok().as_deref(), Some(expected));
    assert_properties("moved comment", input);
}

#[test]
fn syntax_errors_and_recovered_errors_are_reported_not_formatted() {
    for input in [
        "pipeline p {",
        "pipeline p { step a { timeout = 2x } }",
        "pipeline p { stpe a { } }",
    ] {
        let diags = format(input).err();
        assert!(diags.is_some_and(|d| d.has_errors()), "{input}");
    }
}

/// The churn pipeline of the design document (design.md). Its layout changes in three ways:
/// trailing comments sit two spaces after the code, the `fit` block aligns
/// all its keys (the original aligned only some), and top-level items are
/// separated by one blank line.
#[test]
fn the_design_example_keeps_its_layout() {
    let output = format(corpus::CHURN).unwrap_or_else(|d| panic!("{d:?}"));
    assert_eq!(output, corpus::CHURN_FORMATTED);
    assert_properties("churn", corpus::CHURN);
}

fn parse(text: &str) -> Module {
    let mut diags = crate::diagnostic::Diagnostics::default();
    crate::syntax::parse(FileId(0), text, &mut diags).unwrap_or_else(|| panic!("does not parse: {diags:?}\n{text}"))
}

/// Formatting `input` succeeds, keeps every comment and the syntax tree,
/// leaves no blanks at line ends, ends with one newline, and formatting the
/// result again changes nothing.
pub(super) fn assert_properties(what: &str, input: &str) {
    let output = format(input).unwrap_or_else(|d| panic!("{what}: {d:?}\n{input}"));
    let (before, after) = (parse(input), parse(&output));
    assert_eq!(
        comment_texts(&before),
        comment_texts(&after),
        "{what}: comments\n{output}"
    );
    assert_eq!(shape(&before), shape(&after), "{what}: tree\n{output}");
    assert!(
        output.is_empty() || (output.ends_with('\n') && !output.ends_with("\n\n")),
        "{what}: end\n{output}"
    );
    let blank_ends = output.lines().filter(|l| l.ends_with([' ', '\t'])).count();
    assert_eq!(blank_ends, 0, "{what}: trailing blanks\n{output}");
    let again = format(&output).unwrap_or_else(|d| panic!("{what}: {d:?}\n{output}"));
    assert_eq!(
        again, output,
        "{what}: not idempotent\ninput:\n{input}\nfirst:\n{output}"
    );
}

/// Nesting up to the parser's bracket limit formats (on the formatter's own
/// thread: this test's stack would be too small for the parser alone); longer
/// chains of `not` are refused with a diagnostic rather than a stack overflow.
#[test]
fn deep_nesting_formats_or_is_refused_cleanly() {
    let depth = crate::syntax::limits::MAX_OPERATORS - 10;
    let long_args =
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa, bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb, cccccccccccccccccccccc";
    let deep = [
        format!(
            "pipeline p {{ step a = f() when {}g({long_args}) }}",
            "not ".repeat(depth)
        ),
        format!(
            "pipeline p {{ step a {{ x = {}1{} }} }}",
            "{ a = # c\n".repeat(60),
            " }".repeat(60)
        ),
        format!(
            "pipeline p {{ step a {{ x = {}1{} }} }}",
            "[ # c\n".repeat(60),
            "]".repeat(60)
        ),
        format!(
            "pipeline p {{ step a {{ x = {}1{} }} }}",
            "f(# c\n".repeat(60),
            ")".repeat(60)
        ),
    ];
    for text in &deep {
        let output = format(text).unwrap_or_else(|d| panic!("{d:?}"));
        assert_eq!(format(&output).ok().as_ref(), Some(&output));
    }
    let too_deep = format!("pipeline p {{ step a = f() when {}x }}", "not ".repeat(depth + 20));
    let diags = format(&too_deep).err().map(|d| d.into_vec()).unwrap_or_default();
    assert!(
        diags.iter().any(|d| d.code == crate::code::Code::TooDeeplyNested),
        "{diags:?}"
    );
}
