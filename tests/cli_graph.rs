//! `wharf graph`: DOT, Mermaid, JSON and SVG drawings of the DAG.

mod common;
use common::*;

#[test]
fn dot_has_every_step_and_edge() {
    let out = wharf()
        .args(["graph", &pipeline("churn"), "--format", "dot"])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr_of(&out));
    let dot = stdout_of(&out);
    assert!(dot.starts_with("digraph"), "{dot}");
    assert!(dot.contains("rankdir=LR"));
    for step in ["prepare", "fit", "evaluate", "deploy"] {
        assert!(dot.contains(&format!("\"{step}\"")), "{step} missing from {dot}");
    }
    assert_eq!(dot.matches("->").count(), 5, "{dot}");
    assert!(dot.contains("dashed"), "conditional edges are dashed: {dot}");
}

#[test]
fn mermaid_is_a_left_to_right_flowchart() {
    let out = wharf()
        .args(["graph", &pipeline("churn"), "--format", "mermaid"])
        .output()
        .expect("runs");
    let text = stdout_of(&out);
    assert!(text.contains("flowchart LR"), "{text}");
    assert_eq!(text.matches("-->").count() + text.matches("-.->").count(), 5, "{text}");
}

#[test]
fn json_lists_nodes_in_order_and_edges_with_reasons() {
    let out = wharf()
        .args(["graph", &pipeline("churn"), "--format", "json"])
        .output()
        .expect("runs");
    let graph: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let nodes: Vec<&str> = graph["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .filter_map(|n| n["id"].as_str())
        .collect();
    assert_eq!(nodes, ["prepare", "fit", "evaluate", "deploy"]);
    let edges = graph["edges"].as_array().expect("edges");
    assert!(
        edges
            .iter()
            .any(|e| e["from"] == "evaluate" && e["to"] == "deploy" && e["kind"] == "condition")
    );
    assert!(
        edges
            .iter()
            .any(|e| e["from"] == "prepare" && e["to"] == "fit" && e["output"] == "train")
    );
}

#[test]
fn a_bad_override_is_a_json_diagnostic_with_format_json_and_text_otherwise() {
    let out = wharf()
        .args(["graph", &pipeline("churn"), "--format", "json", "-p", "max_depth"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(report["diagnostics"][0]["code"], "invalid-override", "{report}");
    let out = wharf()
        .args(["graph", &pipeline("churn"), "-p", "max_depth"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stdout_of(&out), "");
    assert!(
        stderr_of(&out).starts_with("error[invalid-override]: `-p max_depth` is not NAME=VALUE"),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn svg_is_drawn_without_graphviz_and_written_to_a_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("regions.svg");
    let out = wharf()
        .args(["graph", &pipeline("regions"), "--format", "svg", "-o"])
        .arg(&path)
        .env("PATH", "/nonexistent")
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr_of(&out));
    let svg = std::fs::read_to_string(&path).expect("svg written");
    assert!(svg.contains("<svg") && svg.trim_end().ends_with("</svg>"));
    assert_eq!(svg.matches("class=\"node\"").count(), 11, "one node group per step");
}

#[test]
fn large_fan_out_renders_readably() {
    let mut text = String::from("pipeline big {\n param shards : list = [");
    text.push_str(&(0..60).map(|i| format!("\"s{i}\"")).collect::<Vec<_>>().join(", "));
    text.push_str("]\n step src { command = [\"x\"] outputs { out = dir() } }\n for s in params.shards {\n  step work { command = [\"w\"] inputs { i = src.out } outputs { out = dir() } }\n }\n step join { command = [\"j\"] inputs { all = work[*].out } }\n}\n");
    let (_dir, path) = temp_file("big.wharf", &text);
    let out = wharf()
        .args(["graph", "--format", "svg"])
        .arg(&path)
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr_of(&out));
    let svg = stdout_of(&out);
    assert_eq!(svg.matches("class=\"node\"").count(), 62);
}

#[test]
fn a_pipeline_that_does_not_compile_is_exit_two() {
    let (_dir, path) = temp_file("bad.wharf", "pipeline p { step s { inputs { a = nope.out } } }");
    let out = wharf().args(["graph"]).arg(&path).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_of(&out).contains("does not compile"));
}
