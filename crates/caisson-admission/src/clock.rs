//! UTC calendar dates without a time crate: decision timestamps and certificate
//! validity.

use std::time::{SystemTime, UNIX_EPOCH};

/// (year, month, day, hour, minute, second, millisecond) in UTC.
pub(crate) type Civil = (i64, u32, u32, u32, u32, u32, u32);

pub(crate) fn now_civil() -> Civil {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    civil(d.as_secs() as i64, d.subsec_millis())
}

/// Howard Hinnant's days-to-civil.
pub(crate) fn civil(secs: i64, millis: u32) -> Civil {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        year,
        month,
        day,
        (rem / 3600) as u32,
        ((rem % 3600) / 60) as u32,
        (rem % 60) as u32,
        millis,
    )
}

pub(crate) fn rfc3339_now() -> String {
    let (y, mo, d, h, mi, s, ms) = now_civil();
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{ms:03}Z")
}

#[cfg(test)]
mod tests {
    #[test]
    fn known_dates() {
        assert_eq!(super::civil(0, 0), (1970, 1, 1, 0, 0, 0, 0));
        assert_eq!(super::civil(951_782_400, 5), (2000, 2, 29, 0, 0, 0, 5));
        assert_eq!(super::civil(1_795_000_000, 0), (2026, 11, 18, 11, 6, 40, 0));
    }
}
