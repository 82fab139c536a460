//! Time on the wire: `google.protobuf.Timestamp` to and from chrono, and
//! RFC 3339 for JSON, written once.

use chrono::{DateTime, SecondsFormat, Utc};
use prost_types::Timestamp;

/// A UTC time as a protobuf timestamp.
pub fn to_timestamp(time: DateTime<Utc>) -> Timestamp {
    Timestamp {
        seconds: time.timestamp(),
        nanos: i32::try_from(time.timestamp_subsec_nanos()).unwrap_or(0),
    }
}

/// A protobuf timestamp as UTC time; `None` when absent or out of range.
pub fn from_timestamp(timestamp: Option<&Timestamp>) -> Option<DateTime<Utc>> {
    let timestamp = timestamp?;
    DateTime::from_timestamp(timestamp.seconds, u32::try_from(timestamp.nanos).ok()?)
}

/// A protobuf timestamp as RFC 3339 with milliseconds, for JSON.
pub fn rfc3339(timestamp: Option<&Timestamp>) -> Option<String> {
    from_timestamp(timestamp).map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true))
}

/// A bound of a date filter: RFC 3339 (`2026-12-01T10:00:00Z`) or a plain
/// date (`2026-12-01`, midnight UTC). As an end bound (`through_day`), a
/// plain date includes its whole day: the bound is the next midnight.
pub fn parse_bound(text: &str, through_day: bool) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Some(time.with_timezone(&Utc));
    }
    let day = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    let day = if through_day { day.succ_opt()? } else { day };
    Some(day.and_hms_opt(0, 0, 0)?.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_bounds_are_instants_or_whole_days() {
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        assert_eq!(
            parse_bound("2026-12-01", false),
            Some(at("2026-12-01T00:00:00Z"))
        );
        assert_eq!(
            parse_bound("2026-12-01", true),
            Some(at("2026-12-02T00:00:00Z"))
        );
        assert_eq!(
            parse_bound("2026-12-01T10:30:00+01:00", true),
            Some(at("2026-12-01T09:30:00Z"))
        );
        assert_eq!(parse_bound("yesterday", false), None);
        assert_eq!(parse_bound("2026-13-01", false), None);
    }

    #[test]
    fn round_trips_and_formats() {
        let time = DateTime::from_timestamp(1_795_874_469, 123_456_000).expect("valid");
        let wire = to_timestamp(time);
        assert_eq!(from_timestamp(Some(&wire)), Some(time));
        assert_eq!(
            rfc3339(Some(&wire)).as_deref(),
            Some("2026-11-28T14:01:09.123Z")
        );
        assert_eq!(rfc3339(None), None);
        let broken = Timestamp {
            seconds: 0,
            nanos: -1,
        };
        assert_eq!(from_timestamp(Some(&broken)), None);
    }
}
