//! Timestamps: RFC 3339 with offset out; on input, naive timestamps are read in Asia/Seoul
//! (the original's clients send `2024-12-25T19:00:00`).

use std::fmt;

use chrono::{DateTime, FixedOffset, NaiveDateTime, Utc};
use serde::{Deserialize, Deserializer, Serializer, de};

/// Korea Standard Time: UTC+9, no daylight saving since 1988.
pub fn kst() -> FixedOffset {
    FixedOffset::east_opt(9 * 3600).expect("valid offset")
}

/// Parses RFC 3339 (`…Z`, `…+09:00`) or a naive local time in Asia/Seoul.
pub fn parse_timestamp(s: &str) -> Result<DateTime<Utc>, String> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(s, format) {
            return naive
                .and_local_timezone(kst())
                .single()
                .map(|t| t.with_timezone(&Utc))
                .ok_or_else(|| "ambiguous local time".to_owned());
        }
    }
    Err(format!("`{s}` is not a date-time like 2024-12-25T19:00:00 or 2024-12-25T19:00:00+09:00"))
}

/// A timestamp from a request body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputTimestamp(pub DateTime<Utc>);

impl<'de> Deserialize<'de> for InputTimestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl de::Visitor<'_> for Visitor {
            type Value = InputTimestamp;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a date-time string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<InputTimestamp, E> {
                parse_timestamp(v).map(InputTimestamp).map_err(E::custom)
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

impl utoipa::PartialSchema for InputTimestamp {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::DateTime,
            )))
            .description(Some("RFC 3339, or a local time in Asia/Seoul without offset"))
            .examples([serde_json::json!("2026-12-25T19:00:00")])
            .into()
    }
}

impl utoipa::ToSchema for InputTimestamp {}

/// Writes a timestamp in Korea Standard Time with its offset (`2026-12-25T19:00:00+09:00`).
pub fn serialize_kst<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.with_timezone(&kst()).to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false))
}

/// [`serialize_kst`] for optional timestamps.
pub fn serialize_kst_opt<S: Serializer>(
    t: &Option<DateTime<Utc>>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => serialize_kst(t, s),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn naive_input_is_seoul_time() {
        let t = parse_timestamp("2026-12-25T19:00:00").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-12-25T10:00:00+00:00");
    }

    #[test]
    fn offsets_are_respected() {
        let t = parse_timestamp("2026-12-25T19:00:00Z").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-12-25T19:00:00+00:00");
    }

    #[test]
    fn garbage_is_refused() {
        assert!(parse_timestamp("next tuesday").is_err());
        assert!(parse_timestamp("2026-13-01T00:00:00").is_err());
    }
}
