//! Graphviz DOT serialiser (`wharf graph --format dot`).
//!
//! Node ids are the step instance names, quoted, so the DOT stays readable
//! and diffable; shape and colour come from the shared kind style.

use std::fmt::Write;

use super::{GraphView, style::style_for, valid_edges};

pub(super) fn render(view: &GraphView) -> String {
    let mut out = String::new();
    // `write!` into a String cannot fail; the results are ignored on purpose.
    let _ = writeln!(out, "digraph {} {{", quote(&view.title));
    let _ = writeln!(
        out,
        "  graph [rankdir=LR, fontname=\"Helvetica\", nodesep=0.3, ranksep=0.6, label={}, labelloc=t];",
        quote(&view.title)
    );
    out.push_str("  node [style=\"filled\", fontname=\"Helvetica\", fontsize=11];\n");
    out.push_str("  edge [fontname=\"Helvetica\", fontsize=9, color=\"#6b7280\"];\n");
    for node in &view.nodes {
        let style = style_for(&node.kind);
        let label = match &node.detail {
            Some(detail) => format!("{}\n{}", node.label, detail),
            None => node.label.clone(),
        };
        let shape_style = if style.dot_shape == "box" {
            ", style=\"rounded,filled\""
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "  {} [label={}, shape={}{}, color=\"{}\", fillcolor=\"{}\"];",
            quote(&node.id),
            quote(&label),
            style.dot_shape,
            shape_style,
            style.accent,
            style.fill
        );
    }
    for edge in valid_edges(view) {
        let mut attrs = Vec::new();
        if let Some(label) = &edge.label {
            attrs.push(format!("label={}", quote(label)));
        }
        if edge.conditional {
            attrs.push("style=dashed".to_string());
        }
        let attrs = if attrs.is_empty() {
            String::new()
        } else {
            format!(" [{}]", attrs.join(", "))
        };
        let _ = writeln!(
            out,
            "  {} -> {}{};",
            quote(&view.nodes[edge.from].id),
            quote(&view.nodes[edge.to].id),
            attrs
        );
    }
    out.push_str("}\n");
    out
}

/// A DOT double-quoted string. Backslashes are doubled because Graphviz
/// treats label strings as escString (`\n`, `\N`, ...); line breaks become
/// the `\n` escape so a hostile label cannot end the statement early.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::super::{GraphEdge, GraphNode};
    use super::*;

    fn node(id: &str, label: &str, kind: &str) -> GraphNode {
        GraphNode {
            id: id.into(),
            label: label.into(),
            kind: kind.into(),
            detail: None,
        }
    }

    fn edge(from: usize, to: usize, label: Option<&str>, conditional: bool) -> GraphEdge {
        GraphEdge {
            from,
            to,
            label: label.map(str::to_string),
            conditional,
        }
    }

    /// Every quoted string must close on the line it opened, with only
    /// escaped quotes inside: a cheap stand-in for running `dot`.
    fn assert_quotes_balanced(dot: &str) {
        for line in dot.lines() {
            let mut in_str = false;
            let mut escaped = false;
            for c in line.chars() {
                match (in_str, escaped, c) {
                    (true, false, '\\') => escaped = true,
                    (true, true, _) => escaped = false,
                    (_, false, '"') => in_str = !in_str,
                    _ => {}
                }
            }
            assert!(!in_str, "unterminated string in line: {line}");
        }
    }

    #[test]
    fn has_header_and_every_node_and_edge() {
        let mut fit = node("fit", "fit", "train");
        fit.detail = Some("pytorch:2.3".into());
        let view = GraphView {
            title: "demo".into(),
            nodes: vec![node("prep", "prep", "transform"), fit, node("ship", "ship", "deploy")],
            edges: vec![edge(0, 1, Some("train"), false), edge(1, 2, None, true)],
        };
        let dot = render(&view);
        assert!(dot.starts_with("digraph \"demo\" {"));
        assert!(dot.contains("rankdir=LR"));
        assert!(dot.contains("\"prep\" [label=\"prep\", shape=parallelogram"));
        assert!(dot.contains("\"fit\" [label=\"fit\\npytorch:2.3\", shape=box3d"));
        assert!(dot.contains("\"ship\" [label=\"ship\", shape=house"));
        assert!(dot.contains("\"prep\" -> \"fit\" [label=\"train\"];"));
        assert!(dot.contains("\"fit\" -> \"ship\" [style=dashed];"));
        assert_eq!(dot.matches(" -> ").count(), 2);
        assert!(dot.trim_end().ends_with('}'));
        assert_quotes_balanced(&dot);
    }

    #[test]
    fn hostile_labels_are_escaped() {
        let hostile = "a\"b\\\n<script>alert(1)</script>\r\t";
        let mut n = node(hostile, hostile, "step");
        n.detail = Some("x\"; evil -> y [".into());
        let view = GraphView {
            title: "t\"}".into(),
            nodes: vec![n, node("b", "b", "nope")],
            edges: vec![edge(0, 1, Some("o\"ut\nx"), true)],
        };
        let dot = render(&view);
        assert_quotes_balanced(&dot);
        assert!(dot.contains("\"a\\\"b\\\\\\n<script>alert(1)</script> \""));
        assert!(dot.contains("label=\"o\\\"ut\\nx\""));
        assert!(dot.contains("digraph \"t\\\"}\" {"));
        // A raw newline inside a label would split a statement in two.
        assert_eq!(dot.lines().count(), 4 + 2 + 1 + 1);
    }

    #[test]
    fn deterministic() {
        let view = GraphView {
            title: "t".into(),
            nodes: vec![node("a", "a", "step"), node("b", "b", "build")],
            edges: vec![edge(0, 1, None, false)],
        };
        assert_eq!(render(&view), render(&view));
    }
}
