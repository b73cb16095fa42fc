//! Vertical coordinate assignment. Each node is pulled towards the weighted
//! mean height of its neighbours in both adjacent layers, subject to the
//! layer's order and minimum spacing. Per layer that is a weighted isotonic
//! regression, solved exactly in linear time by pool-adjacent-violators, so
//! nodes can never overlap whatever the pulls are. Dummy-to-dummy links
//! weigh most, which straightens long edges (Gansner et al.'s Ω factors).

use super::rank::Proper;

/// Spacing rules for one layout run.
pub(super) struct Spacing<'a> {
    /// Height of every virtual node (dummies included).
    pub heights: &'a [f64],
    /// Gap between two boxes, or a box and an edge.
    pub node_gap: f64,
    /// Gap between two edges passing through the same layer.
    pub dummy_gap: f64,
}

/// Centre y of every virtual node, with the topmost box edge at 0.
pub(super) fn assign_y(p: &Proper, spacing: &Spacing, iterations: usize) -> Vec<f64> {
    let heights = spacing.heights;
    // Minimum centre-to-centre distance between consecutive nodes.
    let seps: Vec<Vec<f64>> = p
        .layers
        .iter()
        .map(|layer| {
            layer
                .windows(2)
                .map(|w| {
                    let gap = if p.is_dummy(w[0]) && p.is_dummy(w[1]) {
                        spacing.dummy_gap
                    } else {
                        spacing.node_gap
                    };
                    (heights[w[0]] + heights[w[1]]) / 2.0 + gap
                })
                .collect()
        })
        .collect();

    let mut y = vec![0.0; p.layer.len()];
    for (layer, sep) in p.layers.iter().zip(&seps) {
        // Start every layer packed and centred on 0.
        let total: f64 = sep.iter().sum();
        let mut at = -total / 2.0;
        for (i, &v) in layer.iter().enumerate() {
            y[v] = at;
            at += sep.get(i).copied().unwrap_or(0.0);
        }
    }

    let mut pav = Pav::default();
    let mut targets = Vec::new();
    let count = p.layers.len();
    for it in 0..iterations {
        // Alternate sweep direction so pulls propagate both ways.
        for k in 0..count {
            let l = if it % 2 == 0 { k } else { count - 1 - k };
            let layer = &p.layers[l];
            targets.clear();
            targets.extend(layer.iter().map(|&v| pull(p, &y, v)));
            let placed = pav.solve(&targets, &seps[l]);
            for (&v, &yv) in layer.iter().zip(placed) {
                y[v] = yv;
            }
        }
    }

    straighten(p, &seps, &mut y);

    let top = (0..y.len())
        .map(|v| y[v] - heights[v] / 2.0)
        .fold(f64::INFINITY, f64::min);
    if top.is_finite() {
        for yv in &mut y {
            *yv -= top;
        }
    }
    y
}

/// Snaps runs of each long edge's dummies to one common height wherever the
/// gap between their layer neighbours allows, longest edges first. The
/// regression above only makes them nearly level, and a few units of wobble
/// over a long edge reads as noise.
fn straighten(p: &Proper, seps: &[Vec<f64>], y: &mut [f64]) {
    let mut pos = vec![0; p.layer.len()];
    for layer in &p.layers {
        for (i, &v) in layer.iter().enumerate() {
            pos[v] = i;
        }
    }
    let mut chains: Vec<&[usize]> = p
        .chains
        .iter()
        .flatten()
        .filter(|c| c.nodes.len() > 3)
        .map(|c| &c.nodes[1..c.nodes.len() - 1])
        .collect();
    chains.sort_by_key(|dummies| std::cmp::Reverse(dummies.len()));
    for dummies in chains {
        // Free interval of each dummy, given its current layer neighbours
        // (never dummies of the same chain: it has one per layer).
        let room = |y: &[f64], d: usize| {
            let (layer, i) = (&p.layers[p.layer[d]], pos[d]);
            let sep = &seps[p.layer[d]];
            let lo = match i.checked_sub(1) {
                Some(prev) => y[layer[prev]] + sep[prev],
                None => f64::NEG_INFINITY,
            };
            let hi = match layer.get(i + 1) {
                Some(&next) => y[next] - sep[i],
                None => f64::INFINITY,
            };
            (lo, hi)
        };
        // Greedily cut the chain into maximal runs whose intervals overlap.
        let mut start = 0;
        let (mut lo, mut hi) = (f64::NEG_INFINITY, f64::INFINITY);
        for k in 0..=dummies.len() {
            let next = dummies.get(k).map(|&d| room(y, d));
            if let Some((a, b)) = next
                && a.max(lo) <= b.min(hi)
            {
                (lo, hi) = (a.max(lo), b.min(hi));
                continue;
            }
            let run = &dummies[start..k];
            if run.len() > 1 {
                let mut ys: Vec<f64> = run.iter().map(|&d| y[d]).collect();
                ys.sort_by(f64::total_cmp);
                // max/min rather than clamp: rounding can leave lo a hair above hi.
                let level = ys[ys.len() / 2].max(lo).min(hi);
                for &d in run {
                    y[d] = level;
                }
            }
            start = k;
            (lo, hi) = next.unwrap_or((f64::NEG_INFINITY, f64::INFINITY));
        }
    }
}

/// Weighted mean of the neighbours' centres and the total weight. A node
/// with no neighbours is anchored weakly where it is.
fn pull(p: &Proper, y: &[f64], v: usize) -> (f64, f64) {
    let mut sum = 0.0;
    let mut weight = 0.0;
    for &u in p.up[v].iter().chain(&p.down[v]) {
        let w = match (p.is_dummy(v), p.is_dummy(u)) {
            (true, true) => 8.0,
            (false, false) => 1.0,
            _ => 2.0,
        };
        sum += w * y[u];
        weight += w;
    }
    if weight == 0.0 {
        (y[v], 0.01)
    } else {
        (sum / weight, weight)
    }
}

/// Reusable pool-adjacent-violators solver.
#[derive(Default)]
struct Pav {
    blocks: Vec<Block>,
    offsets: Vec<f64>,
    out: Vec<f64>,
}

#[derive(Clone, Copy)]
struct Block {
    weight: f64,
    weighted_sum: f64,
    len: usize,
}

impl Block {
    fn mean(&self) -> f64 {
        self.weighted_sum / self.weight
    }
}

impl Pav {
    /// Minimises Σ wᵢ(yᵢ − tᵢ)² subject to yᵢ₊₁ − yᵢ ≥ sepᵢ. Substituting
    /// zᵢ = yᵢ − Σ_{k<i} sep_k turns the constraint into zᵢ₊₁ ≥ zᵢ, plain
    /// isotonic regression.
    fn solve(&mut self, targets: &[(f64, f64)], seps: &[f64]) -> &[f64] {
        self.blocks.clear();
        self.offsets.clear();
        let mut offset = 0.0;
        for (i, &(t, w)) in targets.iter().enumerate() {
            self.offsets.push(offset);
            let mut block = Block {
                weight: w,
                weighted_sum: w * (t - offset),
                len: 1,
            };
            while let Some(prev) = self.blocks.last() {
                if prev.mean() < block.mean() {
                    break;
                }
                block.weight += prev.weight;
                block.weighted_sum += prev.weighted_sum;
                block.len += prev.len;
                self.blocks.pop();
            }
            self.blocks.push(block);
            offset += seps.get(i).copied().unwrap_or(0.0);
        }
        self.out.clear();
        for block in &self.blocks {
            let z = block.mean();
            for _ in 0..block.len {
                self.out.push(z + self.offsets[self.out.len()]);
            }
        }
        &self.out
    }
}

#[cfg(test)]
mod tests {
    use super::super::rank::build;
    use super::*;

    #[test]
    fn pav_respects_separation_and_hits_free_targets() {
        let mut pav = Pav::default();
        // Far-apart targets are met exactly.
        let y = pav.solve(&[(0.0, 1.0), (100.0, 1.0)], &[10.0]);
        assert_eq!(y, [0.0, 100.0]);
        // Conflicting targets are split around their weighted mean.
        let y = pav.solve(&[(50.0, 1.0), (50.0, 1.0), (50.0, 1.0)], &[10.0, 10.0]);
        assert_eq!(y, [40.0, 50.0, 60.0]);
        let y = pav.solve(&[(0.0, 3.0), (0.0, 1.0)], &[20.0]);
        assert!((y[1] - y[0] - 20.0).abs() < 1e-9);
        assert!((y[0] + 5.0).abs() < 1e-9, "heavier node moves less");
    }

    #[test]
    fn long_edge_is_straight_and_nodes_centred() {
        // 0 fans out to 1 and 2, both feed 3; 0 -> 4 -> 5 -> 6 -> 7 plus a
        // long edge 0 -> 7 spanning the whole graph.
        let edges = [(0, 1), (0, 2), (1, 3), (2, 3), (0, 4), (4, 5), (5, 6), (6, 7), (0, 7)];
        let p = build(8, &edges);
        let heights = vec![40.0; p.layer.len()];
        let spacing = Spacing {
            heights: &heights,
            node_gap: 20.0,
            dummy_gap: 10.0,
        };
        let y = assign_y(&p, &spacing, 12);
        let chain = &p.chains[8].as_ref().expect("drawn").nodes;
        let dummies: Vec<f64> = chain[1..chain.len() - 1].iter().map(|&d| y[d]).collect();
        let spread = dummies.iter().fold(0.0f64, |m, &d| m.max((d - dummies[0]).abs()));
        assert!(spread < 1.0, "long edge bends between dummies: {dummies:?}");
        for layer in &p.layers {
            for w in layer.windows(2) {
                let gap = y[w[1]] - y[w[0]];
                assert!(gap >= 40.0 + 10.0 - 1e-9, "overlap: {gap}");
            }
        }
    }
}
