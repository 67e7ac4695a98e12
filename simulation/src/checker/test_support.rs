//! Small helpers the checker's tests share: millisecond times and the set of
//! properties a list of violations names.

use std::time::Duration;

use super::{Property, Violation};

pub fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

/// The properties named by `violations`, in order, with repeats.
pub fn properties(violations: &[Violation]) -> Vec<Property> {
    violations.iter().map(|v| v.property).collect()
}
