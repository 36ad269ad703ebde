//! Dates and times as the system stores and shows them: naive UTC in the database, RFC 3339 with
//! milliseconds and a `Z` on the wire (OCPP and the HTTP API alike). Depends on nothing else in
//! the crate, so any layer may use it.

use chrono::NaiveDateTime;

/// The current time, naive UTC (how every timestamp column is stored).
pub fn now() -> NaiveDateTime {
    chrono::Utc::now().naive_utc()
}

/// Parses an RFC 3339 timestamp (OCPP's and the API's format) into naive UTC.
pub fn parse_timestamp(text: &str) -> Option<NaiveDateTime> {
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.naive_utc())
}

/// Formats naive UTC as RFC 3339 with milliseconds and `Z`, e.g. `2026-01-01T00:00:00.000Z`.
pub fn format_timestamp(t: NaiveDateTime) -> String {
    t.and_utc()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Serializes a timestamp as [`format_timestamp`] formats it (`#[serde(serialize_with)]`).
pub fn serialize<S: serde::Serializer>(t: &NaiveDateTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_timestamp(*t))
}

/// [`serialize`] for an optional timestamp (none: `null`).
pub fn serialize_opt<S: serde::Serializer>(
    t: &Option<NaiveDateTime>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => serialize(t, s),
        None => s.serialize_none(),
    }
}

/// The current time, formatted as [`format_timestamp`] does.
pub fn now_timestamp() -> String {
    format_timestamp(now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_in_utc_with_millis() {
        let t = parse_timestamp("2026-03-01T13:00:00.123+01:00").unwrap();
        assert_eq!(format_timestamp(t), "2026-03-01T12:00:00.123Z");
        assert_eq!(parse_timestamp("2026-03-01 12:00"), None);
        assert!(parse_timestamp(&now_timestamp()).is_some());
    }
}
