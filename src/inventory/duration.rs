//! Durations in `services.yaml` (`interval`, `timeout`) and on the command
//! line (`maintenance --for`): written for people, held in milliseconds.

use serde::Deserialize;

/// A duration: a number of seconds, or a string like `500ms`, `30s`, `5m`,
/// `1h`. Held in milliseconds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DurationSpec(pub u64);

impl<'de> Deserialize<'de> for DurationSpec {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Seconds(u64),
            Text(String),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Seconds(seconds) => Ok(DurationSpec(seconds.saturating_mul(1000))),
            Raw::Text(text) => parse(&text).map(DurationSpec).ok_or_else(|| {
                serde::de::Error::custom(format!("`{text}` is not a duration (like 500ms, 30s, 5m, 1h, or seconds)"))
            }),
        }
    }
}

/// The same spelling on the command line (`observer maintenance --for 30m`).
impl std::str::FromStr for DurationSpec {
    type Err = String;
    fn from_str(text: &str) -> Result<DurationSpec, String> {
        parse(text)
            .map(DurationSpec)
            .ok_or_else(|| format!("`{text}` is not a duration (like 30s, 5m, 1h, or seconds)"))
    }
}

/// Milliseconds of `500ms`, `30s`, `30`, `5m` or `1h`; `None` for anything
/// else, or on overflow.
fn parse(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().ok()?;
    let factor = match unit.trim() {
        "ms" => 1,
        "" | "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        _ => return None,
    };
    number.checked_mul(factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_a_unit_or_are_seconds() {
        assert_eq!(parse("500ms"), Some(500));
        assert_eq!(parse("30s"), Some(30_000));
        assert_eq!(parse(" 30 "), Some(30_000));
        assert_eq!(parse("5m"), Some(300_000));
        assert_eq!(parse("1h"), Some(3_600_000));
        assert_eq!(parse("1d"), None);
        assert_eq!(parse("s"), None);
        assert_eq!(parse("99999999999999999999h"), None);
    }
}
