//! The steps ready to start, one queue per backend. The next step to start
//! is the one that became ready first among those whose backend has room;
//! since room depends only on the backend (its own limit, and whether its
//! steps take a local `--jobs` slot), looking at the front of each queue
//! finds it. One queue of every ready step, searched at each launch, made a
//! fan of 100,000 steps quadratic: with every slot taken, each search went
//! through the whole queue to find nothing.

use std::collections::{BTreeMap, VecDeque};
use wharf_compiler::backends::BackendKind;
use wharf_compiler::pipeline::StepId;

#[derive(Default)]
pub(super) struct Ready {
    queues: BTreeMap<BackendKind, VecDeque<(u64, StepId)>>,
    /// Stamps steps in the order they became ready.
    next: u64,
}

impl Ready {
    pub(super) fn push(&mut self, backend: BackendKind, id: StepId) {
        self.queues.entry(backend).or_default().push_back((self.next, id));
        self.next += 1;
    }

    /// Takes the step that became ready first among the backends `has_room`
    /// accepts.
    pub(super) fn pop(&mut self, has_room: impl Fn(BackendKind) -> bool) -> Option<StepId> {
        let (&backend, _) = self
            .queues
            .iter()
            .filter(|(backend, queue)| !queue.is_empty() && has_room(**backend))
            .min_by_key(|(_, queue)| queue.front().map(|(stamp, _)| *stamp))?;
        self.queues.get_mut(&backend)?.pop_front().map(|(_, id)| id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_step_whose_backend_has_room_comes_first() {
        let (here, away) = (BackendKind::new("here"), BackendKind::new("away"));
        let mut ready = Ready::default();
        ready.push(here, 1);
        ready.push(away, 2);
        ready.push(here, 3);
        assert_eq!(ready.pop(|_| true), Some(1));
        assert_eq!(ready.pop(|b| b == here), Some(3));
        assert_eq!(ready.pop(|b| b == here), None);
        assert_eq!(ready.pop(|_| true), Some(2));
        assert_eq!(ready.pop(|_| true), None);
    }
}
