//! The compiler's entry point: loads, resolves and orders a pipeline file.

use crate::dag;
use crate::diagnostic::Diagnostics;
use crate::modules::{self, Program};
use crate::options::Options;
use crate::pipeline::Pipeline;
use crate::resolve;
use crate::source::SourceMap;
use crate::world::World;
use std::path::Path;

/// What one compilation produced: the pipeline (when there were no errors),
/// every diagnostic, and the sources they point into.
pub struct Compilation {
    pub pipeline: Option<Pipeline>,
    pub diagnostics: Diagnostics,
    pub sources: SourceMap,
    /// The parsed files (the entry first). Kept so that a caller that is
    /// about to exit can skip freeing them (see `wharf check`).
    pub modules: Vec<crate::modules::LoadedModule>,
}

/// Compiles the pipeline file at `entry`.
pub fn compile(world: &dyn World, entry: &Path, options: &Options) -> Compilation {
    let mut diagnostics = Diagnostics::default();
    let program = modules::load(world, entry, &mut diagnostics);
    let pipeline = build(&program, options, &mut diagnostics);
    let pipeline = if diagnostics.has_errors() { None } else { pipeline };
    Compilation {
        pipeline,
        diagnostics,
        sources: program.sources,
        modules: program.modules,
    }
}

fn build(program: &Program, options: &Options, diags: &mut Diagnostics) -> Option<Pipeline> {
    let resolved = resolve::resolve(program, options, diags)?;
    let (graph, order) = dag::build(&resolved.steps, resolved.edges, diags);
    Some(Pipeline {
        name: resolved.pipeline_name,
        params: resolved.params,
        steps: resolved.steps,
        targets: resolved.targets,
        graph,
        order: order?,
    })
}
