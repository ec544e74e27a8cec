//! The times a user gives `restore --at`: RFC 3339, the seed's `YYYY-MM-DD HH:MM:SS` (taken as
//! UTC, as `-timestamp` takes it), a bare date (its midnight, UTC), or a span back from now
//! (`2h ago`, `90 minutes ago`, `1 day ago`).

use jiff::{Span, Timestamp, Zoned, civil, tz::TimeZone};

/// The instant `text` names, `now` being the present (in the zone a day is counted in).
pub fn parse_time(text: &str, now: &Zoned) -> Result<Timestamp, String> {
    let text = text.trim();
    if let Ok(time) = text.parse::<Timestamp>() {
        return Ok(time);
    }
    if let Ok(civil) = text.parse::<civil::DateTime>() {
        return civil.to_zoned(TimeZone::UTC).map(|z| z.timestamp()).map_err(|e| e.to_string());
    }
    if let Some(back) = text.strip_suffix("ago").map(str::trim_end).filter(|t| !t.is_empty()) {
        let span: Span = back
            .parse()
            .map_err(|_| format!("{back:?} is not a span of time (e.g. 2h, 90 minutes, 1 day)"))?;
        if span.is_negative() {
            return Err("give the span without a sign: `2h ago`".to_owned());
        }
        return now.checked_sub(span).map(|z| z.timestamp()).map_err(|e| e.to_string());
    }
    Err("expected RFC 3339 (2024-12-20T14:00:00Z), \"2024-12-20 14:00:00\" (UTC), or a span back from now (\"2h ago\")"
        .to_owned())
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
