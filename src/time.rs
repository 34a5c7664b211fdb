//! Instants on the engine clock: milliseconds since the Unix epoch, UTC.
//!
//! Events carry RFC 3339 timestamps with any offset; inside the engine every
//! instant is an integer so that comparison, sorting and serialization are exact
//! and cheap. Sub-millisecond precision is dropped on input (SPEC §3.8 prints at
//! most milliseconds), so a replay sees exactly what the first run saw.

use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A point in time, in whole milliseconds since 1970-01-01T00:00:00Z.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Ts(pub i64);

impl Ts {
    /// Parses RFC 3339 with a mandatory offset (`Z` or `+hh:mm`).
    pub fn parse(text: &str) -> Result<Ts, String> {
        let parsed = DateTime::parse_from_rfc3339(text)
            .map_err(|e| format!("`{text}` is not an RFC 3339 timestamp with an offset ({e})"))?;
        Ok(Ts(parsed.timestamp_millis()))
    }

    pub fn from_datetime(at: DateTime<Utc>) -> Ts {
        Ts(at.timestamp_millis())
    }

    pub fn unix_seconds(self) -> i64 {
        self.0.div_euclid(1000)
    }

    pub fn plus_seconds(self, seconds: u64) -> Ts {
        Ts(self.0.saturating_add((seconds as i64).saturating_mul(1000)))
    }

    pub fn minus_seconds(self, seconds: u64) -> Ts {
        Ts(self.0.saturating_sub((seconds as i64).saturating_mul(1000)))
    }

    /// UTC with `Z`; fractional seconds only when non-zero, to the millisecond.
    pub fn to_rfc3339(self) -> String {
        match DateTime::<Utc>::from_timestamp_millis(self.0) {
            Some(at) if self.0.rem_euclid(1000) == 0 => at.to_rfc3339_opts(SecondsFormat::Secs, true),
            Some(at) => at.to_rfc3339_opts(SecondsFormat::Millis, true),
            None => format!("@{}ms", self.0),
        }
    }
}

impl fmt::Display for Ts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl Serialize for Ts {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_rfc3339())
    }
}

impl<'de> Deserialize<'de> for Ts {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Ts, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Ts::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Seconds between two instants as a JSON number: an integer when whole,
/// otherwise with millisecond precision.
pub fn duration_seconds(from: Ts, to: Ts) -> serde_json::Number {
    let ms = to.0 - from.0;
    if ms % 1000 == 0 {
        serde_json::Number::from(ms / 1000)
    } else {
        serde_json::Number::from_f64(ms as f64 / 1000.0).unwrap_or_else(|| 0.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_utc_with_z_and_millis_only_when_non_zero() {
        assert_eq!(Ts::parse("2026-05-12T14:05:00+02:00").unwrap().to_rfc3339(), "2026-05-12T12:05:00Z");
        assert_eq!(Ts::parse("2026-05-12T12:05:00.250Z").unwrap().to_rfc3339(), "2026-05-12T12:05:00.250Z");
        assert_eq!(Ts::parse("2026-05-12T12:05:00.000100Z").unwrap().to_rfc3339(), "2026-05-12T12:05:00Z");
    }

    #[test]
    fn refuses_timestamps_without_offset() {
        assert!(Ts::parse("2026-05-12T12:05:00").is_err());
        assert!(Ts::parse("yesterday").is_err());
    }

    #[test]
    fn unix_seconds_of_the_spec_incident() {
        assert_eq!(Ts::parse("2026-05-12T12:05:00Z").unwrap().unix_seconds(), 1778587500);
    }

    #[test]
    fn durations_are_integers_when_whole() {
        let a = Ts(0);
        assert_eq!(duration_seconds(a, Ts(300_000)).to_string(), "300");
        assert_eq!(duration_seconds(a, Ts(1_500)).to_string(), "1.5");
    }
}
