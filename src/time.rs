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
    /// The first instant RFC 3339 can write in UTC: 0000-01-01T00:00:00Z.
    pub const MIN: Ts = Ts(-62_167_219_200_000);
    /// The last one: 9999-12-31T23:59:59.999Z.
    pub const MAX: Ts = Ts(253_402_300_799_999);

    /// Parses RFC 3339 with a mandatory offset (`Z` or `+hh:mm`).
    ///
    /// Instants that fall outside the years 0000–9999 once in UTC (a year
    /// 9999 timestamp with a negative offset, say) are refused: they could
    /// not be written back as RFC 3339, in the world files or the checkpoint.
    pub fn parse(text: &str) -> Result<Ts, String> {
        if let Some(ts) = parse_canonical(text.as_bytes()) {
            return Ok(ts);
        }
        let parsed = DateTime::parse_from_rfc3339(text)
            .map_err(|e| format!("`{text}` is not an RFC 3339 timestamp with an offset ({e})"))?;
        let ts = Ts(parsed.timestamp_millis());
        if ts < Ts::MIN || ts > Ts::MAX {
            return Err(format!("`{text}` is outside the years 0000 to 9999 once in UTC"));
        }
        Ok(ts)
    }

    pub fn from_datetime(at: DateTime<Utc>) -> Ts {
        Ts(at.timestamp_millis())
    }

    pub fn unix_seconds(self) -> i64 {
        self.0.div_euclid(1000)
    }

    /// Later by `seconds`, but never past [`Ts::MAX`], so every instant the
    /// engine computes can be written as RFC 3339. A huge threshold so means
    /// "not before the end of year 9999", which is as good as never.
    pub fn plus_seconds(self, seconds: u64) -> Ts {
        Ts(self.0.saturating_add(millis(seconds)).min(Ts::MAX.0))
    }

    /// Earlier by `seconds`, but never before [`Ts::MIN`].
    pub fn minus_seconds(self, seconds: u64) -> Ts {
        Ts(self.0.saturating_sub(millis(seconds)).max(Ts::MIN.0))
    }

    /// UTC with `Z`; fractional seconds only when non-zero, to the millisecond.
    pub fn to_rfc3339(self) -> String {
        let mut buf = [0; CANONICAL_LEN];
        if let Some(len) = format_canonical(self.0, &mut buf) {
            return String::from_utf8_lossy(&buf[..len]).into_owned();
        }
        match DateTime::<Utc>::from_timestamp_millis(self.0) {
            Some(at) if self.0.rem_euclid(1000) == 0 => at.to_rfc3339_opts(SecondsFormat::Secs, true),
            Some(at) => at.to_rfc3339_opts(SecondsFormat::Millis, true),
            None => format!("@{}ms", self.0),
        }
    }
}

/// The longest canonical form: `YYYY-MM-DDTHH:MM:SS.mmmZ`.
const CANONICAL_LEN: usize = 24;

/// `YYYY-MM-DDTHH:MM:SS[.mmm]Z` into `buf` without chrono, for the instants
/// between [`Ts::MIN`] and [`Ts::MAX`]; its length. Profiled on a busy
/// run, chrono's formatting was 7 % of the time: the engine state holds
/// tens of thousands of instants, written at every save. The days become a
/// date by H. Hinnant's `civil_from_days`.
fn format_canonical(ms: i64, buf: &mut [u8; CANONICAL_LEN]) -> Option<usize> {
    if !(Ts::MIN.0..=Ts::MAX.0).contains(&ms) {
        return None;
    }
    let (secs, millis) = (ms.div_euclid(1000), ms.rem_euclid(1000));
    let (days, second_of_day) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    buf[..10].copy_from_slice(&LAST_DATE.with(|last| match last.get() {
        (day, date) if day == days => date,
        _ => {
            let date = date_of(days);
            last.set((days, date));
            date
        }
    }));
    put_digits(&mut buf[11..13], second_of_day / 3600);
    put_digits(&mut buf[14..16], second_of_day / 60 % 60);
    put_digits(&mut buf[17..19], second_of_day % 60);
    (buf[10], buf[13], buf[16]) = (b'T', b':', b':');
    if millis == 0 {
        buf[19] = b'Z';
        return Some(20);
    }
    buf[19] = b'.';
    put_digits(&mut buf[20..23], millis);
    buf[23] = b'Z';
    Some(CANONICAL_LEN)
}

thread_local! {
    /// The day [`format_canonical`] wrote last and its `YYYY-MM-DD`: the
    /// instants of a state or a world file mostly fall on a few days, and
    /// the calendar was most of the formatting (profiled on a busy run that
    /// folds 1,000 events, the formatting was 3 % of it).
    static LAST_DATE: std::cell::Cell<(i64, [u8; 10])> = const { std::cell::Cell::new((i64::MIN, [0; 10])) };
}

/// `YYYY-MM-DD` of the day `days` after 1970-01-01.
fn date_of(days: i64) -> [u8; 10] {
    let z = days + 719_468;
    let (era, day_of_era) = (z.div_euclid(146_097), z.rem_euclid(146_097));
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    let mut date = [b'-'; 10];
    put_digits(&mut date[0..4], year);
    put_digits(&mut date[5..7], month);
    put_digits(&mut date[8..10], day);
    date
}

/// `value` in decimal, zero-padded to fill `out`.
fn put_digits(out: &mut [u8], mut value: i64) {
    for digit in out.iter_mut().rev() {
        *digit = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

/// The number `b` writes in decimal: one ASCII digit or more, nothing
/// else, and no more than an `i64` holds.
pub(crate) fn decimal(b: &[u8]) -> Option<i64> {
    let first = b.first()?;
    b[1..].iter().try_fold(digit(*first)?, |acc, d| acc.checked_mul(10)?.checked_add(digit(*d)?))
}

fn digit(d: u8) -> Option<i64> {
    d.is_ascii_digit().then(|| i64::from(d - b'0'))
}

/// The common shape `YYYY-MM-DDTHH:MM:SS[.fraction]Z`, parsed without
/// chrono: most events and every checkpoint use it, and parsing timestamps is
/// a large part of reading events. Anything else (offsets, leap seconds, odd
/// values) returns `None` and goes through chrono.
fn parse_canonical(b: &[u8]) -> Option<Ts> {
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let digits = |from: usize, len: usize| decimal(&b[from..from + len]);
    let (year, month, day) = (digits(0, 4)?, digits(5, 2)?, digits(8, 2)?);
    let (hour, minute, second) = (digits(11, 2)?, digits(14, 2)?, digits(17, 2)?);
    let mut millis = 0;
    let rest = &b[19..];
    let zone = match rest.first()? {
        b'.' => {
            let fraction = rest[1..].iter().take_while(|d| d.is_ascii_digit()).count();
            if fraction == 0 || fraction > 9 {
                return None;
            }
            for (i, d) in rest[1..=fraction].iter().take(3).enumerate() {
                millis += i64::from(d - b'0') * [100, 10, 1][i];
            }
            &rest[1 + fraction..]
        }
        _ => rest,
    };
    if zone != b"Z" || !(1..=12).contains(&month) || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let month_days = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    if day < 1 || day > month_days[(month - 1) as usize] {
        return None;
    }
    // Days from the civil date (H. Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(Ts((days * 86_400 + hour * 3600 + minute * 60 + second) * 1000 + millis))
}

impl fmt::Display for Ts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0; CANONICAL_LEN];
        match format_canonical(self.0, &mut buf) {
            Some(len) => f.write_str(std::str::from_utf8(&buf[..len]).map_err(|_| fmt::Error)?),
            None => f.write_str(&self.to_rfc3339()),
        }
    }
}

thread_local! {
    /// Set while the engine state is written ([`in_state_form`]).
    static STATE_FORM: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `write` with every instant this thread serialises written as its
/// milliseconds since the epoch (a JSON integer; a map key is then the
/// integer's digits), the engine state's form (`state/engine/`), and not
/// as RFC 3339, the form of every file people and tools read.
///
/// The engine state of a busy history holds ~200,000 instants, 43 % of its
/// 11.5 MB as RFC 3339 (issue 11, nineteenth pass): each formatted and
/// escaped at every save, and parsed at every load. As integers, the state
/// is ~2.2 MB smaller. A state written before holds RFC 3339; it is read
/// as it is ([`Ts::parse_stored`]), and what a pass changes of it is
/// written in this form.
pub fn in_state_form<R>(write: impl FnOnce() -> R) -> R {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            STATE_FORM.with(|form| form.set(self.0));
        }
    }
    let _restore = Restore(STATE_FORM.with(|form| form.replace(true)));
    write()
}

impl Ts {
    /// An instant as a file observer wrote holds it: RFC 3339, or the
    /// milliseconds since the epoch as digits (a map key of the engine
    /// state, [`in_state_form`]).
    pub fn parse_stored(text: &str) -> Result<Ts, String> {
        let (sign, digits) = text.strip_prefix('-').map_or((1, text), |digits| (-1, digits));
        match decimal(digits.as_bytes()) {
            Some(ms) => Ts::from_millis(sign * ms),
            None => Ts::parse(text),
        }
    }

    /// `ms` milliseconds since the epoch, when RFC 3339 can write it.
    fn from_millis(ms: i64) -> Result<Ts, String> {
        match ms {
            ms if (Ts::MIN.0..=Ts::MAX.0).contains(&ms) => Ok(Ts(ms)),
            ms => Err(format!("{ms} ms since the epoch is outside the years 0000 to 9999")),
        }
    }

    /// `YYYY-MM-DDTHH:MM`, the minute's part of the canonical form.
    pub(crate) fn minute_text(self) -> Option<[u8; 16]> {
        let mut buf = [0; CANONICAL_LEN];
        format_canonical(self.0, &mut buf)?;
        let mut minute = [0; 16];
        minute.copy_from_slice(&buf[..16]);
        Some(minute)
    }
}

impl Serialize for Ts {
    /// The canonical form, formatted into a stack buffer and written as one
    /// string. Profiled on a busy run, `collect_str` (which goes through
    /// `Display` and a formatter adapter) was 7.9 % of the time: the engine
    /// state holds tens of thousands of instants, written at every save.
    /// In the engine state, an integer ([`in_state_form`]).
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::Error as _;
        if STATE_FORM.with(std::cell::Cell::get) {
            return serializer.serialize_i64(self.0);
        }
        let mut buf = [0; CANONICAL_LEN];
        match format_canonical(self.0, &mut buf) {
            Some(len) => serializer.serialize_str(std::str::from_utf8(&buf[..len]).map_err(S::Error::custom)?),
            None => serializer.serialize_str(&self.to_rfc3339()),
        }
    }
}

/// An instant as observer writes it: RFC 3339 in UTC with `Z`, with
/// milliseconds only when they are not zero.
impl schemars::JsonSchema for Ts {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Timestamp".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "An instant in UTC, RFC 3339 with `Z`; milliseconds only when not zero.",
            "type": "string",
            "format": "date-time",
            "pattern": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{3})?Z$",
        })
    }
}

/// Read from the text the deserializer lends, without copying it: a
/// `Cow<str>` here is always an owned copy (serde borrows only a field
/// marked `borrow`), one allocation per instant of the engine state, which
/// holds hundreds of thousands on a busy history. An integer, or a string
/// of digits (a map key), is milliseconds since the epoch, as the engine
/// state writes them ([`in_state_form`]). Observer's other files never
/// hold that form, and reading them takes it all the same (a hand-edited
/// `"fired_at": 1` in `alerts.json` reads as 1970): no file anyone else
/// writes is read through this. Events and stage markers are checked as
/// text (`event::validate`, `store::deployment_files`).
impl<'de> Deserialize<'de> for Ts {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Ts, D::Error> {
        struct Instant;
        impl serde::de::Visitor<'_> for Instant {
            type Value = Ts;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                // What `Cow<str>` said: error messages stay the same.
                f.write_str("a string")
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Ts, E> {
                Ts::parse_stored(text).map_err(E::custom)
            }
            fn visit_i64<E: serde::de::Error>(self, ms: i64) -> Result<Ts, E> {
                Ts::from_millis(ms).map_err(E::custom)
            }
            fn visit_u64<E: serde::de::Error>(self, ms: u64) -> Result<Ts, E> {
                Ts::from_millis(i64::try_from(ms).unwrap_or(i64::MAX)).map_err(E::custom)
            }
        }
        // Any: the engine state holds integers ([`in_state_form`]).
        deserializer.deserialize_any(Instant)
    }
}

/// A configured number of seconds in milliseconds, saturating: a huge
/// threshold means "never", not a wrapped negative.
fn millis(seconds: u64) -> i64 {
    i64::try_from(seconds).unwrap_or(i64::MAX).saturating_mul(1000)
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
    fn the_fast_formatting_agrees_with_chrono() {
        let chrono = |ms: i64| {
            let at = DateTime::<Utc>::from_timestamp_millis(ms).unwrap();
            let format = if ms.rem_euclid(1000) == 0 { SecondsFormat::Secs } else { SecondsFormat::Millis };
            at.to_rfc3339_opts(format, true)
        };
        let mut seed = 11u64;
        let mut samples = vec![Ts::MIN.0, Ts::MAX.0, 0, -1, 1, 951_782_399_999, 951_868_800_000, -62_135_596_800_000];
        for _ in 0..200_000 {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let span = (Ts::MAX.0 - Ts::MIN.0) as u64;
            let ms = Ts::MIN.0 + ((seed >> 11) % span) as i64;
            samples.extend([ms, ms - ms.rem_euclid(1000)]);
        }
        for ms in samples {
            let mut buf = [0; CANONICAL_LEN];
            let len = format_canonical(ms, &mut buf).unwrap();
            assert_eq!(std::str::from_utf8(&buf[..len]).unwrap(), chrono(ms), "{ms}");
            assert_eq!(serde_json::to_string(&Ts(ms)).unwrap(), format!("\"{}\"", chrono(ms)));
        }
        assert_eq!(format_canonical(Ts::MAX.0 + 1, &mut [0; CANONICAL_LEN]), None);
        assert_eq!(format_canonical(Ts::MIN.0 - 1, &mut [0; CANONICAL_LEN]), None);
        assert_eq!(Ts(Ts::MAX.0 + 1).to_rfc3339(), chrono(Ts::MAX.0 + 1), "beyond it, chrono writes it");
    }

    #[test]
    fn the_fast_path_agrees_with_chrono() {
        let samples = [
            "1970-01-01T00:00:00Z",
            "2000-02-29T23:59:59.999Z",
            "2026-05-12T12:05:00.5Z",
            "2026-12-31T23:59:59.123456789Z",
            "1969-12-31T23:59:59.001Z",
            "2400-03-01T00:00:00Z",
            "0001-01-01T00:00:00Z",
        ];
        for text in samples {
            let slow = DateTime::parse_from_rfc3339(text).unwrap().timestamp_millis();
            assert_eq!(parse_canonical(text.as_bytes()), Some(Ts(slow)), "{text}");
        }
        for text in ["2026-02-29T00:00:00Z", "2026-13-01T00:00:00Z", "2026-05-12T24:00:00Z", "2026-05-12T12:05:00.Z"] {
            assert_eq!(parse_canonical(text.as_bytes()), None, "{text}");
            assert!(Ts::parse(text).is_err(), "{text}");
        }
        // Leap seconds and offsets take chrono's path.
        assert_eq!(parse_canonical(b"2016-12-31T23:59:60Z"), None);
        assert!(Ts::parse("2016-12-31T23:59:60Z").is_ok());
    }

    #[test]
    fn every_second_of_four_years_agrees_with_chrono() {
        let start = DateTime::parse_from_rfc3339("2023-01-01T00:00:00Z").unwrap().timestamp();
        for step in (0..4 * 366 * 86_400).step_by(7_919) {
            let at = DateTime::<Utc>::from_timestamp(start + step, 0).unwrap();
            let text = at.to_rfc3339_opts(SecondsFormat::Millis, true);
            assert_eq!(parse_canonical(text.as_bytes()), Some(Ts(at.timestamp_millis())), "{text}");
        }
    }

    #[test]
    fn refuses_timestamps_without_offset() {
        assert!(Ts::parse("2026-05-12T12:05:00").is_err());
        assert!(Ts::parse("yesterday").is_err());
    }

    #[test]
    fn refuses_instants_outside_the_years_rfc_3339_can_write() {
        assert_eq!(Ts::parse("0000-01-01T00:00:00Z"), Ok(Ts::MIN));
        assert_eq!(Ts::parse("9999-12-31T23:59:59.999Z"), Ok(Ts::MAX));
        assert_eq!(Ts::parse("9999-12-31T23:59:59.999+00:00"), Ok(Ts::MAX));
        assert!(Ts::parse("9999-12-31T23:59:59-23:59").is_err());
        assert!(Ts::parse("0000-01-01T00:00:00+00:01").is_err());
        assert_eq!(Ts::MIN.to_rfc3339(), "0000-01-01T00:00:00Z");
        assert_eq!(Ts::MAX.to_rfc3339(), "9999-12-31T23:59:59.999Z");
        assert_eq!(Ts::MAX.plus_seconds(60), Ts::MAX);
        assert_eq!(Ts::MIN.minus_seconds(60), Ts::MIN);
    }

    #[test]
    fn unix_seconds_of_the_spec_incident() {
        assert_eq!(Ts::parse("2026-05-12T12:05:00Z").unwrap().unix_seconds(), 1778587500);
    }

    #[test]
    fn huge_durations_saturate_instead_of_wrapping() {
        let at = Ts::parse("2026-05-12T12:05:00Z").unwrap();
        assert_eq!(at.minus_seconds(u64::MAX), Ts::MIN, "far in the past, not wrapped");
        assert_eq!(at.plus_seconds(10_000_000_000_000_000_000), Ts::MAX);
    }

    #[test]
    fn durations_are_integers_when_whole() {
        let a = Ts(0);
        assert_eq!(duration_seconds(a, Ts(300_000)).to_string(), "300");
        assert_eq!(duration_seconds(a, Ts(1_500)).to_string(), "1.5");
    }

    /// The engine state's form: integers inside `in_state_form` only (the
    /// same thread afterwards, and another thread meanwhile, write RFC
    /// 3339); both forms, and a map key of digits, read back.
    #[test]
    fn the_engine_states_instants_are_integers_and_every_form_reads_back() {
        use std::collections::BTreeMap;
        let at = Ts::parse("2026-05-12T12:05:00.250Z").unwrap();
        let keyed = BTreeMap::from([(at, at)]);
        let (inside, beside) = in_state_form(|| {
            let beside = std::thread::scope(|s| s.spawn(|| serde_json::to_string(&at).unwrap()).join().unwrap());
            (serde_json::to_string(&keyed).unwrap(), beside)
        });
        assert_eq!(inside, r#"{"1778587500250":1778587500250}"#);
        assert_eq!(beside, r#""2026-05-12T12:05:00.250Z""#, "another thread writes RFC 3339");
        assert_eq!(serde_json::to_string(&at).unwrap(), r#""2026-05-12T12:05:00.250Z""#, "and so does this one after");
        let read: BTreeMap<Ts, Ts> = serde_json::from_str(&inside).unwrap();
        assert_eq!(read, keyed);
        let read: BTreeMap<Ts, Ts> = serde_json::from_str(&serde_json::to_string(&keyed).unwrap()).unwrap();
        assert_eq!(read, keyed, "RFC 3339, as the state was written before");
        for (text, ms) in [("0", 0), ("-1", -1), ("253402300799999", Ts::MAX.0), ("-62167219200000", Ts::MIN.0)] {
            assert_eq!(serde_json::from_str::<Ts>(text).unwrap(), Ts(ms), "{text}");
            assert_eq!(Ts::parse_stored(text), Ok(Ts(ms)), "{text}");
        }
        for text in ["253402300800000", "-62167219200001", "18446744073709551615", "1.5", "true", r#""12a""#, r#""""#] {
            assert!(serde_json::from_str::<Ts>(text).is_err(), "{text}");
        }
        assert!(Ts::parse_stored("253402300800000").is_err());
        // Panicking inside, the form is still put back.
        let _ = std::panic::catch_unwind(|| in_state_form(|| panic!("inside")));
        assert_eq!(serde_json::to_string(&Ts(0)).unwrap(), r#""1970-01-01T00:00:00Z""#);
    }
}
