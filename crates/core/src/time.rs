//! Instants as microseconds since the Unix epoch: one representation for the domain, the
//! store (an integer column on both databases) and the API (converted at the handler).

use std::time::{SystemTime, UNIX_EPOCH};

/// An instant, in microseconds since 1970-01-01T00:00:00Z.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    /// From microseconds since the epoch.
    pub const fn from_micros(micros: i64) -> Self {
        Self(micros)
    }

    /// From seconds and nanoseconds since the epoch, as `google.protobuf.Timestamp` has them.
    /// Sub-microsecond precision is dropped.
    pub fn from_seconds_nanos(seconds: i64, nanos: i32) -> Option<Self> {
        if !(0..1_000_000_000).contains(&nanos) {
            return None;
        }
        seconds
            .checked_mul(1_000_000)
            .and_then(|micros| micros.checked_add(i64::from(nanos / 1_000)))
            .map(Self)
    }

    /// The current time of a `SystemTime` clock.
    pub fn from_system_time(time: SystemTime) -> Self {
        match time.duration_since(UNIX_EPOCH) {
            Ok(since) => Self(i64::try_from(since.as_micros()).unwrap_or(i64::MAX)),
            Err(before) => Self(-i64::try_from(before.duration().as_micros()).unwrap_or(i64::MAX)),
        }
    }

    /// Microseconds since the epoch.
    pub const fn as_micros(self) -> i64 {
        self.0
    }

    /// Whole seconds since the epoch and the nanoseconds within the second.
    pub fn seconds_nanos(self) -> (i64, i32) {
        let seconds = self.0.div_euclid(1_000_000);
        let micros = self.0.rem_euclid(1_000_000);
        // rem_euclid keeps micros in 0..1_000_000, so the product fits in i32.
        (seconds, (micros * 1_000) as i32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_nanos_round_trip_including_before_the_epoch() {
        for micros in [
            0,
            1,
            999_999,
            1_000_000,
            1_700_000_000_123_456,
            -1,
            -1_500_000,
        ] {
            let (seconds, nanos) = Timestamp::from_micros(micros).seconds_nanos();
            assert_eq!(
                Timestamp::from_seconds_nanos(seconds, nanos),
                Some(Timestamp::from_micros(micros))
            );
        }
    }

    #[test]
    fn out_of_range_nanos_are_refused() {
        assert_eq!(Timestamp::from_seconds_nanos(1, -1), None);
        assert_eq!(Timestamp::from_seconds_nanos(1, 1_000_000_000), None);
    }
}
