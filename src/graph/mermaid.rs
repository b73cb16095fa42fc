//! Mermaid `flowchart LR` serialiser (`wharf graph --format mermaid`), for
//! pasting into Markdown that GitHub or GitLab renders.
//!
//! Step names may contain characters Mermaid treats as syntax (or reserved
//! words such as `end`), so nodes get synthetic ids `n0`, `n1`, ... and the
//! real name only ever appears inside an entity-escaped quoted label.

use std::fmt::Write;

use super::{
    GraphView,
    style::{kinds_present, style_for},
    valid_edges,
};

pub(super) fn render(view: &GraphView) -> String {
    let mut out = String::new();
    if !view.title.is_empty() {
        let _ = writeln!(out, "---\ntitle: {}\n---", yaml_quote(&view.title));
    }
    out.push_str("flowchart LR\n");
    for (i, node) in view.nodes.iter().enumerate() {
        let mut label = escape(&node.label);
        if let Some(detail) = &node.detail {
            let _ = write!(label, "<br/><small>{}</small>", escape(detail));
        }
        let _ = writeln!(out, "    n{i}[\"{label}\"]");
    }
    for edge in valid_edges(view) {
        let arrow = if edge.conditional { "-.->" } else { "-->" };
        match &edge.label {
            Some(label) => {
                let _ = writeln!(out, "    n{} {arrow}|\"{}\"| n{}", edge.from, escape(label), edge.to);
            }
            None => {
                let _ = writeln!(out, "    n{} {arrow} n{}", edge.from, edge.to);
            }
        }
    }
    // One classDef per kind present, then one `class` line per kind; class
    // names come from the fixed style table, never from user input.
    let mut classes: Vec<(&str, Vec<usize>)> = Vec::new();
    for kind in kinds_present(view) {
        let style = style_for(kind);
        let members = view
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.kind == kind)
            .map(|(i, _)| i);
        match classes.iter_mut().find(|(c, _)| *c == style.class) {
            Some((_, ids)) => ids.extend(members),
            None => classes.push((style.class, members.collect())),
        }
    }
    for (class, ids) in &mut classes {
        let style = style_for(class);
        let _ = writeln!(
            out,
            "    classDef {class} fill:{},stroke:{},color:#111827",
            style.fill, style.accent
        );
        ids.sort_unstable();
        let ids: Vec<String> = ids.iter().map(|i| format!("n{i}")).collect();
        let _ = writeln!(out, "    class {} {class}", ids.join(","));
    }
    out
}

/// Text for inside a `"..."` Mermaid label. Mermaid decodes `#name;` and
/// `#123;` entity codes, so anything that could close the quote, open HTML
/// or be mistaken for an entity is written as one.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("#quot;"),
            '#' => out.push_str("#35;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '&' => out.push_str("#amp;"),
            '|' => out.push_str("#124;"),
            '`' => out.push_str("#96;"),
            '\\' => out.push_str("#92;"),
            '\n' | '\r' | '\t' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// A YAML double-quoted scalar for the front-matter title.
fn yaml_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
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

    fn node(label: &str, kind: &str) -> GraphNode {
        GraphNode {
            id: label.into(),
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

    #[test]
    fn every_node_and_edge_present() {
        let mut fit = node("fit", "train");
        fit.detail = Some("gpu".into());
        let view = GraphView {
            title: "demo".into(),
            nodes: vec![node("prep", "transform"), fit, node("end", "deploy")],
            edges: vec![edge(0, 1, Some("train"), false), edge(1, 2, None, true)],
        };
        let m = render(&view);
        assert!(m.starts_with("---\ntitle: \"demo\"\n---\nflowchart LR\n"));
        assert!(m.contains("    n0[\"prep\"]\n"));
        assert!(m.contains("    n1[\"fit<br/><small>gpu</small>\"]\n"));
        // `end` is a Mermaid keyword: it must only appear inside a label.
        assert!(m.contains("    n2[\"end\"]\n"));
        assert!(m.contains("    n0 -->|\"train\"| n1\n"));
        assert!(m.contains("    n1 -.-> n2\n"));
        assert!(m.contains("classDef transform fill:"));
        assert!(m.contains("classDef train fill:"));
        assert!(m.contains("classDef deploy fill:"));
        assert!(m.contains("    class n1 train\n"));
        assert!(!m.contains("classDef step"));
    }

    #[test]
    fn hostile_labels_are_escaped() {
        let hostile = "a\"b\n<script>alert('x')</script>|#quot;&`\\";
        let mut n = node(hostile, "??");
        n.detail = Some("\"]; click n0 call evil()".into());
        let view = GraphView {
            title: "x\"\ny".into(),
            nodes: vec![n, node("b", "other-kind")],
            edges: vec![edge(0, 1, Some("o|u\"t"), false)],
        };
        let m = render(&view);
        assert!(m.contains(
            "n0[\"a#quot;b #lt;script#gt;alert('x')#lt;/script#gt;#124;#35;quot;#amp;#96;#92;<br/><small>#quot;]; click n0 call evil()</small>\"]"
        ));
        assert!(m.contains("n0 -->|\"o#124;u#quot;t\"| n1"));
        assert!(m.contains("title: \"x\\\" y\""));
        assert!(!m.contains("<script"));
        // Both unknown kinds share the fallback class, declared once.
        assert_eq!(m.matches("classDef other").count(), 1);
        assert!(m.contains("class n0,n1 other"));
        // Each node line holds exactly one label: two quotes, no more.
        for line in m.lines().filter(|l| l.trim_start().starts_with('n')) {
            assert_eq!(line.matches('"').count(), 2, "{line}");
        }
    }

    #[test]
    fn no_title_no_front_matter() {
        let view = GraphView {
            nodes: vec![node("a", "step")],
            ..GraphView::default()
        };
        assert!(render(&view).starts_with("flowchart LR\n"));
    }
}
