//! `[package.metadata.litestream.check]`: the thresholds of `cargo litestream check`, read
//! here so a bad value is refused when the project loads (one line naming the key), and by the
//! same parser as the command's flags, so `--max-lag 5s` and `max-lag = "5s"` mean the same.

use std::time::Duration;

use crate::schema::parse_go_duration;

/// When `check` reports WARNING or CRITICAL. `None`: that check only reports, never alerts.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckThresholds {
    /// CRITICAL when the replica lacks local writes for longer than this (default 60 s).
    pub max_lag: Option<Duration>,
    /// WARNING when it lacks them for longer than this (default: off).
    pub warn_lag: Option<Duration>,
    /// WARNING when the newest snapshot is older than this (default: twice `snapshot.interval`).
    pub max_snapshot_age: Option<SnapshotAge>,
    /// WARNING when the last successful verify, scrub or drill is older than this, or there is
    /// none (default: off).
    pub max_verify_age: Option<Duration>,
    pub max_scrub_age: Option<Duration>,
    pub max_drill_age: Option<Duration>,
}

impl Default for CheckThresholds {
    fn default() -> CheckThresholds {
        CheckThresholds {
            max_lag: Some(Duration::from_secs(60)),
            warn_lag: None,
            max_snapshot_age: Some(SnapshotAge::Intervals(2.0)),
            max_verify_age: None,
            max_scrub_age: None,
            max_drill_age: None,
        }
    }
}

/// The newest snapshot's allowed age: a duration, or a multiple of the snapshot interval
/// (`"2x"`), which follows the interval when the configuration changes it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SnapshotAge {
    Fixed(Duration),
    Intervals(f64),
}

impl SnapshotAge {
    /// The age allowed with snapshots every `interval`.
    pub fn limit(self, interval: Duration) -> Duration {
        match self {
            SnapshotAge::Fixed(age) => age,
            SnapshotAge::Intervals(factor) => interval.mul_f64(factor),
        }
    }
}

/// The keys of the table, each with what its value is.
pub const CHECK_KEYS: &[(&str, &str)] = &[
    ("max-lag", "a duration (\"60s\") or \"off\""),
    ("warn-lag", "a duration (\"20s\") or \"off\""),
    ("max-snapshot-age", "a duration (\"48h\"), a multiple of snapshot.interval (\"2x\") or \"off\""),
    ("max-verify-age", "a duration (\"24h\") or \"off\""),
    ("max-scrub-age", "a duration (\"168h\") or \"off\""),
    ("max-drill-age", "a duration (\"168h\") or \"off\""),
];

/// A threshold that cannot be set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ThresholdError {
    /// The value is not what the key takes (`expected`: a [`CHECK_KEYS`] description).
    #[error("{text:?} is not {expected}; durations are Go's: 500ms, 90s, 5m, 24h")]
    Value { text: String, expected: &'static str },
    #[error("`{key}` is not a check threshold")]
    UnknownKey { key: String },
}

impl CheckThresholds {
    /// Sets `key` (a [`CHECK_KEYS`] name) from `text`, or says what was expected.
    pub fn set(&mut self, key: &str, text: &str) -> Result<(), ThresholdError> {
        let expected = || {
            let what = CHECK_KEYS.iter().find(|(k, _)| *k == key).map_or("a duration", |(_, w)| *w);
            ThresholdError::Value { text: text.to_owned(), expected: what }
        };
        let text = text.trim();
        let off = text.eq_ignore_ascii_case("off");
        let duration = || if off { Ok(None) } else { parse_go_duration(text).map(Some).ok_or_else(expected) };
        match key {
            "max-lag" => self.max_lag = duration()?,
            "warn-lag" => self.warn_lag = duration()?,
            "max-verify-age" => self.max_verify_age = duration()?,
            "max-scrub-age" => self.max_scrub_age = duration()?,
            "max-drill-age" => self.max_drill_age = duration()?,
            "max-snapshot-age" => {
                self.max_snapshot_age = if off {
                    None
                } else if let Some(factor) = text.strip_suffix(['x', 'X']) {
                    match factor.trim().parse::<f64>() {
                        Ok(f) if f.is_finite() && f > 0.0 => Some(SnapshotAge::Intervals(f)),
                        _ => return Err(expected()),
                    }
                } else {
                    Some(SnapshotAge::Fixed(parse_go_duration(text).ok_or_else(expected)?))
                }
            }
            other => return Err(ThresholdError::UnknownKey { key: other.to_owned() }),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_durations_multiples_and_off() {
        let mut t = CheckThresholds::default();
        t.set("max-lag", "5s").unwrap();
        assert_eq!(t.max_lag, Some(Duration::from_secs(5)));
        t.set("max-lag", "off").unwrap();
        assert_eq!(t.max_lag, None);
        t.set("max-snapshot-age", "1.5x").unwrap();
        assert_eq!(t.max_snapshot_age.unwrap().limit(Duration::from_secs(100)), Duration::from_secs(150));
        t.set("max-snapshot-age", "48h").unwrap();
        assert_eq!(t.max_snapshot_age, Some(SnapshotAge::Fixed(Duration::from_secs(48 * 3600))));
        for (key, bad) in [("max-lag", "soon"), ("max-drill-age", "7d"), ("max-snapshot-age", "-2x")] {
            let error = t.set(key, bad).unwrap_err().to_string();
            assert!(error.contains(bad) && error.contains("Go's"), "{error}");
        }
        assert_eq!(t.set("max-speed", "1s"), Err(ThresholdError::UnknownKey { key: "max-speed".into() }));
    }
}
