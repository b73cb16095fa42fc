//! Pipeline graph rendering: turns a [`GraphView`] (step instances and the
//! dependencies between them) into Graphviz DOT, Mermaid or a standalone SVG.
//!
//! The text formats are thin serialisers; the SVG renderer runs the in-house
//! layered layout in [`layout`] so that `wharf graph --format svg` needs no
//! external tool. Every renderer is deterministic: the same view always
//! produces byte-identical output, which keeps snapshots stable.

mod dot;
mod layout;
mod mermaid;
mod style;
mod svg;
mod text;

/// A graph ready to draw: nodes are step instances in execution order, edges are data or ordering dependencies.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GraphView {
    pub title: String,
    pub nodes: Vec<GraphNode>,
    pub edges: Vec<GraphEdge>,
}

/// One step instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphNode {
    /// Unique step instance name, e.g. "fit" or "fit-eu".
    pub id: String,
    /// What to show, usually equal to `id`.
    pub label: String,
    /// "step" | "train" | "tune" | "transform" | "deploy" | "monitor" | "build".
    pub kind: String,
    /// E.g. image name or backend; shown as a second line.
    pub detail: Option<String>,
}

/// A dependency between two nodes, by index into [`GraphView::nodes`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphEdge {
    pub from: usize,
    pub to: usize,
    /// E.g. the output name "train".
    pub label: Option<String>,
    /// The target step has a `when` condition.
    pub conditional: bool,
}

/// Output formats drawn by this module (JSON is produced elsewhere).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GraphFormat {
    Dot,
    Mermaid,
    Svg,
}

/// Render `view` in the requested format.
///
/// Edges whose endpoints are out of range are skipped rather than rejected:
/// drawing is a diagnostic aid and should never be the thing that fails.
pub fn render(view: &GraphView, format: GraphFormat) -> String {
    match format {
        GraphFormat::Dot => dot::render(view),
        GraphFormat::Mermaid => mermaid::render(view),
        GraphFormat::Svg => svg::render(view),
    }
}

/// Edges whose endpoints both exist, in input order.
fn valid_edges(view: &GraphView) -> impl Iterator<Item = &GraphEdge> {
    let n = view.nodes.len();
    view.edges.iter().filter(move |e| e.from < n && e.to < n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> GraphView {
        let node = |id: &str, kind: &str| GraphNode {
            id: id.into(),
            label: id.into(),
            kind: kind.into(),
            detail: None,
        };
        GraphView {
            title: "t".into(),
            nodes: vec![node("a", "build"), node("b", "train")],
            edges: vec![
                GraphEdge {
                    from: 0,
                    to: 1,
                    label: None,
                    conditional: false,
                },
                GraphEdge {
                    from: 0,
                    to: 9,
                    label: None,
                    conditional: false,
                },
            ],
        }
    }

    #[test]
    fn render_dispatches_to_each_format() {
        let view = sample();
        assert!(render(&view, GraphFormat::Dot).starts_with("digraph"));
        assert!(render(&view, GraphFormat::Mermaid).contains("flowchart LR"));
        assert!(render(&view, GraphFormat::Svg).contains("<svg"));
    }

    #[test]
    fn out_of_range_edges_are_ignored() {
        let view = sample();
        assert_eq!(valid_edges(&view).count(), 1);
        for format in [GraphFormat::Dot, GraphFormat::Mermaid, GraphFormat::Svg] {
            // Must not panic.
            let _ = render(&view, format);
        }
    }

    #[test]
    fn empty_view_renders() {
        let view = GraphView::default();
        for format in [GraphFormat::Dot, GraphFormat::Mermaid, GraphFormat::Svg] {
            assert!(!render(&view, format).is_empty());
        }
    }
}
