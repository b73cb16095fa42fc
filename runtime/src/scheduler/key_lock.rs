//! The lock on a cache key while its step runs (`.wharf/locks/step-<key>.lock`,
//! see [`crate::lock`]): two runs in one folder, or two instances of one
//! run doing identical work, never execute the same key at once. Whoever
//! comes second waits, says on screen whom it waits for, and then looks in
//! the cache again: the first one's outputs are usually there.

use crate::events::{EventSink, RunEvent};
use crate::lock::{FileLock, Holder, step_lock_path};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// How often a waiter tries the lock again.
const POLL: Duration = Duration::from_millis(100);

/// A taken key lock, and whether it had to be waited for.
pub(crate) struct KeyLock {
    pub _lock: FileLock,
    pub waited: bool,
}

/// Takes the lock on `key` for step `step` of `run`, waiting while another
/// holds it. `Ok(None)`: the run was cancelled while waiting.
pub(crate) async fn take(
    state_dir: &Path,
    run: &str,
    step: &str,
    key: &str,
    events: &Arc<dyn EventSink>,
    cancel: &mut watch::Receiver<bool>,
) -> Result<Option<KeyLock>, String> {
    let path = step_lock_path(state_dir, key);
    let me = Holder::me(run, Some(step));
    let mut said = false;
    loop {
        match FileLock::try_take(&path, &me) {
            Ok(Some(lock)) => {
                return Ok(Some(KeyLock {
                    _lock: lock,
                    waited: said,
                }));
            }
            Ok(None) => {}
            Err(e) => return Err(format!("cannot take the lock {}: {e}", path.display())),
        }
        if !said {
            said = true;
            events.event(RunEvent::StepLog {
                step: step.to_string(),
                line: format!("wharf: waiting for {}", describe(FileLock::holder(&path), run)),
                stderr: true,
            });
        }
        tokio::select! {
            _ = tokio::time::sleep(POLL) => {}
            _ = super::step::wait_cancelled(cancel) => return Ok(None),
        }
    }
}

/// Whom a waiter waits for, in words.
fn describe(holder: Option<Holder>, run: &str) -> String {
    match holder {
        Some(h) if h.run == run => format!(
            "step `{}` of this run, which does the same work (same cache key)",
            h.step.unwrap_or_default()
        ),
        Some(h) => format!(
            "run {} (wharf pid {}), which is running step `{}` with the same cache key",
            h.run,
            h.pid,
            h.step.unwrap_or_default()
        ),
        None => "another wharf run, which is running a step with the same cache key".to_string(),
    }
}
