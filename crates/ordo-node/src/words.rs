//! Durations written for the people who read ordo's error messages and
//! status: `250 ms`, `2 s`, `5.2 s`, never `Some(5.2s)`.

use std::time::Duration;

/// `d` in milliseconds below a second, else in seconds (to a tenth when
/// not whole).
pub fn duration(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else if d.subsec_millis() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_waits_are_in_milliseconds_and_longer_ones_in_seconds() {
        assert_eq!(duration(Duration::from_millis(0)), "0 ms");
        assert_eq!(duration(Duration::from_millis(400)), "400 ms");
        assert_eq!(duration(Duration::from_millis(2000)), "2 s");
        assert_eq!(duration(Duration::from_millis(5240)), "5.2 s");
        assert_eq!(duration(Duration::from_secs(60)), "60 s");
    }
}
