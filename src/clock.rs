//! The wall clock, behind a trait so that output with times in it (progress
//! lines, elapsed durations) can be tested with a clock that stands still.
//! Times are local wall-clock times; the state store keeps UTC milliseconds
//! and `render::time` converts them.

use chrono::{Local, NaiveDateTime};

pub trait Clock: Send + Sync {
    /// The local date and time now.
    fn now(&self) -> NaiveDateTime;
}

/// The machine's clock, in its local time zone.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> NaiveDateTime {
        Local::now().naive_local()
    }
}

/// A clock that always says the same time, for tests.
#[cfg(test)]
pub struct FixedClock(pub NaiveDateTime);

#[cfg(test)]
impl Clock for FixedClock {
    fn now(&self) -> NaiveDateTime {
        self.0
    }
}
