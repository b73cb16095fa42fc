//! Every step instance built, on all cores when there are many. Building a
//! step reads the tables the earlier passes filled (params, declarations,
//! instances) and adds to what the resolver found (diagnostics, edges,
//! output checks, deferred checks, broken steps, used imports): each thread
//! builds a contiguous range of instances with a resolver of its own that
//! borrows the tables, and what the threads found is appended in the order
//! of their ranges. Everything is then in the order one thread would have
//! found it in, so the result and the diagnostics do not depend on the
//! number of threads.

use super::Resolver;
use crate::diagnostic::Diagnostics;
use crate::pipeline::Step;
use rustc_hash::FxHashSet as HashSet;
use std::borrow::Cow;

/// Instances per thread below which one thread builds them all: a thread
/// costs about as much as building a few dozen steps.
const MIN_STEPS_PER_THREAD: usize = 1024;

/// The most threads the steps are built on.
const MAX_THREADS: usize = 8;

/// What a resolver found while building steps, moved out of it.
struct Found {
    diags: Diagnostics,
    silent_errors: usize,
    edges: Vec<(usize, usize, crate::pipeline::Edge, crate::source::Span)>,
    output_checks: Vec<super::OutputCheck>,
    deferred: Vec<super::Deferred>,
    broken: HashSet<usize>,
    broken_outputs: HashSet<usize>,
    used_imports: HashSet<(crate::modules::ModuleId, String)>,
}

impl<'p> Resolver<'p> {
    /// Builds every instance, in order, on at most `threads` threads.
    pub(super) fn build_steps(&mut self, threads: usize) -> Vec<Step> {
        let count = self.instances.len();
        let threads = threads.min(MAX_THREADS).min(count / MIN_STEPS_PER_THREAD).max(1);
        if threads == 1 {
            return (0..count).map(|id| self.build_step(id)).collect();
        }
        let this = &*self;
        let results: Vec<(Vec<Step>, Found)> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads)
                .map(|k| {
                    let range = count * k / threads..count * (k + 1) / threads;
                    scope.spawn(move || {
                        let mut diags = Diagnostics::default();
                        let mut worker = this.worker(&mut diags);
                        let steps: Vec<Step> = range.map(|id| worker.build_step(id)).collect();
                        let found = worker.take_found();
                        (steps, Found { diags, ..found })
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
                .collect()
        });
        let mut steps = Vec::with_capacity(count);
        for (built, found) in results {
            steps.extend(built);
            self.diags.extend(found.diags.into_vec());
            self.silent_errors += found.silent_errors;
            self.edges.extend(found.edges);
            self.output_checks.extend(found.output_checks);
            self.deferred.extend(found.deferred);
            self.broken.extend(found.broken);
            self.broken_outputs.extend(found.broken_outputs);
            self.used_imports.extend(found.used_imports);
        }
        steps
    }

    /// A resolver that reads this one's tables and collects into `diags`
    /// and fields of its own.
    fn worker<'w>(&'w self, diags: &'w mut Diagnostics) -> Resolver<'w> {
        Resolver {
            program: self.program,
            diags,
            params: Cow::Borrowed(&self.params),
            param_index: Cow::Borrowed(&self.param_index),
            instance_index: Cow::Borrowed(&self.instance_index),
            decls: Cow::Borrowed(&self.decls),
            decl_index: Cow::Borrowed(&self.decl_index),
            instances: Cow::Borrowed(&self.instances),
            output_checks: Vec::new(),
            edges: Vec::new(),
            used_imports: HashSet::default(),
            deferred: Vec::new(),
            broken: HashSet::default(),
            broken_outputs: HashSet::default(),
            silent_errors: 0,
            backends: self.backends,
            pipeline_name: self.pipeline_name,
        }
    }

    /// What this resolver found, its diagnostics aside.
    fn take_found(self) -> Found {
        Found {
            diags: Diagnostics::default(),
            silent_errors: self.silent_errors,
            edges: self.edges,
            output_checks: self.output_checks,
            deferred: self.deferred,
            broken: self.broken,
            broken_outputs: self.broken_outputs,
            used_imports: self.used_imports,
        }
    }
}
