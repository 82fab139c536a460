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

#[cfg(test)]
mod tests {
    use super::*;

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
