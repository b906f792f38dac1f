//! Decision timestamps: RFC 3339 in UTC with milliseconds, by the `time`
//! crate.

use std::num::NonZeroU8;

use time::format_description::well_known::iso8601::{Config, EncodedConfig, TimePrecision};
use time::format_description::well_known::Iso8601;
use time::OffsetDateTime;

/// `2024-05-01T12:00:00.123Z`: four-digit year, milliseconds (truncated), `Z`.
const MILLIS: EncodedConfig = Config::DEFAULT
    .set_time_precision(TimePrecision::Second {
        decimal_digits: NonZeroU8::new(3),
    })
    .encode();

pub(crate) fn rfc3339_now() -> String {
    rfc3339_millis(OffsetDateTime::now_utc())
}

/// `t` in UTC with milliseconds; only a year past 9999 cannot be written,
/// and then the last instant that can is.
fn rfc3339_millis(t: OffsetDateTime) -> String {
    t.format(&Iso8601::<MILLIS>)
        .unwrap_or_else(|_| "9999-12-31T23:59:59.999Z".to_string())
}

#[cfg(test)]
mod tests {
    use super::rfc3339_millis;
    use time::OffsetDateTime;

    fn at(nanos: i128) -> String {
        rfc3339_millis(OffsetDateTime::from_unix_timestamp_nanos(nanos).expect("in range"))
    }

    #[test]
    fn known_instants() {
        assert_eq!(at(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(at(951_782_400_005_999_999), "2000-02-29T00:00:00.005Z");
        assert_eq!(at(1_795_000_000_000_000_000), "2026-11-18T11:06:40.000Z");
        let offset = time::UtcOffset::from_hms(2, 0, 0).expect("offset");
        let local = OffsetDateTime::from_unix_timestamp(0)
            .expect("epoch")
            .to_offset(offset);
        assert_eq!(rfc3339_millis(local), "1970-01-01T02:00:00.000+02:00");
    }
}
