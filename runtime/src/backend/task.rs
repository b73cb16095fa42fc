//! A handle on work a backend does in a task of wharf's own (a build, a
//! serving container's requests, following a SageMaker job): `wait` awaits
//! the task, `cancel` aborts it and then runs the backend's clean-up (remove
//! what it started, stop the job) before reporting the attempt cancelled.

use super::{BoxFuture, Finish, Handle};
use tokio::task::JoinHandle;

/// What `cancel` runs after aborting the task.
pub type OnCancel = Box<dyn FnOnce() -> BoxFuture<'static, ()> + Send>;

pub struct TaskHandle {
    name: String,
    task: Option<JoinHandle<Finish>>,
    on_cancel: Option<OnCancel>,
    finish: Option<Finish>,
}

impl TaskHandle {
    /// Spawns `work`; `name` is the handle's id in the run's records.
    pub fn spawn(
        name: String,
        work: impl std::future::Future<Output = Finish> + Send + 'static,
        on_cancel: OnCancel,
    ) -> TaskHandle {
        TaskHandle {
            name,
            task: Some(tokio::spawn(work)),
            on_cancel: Some(on_cancel),
            finish: None,
        }
    }
}

impl Handle for TaskHandle {
    fn id(&self) -> String {
        self.name.clone()
    }

    fn wait(&mut self) -> BoxFuture<'_, Finish> {
        Box::pin(async move {
            if let Some(finish) = &self.finish {
                return finish.clone();
            }
            let finish = match self.task.take() {
                Some(task) => task.await.unwrap_or_else(|e| Finish::Failed {
                    exit_code: None,
                    reason: format!("internal: the task stopped: {e}"),
                }),
                None => Finish::Cancelled,
            };
            self.finish = Some(finish.clone());
            finish
        })
    }

    fn cancel(&mut self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            if self.finish.is_some() {
                return;
            }
            if let Some(task) = self.task.take() {
                task.abort();
                let _ = task.await;
            }
            if let Some(clean_up) = self.on_cancel.take() {
                clean_up().await;
            }
            self.finish = Some(Finish::Cancelled);
        })
    }
}

impl Drop for TaskHandle {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    #[tokio::test]
    async fn cancel_aborts_then_cleans_up_and_wait_reports_it() {
        let cleaned = Arc::new(AtomicBool::new(false));
        let flag = cleaned.clone();
        let mut handle = TaskHandle::spawn(
            "t".into(),
            async {
                tokio::time::sleep(std::time::Duration::from_secs(600)).await;
                Finish::Succeeded
            },
            Box::new(move || {
                Box::pin(async move {
                    flag.store(true, Ordering::SeqCst);
                })
            }),
        );
        handle.cancel().await;
        assert!(cleaned.load(Ordering::SeqCst));
        assert_eq!(handle.wait().await, Finish::Cancelled);
        handle.cancel().await; // idempotent

        let mut done = TaskHandle::spawn("d".into(), async { Finish::Succeeded }, Box::new(|| Box::pin(async {})));
        assert_eq!(done.wait().await, Finish::Succeeded);
        assert_eq!(done.wait().await, Finish::Succeeded);
    }
}
