//! Standalone SVG 1.1 renderer (`wharf graph --format svg`): runs the
//! layered layout and draws rounded, kind-coloured boxes, Bezier edges with
//! arrowheads, a title and a legend of the kinds present. Attributes are
//! inline rather than CSS so the file looks the same in browsers, rsvg and
//! image editors.

use std::fmt::Write;

use super::{
    GraphView,
    layout::{Layout, LayoutConfig, Point, layout},
    style::{kinds_present, style_for},
    text::{single_line, text_width, truncate, xml_escape},
    valid_edges,
};

const MARGIN: f64 = 24.0;
const NODE_WIDTH: f64 = 190.0;
const HEIGHT_PLAIN: f64 = 38.0;
const HEIGHT_DETAIL: f64 = 52.0;
/// Left accent bar plus padding before the text starts.
const TEXT_INSET: f64 = 15.0;
const LABEL_SIZE: f64 = 13.0;
const DETAIL_SIZE: f64 = 11.0;
const EDGE_LABEL_SIZE: f64 = 10.0;
const TITLE_SIZE: f64 = 18.0;
const LEGEND_SIZE: f64 = 12.0;
const EDGE_COLOUR: &str = "#94a3b8";
/// Port spacing the layout uses at most; one edge label fits in it.
const PORT_PITCH: f64 = 14.0;

pub(super) fn render(view: &GraphView) -> String {
    let config = LayoutConfig {
        node_width: NODE_WIDTH,
        port_pitch: PORT_PITCH,
        ..LayoutConfig::default()
    };
    let heights = node_heights(view);
    let pairs: Vec<(usize, usize)> = view.edges.iter().map(|e| (e.from, e.to)).collect();
    let lay = layout(&heights, &pairs, &config);

    let kinds = kinds_present(view);
    let legend = legend_rows(&kinds, lay.width.max(480.0));
    let header = MARGIN + TITLE_SIZE + 24.0 + legend.len() as f64 * 22.0 + 20.0;
    let title_width = text_width(&view.title, TITLE_SIZE, true);
    let legend_width = legend
        .iter()
        .map(|row| row.last().map_or(0.0, |item| item.0 + item.2))
        .fold(0.0, f64::max);
    let width = (lay.width.max(title_width).max(legend_width) + 2.0 * MARGIN).ceil();
    let height = (header + lay.height + MARGIN).ceil();

    let mut out = String::with_capacity(512 + 600 * view.nodes.len());
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" font-family=\"Helvetica, Arial, sans-serif\">"
    );
    let _ = writeln!(out, "<title>{}</title>", xml_escape(&view.title));
    let _ = writeln!(
        out,
        "<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerUnits=\"userSpaceOnUse\" markerWidth=\"9\" markerHeight=\"9\" orient=\"auto\"><path d=\"M0,1 L9,5 L0,9 z\" fill=\"{EDGE_COLOUR}\"/></marker></defs>"
    );
    out.push_str("<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n");
    header_svg(&mut out, view, &legend);

    let origin = Point { x: MARGIN, y: header };
    edges_svg(&mut out, view, &lay, origin);
    nodes_svg(&mut out, view, &lay, origin);
    out.push_str("</svg>\n");
    out
}

/// Boxes are stretched for nodes with several labelled inputs, so that the
/// labels stacked at the entry ports do not overlap each other.
fn node_heights(view: &GraphView) -> Vec<f64> {
    let mut inputs = vec![0usize; view.nodes.len()];
    let mut labelled = vec![0usize; view.nodes.len()];
    for edge in valid_edges(view).filter(|e| e.from != e.to) {
        inputs[edge.to] += 1;
        labelled[edge.to] += usize::from(edge.label.is_some());
    }
    view.nodes
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let base = if n.detail.is_some() {
                HEIGHT_DETAIL
            } else {
                HEIGHT_PLAIN
            };
            if labelled[i] >= 2 {
                base.max(PORT_PITCH * inputs[i] as f64 / 0.8)
            } else {
                base
            }
        })
        .collect()
}

/// Legend items as (x offset, kind, width), wrapped into rows.
fn legend_rows<'a>(kinds: &[&'a str], max_width: f64) -> Vec<Vec<(f64, &'a str, f64)>> {
    let mut rows: Vec<Vec<(f64, &str, f64)>> = Vec::new();
    let mut x = 0.0;
    for &kind in kinds {
        let w = 20.0 + text_width(kind, LEGEND_SIZE, false);
        if x > 0.0 && x + w > max_width {
            x = 0.0;
        }
        if x == 0.0 {
            rows.push(Vec::new());
        }
        if let Some(row) = rows.last_mut() {
            row.push((x, kind, w));
        }
        x += w + 18.0;
    }
    rows
}

fn header_svg(out: &mut String, view: &GraphView, legend: &[Vec<(f64, &str, f64)>]) {
    let y = MARGIN + TITLE_SIZE;
    let _ = writeln!(
        out,
        "<text class=\"title\" x=\"{MARGIN}\" y=\"{y}\" font-size=\"{TITLE_SIZE}\" font-weight=\"bold\" fill=\"#111827\">{}</text>",
        xml_escape(&single_line(&view.title))
    );
    let steps = view.nodes.len();
    let deps = valid_edges(view).count();
    let _ = writeln!(
        out,
        "<text x=\"{MARGIN}\" y=\"{}\" font-size=\"11\" fill=\"#6b7280\">{steps} step{} · {deps} dependenc{}</text>",
        y + 18.0,
        if steps == 1 { "" } else { "s" },
        if deps == 1 { "y" } else { "ies" },
    );
    out.push_str("<g class=\"legend\">\n");
    for (r, row) in legend.iter().enumerate() {
        let top = y + 32.0 + r as f64 * 22.0;
        for &(x, kind, _) in row {
            let style = style_for(kind);
            let _ = writeln!(
                out,
                "<rect x=\"{:.1}\" y=\"{top:.1}\" width=\"14\" height=\"14\" rx=\"3\" fill=\"{}\" stroke=\"{}\" stroke-width=\"2\"/><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"{LEGEND_SIZE}\" fill=\"#374151\">{}</text>",
                MARGIN + x,
                style.fill,
                style.accent,
                MARGIN + x + 20.0,
                top + 11.5,
                xml_escape(&single_line(kind))
            );
        }
    }
    out.push_str("</g>\n");
}

fn edges_svg(out: &mut String, view: &GraphView, lay: &Layout, origin: Point) {
    for (i, edge) in view.edges.iter().enumerate() {
        let (Some(from), Some(to)) = (view.nodes.get(edge.from), view.nodes.get(edge.to)) else {
            continue;
        };
        let route = lay.routes.get(i).map(Vec::as_slice).unwrap_or_default();
        let d = if edge.from == edge.to {
            // Self-loops are not laid out; draw a small arc over the box's
            // top edge, clear of the edge ports on its sides.
            let b = lay.nodes[edge.from];
            let (left, right, top) = (
                origin.x + b.x + b.width - 40.0,
                origin.x + b.x + b.width - 14.0,
                origin.y + b.y,
            );
            format!(
                "M{left:.1},{top:.1} C{left:.1},{:.1} {right:.1},{:.1} {right:.1},{top:.1}",
                top - 20.0,
                top - 20.0
            )
        } else if route.len() >= 2 {
            path_data(route, origin)
        } else {
            continue;
        };
        let dash = if edge.conditional {
            " stroke-dasharray=\"6 4\""
        } else {
            ""
        };
        let mut tip = format!("{} → {}", from.id, to.id);
        if let Some(label) = &edge.label {
            let _ = write!(tip, " ({label})");
        }
        if edge.conditional {
            tip.push_str(" [conditional]");
        }
        let _ = write!(
            out,
            "<g class=\"edge\"><title>{}</title><path d=\"{d}\" fill=\"none\" stroke=\"{EDGE_COLOUR}\" stroke-width=\"1.5\"{dash} marker-end=\"url(#arrow)\"/>",
            xml_escape(&tip)
        );
        if let (Some(label), [.., before, end]) = (&edge.label, route) {
            edge_label(out, label, *before, *end, origin);
        }
        out.push_str("</g>\n");
    }
}

/// Cubic Bezier through every route point with horizontal tangents, so
/// curves leave and enter boxes straight and long edges run level through
/// the columns they skip.
fn path_data(route: &[Point], origin: Point) -> String {
    let mut d = String::new();
    let at = |p: Point| (origin.x + p.x, origin.y + p.y);
    let (x0, y0) = at(route[0]);
    let _ = write!(d, "M{x0:.1},{y0:.1}");
    for pair in route.windows(2) {
        let ((ax, ay), (bx, by)) = (at(pair[0]), at(pair[1]));
        if (ay - by).abs() < 0.05 {
            let _ = write!(d, " L{bx:.1},{by:.1}");
        } else {
            let mid = (ax + bx) / 2.0;
            let _ = write!(d, " C{mid:.1},{ay:.1} {mid:.1},{by:.1} {bx:.1},{by:.1}");
        }
    }
    d
}

/// Label just before the arrowhead, on a white plate so crossing edges do
/// not make it unreadable. Placed on the side the edge arrives from.
fn edge_label(out: &mut String, label: &str, before: Point, end: Point, origin: Point) {
    let shown = truncate(label, 84.0, EDGE_LABEL_SIZE, false);
    let w = text_width(&shown, EDGE_LABEL_SIZE, false);
    let from_left = before.x <= end.x;
    let x = if from_left {
        origin.x + end.x - 12.0 - w
    } else {
        origin.x + end.x + 12.0
    };
    let y = origin.y + end.y - 4.0;
    let _ = write!(
        out,
        "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"12\" rx=\"2\" fill=\"#ffffff\" fill-opacity=\"0.85\"/><text x=\"{x:.1}\" y=\"{y:.1}\" font-size=\"{EDGE_LABEL_SIZE}\" fill=\"#475569\">{}</text>",
        x - 2.0,
        y - 9.5,
        w + 4.0,
        xml_escape(&shown)
    );
}

fn nodes_svg(out: &mut String, view: &GraphView, lay: &Layout, origin: Point) {
    let text_room = NODE_WIDTH - TEXT_INSET - 12.0;
    for (i, (node, b)) in view.nodes.iter().zip(&lay.nodes).enumerate() {
        let style = style_for(&node.kind);
        let (x, y) = (origin.x + b.x, origin.y + b.y);
        let mut tip = format!("{} [{}]", node.label, node.kind);
        if node.id != node.label {
            let _ = write!(tip, "\nid: {}", node.id);
        }
        if let Some(detail) = &node.detail {
            let _ = write!(tip, "\n{detail}");
        }
        let _ = writeln!(
            out,
            "<g class=\"node\" id=\"node-{i}\"><title>{}</title>",
            xml_escape(&tip)
        );
        // An accent-coloured box under a tinted one, offset to leave a bar
        // on the left: the kind reads at a glance without a border on every
        // side competing with the edges.
        let _ = writeln!(
            out,
            "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{:.1}\" rx=\"6\" fill=\"{}\"/><rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" rx=\"5\" fill=\"{}\"/>",
            b.width,
            b.height,
            style.accent,
            x + 5.0,
            y + 1.0,
            b.width - 6.0,
            b.height - 2.0,
            style.fill
        );
        let label = truncate(&node.label, text_room, LABEL_SIZE, true);
        let centre = y + b.height / 2.0;
        let label_y = match node.detail {
            Some(_) => centre - 4.0,
            None => centre + 4.5,
        };
        let _ = writeln!(
            out,
            "<text x=\"{:.1}\" y=\"{label_y:.1}\" font-size=\"{LABEL_SIZE}\" font-weight=\"bold\" fill=\"#111827\">{}</text>",
            x + TEXT_INSET,
            xml_escape(&label)
        );
        if let Some(detail) = &node.detail {
            let detail = truncate(detail, text_room, DETAIL_SIZE, false);
            let _ = writeln!(
                out,
                "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"{DETAIL_SIZE}\" fill=\"#6b7280\">{}</text>",
                x + TEXT_INSET,
                centre + 12.0,
                xml_escape(&detail)
            );
        }
        out.push_str("</g>\n");
    }
}

#[cfg(test)]
mod tests {
    use super::super::text::assert_well_formed;
    use super::super::{GraphEdge, GraphNode};
    use super::*;

    fn node(id: &str, kind: &str, detail: Option<&str>) -> GraphNode {
        GraphNode {
            id: id.into(),
            label: id.into(),
            kind: kind.into(),
            detail: detail.map(str::to_string),
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
    fn well_formed_with_one_group_per_node_and_edge() {
        let view = GraphView {
            title: "train & ship".into(),
            nodes: vec![
                node("prep", "transform", Some("python:3.12")),
                node("fit", "train", None),
                node("ship", "deploy", None),
                node("watch", "monitor", None),
            ],
            edges: vec![
                edge(0, 1, Some("train"), false),
                edge(1, 2, None, true),
                edge(0, 3, None, false),
                edge(3, 3, None, false),
                edge(0, 7, None, false),
            ],
        };
        let svg = render(&view);
        assert_well_formed(&svg);
        assert!(svg.contains("<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\""));
        assert!(svg.contains("viewBox=\"0 0 "));
        assert_eq!(svg.matches("<g class=\"node\"").count(), 4);
        // The out-of-range edge is dropped; the self-loop is still drawn.
        assert_eq!(svg.matches("<g class=\"edge\"").count(), 4);
        assert_eq!(svg.matches("stroke-dasharray").count(), 1);
        assert!(svg.contains("<marker id=\"arrow\""));
        assert!(svg.contains(">train</text>"));
        assert!(svg.contains(">python:3.12</text>"));
        assert!(svg.contains("<title>train &amp; ship</title>"));
        // Legend lists exactly the kinds present.
        let legend = &svg[svg.find("<g class=\"legend\">").expect("legend")..];
        let legend = &legend[..legend.find("</g>").expect("legend end")];
        assert_eq!(legend.matches("<rect").count(), 4);
        assert!(!legend.contains(">step<"));
    }

    #[test]
    fn hostile_text_is_escaped_and_long_text_truncated() {
        let evil = "<script>alert(\"x&y's\")</script>";
        let long = "an-extremely-long-step-name-that-cannot-possibly-fit-in-a-box";
        let view = GraphView {
            title: evil.into(),
            nodes: vec![node(evil, evil, Some(evil)), node(long, "step", Some(long))],
            edges: vec![edge(0, 1, Some(evil), true)],
        };
        let svg = render(&view);
        assert_well_formed(&svg);
        assert!(!svg.contains("<script"));
        assert!(svg.contains("&lt;script&gt;alert(&quot;x&amp;y&apos;s&quot;)&lt;/script&gt;"));
        // The visible label is cut with an ellipsis; the tooltip keeps it all.
        assert!(svg.contains("…</text>"));
        assert!(svg.contains(&format!("<title>{long} [step]\n{long}</title>")));
    }

    #[test]
    fn deterministic_and_sized() {
        let nodes: Vec<GraphNode> = (0..60).map(|i| node(&format!("s{i}"), "step", None)).collect();
        let edges: Vec<GraphEdge> = (1..60).map(|i| edge((i - 1) / 2, i, None, i % 5 == 0)).collect();
        let view = GraphView {
            title: "tree".into(),
            nodes,
            edges,
        };
        let a = render(&view);
        assert_eq!(a, render(&view));
        assert_well_formed(&a);
        assert_eq!(a.matches("<g class=\"node\"").count(), 60);
    }
}
