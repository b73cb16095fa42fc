//! Layered (Sugiyama-style) left-to-right layout, written for the SVG
//! renderer: layers by longest path ([`rank`]), crossing reduction
//! ([`order`]), vertical placement ([`coord`]), then edge routes through the
//! dummy-node slots with ports spread along each box side so edges into the
//! same node stay distinguishable. Cost is O((V + E) × sweeps) plus sorting;
//! dummies add one virtual node per layer an edge skips.

mod coord;
mod order;
mod rank;

/// Tunables, in SVG user units.
#[derive(Debug, Clone)]
pub(super) struct LayoutConfig {
    pub node_width: f64,
    /// Horizontal gap between layer columns (room for curves and labels).
    pub layer_gap: f64,
    pub node_gap: f64,
    pub dummy_gap: f64,
    /// Largest distance between two edge ports on one box side.
    pub port_pitch: f64,
    pub order_iterations: usize,
    pub coord_iterations: usize,
}

impl Default for LayoutConfig {
    fn default() -> Self {
        Self {
            node_width: 180.0,
            layer_gap: 90.0,
            node_gap: 22.0,
            dummy_gap: 10.0,
            port_pitch: 14.0,
            order_iterations: 16,
            coord_iterations: 16,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Point {
    pub x: f64,
    pub y: f64,
}

/// A node's box, top-left corner plus size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct NodeBox {
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Layout {
    pub nodes: Vec<NodeBox>,
    /// Per input edge, the polyline from source to target: the source port,
    /// the entry and exit of each layer column skipped, the target port. To
    /// be drawn with horizontal tangents at every point. Empty when the edge
    /// is a self-loop or has an out-of-range endpoint.
    pub routes: Vec<Vec<Point>>,
    pub width: f64,
    pub height: f64,
}

/// Lays out `heights.len()` nodes joined by `edges` (pairs of indices).
pub(super) fn layout(heights: &[f64], edges: &[(usize, usize)], config: &LayoutConfig) -> Layout {
    let mut p = rank::build(heights.len(), edges);
    order::reduce_crossings(&mut p, config.order_iterations);

    // Dummies are as tall as a stroke: they only reserve a lane.
    let mut virtual_heights = heights.to_vec();
    virtual_heights.resize(p.layer.len(), 2.0);
    let spacing = coord::Spacing {
        heights: &virtual_heights,
        node_gap: config.node_gap,
        dummy_gap: config.dummy_gap,
    };
    let y = coord::assign_y(&p, &spacing, config.coord_iterations);
    let column = |v: usize| column_x(p.layer[v], config);

    let nodes: Vec<NodeBox> = heights
        .iter()
        .enumerate()
        .map(|(v, &h)| NodeBox {
            x: column(v),
            y: y[v] - h / 2.0,
            width: config.node_width,
            height: h,
        })
        .collect();

    let (out_port, in_port) = ports(&p, &y, &nodes, config.port_pitch);
    let routes = p
        .chains
        .iter()
        .enumerate()
        .map(|(e, chain)| {
            let Some(chain) = chain else {
                return Vec::new();
            };
            let (first, last) = match (chain.nodes.first(), chain.nodes.last()) {
                (Some(&f), Some(&l)) => (f, l),
                _ => return Vec::new(),
            };
            let mut points = vec![Point {
                x: column(first) + config.node_width,
                y: out_port[e],
            }];
            for &d in &chain.nodes[1..chain.nodes.len() - 1] {
                let x = column(d);
                points.push(Point { x, y: y[d] });
                points.push(Point {
                    x: x + config.node_width,
                    y: y[d],
                });
            }
            points.push(Point {
                x: column(last),
                y: in_port[e],
            });
            if chain.reversed {
                points.reverse();
            }
            points
        })
        .collect();

    let width = p
        .layers
        .len()
        .checked_sub(1)
        .map_or(0.0, |last| column_x(last, config) + config.node_width);
    let height = (0..p.layer.len())
        .map(|v| y[v] + virtual_heights[v] / 2.0)
        .fold(0.0, f64::max);
    Layout {
        nodes,
        routes,
        width,
        height,
    }
}

fn column_x(layer: usize, config: &LayoutConfig) -> f64 {
    layer as f64 * (config.node_width + config.layer_gap)
}

/// Y of each edge's exit point on its source box and entry point on its
/// target box. Edges leaving (or entering) one node are ordered by where
/// their other end lies, so they fan out without crossing at the box.
fn ports(p: &rank::Proper, y: &[f64], nodes: &[NodeBox], pitch: f64) -> (Vec<f64>, Vec<f64>) {
    let mut out_port = vec![0.0; p.chains.len()];
    let mut in_port = vec![0.0; p.chains.len()];
    // (node, y of the neighbouring virtual node, edge) per port.
    let mut outs: Vec<(usize, f64, usize)> = Vec::new();
    let mut ins: Vec<(usize, f64, usize)> = Vec::new();
    for (e, chain) in p.chains.iter().enumerate() {
        let Some(chain) = chain else { continue };
        let n = chain.nodes.len();
        if n < 2 {
            continue;
        }
        outs.push((chain.nodes[0], y[chain.nodes[1]], e));
        ins.push((chain.nodes[n - 1], y[chain.nodes[n - 2]], e));
    }
    for (list, port) in [(&mut outs, &mut out_port), (&mut ins, &mut in_port)] {
        list.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)).then(a.2.cmp(&b.2)));
        for group in list.chunk_by(|a, b| a.0 == b.0) {
            let node = nodes[group[0].0];
            let centre = node.y + node.height / 2.0;
            let count = group.len();
            // Spread over the middle 80% of the side, at most `pitch` apart.
            let step = if count > 1 {
                (node.height * 0.8 / (count - 1) as f64).min(pitch)
            } else {
                0.0
            };
            for (k, &(_, _, e)) in group.iter().enumerate() {
                port[e] = centre + (k as f64 - (count - 1) as f64 / 2.0) * step;
            }
        }
    }
    (out_port, in_port)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::time::{Duration, Instant};

    /// `width` parallel chains per diamond level, each level fanning out of a
    /// hub and back into the next hub, plus a skip edge over every level.
    fn diamonds(levels: usize, width: usize) -> (usize, Vec<(usize, usize)>) {
        let mut edges = Vec::new();
        let mut n = 1;
        let mut hub = 0;
        for _ in 0..levels {
            let next = n + width;
            for k in 0..width {
                edges.push((hub, n + k));
                edges.push((n + k, next));
            }
            edges.push((hub, next));
            hub = next;
            n = next + 1;
        }
        (n, edges)
    }

    fn check(layout: &Layout, edges: &[(usize, usize)], config: &LayoutConfig) {
        let nodes = &layout.nodes;
        for &(a, b) in edges {
            if a != b {
                assert!(nodes[b].x >= nodes[a].x + config.node_width + config.layer_gap - 1e-6);
            }
        }
        // No two boxes in the same column overlap (sort by column, then y).
        let mut boxes: Vec<&NodeBox> = nodes.iter().collect();
        boxes.sort_by(|a, b| a.x.total_cmp(&b.x).then(a.y.total_cmp(&b.y)));
        for pair in boxes.windows(2) {
            if pair[0].x == pair[1].x {
                assert!(pair[1].y >= pair[0].y + pair[0].height + config.node_gap - 1e-6);
            }
        }
        for b in nodes {
            assert!(b.y >= -1e-6 && b.y + b.height <= layout.height + 1e-6);
            assert!(b.x + b.width <= layout.width + 1e-6);
        }
        // Where an edge crosses a column, its lane keeps clear of every box
        // there; between columns there are no boxes to hit.
        let mut columns: HashMap<u64, Vec<&NodeBox>> = HashMap::new();
        for b in nodes {
            columns.entry(b.x.to_bits()).or_default().push(b);
            columns.entry((b.x + b.width).to_bits()).or_default().push(b);
        }
        for route in &layout.routes {
            for lane in route.iter().skip(1).take(route.len().saturating_sub(2)) {
                for b in columns.get(&lane.x.to_bits()).into_iter().flatten() {
                    assert!(lane.y < b.y || lane.y > b.y + b.height, "edge through a node");
                }
            }
        }
    }

    /// Random graph: each node takes up to three parents among the previous
    /// `window` nodes. Returns (node count, forward edges, extra back edges).
    fn random_dag(seed: u64, n: usize, window: usize) -> Vec<(usize, usize)> {
        let mut state = seed.max(1);
        let mut next = move |bound: usize| {
            // xorshift64: deterministic and dependency-free.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % bound as u64) as usize
        };
        let mut edges = Vec::new();
        for v in 1..n {
            for _ in 0..1 + next(3) {
                let lo = v.saturating_sub(window);
                edges.push((lo + next(v - lo), v));
            }
        }
        edges
    }

    #[test]
    fn random_graphs_keep_all_invariants() {
        let config = LayoutConfig::default();
        for seed in 1..=12 {
            let n = 20 + seed as usize * 17;
            let edges = random_dag(seed, n, 1 + seed as usize * 3);
            let heights: Vec<f64> = (0..n).map(|v| if v % 3 == 0 { 52.0 } else { 38.0 }).collect();
            check(&layout(&heights, &edges, &config), &edges, &config);
            // Add cycles: the layout must still terminate and keep boxes apart.
            let mut cyclic = edges.clone();
            cyclic.extend((0..n / 10).map(|k| (n - 1 - k, k)));
            let lay = layout(&heights, &cyclic, &config);
            check(&lay, &[], &config);
            assert!(lay.routes.iter().all(|r| r.len() >= 2));
        }
    }

    #[test]
    fn small_graph_properties() {
        let config = LayoutConfig::default();
        let edges = [(0, 1), (0, 2), (1, 3), (2, 3), (0, 3), (3, 4), (1, 1), (0, 42)];
        let layout = layout(&[40.0, 54.0, 40.0, 54.0, 40.0], &edges, &config);
        check(&layout, &edges[..6], &config);
        assert!(layout.routes[6].is_empty() && layout.routes[7].is_empty());
        // The skip edge 0 -> 3 passes one column: 4 points.
        let skip = &layout.routes[4];
        assert_eq!(skip.len(), 4);
        assert_eq!(skip[0].x, layout.nodes[0].x + config.node_width);
        assert_eq!(skip[3].x, layout.nodes[3].x);
        // Its lane through column 1 avoids the boxes there.
        for b in &layout.nodes[1..3] {
            let inside = skip[1].y > b.y - 1.0 && skip[1].y < b.y + b.height + 1.0;
            assert!(!inside, "long edge runs through a node");
        }
    }

    #[test]
    fn cycle_does_not_hang() {
        let config = LayoutConfig::default();
        let layout = layout(&[40.0; 3], &[(0, 1), (1, 2), (2, 0)], &config);
        assert_eq!(layout.routes.iter().filter(|r| r.len() >= 2).count(), 3);
    }

    #[test]
    fn empty_graph() {
        let layout = layout(&[], &[], &LayoutConfig::default());
        assert_eq!((layout.width, layout.height), (0.0, 0.0));
    }

    #[test]
    fn deterministic() {
        let (n, edges) = diamonds(6, 4);
        let config = LayoutConfig::default();
        let heights = vec![40.0; n];
        assert_eq!(layout(&heights, &edges, &config), layout(&heights, &edges, &config));
    }

    #[test]
    fn two_thousand_node_diamonds_are_fast() {
        let (n, edges) = diamonds(400, 4);
        assert!(n >= 2000);
        let config = LayoutConfig::default();
        let start = Instant::now();
        let layout = layout(&vec![40.0; n], &edges, &config);
        let elapsed = start.elapsed();
        check(&layout, &edges, &config);
        assert!(elapsed < Duration::from_secs(2), "took {elapsed:?}");
    }

    #[test]
    #[ignore = "timing report: cargo test -- --ignored --nocapture"]
    fn ten_thousand_nodes_timing() {
        let config = LayoutConfig::default();
        let (n, mut diamond_edges) = diamonds(2000, 4);
        // Sprinkle longer skip edges too, as real pipelines have.
        diamond_edges.extend((0..n.saturating_sub(30)).step_by(97).map(|i| (i, i + 30)));
        let cases = [
            ("diamonds", n, diamond_edges),
            ("random", 10_000, random_dag(7, 10_000, 12)),
        ];
        for (name, n, edges) in cases {
            // Best of three: the machine is shared, wall time is noisy.
            let mut best = Duration::MAX;
            for _ in 0..3 {
                let start = Instant::now();
                let lay = layout(&vec![40.0; n], &edges, &config);
                best = best.min(start.elapsed());
                check(&lay, &edges, &config);
            }
            println!("{name}: {n} nodes, {} edges: {best:?}", edges.len());
        }
    }
}
