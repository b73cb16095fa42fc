//! The dependency graph: builds the petgraph DAG from the resolver's edges,
//! reports every cycle with its path, and orders steps for execution.

use crate::code::Code;
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::pipeline::{Edge, Step, StepId};
use crate::source::Span;
use petgraph::graph::{DiGraph, NodeIndex};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet};

/// Builds the graph; on a cycle, reports it and returns no order.
pub fn build(
    steps: &[Step],
    edges: Vec<(StepId, StepId, Edge, Span)>,
    diags: &mut Diagnostics,
) -> (DiGraph<StepId, Edge>, Option<Vec<StepId>>) {
    let mut graph: DiGraph<StepId, Edge> = DiGraph::with_capacity(steps.len(), edges.len());
    for id in 0..steps.len() {
        graph.add_node(id);
    }
    // The same dependency written twice (an input and a condition on one
    // output) is one edge. Sorting finds duplicates without hashing or
    // copying; the sort is stable, so the first occurrence's span is kept.
    let mut edges = edges;
    edges.sort_by_key(|e| (e.1, e.0));
    edges.dedup_by(|later, earlier| later.0 == earlier.0 && later.1 == earlier.1 && later.2 == earlier.2);
    let mut spans = Vec::with_capacity(edges.len());
    for (from, to, edge, span) in edges {
        graph.add_edge(NodeIndex::new(from), NodeIndex::new(to), edge);
        spans.push(span);
    }
    let order = topological_order(&graph);
    if order.len() == steps.len() {
        return (graph, Some(order));
    }
    report_cycles(&graph, &spans, steps, diags);
    (graph, None)
}

/// Kahn's algorithm, always taking the ready step declared first, so the
/// order is stable and reads like the file.
fn topological_order(graph: &DiGraph<StepId, Edge>) -> Vec<StepId> {
    let mut indegree: Vec<usize> = graph
        .node_indices()
        .map(|n| graph.neighbors_directed(n, petgraph::Direction::Incoming).count())
        .collect();
    let mut ready: BinaryHeap<Reverse<usize>> = indegree
        .iter()
        .enumerate()
        .filter(|(_, d)| **d == 0)
        .map(|(i, _)| Reverse(i))
        .collect();
    let mut order = Vec::with_capacity(indegree.len());
    while let Some(Reverse(node)) = ready.pop() {
        order.push(node);
        for next in graph.neighbors_directed(NodeIndex::new(node), petgraph::Direction::Outgoing) {
            let d = &mut indegree[next.index()];
            *d -= 1;
            if *d == 0 {
                ready.push(Reverse(next.index()));
            }
        }
    }
    order
}

fn report_cycles(graph: &DiGraph<StepId, Edge>, spans: &[Span], steps: &[Step], diags: &mut Diagnostics) {
    for component in petgraph::algo::tarjan_scc(graph) {
        let self_loop = component.len() == 1 && graph.contains_edge(component[0], component[0]);
        if component.len() < 2 && !self_loop {
            continue;
        }
        let members: HashSet<NodeIndex> = component.iter().copied().collect();
        let start = *component.iter().min_by_key(|n| n.index()).expect("non-empty component");
        let path = cycle_from(graph, start, &members);
        let names: Vec<&str> = path.iter().map(|n| steps[n.index()].name.as_str()).collect();
        let mut edge_spans = Vec::new();
        for pair in path.windows(2) {
            if let Some(e) = graph.find_edge(pair[0], pair[1]) {
                edge_spans.push((spans[e.index()], pair[0], pair[1]));
            }
        }
        let Some(&(last_span, _, _)) = edge_spans.last() else {
            continue;
        };
        let mut diag = Diagnostic::error(
            Code::Cycle,
            last_span,
            format!(
                "steps depend on each other in a cycle: {} (each feeds the next)",
                names.join(" -> ")
            ),
        )
        .with_hint("a step cannot read, directly or through others, what it writes; remove one of these references");
        for &(span, from, to) in &edge_spans[..edge_spans.len() - 1] {
            diag = diag.with_label(
                span,
                format!(
                    "`{}` depends on `{}` here",
                    steps[to.index()].name,
                    steps[from.index()].name
                ),
            );
        }
        diags.push(diag);
    }
}

/// A path start -> ... -> start inside one strongly connected component.
fn cycle_from(graph: &DiGraph<StepId, Edge>, start: NodeIndex, members: &HashSet<NodeIndex>) -> Vec<NodeIndex> {
    // Breadth-first search back to `start` finds a shortest cycle through it.
    let mut previous: std::collections::HashMap<NodeIndex, NodeIndex> = std::collections::HashMap::default();
    let mut queue = std::collections::VecDeque::from([start]);
    while let Some(node) = queue.pop_front() {
        let mut next: Vec<NodeIndex> = graph.neighbors(node).filter(|n| members.contains(n)).collect();
        next.sort_by_key(|n| n.index());
        for n in next {
            if n == start {
                let mut path = vec![node];
                let mut cur = node;
                while cur != start {
                    cur = previous[&cur];
                    path.push(cur);
                }
                path.reverse();
                path.push(start);
                return path;
            }
            if let std::collections::hash_map::Entry::Vacant(e) = previous.entry(n) {
                e.insert(node);
                queue.push_back(n);
            }
        }
    }
    vec![start, start]
}
