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
    fn validates_shape() {
        assert!(is_rfc3339_utc_seconds("2024-05-01T12:00:00Z"));
        assert!(!is_rfc3339_utc_seconds("2024-05-01T12:00:00.5Z"));
        assert!(!is_rfc3339_utc_seconds("2024-05-01T12:00:00+00:00"));
        assert!(!is_rfc3339_utc_seconds("2024-13-01T12:00:00Z"));
        assert!(!is_rfc3339_utc_seconds("2024-05-01t12:00:00Z"));
        assert!(!is_rfc3339_utc_seconds("２０２4-05-01T12:00:00Z"));
    }
}
