//! Liveness (DESIGN §4.8): with a majority connected, appends proceed within a
//! bounded time after a fault heals. When the history carries a liveness
//! probe, an append must have succeeded at most `bound` after `healed_at`.
//!
//! Pure.

use super::{Property, Violation};
use crate::history::History;

pub fn check_liveness(history: &History) -> Vec<Violation> {
    let Some(probe) = &history.liveness else {
        return Vec::new();
    };
    let healed = probe.healed_at.as_secs_f64();
    let bound = probe.bound.as_secs_f64();
    let message = match probe.first_success_at {
        None => format!("no append succeeded after the heal at {healed:.3}s (bound {bound:.3}s)"),
        Some(at) if at.saturating_sub(probe.healed_at) > probe.bound => format!(
            "the first append after the heal at {healed:.3}s succeeded at {:.3}s, \
             {:.3}s later, beyond the bound of {bound:.3}s",
            at.as_secs_f64(),
            (at - probe.healed_at).as_secs_f64()
        ),
        Some(_) => return Vec::new(),
    };
    vec![Violation::new(Property::Liveness, message, [])]
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;
    use crate::history::HistoryBuilder;

    #[test]
    fn an_append_within_the_bound_after_heal_passes() {
        let mut h = HistoryBuilder::new();
        h.liveness(ms(1000), Some(ms(3000)), ms(2000));
        assert_eq!(check_liveness(&h.build()), vec![]);
    }

    #[test]
    fn a_history_without_a_probe_passes() {
        assert_eq!(check_liveness(&HistoryBuilder::new().build()), vec![]);
    }

    #[test]
    fn a_first_success_beyond_the_bound_is_reported() {
        let mut h = HistoryBuilder::new();
        h.liveness(ms(1000), Some(ms(3001)), ms(2000));
        let violations = check_liveness(&h.build());
        assert_eq!(properties(&violations), vec![Property::Liveness]);
        assert!(violations[0].message.contains("2.001s later"));
    }

    #[test]
    fn no_success_at_all_after_heal_is_reported() {
        let mut h = HistoryBuilder::new();
        h.liveness(ms(1000), None, ms(2000));
        let violations = check_liveness(&h.build());
        assert_eq!(properties(&violations), vec![Property::Liveness]);
        assert!(violations[0].message.starts_with("no append succeeded"));
    }
}
