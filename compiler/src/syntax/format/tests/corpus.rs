//! Property tests over real files: every `.wharf` file under `pipelines/`
//! and `stdlib/`, and the design example, formatted as written and in
//! re-spaced variants: everything spread out, everything crammed onto few
//! lines, and a comment put into every gap between tokens, one at a time
//! and all at once.

use super::{CASES, assert_properties};

/// The churn pipeline exactly as the design document (design.md) shows it.
pub(super) const CHURN: &str = r#"# pipelines/churn.wharf
import "std/sagemaker" as sm

pipeline churn {
  param data      : path  = "data/churn.csv"
  param max_depth : int   = 6
  param min_auc   : float = 0.80

  step prepare {
    image   = "churn-tools:1.4"
    command = ["python", "prepare.py"]
    inputs  { raw = params.data }
    outputs { train = dir(), test = dir() }
  }

  train fit {                      # a training step: SageMaker training contract
    image    = "churn-train:1.4"
    inputs   { train = prepare.train }
    hyperparameters { max_depth = params.max_depth }
    resources { instance = "ml.m5.xlarge" }
    retry    { attempts = 3, backoff = 30s }
    timeout  = 2h
  }

  step evaluate {
    image   = "churn-tools:1.4"
    command = ["python", "evaluate.py"]
    inputs  { model = fit.model, test = prepare.test }
    outputs { metrics = file("metrics.json") }
  }

  step deploy = sm.endpoint(model = fit.model, instance = "ml.t2.medium")
    when evaluate.metrics.auc >= params.min_auc
}

target local { backend = docker }
target cloud {
  backend = sagemaker
  role    = env("WHARF_SAGEMAKER_ROLE")
  bucket  = "s3://acme-ml/wharf"
  region  = "eu-west-1"
}
target hybrid {                    # per-step placement
  backend = docker
  step fit { backend = sagemaker }
}
"#;

/// What the formatter makes of it.
pub(super) const CHURN_FORMATTED: &str = r#"# pipelines/churn.wharf
import "std/sagemaker" as sm

pipeline churn {
  param data      : path  = "data/churn.csv"
  param max_depth : int   = 6
  param min_auc   : float = 0.80

  step prepare {
    image   = "churn-tools:1.4"
    command = ["python", "prepare.py"]
    inputs  { raw = params.data }
    outputs { train = dir(), test = dir() }
  }

  train fit {  # a training step: SageMaker training contract
    image           = "churn-train:1.4"
    inputs          { train = prepare.train }
    hyperparameters { max_depth = params.max_depth }
    resources       { instance = "ml.m5.xlarge" }
    retry           { attempts = 3, backoff = 30s }
    timeout         = 2h
  }

  step evaluate {
    image   = "churn-tools:1.4"
    command = ["python", "evaluate.py"]
    inputs  { model = fit.model, test = prepare.test }
    outputs { metrics = file("metrics.json") }
  }

  step deploy = sm.endpoint(model = fit.model, instance = "ml.t2.medium")
    when evaluate.metrics.auc >= params.min_auc
}

target local { backend = docker }

target cloud {
  backend = sagemaker
  role    = env("WHARF_SAGEMAKER_ROLE")
  bucket  = "s3://acme-ml/wharf"
  region  = "eu-west-1"
}

target hybrid {  # per-step placement
  backend = docker
  step fit { backend = sagemaker }
}
"#;

#[test]
fn every_wharf_file_in_the_repository_formats() {
    let mut files = Vec::new();
    for dir in [
        concat!(env!("CARGO_MANIFEST_DIR"), "/../pipelines"),
        concat!(env!("CARGO_MANIFEST_DIR"), "/../stdlib"),
    ] {
        // A missing folder is no error (pipelines/ may be empty); an unreadable file is.
        let Ok(entries) = std::fs::read_dir(dir) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "wharf") {
                let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                files.push((path.display().to_string(), text));
            }
        }
    }
    assert!(
        files.iter().any(|(name, _)| name.contains("stdlib")),
        "no stdlib files found: {files:?}"
    );
    for (name, text) in &files {
        assert_properties(name, text);
        assert_variants(name, text);
    }
}

#[test]
fn the_design_example_and_every_case_survive_re_spacing_and_comments_everywhere() {
    assert_variants("churn", CHURN);
    for (what, input, _) in CASES {
        assert_variants(what, input);
    }
}

/// The properties hold for `text` re-spaced in several ways.
fn assert_variants(name: &str, text: &str) {
    let gaps = gaps(text);
    let spread = respace(text, &gaps, |_, _| "\n\n".to_string());
    assert_properties(&format!("{name} spread"), &spread);
    let crammed = respace(text, &gaps, |_, gap| {
        if gap.after_comment { "\n" } else { " " }.to_string()
    });
    assert_properties(&format!("{name} crammed"), &crammed);
    let commented = respace(text, &gaps, probe);
    assert_properties(&format!("{name} commented"), &commented);
    for (i, gap) in gaps.iter().enumerate() {
        let one = format!("{}{}{}", &text[..gap.start], probe(i, gap), &text[gap.start..]);
        assert_properties(&format!("{name} comment in gap {i}"), &one);
    }
}

/// A comment to put into a gap, on a line of its own if the gap follows a comment.
fn probe(i: usize, gap: &Gap) -> String {
    let lead = if gap.after_comment { "\n" } else { " " };
    format!("{lead}# probe {i}\n")
}

fn respace(text: &str, gaps: &[Gap], with: impl Fn(usize, &Gap) -> String) -> String {
    let mut out = String::new();
    let mut at = 0;
    for (i, gap) in gaps.iter().enumerate() {
        out.push_str(&text[at..gap.start]);
        out.push_str(&with(i, gap));
        at = gap.end;
    }
    out.push_str(&text[at..]);
    out
}

/// A run of white space between tokens, outside strings and comments.
struct Gap {
    start: usize,
    end: usize,
    /// The run starts right after a comment, so it must keep a line break.
    after_comment: bool,
}

/// The gaps of `text`, found with a small lexer that knows strings, `${...}`
/// inside them (left alone: their spacing is part of the literal) and comments.
fn gaps(text: &str) -> Vec<Gap> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    // Brace depth inside each `${` we are in; empty at the top level.
    let mut interps: Vec<usize> = Vec::new();
    let (mut i, mut in_string, mut after_comment) = (0, false, false);
    while let Some(&b) = bytes.get(i) {
        if in_string {
            match b {
                b'\\' => i += 2,
                b'"' => {
                    in_string = false;
                    i += 1;
                }
                b'$' if text[i..].starts_with("$${") => i += 3,
                b'$' if text[i..].starts_with("${") => {
                    interps.push(0);
                    in_string = false;
                    i += 2;
                }
                _ => i += 1,
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'#' => {
                while bytes.get(i + 1).is_some_and(|&b| b != b'\n') {
                    i += 1;
                }
                after_comment = true;
            }
            b'{' => {
                if let Some(depth) = interps.last_mut() {
                    *depth += 1;
                }
            }
            b'}' => match interps.last_mut() {
                Some(0) => {
                    interps.pop();
                    in_string = true;
                }
                Some(depth) => *depth -= 1,
                None => {}
            },
            b if b.is_ascii_whitespace() => {
                let start = i;
                while bytes.get(i + 1).is_some_and(u8::is_ascii_whitespace) {
                    i += 1;
                }
                if interps.is_empty() {
                    out.push(Gap {
                        start,
                        end: i + 1,
                        after_comment,
                    });
                }
            }
            _ => {}
        }
        if b != b'#' {
            after_comment = false;
        }
        i += 1;
    }
    out
}
