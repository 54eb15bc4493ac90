//! Parsing and formatting of the identifiers and timestamps the tool exchanges with users,
//! PostgreSQL and the export file.

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use uuid::Uuid;

use crate::error::{Error, Result};

/// The server accepts client timestamps down to `now - 320 s`, so nothing can appear at or
/// before a snapshot older than that ("client late offset" of Parsec's server).
pub const CLIENT_LATE_OFFSET_US: i64 = 320_000_000;

/// Microseconds since the UNIX epoch, the unit of every timestamp in the export file.
pub type Micros = i64;

pub fn parse_realm_id(text: &str) -> Result<Uuid> {
    let trimmed = text.trim();
    let uuid = Uuid::try_parse(trimmed).map_err(|_| {
        Error::Usage(format!(
            "invalid realm ID `{trimmed}`: expected 32 hex digits (e.g. 8006a491f0704040ae9a197ca7501f71) or a hyphenated UUID"
        ))
    })?;
    Ok(uuid)
}

/// Organization IDs are 1–32 bytes of UTF-8 word characters or `-` (Parsec's rule).
pub fn validate_organization_id(text: &str) -> Result<String> {
    let ok = !text.is_empty()
        && text.len() <= 32
        && text
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-');
    if ok {
        Ok(text.to_owned())
    } else {
        Err(Error::Usage(format!(
            "invalid organization ID `{text}`: expected 1 to 32 bytes of letters, digits, `_` or `-`"
        )))
    }
}

/// RFC 3339 with an explicit offset, truncated to microseconds like Parsec does.
pub fn parse_timestamp(text: &str) -> Result<Micros> {
    let parsed = DateTime::parse_from_rfc3339(text.trim()).map_err(|e| {
        Error::Usage(format!(
            "invalid --snapshot-timestamp `{text}` ({e}): expected an RFC 3339 date-time such as 2024-05-01T12:00:00Z or 2024-05-01T14:00:00.123456+02:00"
        ))
    })?;
    Ok(parsed.with_timezone(&Utc).timestamp_micros())
}

pub fn now_micros() -> Micros {
    Utc::now().timestamp_micros()
}

pub fn to_datetime(us: Micros) -> DateTime<Utc> {
    Utc.timestamp_micros(us)
        .single()
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// For query parameters: like `to_datetime`, but out-of-range values saturate (i64::MAX is
/// "no time bound").
pub fn to_pg_time(us: Micros) -> DateTime<Utc> {
    Utc.timestamp_micros(us).single().unwrap_or(if us > 0 {
        DateTime::<Utc>::MAX_UTC
    } else {
        DateTime::<Utc>::MIN_UTC
    })
}

/// RFC 3339 in UTC with `Z`, fractional part only when non-zero (3 digits for whole
/// milliseconds, else 6): the form Parsec's own reports use.
pub fn format_timestamp(us: Micros) -> String {
    let dt = to_datetime(us);
    let sub_us = us.rem_euclid(1_000_000);
    let format = if sub_us == 0 {
        SecondsFormat::Secs
    } else if sub_us % 1000 == 0 {
        SecondsFormat::Millis
    } else {
        SecondsFormat::Micros
    };
    dt.to_rfc3339_opts(format, true)
}

/// `YYYYMMDDTHHMMSSZ`, the stamp of the default export file name.
pub fn file_name_stamp(us: Micros) -> String {
    to_datetime(us).format("%Y%m%dT%H%M%SZ").to_string()
}

/// Default export file name (reference §3.4).
pub fn default_export_file_name(
    organization_id: &str,
    realm_id: &Uuid,
    snapshot: Micros,
) -> String {
    format!(
        "parsec-export-{organization_id}-realm-{}-{}.sqlite",
        realm_id.simple(),
        file_name_stamp(snapshot)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_file_names_match_parsec_examples() {
        let realm = parse_realm_id("f0000000000000000000000000000003").unwrap();
        let t = parse_timestamp("2222-11-22T01:02:03.456789Z").unwrap();
        assert_eq!(
            default_export_file_name("Org1", &realm, t),
            "parsec-export-Org1-realm-f0000000000000000000000000000003-22221122T010203Z.sqlite"
        );
        let t = parse_timestamp("0001-02-03T23:59:59Z").unwrap();
        assert!(default_export_file_name("Org1", &realm, t).ends_with("-00010203T235959Z.sqlite"));
    }

    #[test]
    fn realm_ids_accept_both_forms() {
        let a = parse_realm_id("8006a491f0704040ae9a197ca7501f71").unwrap();
        let b = parse_realm_id("8006a491-f070-4040-ae9a-197ca7501f71").unwrap();
        assert_eq!(a, b);
        let err = parse_realm_id("8006a491f07").unwrap_err().to_string();
        assert!(
            err.contains("8006a491f07") && err.contains("32 hex digits"),
            "{err}"
        );
    }

    #[test]
    fn timestamps_round_trip_and_truncate_to_micros() {
        let t = parse_timestamp("2025-02-16T23:38:17.449003Z").unwrap();
        assert_eq!(t, 1739749097449003);
        assert_eq!(format_timestamp(t), "2025-02-16T23:38:17.449003Z");
        assert_eq!(
            format_timestamp(parse_timestamp("2000-01-01T00:00:00+01:00").unwrap()),
            "1999-12-31T23:00:00Z"
        );
        assert_eq!(format_timestamp(1_500), "1970-01-01T00:00:00.001500Z");
        assert_eq!(format_timestamp(2_000), "1970-01-01T00:00:00.002Z");
        assert!(parse_timestamp("2025-02-16").is_err());
        assert_eq!(
            parse_timestamp("2025-02-16T00:00:00.1234567Z").unwrap(),
            parse_timestamp("2025-02-16T00:00:00.123456Z").unwrap()
        );
    }

    #[test]
    fn organization_ids_follow_parsec_rules() {
        assert!(validate_organization_id("CoolOrg").is_ok());
        assert!(validate_organization_id("Ørg-été_1").is_ok());
        assert!(validate_organization_id("").is_err());
        assert!(validate_organization_id("a b").is_err());
        assert!(validate_organization_id(&"x".repeat(33)).is_err());
    }
}
