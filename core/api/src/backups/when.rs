//! The times a user gives `restore --at`: RFC 3339, the seed's `YYYY-MM-DD HH:MM:SS` (taken as
//! UTC, as `-timestamp` takes it), a bare date (its midnight, UTC), or a span back from now
//! (`2h ago`, `90 minutes ago`, `1 day ago`).

use jiff::{Span, Timestamp, Zoned, civil, tz::TimeZone};

/// Why a text names no instant.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TimeError {
    #[error(
        "expected RFC 3339 (2024-12-20T14:00:00Z), \"2024-12-20 14:00:00\" (UTC), or a span back from now (\"2h ago\")"
    )]
    Form,
    #[error("{back:?} is not a span of time (e.g. 2h, 90 minutes, 1 day)")]
    Span { back: String },
    #[error("give the span without a sign: `2h ago`")]
    Signed,
    /// The form is right, the instant out of jiff's range.
    #[error(transparent)]
    Range(#[from] jiff::Error),
}

/// The instant `text` names, `now` being the present (in the zone a day is counted in).
pub fn parse_time(text: &str, now: &Zoned) -> Result<Timestamp, TimeError> {
    let text = text.trim();
    if let Ok(time) = text.parse::<Timestamp>() {
        return Ok(time);
    }
    if let Ok(civil) = text.parse::<civil::DateTime>() {
        return Ok(civil.to_zoned(TimeZone::UTC)?.timestamp());
    }
    if let Some(back) = text.strip_suffix("ago").map(str::trim_end).filter(|t| !t.is_empty()) {
        let span: Span = back.parse().map_err(|_| TimeError::Span { back: back.to_owned() })?;
        if span.is_negative() {
            return Err(TimeError::Signed);
        }
        return Ok(now.checked_sub(span)?.timestamp());
    }
    Err(TimeError::Form)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_three_forms() {
        let now: Zoned = "2026-12-01T12:00:00+00:00[UTC]".parse().unwrap();
        let at = |text: &str| parse_time(text, &now).map(|t| t.to_string());
        assert_eq!(at("2026-11-30T10:00:00Z").unwrap(), "2026-11-30T10:00:00Z");
        assert_eq!(at("2026-11-30T12:00:00+02:00").unwrap(), "2026-11-30T10:00:00Z");
        assert_eq!(at("2026-11-30 10:00:00").unwrap(), "2026-11-30T10:00:00Z");
        assert_eq!(at("2026-11-30").unwrap(), "2026-11-30T00:00:00Z");
        assert_eq!(at("2h ago").unwrap(), "2026-12-01T10:00:00Z");
        assert_eq!(at("90 minutes ago").unwrap(), "2026-12-01T10:30:00Z");
        assert_eq!(at("1 day ago").unwrap(), "2026-11-30T12:00:00Z");
        assert_eq!(at("1h30m ago").unwrap(), "2026-12-01T10:30:00Z");
        for bad in ["yesterday", "ago", "2 parsecs ago", "-2h ago", "2h", "", "2026-13-01 00:00:00"] {
            assert!(at(bad).is_err(), "{bad:?}");
        }
    }
}
