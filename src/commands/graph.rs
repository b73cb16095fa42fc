//! `wharf graph`: the DAG as DOT, Mermaid, SVG (laid out here, no Graphviz) or JSON.

use super::compile_on_target;
use crate::Outcome;
use crate::cli::{GraphArgs, GraphFormat, OutputFormat};
use crate::graph::{self, GraphEdge, GraphNode, GraphView};
use serde::Serialize;
use std::collections::BTreeMap;
use wharf_compiler::Pipeline;
use wharf_compiler::display;
use wharf_compiler::pipeline::Edge;

pub fn run(args: GraphArgs) -> anyhow::Result<Outcome> {
    let diagnostics = match args.format {
        GraphFormat::Json => OutputFormat::Json,
        GraphFormat::Dot | GraphFormat::Mermaid | GraphFormat::Svg => OutputFormat::Text,
    };
    // The graph is the same on every target: the default one is picked and not used.
    let Some(compiled) = compile_on_target(&args.file, &args.params, None, diagnostics)? else {
        return Ok(Outcome::Unusable);
    };
    let pipeline = &compiled.pipeline;
    let text = match args.format {
        GraphFormat::Json => serde_json::to_string_pretty(&json_view(pipeline))? + "\n",
        GraphFormat::Dot => graph::render(&view(pipeline), graph::GraphFormat::Dot),
        GraphFormat::Mermaid => graph::render(&view(pipeline), graph::GraphFormat::Mermaid),
        GraphFormat::Svg => graph::render(&view(pipeline), graph::GraphFormat::Svg),
    };
    match &args.output {
        Some(path) => {
            std::fs::write(path, text).map_err(|e| anyhow::anyhow!("cannot write `{}`: {e}", path.display()))?
        }
        None => print!("{text}"),
    }
    Ok(Outcome::Success)
}

/// The drawing's input: steps in execution order, one edge per pair of steps.
pub fn view(pipeline: &Pipeline) -> GraphView {
    let position: BTreeMap<usize, usize> = pipeline.order.iter().enumerate().map(|(i, &id)| (id, i)).collect();
    let nodes = pipeline
        .order
        .iter()
        .map(|&id| {
            let step = &pipeline.steps[id];
            GraphNode {
                id: step.name.clone(),
                label: step.name.clone(),
                kind: step.kind.to_string(),
                detail: step.image.as_ref().map(|i| display::image(pipeline, i)),
            }
        })
        .collect();
    let mut labels: BTreeMap<(usize, usize), Vec<String>> = BTreeMap::new();
    for edge in pipeline.graph.edge_indices() {
        let Some((from, to)) = pipeline.graph.edge_endpoints(edge) else {
            continue;
        };
        let label = match &pipeline.graph[edge] {
            Edge::Data { output, .. } | Edge::Tune { output, .. } => Some(output.clone()),
            Edge::Condition { output } => Some(format!("{output}?")),
            Edge::Image => Some("image".into()),
            Edge::Endpoint => Some("endpoint".into()),
            Edge::After => None,
        };
        let entry = labels
            .entry((position[&from.index()], position[&to.index()]))
            .or_default();
        if let Some(label) = label
            && !entry.contains(&label)
        {
            entry.push(label);
        }
    }
    let edges = labels
        .into_iter()
        .map(|((from, to), names)| GraphEdge {
            from,
            to,
            label: (!names.is_empty()).then(|| names.join(", ")),
            conditional: pipeline.steps[pipeline.order[to]].when.is_some(),
        })
        .collect();
    GraphView {
        title: pipeline.name.clone(),
        nodes,
        edges,
    }
}

#[derive(Serialize)]
struct JsonGraph<'a> {
    pipeline: &'a str,
    nodes: Vec<JsonNode>,
    edges: Vec<JsonEdge<'a>>,
}

#[derive(Serialize)]
struct JsonNode {
    id: String,
    kind: String,
    image: Option<String>,
    when: Option<String>,
}

#[derive(Serialize)]
struct JsonEdge<'a> {
    from: String,
    to: String,
    #[serde(flatten)]
    why: &'a Edge,
}

fn json_view(pipeline: &Pipeline) -> JsonGraph<'_> {
    JsonGraph {
        pipeline: &pipeline.name,
        nodes: pipeline
            .order
            .iter()
            .map(|&id| {
                let s = &pipeline.steps[id];
                JsonNode {
                    id: s.name.clone(),
                    kind: s.kind.to_string(),
                    image: s.image.as_ref().map(|i| display::image(pipeline, i)),
                    when: s.when.as_ref().map(|c| display::condition(pipeline, c)),
                }
            })
            .collect(),
        edges: pipeline
            .graph
            .edge_indices()
            .filter_map(|e| {
                let (from, to) = pipeline.graph.edge_endpoints(e)?;
                Some(JsonEdge {
                    from: pipeline.steps[from.index()].name.clone(),
                    to: pipeline.steps[to.index()].name.clone(),
                    why: &pipeline.graph[e],
                })
            })
            .collect(),
    }
}
