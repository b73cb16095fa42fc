//! Crossing reduction: orders the nodes inside each layer with alternating
//! barycenter sweeps plus a bounded "transpose" pass (swap neighbours when
//! that removes crossings), keeping the best ordering seen.

use super::rank::Proper;

/// Virtual node count up to which every sweep is followed by a transpose.
const SMALL_GRAPH: usize = 5_000;

/// Reorders `p.layers` in place and returns the resulting crossing count.
pub(super) fn reduce_crossings(p: &mut Proper, max_iters: usize) -> usize {
    let mut pos = positions(p);
    let mut best = p.layers.clone();
    let mut best_count = count_crossings(p, &pos);
    let mut stale = 0;
    let mut keyed = Vec::new();
    // Transposing costs a few sweeps' worth of time; on big graphs it runs
    // once on the final ordering so 10k-step pipelines stay interactive.
    let small = p.layer.len() <= SMALL_GRAPH;
    for _ in 0..max_iters {
        if best_count == 0 {
            break;
        }
        for l in 1..p.layers.len() {
            sort_layer(p, &mut pos, &mut keyed, l, true);
        }
        for l in (0..p.layers.len().saturating_sub(1)).rev() {
            sort_layer(p, &mut pos, &mut keyed, l, false);
        }
        if small {
            transpose(p, &mut pos);
        }
        let count = count_crossings(p, &pos);
        // Sweeps oscillate and then creep: stop after a few rounds that
        // gain less than 1%.
        if count + best_count / 100 < best_count {
            stale = 0;
        } else {
            stale += 1;
        }
        if count < best_count {
            best_count = count;
            best.clone_from(&p.layers);
        }
        if stale >= 3 {
            break;
        }
    }
    p.layers = best;
    if !small && best_count > 0 {
        pos = positions(p);
        transpose(p, &mut pos);
        best_count = count_crossings(p, &pos);
    }
    best_count
}

/// Index of every virtual node within its layer.
pub(super) fn positions(p: &Proper) -> Vec<usize> {
    let mut pos = vec![0; p.layer.len()];
    for layer in &p.layers {
        for (i, &v) in layer.iter().enumerate() {
            pos[v] = i;
        }
    }
    pos
}

/// Sorts layer `l` by the mean position of its neighbours in the adjacent
/// layer (left one when `use_up`). Nodes with no such neighbours keep their
/// current index as key so they stay roughly where they were.
fn sort_layer(p: &mut Proper, pos: &mut [usize], keyed: &mut Vec<(f64, usize)>, l: usize, use_up: bool) {
    let adj = if use_up { &p.up } else { &p.down };
    keyed.clear();
    keyed.extend(p.layers[l].iter().map(|&v| {
        let nbrs = &adj[v];
        let key = match nbrs.len() {
            0 => pos[v] as f64,
            1 => pos[nbrs[0]] as f64,
            n => nbrs.iter().map(|&u| pos[u] as f64).sum::<f64>() / n as f64,
        };
        (key, v)
    }));
    // Layers are listed in current order, so the stable sort breaks ties by
    // current position; most layers are already sorted after a few sweeps.
    let before = |a: &(f64, usize), b: &(f64, usize)| a.0.total_cmp(&b.0);
    if keyed.is_sorted_by(|a, b| before(a, b).is_le()) {
        return;
    }
    keyed.sort_by(before);
    for (i, &(_, v)) in keyed.iter().enumerate() {
        p.layers[l][i] = v;
        pos[v] = i;
    }
}

/// Sorted neighbour positions of every node of one layer, packed in one
/// buffer (most nodes are dummies with a single neighbour, so a Vec per
/// node would be mostly allocator overhead).
#[derive(Default)]
struct Packed {
    values: Vec<usize>,
    starts: Vec<usize>,
}

impl Packed {
    fn fill(&mut self, layer: &[usize], adj: &[Vec<usize>], pos: &[usize]) {
        self.values.clear();
        self.starts.clear();
        for &v in layer {
            let from = self.values.len();
            self.starts.push(from);
            self.values.extend(adj[v].iter().map(|&u| pos[u]));
            self.values[from..].sort_unstable();
        }
        self.starts.push(self.values.len());
    }

    fn get(&self, i: usize) -> &[usize] {
        &self.values[self.starts[i]..self.starts[i + 1]]
    }
}

/// Swaps adjacent nodes while that strictly lowers crossings with both
/// neighbouring layers. A handful of passes catches what barycenters miss
/// on small graphs (ties, symmetric fan-outs); after the first pass only
/// layers next to one that changed are revisited.
fn transpose(p: &mut Proper, pos: &mut [usize]) {
    const MAX_PASSES: usize = 4;
    let count = p.layers.len();
    let mut dirty = vec![true; count];
    let (mut ups, mut downs) = (Packed::default(), Packed::default());
    let mut slot = Vec::new();
    let mut old = Vec::new();
    for _ in 0..MAX_PASSES {
        let mut next_dirty = vec![false; count];
        for l in (0..count).filter(|&l| dirty[l]) {
            // Neighbour positions in other layers do not move while this
            // layer is permuted, so compute them once per layer.
            ups.fill(&p.layers[l], &p.up, pos);
            downs.fill(&p.layers[l], &p.down, pos);
            slot.clear();
            slot.extend(0..p.layers[l].len());
            let mut changed = false;
            for i in 0..slot.len().saturating_sub(1) {
                let (a, b) = (slot[i], slot[i + 1]);
                let keep = pair_crossings(ups.get(a), ups.get(b)) + pair_crossings(downs.get(a), downs.get(b));
                let swap = pair_crossings(ups.get(b), ups.get(a)) + pair_crossings(downs.get(b), downs.get(a));
                if swap < keep {
                    slot.swap(i, i + 1);
                    changed = true;
                }
            }
            if changed {
                old.clone_from(&p.layers[l]);
                for (i, &s) in slot.iter().enumerate() {
                    p.layers[l][i] = old[s];
                    pos[old[s]] = i;
                }
                next_dirty[l.saturating_sub(1)..(l + 2).min(count)].fill(true);
            }
        }
        if !next_dirty.contains(&true) {
            break;
        }
        dirty = next_dirty;
    }
}

/// Crossings between the edges of `left` (placed first) and those of
/// `right`, given each one's sorted neighbour positions: the number of pairs
/// with `a > b`. Linear merge instead of the quadratic double loop, because
/// fan-out steps can have hundreds of edges.
fn pair_crossings(left: &[usize], right: &[usize]) -> usize {
    let mut count = 0;
    let mut j = 0;
    for &a in left {
        while j < right.len() && right[j] < a {
            j += 1;
        }
        count += j;
    }
    count
}

/// Total crossings of the proper graph under `pos`, counted per pair of
/// adjacent layers as inversions with a Fenwick tree: O(E log V).
pub(super) fn count_crossings(p: &Proper, pos: &[usize]) -> usize {
    let mut total = 0;
    let mut tree = Vec::new();
    let mut targets = Vec::new();
    for l in 0..p.layers.len().saturating_sub(1) {
        let width = p.layers[l + 1].len();
        tree.clear();
        tree.resize(width + 1, 0usize);
        let mut inserted = 0;
        for &v in &p.layers[l] {
            targets.clear();
            targets.extend(p.down[v].iter().map(|&w| pos[w]));
            targets.sort_unstable();
            // All targets of `v` are counted before any is inserted: edges
            // sharing an endpoint do not cross.
            for &t in &targets {
                total += inserted - prefix(&tree, t + 1);
            }
            for &t in &targets {
                let mut i = t + 1;
                while i <= width {
                    tree[i] += 1;
                    i += i & i.wrapping_neg();
                }
                inserted += 1;
            }
        }
    }
    total
}

/// Number of inserted values `< end` (values are `0..width`).
fn prefix(tree: &[usize], end: usize) -> usize {
    let mut sum = 0;
    let mut i = end;
    while i > 0 {
        sum += tree[i];
        i -= i & i.wrapping_neg();
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::super::rank::build;
    use super::*;

    fn brute_force(p: &Proper, pos: &[usize]) -> usize {
        let mut edges = Vec::new();
        for (v, ws) in p.down.iter().enumerate() {
            for &w in ws {
                edges.push((p.layer[v], pos[v], pos[w]));
            }
        }
        let mut count = 0;
        for (i, a) in edges.iter().enumerate() {
            for b in &edges[i + 1..] {
                if a.0 == b.0 && (a.1 < b.1 && a.2 > b.2 || a.1 > b.1 && a.2 < b.2) {
                    count += 1;
                }
            }
        }
        count
    }

    #[test]
    fn counting_matches_brute_force() {
        let edges = [(0, 3), (0, 4), (1, 2), (1, 4), (2, 5), (3, 5), (4, 6), (0, 6)];
        let p = build(7, &edges);
        let pos = positions(&p);
        assert_eq!(count_crossings(&p, &pos), brute_force(&p, &pos));
    }

    #[test]
    fn planar_graph_reaches_zero_crossings() {
        // Two parallel chains wired crosswise in input order:
        // a0->b1, a1->b0, plus a diamond and a skip edge; admits 0 crossings.
        let edges = [(0, 3), (1, 2), (2, 4), (3, 5), (4, 6), (5, 6), (0, 6), (1, 7), (7, 8)];
        let mut p = build(9, &edges);
        let before = count_crossings(&p, &positions(&p));
        assert!(before > 0, "the fixture should start tangled");
        let after = reduce_crossings(&mut p, 24);
        assert_eq!(after, 0);
        assert_eq!(count_crossings(&p, &positions(&p)), 0);
    }

    #[test]
    fn k23_reaches_its_minimum() {
        // K(2,3) on two layers crosses exactly 3 times in any order: the
        // sweeps must not make it worse or report a wrong count.
        let edges = [(0, 2), (0, 3), (0, 4), (1, 2), (1, 3), (1, 4)];
        let mut p = build(5, &edges);
        assert_eq!(reduce_crossings(&mut p, 24), 3);
    }

    #[test]
    fn layers_stay_permutations() {
        let edges: Vec<(usize, usize)> = (0..40).map(|i| (i % 7, 7 + (i * 13) % 23)).collect();
        let mut p = build(30, &edges);
        let mut before: Vec<Vec<usize>> = p.layers.clone();
        reduce_crossings(&mut p, 24);
        for (b, a) in before.iter_mut().zip(&p.layers) {
            let mut a = a.clone();
            a.sort_unstable();
            b.sort_unstable();
            assert_eq!(&a, b);
        }
    }
}
