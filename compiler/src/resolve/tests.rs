//! Table-driven resolver tests: small pipelines in, resolved facts or
//! diagnostic codes out.

use crate::backends::{BackendKind, BackendSpec, Program};
use crate::compile::{Compilation, compile};
use crate::options::Options;
use crate::pipeline::{Condition, ImageRef, InputSource, KindSpec, Operand};
use crate::types::StepKind;
use crate::value::Value;
use crate::world::MemoryWorld;
use std::path::Path;

/// Backends of these tests' own: the compiler knows backends only by their
/// specs. The real ones are checked where the registry is (tests/annotated.rs).
const HERE: BackendSpec = BackendSpec {
    kind: BackendKind::new("here"),
    runs: &StepKind::ALL,
    program: Program::Command,
    hands_off: &[],
    settings: &[],
    check_step: None,
};

const AWAY: BackendSpec = BackendSpec {
    kind: BackendKind::new("away"),
    runs: &StepKind::ALL,
    program: Program::Image,
    hands_off: &[(StepKind::Build, BackendKind::new("here"))],
    settings: &[],
    check_step: None,
};

fn compile_with(files: &[(&str, &str)], params: &[(&str, &str)]) -> Compilation {
    let mut world = MemoryWorld::new();
    for (path, text) in files {
        world = world.with_file(*path, *text);
    }
    let options = Options {
        params: params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        backends: vec![&HERE, &AWAY],
        ..Options::default()
    };
    compile(&world, Path::new(files[0].0), &options)
}

fn codes(c: &Compilation) -> Vec<String> {
    c.diagnostics.iter().map(|d| d.code.to_string()).collect()
}

fn ok(text: &str) -> crate::pipeline::Pipeline {
    let c = compile_with(&[("p.wharf", text)], &[]);
    let messages: Vec<String> = c
        .diagnostics
        .iter()
        .map(|d| format!("{}: {}", d.code, d.message))
        .collect();
    c.pipeline
        .unwrap_or_else(|| panic!("expected a pipeline, got {messages:#?}\n{text}"))
}

#[test]
fn diagnostics_table() {
    let cases: &[(&str, &[&str])] = &[
        ("", &["no-pipeline"]),
        ("# only a comment\n", &["no-pipeline"]),
        ("pipeline a {}\npipeline b {}", &["multiple-pipelines"]),
        ("pipeline p { step s { command = [\"a\\q\"] } }", &["invalid-escape"]),
        ("pipeline p { step s { command = [foo(1)] } }", &["unknown-function"]),
        ("pipeline p { step s { command = [undefined] } }", &["unknown-name"]),
        (
            "pipeline p { param x : int\n step s { command = [\"${params.x}\"] } }",
            &["missing-param"],
        ),
        (
            "pipeline p { step a { command = [\"a\"] outputs { o = dir() } }\n step s { command = [\"${a.o}\"] } }",
            &["cannot-interpolate"],
        ),
        (
            "pipeline p { step s { command = [secret(\"T\")] } }",
            &["secret-misuse"],
        ),
        (
            "pipeline p { step s { command = [\"${secret(\"T\")}\"] } }",
            &["secret-misuse"],
        ),
        (
            "pipeline p { step s { command = [\"a\"] env { A = secret(\"T\") } } }",
            &[],
        ),
        ("pipeline p { step s { command = [\"a\" } }", &["syntax-error"]),
        (
            "pipeline p { step s { command = [\"a\"] } } target t { backend = here step x { backend = away } }",
            &["unknown-step"],
        ),
        (
            "pipeline p { step s { command = [\"a\"] } when 1 == \"a\" }",
            &["type-mismatch"],
        ),
        (
            "pipeline p { step s { command = [\"a\"] } when true and 3 }",
            &["not-a-condition"],
        ),
        (
            "pipeline p { param x : bool = 1 }",
            &["type-mismatch", "unused-param"][..1],
        ),
    ];
    for (text, want) in cases {
        let c = compile_with(&[("p.wharf", text)], &[]);
        let got: Vec<String> = codes(&c).into_iter().filter(|c| c != "unused-param").collect();
        assert_eq!(&got, want, "source: {text}");
    }
}

#[test]
fn deep_nesting_is_refused_without_overflowing_the_stack() {
    let text = format!(
        "pipeline p {{ param x : list = {}1{} }}",
        "[".repeat(5000),
        "]".repeat(5000)
    );
    let c = compile_with(&[("p.wharf", &text)], &[]);
    assert_eq!(codes(&c), vec!["too-deeply-nested"]);
}

#[test]
fn overrides_are_typed() {
    let text = "pipeline p { param n : int = 1\n param l : list[string] = []\n step s { command = [\"${params.n}\"] }\n for x in params.l { step t { command = [x] } } }";
    let c = compile_with(&[("p.wharf", text)], &[("n", "7"), ("l", "a,b")]);
    let p = c.pipeline.expect("compiles");
    assert_eq!(p.steps[0].command.as_deref(), Some(&["7".to_string()][..]));
    let names: Vec<&str> = p.steps.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["s", "t-a", "t-b"]);
    let c = compile_with(&[("p.wharf", text)], &[("n", "seven")]);
    assert_eq!(codes(&c), vec!["type-mismatch"]);
    assert!(
        c.diagnostics
            .iter()
            .next()
            .is_some_and(|d| d.message.contains("`n` expects an int"))
    );
    let c = compile_with(&[("p.wharf", text)], &[("m", "1")]);
    assert_eq!(codes(&c), vec!["unknown-param"]);
}

#[test]
fn an_unknown_named_argument_of_a_builtin_has_a_hint() {
    let cases = [
        ("file(\"m.json\", metrics = on)", "name its output `metrics`"),
        ("file(\"m.json\", kind = \"x\")", "only positional arguments"),
        ("dir(x = 1)", "only positional arguments"),
    ];
    for (call, hint) in cases {
        let text = format!("pipeline p {{ step s {{ command = [\"a\"] outputs {{ o = {call} }} }} }}");
        let c = compile_with(&[("p.wharf", &text)], &[]);
        assert_eq!(codes(&c), vec!["unknown-argument"], "{call}");
        let d = c.diagnostics.iter().next().expect("one diagnostic");
        assert!(d.hints.iter().any(|h| h.contains(hint)), "{call}: {:?}", d.hints);
    }
}

#[test]
fn fan_out_names_instances_and_gathers() {
    let p = ok(r#"
pipeline p {
  for r in ["eu", "us-east"] {
    step prep { command = ["p"] outputs { out = dir() } }
    train fit { command = ["f"] inputs { d = prep.out } }
  }
  step all { command = ["a"] inputs { m = fit[*].model, e = prep["eu"].out } }
}"#);
    let names: Vec<&str> = p.steps.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["prep-eu", "fit-eu", "prep-us-east", "fit-us-east", "all"]);
    let fit_eu = p.step("fit-eu").expect("instance");
    assert_eq!(
        fit_eu.inputs[0].source,
        InputSource::Output {
            step: 0,
            output: "out".into()
        }
    );
    let all = p.step("all").expect("gather step");
    assert_eq!(
        all.inputs[0].source,
        InputSource::Gather {
            outputs: vec![(1, "model".into()), (3, "model".into())]
        }
    );
    assert_eq!(
        all.inputs[1].source,
        InputSource::Output {
            step: 0,
            output: "out".into()
        }
    );
    assert_eq!(p.dependencies(4), vec![0, 1, 3]);
    assert_eq!(fit_eu.instance, vec![Value::Str("eu".into())]);
}

#[test]
fn nested_loops_bind_outer_values() {
    let p = ok(r#"
pipeline p {
  for r in ["eu", "us"] {
    step prep { command = ["p", "${r}"] outputs { out = dir() } }
    for m in [1, 2] {
      step fit { command = ["f", "${r}-${m}"] inputs { d = prep.out } outputs { out = dir() } }
    }
  }
  step pick { command = ["x"] inputs { a = fit["us"][2].out, all = fit["eu"][*].out } }
}"#);
    let fit = p.step("fit-us-2").expect("nested instance");
    assert_eq!(fit.command.as_deref(), Some(&["f".to_string(), "us-2".to_string()][..]));
    let prep_us = p.steps.iter().position(|s| s.name == "prep-us").expect("prep-us");
    assert_eq!(
        fit.inputs[0].source,
        InputSource::Output {
            step: prep_us,
            output: "out".into()
        }
    );
    let pick = p.step("pick").expect("pick");
    let InputSource::Gather { outputs } = &pick.inputs[1].source else {
        panic!("gather")
    };
    let gathered: Vec<&str> = outputs.iter().map(|(s, _)| p.steps[*s].name.as_str()).collect();
    assert_eq!(gathered, ["fit-eu-1", "fit-eu-2"]);
}

#[test]
fn templates_apply_defaults_and_kinds() {
    let p = ok(r#"
import "std/sagemaker" as sm
pipeline p {
  train fit { image = "t:1" }
  step serve = sm.endpoint(model = fit.model)
}
target cloud { backend = away }"#);
    let serve = p.step("serve").expect("serve");
    assert_eq!(serve.kind, StepKind::Deploy);
    assert_eq!(serve.resources.instance.as_deref(), Some("ml.t2.medium"));
    assert_eq!(serve.resources.count, Some(1));
    assert_eq!(serve.image, Some(ImageRef::FromModel(0)));
}

#[test]
fn user_imports_resolve_relative_to_the_importer() {
    let lib = "template step hello(who: string) { command = [\"echo\", who] }\ntarget shared { backend = here }";
    let main = "import \"./lib/common\" as c\npipeline p { step s = c.hello(who = \"x\") }";
    let c = compile_with(&[("dir/p.wharf", main), ("dir/lib/common.wharf", lib)], &[]);
    let p = c.pipeline.expect("compiles");
    assert_eq!(
        p.steps[0].command.as_deref(),
        Some(&["echo".to_string(), "x".to_string()][..])
    );
    assert_eq!(p.targets[0].name, "shared");
}

#[test]
fn import_cycles_and_pipelines_in_imports_are_errors() {
    let a = "import \"./b\"\npipeline p { step s { command = [\"x\"] } }";
    let b = "import \"./a\"\ntemplate step t() { command = [\"x\"] }";
    let c = compile_with(&[("a.wharf", a), ("b.wharf", b)], &[]);
    assert!(codes(&c).contains(&"import-cycle".to_string()), "{:?}", codes(&c));
    let lib = "pipeline other {}";
    let c = compile_with(
        &[("a.wharf", "import \"./lib\" as l\npipeline p {}"), ("lib.wharf", lib)],
        &[],
    );
    assert!(codes(&c).contains(&"pipeline-in-import".to_string()), "{:?}", codes(&c));
}

#[test]
fn conditions_fold_constants_and_keep_runtime_fields() {
    let p = ok(r#"
pipeline p {
  param min : float = 0.8
  param on_main : bool = true
  step ev { command = ["e"] outputs { m = file("m.json") } }
  step a { command = ["a"] } when ev.m.auc >= params.min
  step b { command = ["b"] } when params.on_main and params.min > 0.5
  step c { command = ["c"] } when not ev.m.flags[0]
}"#);
    let Some(Condition::Compare {
        cmp,
        left: Operand::Field(f),
        right: Operand::Const(v),
    }) = &p.steps[1].when
    else {
        panic!("runtime comparison expected: {:?}", p.steps[1].when)
    };
    assert_eq!(
        (cmp.as_str(), f.step, f.output.as_str(), v),
        (">=", 0, "m", &Value::Float(0.8))
    );
    assert_eq!(p.steps[2].when, Some(Condition::Const { value: true }));
    assert!(matches!(&p.steps[3].when, Some(Condition::Not { .. })));
    assert_eq!(p.dependencies(1), vec![0]);
}

#[test]
fn tune_depends_on_what_its_train_step_reads() {
    let p = ok(r#"
pipeline p {
  step prep { command = ["p"] outputs { train = dir() } }
  train fit { command = ["f"] inputs { train = prep.train } metrics { "auc" = "auc=([0-9.]+)" } }
  tune search {
    train = fit
    objective { metric = "auc" }
    ranges { depth = int(2, 8), eta = float(0.01, 0.3, scale = "log"), booster = choice("gbtree", "dart") }
  }
}"#);
    assert_eq!(p.dependencies(2), vec![0]);
    let KindSpec::Tune {
        train,
        ranges,
        strategy,
        ..
    } = &p.steps[2].spec
    else {
        panic!("tune spec")
    };
    assert_eq!((*train, ranges.len(), strategy.as_str()), (1, 3, "bayesian"));
    // It runs the train step's definition.
    let KindSpec::Tune { metrics, .. } = &p.steps[2].spec else {
        unreachable!()
    };
    assert_eq!(metrics["auc"], "auc=([0-9.]+)");
    assert_eq!(p.steps[2].command, Some(vec!["f".to_string()]));
    assert_eq!(p.steps[2].inputs.len(), 1);
    assert_eq!(p.steps[2].inputs[0].name, "train");
}

#[test]
fn implicit_target_is_on_the_first_backend() {
    let p = ok("pipeline p { step s { command = [\"echo\"] } }");
    assert_eq!(p.targets.len(), 1);
    assert!(p.targets[0].implicit);
    assert_eq!(p.targets[0].backend, HERE.kind);
}

#[test]
fn placement_follows_overrides_and_hand_offs() {
    let p = ok(r#"pipeline p {
  build img { context = "." }
  step a { image = img, command = ["x"] }
  step b { image = img, command = ["x"] }
}
target t {
  backend = here
  step a { backend = away }
}"#);
    let t = p.target("t").expect("t");
    let on = |name: &str| crate::placement::backend_for(t, p.step(name).expect("step"));
    assert_eq!(on("a"), AWAY.kind);
    assert_eq!(on("b"), HERE.kind);
    let p = ok("pipeline p {\n build img { context = \".\" }\n step a { image = img }\n}\ntarget t { backend = away }");
    let t = p.target("t").expect("t");
    assert_eq!(crate::placement::backend_for(t, p.step("img").expect("img")), HERE.kind);
    assert_eq!(crate::placement::backend_for(t, p.step("a").expect("a")), AWAY.kind);
}

#[test]
fn long_operator_chains_are_refused_without_overflowing_the_stack() {
    for text in [
        format!("pipeline p {{ param x : bool = {}true }}", "not ".repeat(2000)),
        format!("pipeline p {{ param x : bool = true{} }}", " and true".repeat(5000)),
        format!("pipeline p {{ param x : any = a{} }}", ".b".repeat(5000)),
    ] {
        let c = compile_with(&[("p.wharf", &text)], &[]);
        assert!(codes(&c).contains(&"too-deeply-nested".to_string()), "{:?}", codes(&c));
    }
    let ok_chain = format!("pipeline p {{ param x : bool = true{} }}", " and true".repeat(100));
    let c = compile_with(&[("p.wharf", &ok_chain)], &[]);
    assert!(!c.diagnostics.has_errors());
}

/// Steps built on several threads give what one thread gives: the same
/// steps, edges and params, and the same diagnostics in the same order,
/// errors inside the steps of every thread's range included.
#[test]
fn steps_built_on_threads_equal_steps_built_on_one() {
    let mut text = String::from("pipeline p {\n  param n : int = 2\n  param unused : int = 1\n");
    text.push_str("  for r in [\"eu\", \"us\"] {\n    step fit { command = [\"true\"]\n outputs { m = file(\"m.json\") } }\n  }\n");
    for i in 0..5000 {
        let (body, when) = match i % 500 {
            7 => ("command = [\"true\"]\n colour = 1".to_string(), ""),
            8 => ("command = [\"true\"]\n inputs { x = nothing.out }".to_string(), ""),
            9 => (
                format!("command = [\"true\"]\n inputs {{ x = s{}.missing }}", i - 1),
                "",
            ),
            10 => ("command = 3".to_string(), ""),
            11 => (
                "command = [\"true\"]\n inputs { a = fit[\"eu\"].m }".to_string(),
                " when fit[\"us\"].m.auc > 0.5",
            ),
            _ if i > 0 => (
                format!(
                    "command = [\"echo\", \"${{params.n}}\"]\n inputs {{ x = s{}.out }}\n outputs {{ out = dir() }}\n after = [fit[*]]",
                    i - 1
                ),
                "",
            ),
            _ => ("command = [\"true\"]\n outputs { out = dir() }".to_string(), ""),
        };
        text.push_str(&format!("  step s{i} {{\n    {body}\n  }}{when}\n"));
    }
    text.push_str("}\ntarget local { backend = here }\n");
    let world = MemoryWorld::new().with_file("p.wharf", text);
    let options = Options {
        backends: vec![&HERE, &AWAY],
        ..Options::default()
    };
    let mut load_diags = crate::diagnostic::Diagnostics::default();
    let program = crate::modules::load(&world, Path::new("p.wharf"), &mut load_diags);
    assert!(load_diags.is_empty(), "{load_diags:?}");
    let resolve = |threads: usize| {
        let mut diags = crate::diagnostic::Diagnostics::default();
        let resolved = super::resolve_on(&program, &options, &mut diags, threads).expect("resolved");
        let facts = format!("{:?}\n{:?}\n{:?}", resolved.steps, resolved.edges, resolved.params);
        (facts, format!("{diags:?}"), diags.error_count())
    };
    let one = resolve(1);
    assert!(one.2 >= 8, "the errors are reported: {}", one.1);
    assert!(one.1.contains("unused"), "{}", one.1);
    for threads in [2, 3, 8] {
        assert!(resolve(threads) == one, "{threads} threads");
    }
}
