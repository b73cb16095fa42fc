//! Per-kind visual style shared by every renderer, so a "train" step looks
//! the same colour in DOT, Mermaid and SVG output.

use super::GraphView;

/// How one step kind is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct KindStyle {
    /// Name used for CSS/Mermaid classes; always `[a-z]+`, so safe unescaped.
    pub class: &'static str,
    /// Strong accent colour (borders, legend swatches).
    pub accent: &'static str,
    /// Light tint used as the node background.
    pub fill: &'static str,
    /// Graphviz node shape.
    pub dot_shape: &'static str,
}

const KNOWN: [KindStyle; 7] = [
    KindStyle {
        class: "step",
        accent: "#475569",
        fill: "#f1f5f9",
        dot_shape: "box",
    },
    KindStyle {
        class: "train",
        accent: "#2563eb",
        fill: "#dbeafe",
        dot_shape: "box3d",
    },
    KindStyle {
        class: "tune",
        accent: "#7c3aed",
        fill: "#ede9fe",
        dot_shape: "hexagon",
    },
    KindStyle {
        class: "transform",
        accent: "#0d9488",
        fill: "#ccfbf1",
        dot_shape: "parallelogram",
    },
    KindStyle {
        class: "deploy",
        accent: "#16a34a",
        fill: "#dcfce7",
        dot_shape: "house",
    },
    KindStyle {
        class: "monitor",
        accent: "#d97706",
        fill: "#fef3c7",
        dot_shape: "octagon",
    },
    KindStyle {
        class: "build",
        accent: "#be123c",
        fill: "#ffe4e6",
        dot_shape: "component",
    },
];

/// Kinds the language may grow later still get drawn, just without a colour.
const OTHER: KindStyle = KindStyle {
    class: "other",
    accent: "#6b7280",
    fill: "#f3f4f6",
    dot_shape: "box",
};

pub(super) fn style_for(kind: &str) -> &'static KindStyle {
    KNOWN.iter().find(|s| s.class == kind).unwrap_or(&OTHER)
}

/// Distinct kinds present in `view`: known kinds in canonical order, then
/// unknown ones sorted, so legends and class lists are deterministic.
pub(super) fn kinds_present(view: &GraphView) -> Vec<&str> {
    let mut known: Vec<&str> = KNOWN
        .iter()
        .map(|s| s.class)
        .filter(|k| view.nodes.iter().any(|n| n.kind == *k))
        .collect();
    let mut unknown: Vec<&str> = view
        .nodes
        .iter()
        .map(|n| n.kind.as_str())
        .filter(|k| KNOWN.iter().all(|s| s.class != *k))
        .collect();
    unknown.sort_unstable();
    unknown.dedup();
    known.extend(unknown);
    known
}

#[cfg(test)]
mod tests {
    use super::super::GraphNode as Node;
    use super::*;

    #[test]
    fn unknown_kind_falls_back() {
        assert_eq!(style_for("train").class, "train");
        assert_eq!(style_for("<weird>").class, "other");
    }

    #[test]
    fn kinds_are_canonical_then_sorted() {
        let node = |kind: &str| Node {
            id: kind.into(),
            label: kind.into(),
            kind: kind.into(),
            detail: None,
        };
        let view = GraphView {
            nodes: ["zz", "deploy", "train", "aa", "train"].into_iter().map(node).collect(),
            ..GraphView::default()
        };
        assert_eq!(kinds_present(&view), ["train", "deploy", "aa", "zz"]);
    }
}
