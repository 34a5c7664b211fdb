//! Checks that run inside the YAML deserializer, for the config and the
//! inventory alike. serde_yaml gives an error the path and line of the
//! value being read only while that value is read: a check made after
//! `deserialize` returns would be reported at the enclosing map instead.
//! So each check is a visitor, called by the deserializer on the value.

use std::fmt;
use std::marker::PhantomData;

use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer, UnitDeserializer};
use serde::de::{Error, IntoDeserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

/// `T` as serde reads it, then `check`ed; a problem either way is reported
/// at the value's own path and line.
pub fn checked<'de, D, T, F>(deserializer: D, check: F) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
    F: FnOnce(&T) -> Result<(), String>,
{
    deserializer.deserialize_any(Checking { check, unit: None, value: PhantomData })
}

/// [`checked`], with a YAML null (`node_down:` and nothing after it)
/// taken as `T::default()`.
pub fn checked_or_default<'de, D, T, F>(deserializer: D, check: F) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
    F: FnOnce(&T) -> Result<(), String>,
{
    deserializer.deserialize_any(Checking { check, unit: Some(T::default), value: PhantomData })
}

struct Checking<T, F> {
    check: F,
    /// What a null is, when it is not what `T` reads it as.
    unit: Option<fn() -> T>,
    value: PhantomData<T>,
}

impl<T, F: FnOnce(&T) -> Result<(), String>> Checking<T, F> {
    fn done<E: Error>(self, value: Result<T, E>) -> Result<T, E> {
        let value = value?;
        (self.check)(&value).map_err(E::custom)?;
        Ok(value)
    }
}

impl<'de, T: Deserialize<'de>, F: FnOnce(&T) -> Result<(), String>> Visitor<'de> for Checking<T, F> {
    type Value = T;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a value")
    }
    fn visit_bool<E: Error>(self, v: bool) -> Result<T, E> {
        self.done(T::deserialize(v.into_deserializer()))
    }
    fn visit_i64<E: Error>(self, v: i64) -> Result<T, E> {
        self.done(T::deserialize(v.into_deserializer()))
    }
    fn visit_u64<E: Error>(self, v: u64) -> Result<T, E> {
        self.done(T::deserialize(v.into_deserializer()))
    }
    fn visit_f64<E: Error>(self, v: f64) -> Result<T, E> {
        self.done(T::deserialize(v.into_deserializer()))
    }
    fn visit_str<E: Error>(self, v: &str) -> Result<T, E> {
        self.done(T::deserialize(v.into_deserializer()))
    }
    fn visit_unit<E: Error>(self) -> Result<T, E> {
        match self.unit {
            Some(make) => self.done(Ok(make())),
            None => self.done(T::deserialize(UnitDeserializer::new())),
        }
    }
    fn visit_none<E: Error>(self) -> Result<T, E> {
        self.visit_unit()
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<T, A::Error> {
        self.done(T::deserialize(SeqAccessDeserializer::new(seq)))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        self.done(T::deserialize(MapAccessDeserializer::new(map)))
    }
}

/// A whole number of at least 0, or a message a person understands
/// instead of serde's "invalid value: integer `-5`, expected u64". `noun`
/// says what the number is (`a number of seconds`, `a count`).
pub fn whole<'de, D: Deserializer<'de>>(deserializer: D, noun: &'static str) -> Result<u64, D::Error> {
    struct Whole(&'static str);
    impl Whole {
        fn not<E: Error>(&self, shown: String) -> E {
            E::custom(format!("{shown} is not {} (a whole number, 0 or more)", self.0))
        }
    }
    impl Visitor<'_> for Whole {
        type Value = u64;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            write!(f, "{} (a whole number, 0 or more)", self.0)
        }
        fn visit_u64<E: Error>(self, v: u64) -> Result<u64, E> {
            Ok(v)
        }
        fn visit_i64<E: Error>(self, v: i64) -> Result<u64, E> {
            u64::try_from(v).map_err(|_| E::custom(format!("{v} is negative: give {}, 0 or more", self.0)))
        }
        fn visit_f64<E: Error>(self, v: f64) -> Result<u64, E> {
            Err(self.not(v.to_string()))
        }
        fn visit_str<E: Error>(self, v: &str) -> Result<u64, E> {
            Err(self.not(format!("`{v}`")))
        }
        fn visit_bool<E: Error>(self, v: bool) -> Result<u64, E> {
            Err(self.not(v.to_string()))
        }
    }
    deserializer.deserialize_any(Whole(noun))
}
