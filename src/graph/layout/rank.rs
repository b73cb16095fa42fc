//! Layer assignment: breaks any cycle, ranks nodes by longest path from the
//! sources, and splits edges that span several layers into chains of dummy
//! nodes so that every edge of the resulting "proper" graph joins adjacent
//! layers. Dummies reserve a slot in each layer they cross, which is what
//! later lets long edges pass between nodes instead of through them.

use std::collections::VecDeque;

/// The proper layered graph. Ids `0..real` are the input nodes; ids from
/// `real` on are dummies.
#[derive(Debug)]
pub(super) struct Proper {
    pub real: usize,
    pub layer: Vec<usize>,
    /// Neighbours one layer to the left, with multiplicity.
    pub up: Vec<Vec<usize>>,
    /// Neighbours one layer to the right, with multiplicity.
    pub down: Vec<Vec<usize>>,
    /// Initial order of each layer.
    pub layers: Vec<Vec<usize>>,
    /// Per input edge: the virtual nodes it passes through, left to right,
    /// or `None` when it is not drawn as a route (self-loop, bad index).
    pub chains: Vec<Option<Chain>>,
}

#[derive(Debug)]
pub(super) struct Chain {
    pub nodes: Vec<usize>,
    /// The edge was reversed to break a cycle, so `nodes` runs from the
    /// edge's target to its source.
    pub reversed: bool,
}

impl Proper {
    pub fn is_dummy(&self, v: usize) -> bool {
        v >= self.real
    }
}

pub(super) fn build(n: usize, edges: &[(usize, usize)]) -> Proper {
    let reversed = back_edges(n, edges);
    let directed: Vec<Option<(usize, usize)>> = edges
        .iter()
        .zip(&reversed)
        .map(|(&(a, b), &rev)| {
            let ok = a < n && b < n && a != b;
            ok.then_some(if rev { (b, a) } else { (a, b) })
        })
        .collect();
    let mut layer = longest_path(n, &directed);
    let layer_count = layer.iter().max().map_or(0, |m| m + 1);

    let mut up = vec![Vec::new(); n];
    let mut down = vec![Vec::new(); n];
    let mut layers = vec![Vec::new(); layer_count];
    for v in 0..n {
        layers[layer[v]].push(v);
    }
    let mut chains = Vec::with_capacity(edges.len());
    for (e, d) in directed.iter().enumerate() {
        let Some((a, b)) = *d else {
            chains.push(None);
            continue;
        };
        // Only reachable if layering was cut short by a cycle that survived
        // `back_edges`; dropping the edge beats drawing it backwards.
        if layer[b] <= layer[a] {
            chains.push(None);
            continue;
        }
        let mut nodes = vec![a];
        let skipped = layer[a] + 1..layer[b];
        for (members, l) in layers[skipped.clone()].iter_mut().zip(skipped) {
            let dummy = layer.len();
            layer.push(l);
            up.push(Vec::new());
            down.push(Vec::new());
            members.push(dummy);
            nodes.push(dummy);
        }
        nodes.push(b);
        for pair in nodes.windows(2) {
            down[pair[0]].push(pair[1]);
            up[pair[1]].push(pair[0]);
        }
        chains.push(Some(Chain {
            nodes,
            reversed: reversed[e],
        }));
    }
    Proper {
        real: n,
        layer,
        up,
        down,
        layers,
        chains,
    }
}

/// Marks the edges that close a cycle (DFS back edges) so that reversing
/// them leaves a DAG. Iterative, because pipelines can be deep enough to
/// overflow the stack with recursion.
fn back_edges(n: usize, edges: &[(usize, usize)]) -> Vec<bool> {
    let mut out: Vec<Vec<(usize, usize)>> = vec![Vec::new(); n];
    for (e, &(a, b)) in edges.iter().enumerate() {
        if a < n && b < n && a != b {
            out[a].push((b, e));
        }
    }
    const NEW: u8 = 0;
    const ON_STACK: u8 = 1;
    const DONE: u8 = 2;
    let mut state = vec![NEW; n];
    let mut reversed = vec![false; edges.len()];
    let mut stack: Vec<(usize, usize)> = Vec::new();
    for root in 0..n {
        if state[root] != NEW {
            continue;
        }
        state[root] = ON_STACK;
        stack.push((root, 0));
        while let Some(top) = stack.last_mut() {
            let (v, i) = *top;
            if let Some(&(w, e)) = out[v].get(i) {
                top.1 += 1;
                match state[w] {
                    NEW => {
                        state[w] = ON_STACK;
                        stack.push((w, 0));
                    }
                    ON_STACK => reversed[e] = true,
                    _ => {}
                }
            } else {
                state[v] = DONE;
                stack.pop();
            }
        }
    }
    reversed
}

/// Layer of each node = length of the longest path reaching it from a
/// source (Kahn's algorithm). Nodes left unprocessed by a cycle keep the
/// layer reached so far, which still terminates.
fn longest_path(n: usize, edges: &[Option<(usize, usize)>]) -> Vec<usize> {
    let mut out: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut indegree = vec![0usize; n];
    for &(a, b) in edges.iter().flatten() {
        out[a].push(b);
        indegree[b] += 1;
    }
    let mut layer = vec![0usize; n];
    let mut queue: VecDeque<usize> = (0..n).filter(|&v| indegree[v] == 0).collect();
    while let Some(v) = queue.pop_front() {
        for &w in &out[v] {
            layer[w] = layer[w].max(layer[v] + 1);
            indegree[w] -= 1;
            if indegree[w] == 0 {
                queue.push_back(w);
            }
        }
    }
    layer
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_path_layers_and_dummies() {
        // 0 -> 1 -> 2 -> 3 and a skip edge 0 -> 3 spanning three layers.
        let p = build(4, &[(0, 1), (1, 2), (2, 3), (0, 3)]);
        assert_eq!(&p.layer[..4], &[0, 1, 2, 3]);
        assert_eq!(p.layer.len(), 6, "two dummies for the skip edge");
        let skip = p.chains[3].as_ref().expect("drawn");
        assert_eq!(skip.nodes.len(), 4);
        assert_eq!(skip.nodes[0], 0);
        assert_eq!(skip.nodes[3], 3);
        assert!(!skip.reversed);
        for v in 0..p.layer.len() {
            for &w in &p.down[v] {
                assert_eq!(p.layer[w], p.layer[v] + 1);
            }
        }
    }

    #[test]
    fn cycles_are_broken_without_panic() {
        let edges = [(0, 1), (1, 2), (2, 0), (2, 2), (1, 0), (3, 9)];
        let p = build(4, &edges);
        assert!(p.chains[3].is_none(), "self-loop");
        assert!(p.chains[5].is_none(), "out of range");
        let drawn: Vec<&Chain> = p.chains.iter().flatten().collect();
        assert_eq!(drawn.len(), 4);
        assert!(drawn.iter().any(|c| c.reversed));
        for c in drawn {
            for pair in c.nodes.windows(2) {
                assert_eq!(p.layer[pair[1]], p.layer[pair[0]] + 1);
            }
        }
    }

    #[test]
    fn deep_chain_does_not_overflow() {
        let n = 50_000;
        let edges: Vec<(usize, usize)> = (1..n).map(|i| (i - 1, i)).collect();
        let p = build(n, &edges);
        assert_eq!(p.layers.len(), n);
    }
}
