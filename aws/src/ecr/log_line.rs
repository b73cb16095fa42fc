//! [`LogLine`]: where the lines about an image (its push's progress
//! included) go.

use std::future::Future;

/// Where lines about an image go: the step's log. Any
/// `Fn(String) -> impl Future<Output = ()>` is one.
pub trait LogLine: Sync {
    fn line(&self, text: String) -> impl Future<Output = ()> + Send;
}

impl<F, Fut> LogLine for F
where
    F: Fn(String) -> Fut + Sync,
    Fut: Future<Output = ()> + Send,
{
    fn line(&self, text: String) -> impl Future<Output = ()> + Send {
        self(text)
    }
}
