//! A step taken from the cache: its outputs exported, its record left for
//! the scheduler to commit with the other cached steps'.

use super::StepTask;
use crate::decide::Hit;
use crate::events::RunEvent;
use crate::scheduler::Produced;
use crate::state::{ArtifactRecord, CachedStep, StepStatus};
use std::collections::BTreeMap;

impl StepTask {
    /// Takes a cache hit: exports its outputs, records the step as cached
    /// (with the files of outputs that were only touched, so the next check
    /// is `stat` only again).
    pub(super) async fn use_hit(&self, hit: Hit, key: &str, started: i64) -> Result<Produced, String> {
        let produced = Produced {
            dirs: hit.dirs,
            hashes: hit.hashes,
            files: BTreeMap::new(),
        };
        self.export_outputs(&produced).await?;
        let entry = hit.entry;
        let artifacts: Vec<ArtifactRecord> = entry
            .outputs
            .iter()
            .map(|a| ArtifactRecord {
                run: self.run.clone(),
                ..a.clone()
            })
            .collect();
        let reason = Some(crate::scheduler::start::cached_reason(
            &entry.run,
            &entry.step,
            &self.run,
            &self.step.name,
        ));
        let record = self.step_record(StepStatus::Cached, Some(key), reason.clone(), Some(started));
        // Committed with other cached steps' records by the scheduler: a
        // cached step did no work, and if wharf dies before the commit a
        // resumed run finds the same outputs in the cache again.
        self.pending
            .lock()
            .map_err(|_| "the pending records were poisoned by a panic".to_string())?
            .push(CachedStep {
                record,
                artifacts,
                files: hit.refreshed,
            });
        self.events.event(RunEvent::StepFinished {
            step: self.step.name.clone(),
            status: StepStatus::Cached,
            duration: self.since(started),
            reason,
        });
        Ok(produced)
    }
}
