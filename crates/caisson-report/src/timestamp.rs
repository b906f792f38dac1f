//! The one timestamp form every format accepts: `YYYY-MM-DDThh:mm:ssZ`.
//!
//! The calendar is the `time` crate's; this module only fixes the form (UTC,
//! whole seconds, upper-case `T` and `Z`) that SPDX requires and every other
//! writer shares. `caisson-admission`, `caisson-registry` and the CLI format
//! their timestamps here too.

use std::time::SystemTime;

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Formats `t` as RFC 3339 in UTC with whole seconds (`2024-05-01T12:00:00Z`).
/// Times before 1970 are clamped to the epoch, times after year 9999 to
/// `9999-12-31T23:59:59Z`.
pub fn rfc3339_utc(t: SystemTime) -> String {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    rfc3339_utc_secs(i64::try_from(secs).unwrap_or(i64::MAX))
}

/// Formats Unix seconds as RFC 3339 in UTC (`2024-05-01T12:00:00Z`), clamped
/// to the years RFC 3339 can write (0000 through 9999).
pub fn rfc3339_utc_secs(secs: i64) -> String {
    /// 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z.
    const FIRST: i64 = -62_167_219_200;
    const LAST: i64 = 253_402_300_799;
    // In range, UTC and without a fraction, neither step can fail.
    OffsetDateTime::from_unix_timestamp(secs.clamp(FIRST, LAST))
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".to_string())
}

/// Parses `YYYY-MM-DD` (midnight UTC) or `YYYY-MM-DDThh:mm:ssZ` into Unix
/// seconds; `None` for any other shape or a day the calendar lacks
/// (`2025-02-29`). A leap second (`23:59:60`) counts as `23:59:59`.
pub fn parse_utc(s: &str) -> Option<i64> {
    if s.len() == 10 {
        return parse_utc(&format!("{s}T00:00:00Z"));
    }
    if !is_rfc3339_utc_seconds(s) {
        return None;
    }
    OffsetDateTime::parse(s, &Rfc3339)
        .ok()
        .map(OffsetDateTime::unix_timestamp)
}

/// True for exactly `YYYY-MM-DDThh:mm:ssZ`: RFC 3339 (as the `time` crate
/// reads it) narrowed to UTC written `Z`, an upper-case `T` and whole seconds.
pub(crate) fn is_rfc3339_utc_seconds(s: &str) -> bool {
    // Twenty bytes leave no room for a fraction or a numeric offset.
    s.len() == 20
        && s.get(10..11) == Some("T")
        && s.ends_with('Z')
        && OffsetDateTime::parse(s, &Rfc3339).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn formats_known_instants() {
        assert_eq!(rfc3339_utc(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let t = UNIX_EPOCH + Duration::from_secs(1_709_251_199); // leap-year February end
        assert_eq!(rfc3339_utc(t), "2024-02-29T23:59:59Z");
        let t = UNIX_EPOCH + Duration::from_millis(951_782_400_999);
        assert_eq!(rfc3339_utc(t), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339_utc_secs(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339_utc_secs(-1), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn clamps_what_rfc3339_cannot_write() {
        let before = UNIX_EPOCH - Duration::from_secs(10);
        assert_eq!(rfc3339_utc(before), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_utc_secs(i64::MAX), "9999-12-31T23:59:59Z");
        assert_eq!(rfc3339_utc_secs(i64::MIN), "0000-01-01T00:00:00Z");
        assert_eq!(rfc3339_utc_secs(253_402_300_800), "9999-12-31T23:59:59Z");
    }

    #[test]
    fn parses_dates_and_instants() {
        assert_eq!(parse_utc("1970-01-01"), Some(0));
        assert_eq!(parse_utc("2024-02-29T23:59:59Z"), Some(1_709_251_199));
        assert_eq!(parse_utc("2000-02-29"), Some(951_782_400));
        // Values GNU `date -u -d <s> +%s` prints.
        assert_eq!(parse_utc("2027-01-31"), Some(1_801_353_600));
        assert_eq!(parse_utc("2038-01-19T03:14:08Z"), Some(2_147_483_648));
        assert_eq!(parse_utc("2100-03-01"), Some(4_107_542_400));
        assert_eq!(parse_utc("1999-12-31T23:59:59Z"), Some(946_684_799));
        assert_eq!(parse_utc("2016-12-31T23:59:60Z"), Some(1_483_228_799));
        for bad in [
            "2025-02-29",
            "2024-04-31",
            "2100-02-29",
            "2024-1-01",
            "tomorrow",
            "",
            "2024-05-01T12:00Z",
            "2024-05-01T24:00:00Z",
            "2024-05-01T12:00:00z",
            "+024-05-01T12:00:00Z",
            "2024-05-01T12:00:00+00:00",
        ] {
            assert_eq!(parse_utc(bad), None, "{bad}");
        }
        // Round trip through the formatter over four centuries of days.
        for day in (0..146_097i64).step_by(97) {
            let t = UNIX_EPOCH
                + Duration::from_secs(u64::try_from(day * 86_400 + 3_723).expect("positive"));
            assert_eq!(parse_utc(&rfc3339_utc(t)), Some(day * 86_400 + 3_723));
        }
    }

    #[test]
    fn validates_shape() {
        assert!(is_rfc3339_utc_seconds("2024-05-01T12:00:00Z"));
        assert!(!is_rfc3339_utc_seconds("2024-05-01T12:00:00.5Z"));
        assert!(!is_rfc3339_utc_seconds("2024-05-01T12:00:00+00:00"));
        assert!(!is_rfc3339_utc_seconds("2024-13-01T12:00:00Z"));
        assert!(!is_rfc3339_utc_seconds("2024-05-01t12:00:00Z"));
        assert!(!is_rfc3339_utc_seconds("２０２4-05-01T12:00:00Z"));
        assert!(!is_rfc3339_utc_seconds("2024-05-01T12:00:00.Z"));
    }
}
