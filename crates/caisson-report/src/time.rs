//! The one timestamp form every format accepts: `YYYY-MM-DDThh:mm:ssZ`.

use std::time::{SystemTime, UNIX_EPOCH};

/// Formats `t` as RFC 3339 in UTC with whole seconds (`2024-05-01T12:00:00Z`).
/// Times before 1970 are clamped to the epoch.
pub fn rfc3339_utc(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let days = i64::try_from(secs / 86_400).unwrap_or(i64::MAX / 2);
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Howard Hinnant's days-to-civil conversion.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Howard Hinnant's civil-to-days conversion (inverse of [`civil_from_days`]).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Parses `YYYY-MM-DD` (midnight UTC) or `YYYY-MM-DDThh:mm:ssZ` into Unix
/// seconds; `None` for any other shape or a day the calendar lacks
/// (`2025-02-29`).
pub fn parse_utc(s: &str) -> Option<i64> {
    let full;
    let s = if s.len() == 10 {
        full = format!("{s}T00:00:00Z");
        full.as_str()
    } else {
        s
    };
    if !is_rfc3339_utc_seconds(s) {
        return None;
    }
    let n = |r: std::ops::Range<usize>| s.get(r).and_then(|p| p.parse::<u32>().ok());
    let (y, m, d) = (i64::from(n(0..4)?), n(5..7)?, n(8..10)?);
    let days = days_from_civil(y, m, d);
    if civil_from_days(days) != (y, m, d) {
        return None;
    }
    let (hh, mm, ss) = (n(11..13)?, n(14..16)?, n(17..19)?);
    Some(days * 86_400 + i64::from(hh * 3600 + mm * 60 + ss.min(59)))
}

/// True for exactly `YYYY-MM-DDThh:mm:ssZ` with plausible field ranges.
pub(crate) fn is_rfc3339_utc_seconds(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 20 {
        return false;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let part = s.get(r)?;
        if part.bytes().all(|c| c.is_ascii_digit()) {
            part.parse().ok()
        } else {
            None
        }
    };
    let seps = [
        (4, b'-'),
        (7, b'-'),
        (10, b'T'),
        (13, b':'),
        (16, b':'),
        (19, b'Z'),
    ];
    if !seps.iter().all(|&(i, c)| b.get(i) == Some(&c)) {
        return false;
    }
    matches!(
        (
            num(0..4),
            num(5..7),
            num(8..10),
            num(11..13),
            num(14..16),
            num(17..19)
        ),
        (
            Some(_),
            Some(1..=12),
            Some(1..=31),
            Some(0..=23),
            Some(0..=59),
            Some(0..=60)
        )
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn formats_known_instants() {
        assert_eq!(rfc3339_utc(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let t = UNIX_EPOCH + Duration::from_secs(1_709_251_199); // leap-year February end
        assert_eq!(rfc3339_utc(t), "2024-02-29T23:59:59Z");
        let t = UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(rfc3339_utc(t), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn parses_dates_and_instants() {
        assert_eq!(parse_utc("1970-01-01"), Some(0));
        assert_eq!(parse_utc("2024-02-29T23:59:59Z"), Some(1_709_251_199));
        assert_eq!(parse_utc("2000-02-29"), Some(951_782_400));
        for bad in [
            "2025-02-29",
            "2024-04-31",
            "2024-1-01",
            "tomorrow",
            "",
            "2024-05-01T12:00Z",
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

    /// GNU `date` as the oracle, where it is installed.
    #[test]
    fn agrees_with_gnu_date() {
        for s in [
            "2027-01-31",
            "2038-01-19T03:14:08Z",
            "2100-03-01",
            "1999-12-31T23:59:59Z",
        ] {
            let Ok(out) = std::process::Command::new("date")
                .args(["-u", "-d", s, "+%s"])
                .output()
            else {
                return;
            };
            let want: i64 = String::from_utf8_lossy(&out.stdout)
                .trim()
                .parse()
                .expect("date prints seconds");
            assert_eq!(parse_utc(s), Some(want), "{s}");
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
    }
}
