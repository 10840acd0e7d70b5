//! Reading a plugin's flat config table with errors that name the key
//! (shared by the driver plugins; any plugin may use it).
//!
//! Owns: [`Table`], the decoded CBOR map of scalar values the host hands to
//! `init`, and typed getters that remove each key as they read it, so what is
//! left at the end is an unknown key. (Serde's derived errors for a value of
//! the wrong type do not say which key held it; an operator needs that.)

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::collections::BTreeMap;
use std::fmt;

/// One value of the table. TOML tables nest, but a driver config is flat:
/// lists and tables are kept only to be reported as the wrong type.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `true` / `false`.
    Bool(bool),
    /// Any integer.
    Int(i128),
    /// A floating-point number.
    Float(f64),
    /// A string.
    Text(String),
    /// Something else (list, table, bytes), by name.
    Other(&'static str),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Bool(b) => write!(f, "the boolean {b}"),
            Value::Int(i) => write!(f, "the integer {i}"),
            Value::Float(x) => write!(f, "the number {x}"),
            Value::Text(s) => write!(f, "the string {s:?}"),
            Value::Other(what) => f.write_str(what),
        }
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Option<Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a config value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Some(Value::Bool(v)))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(Value::Int(v.into())))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Self::Value, E> {
        Ok(Some(Value::Int(v)))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(Value::Int(v.into())))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Some(Value::Float(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Some(Value::Text(v.to_string())))
    }
    fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<Self::Value, E> {
        Ok(Some(Value::Other("a byte string")))
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Some(Value::Other("a list")))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Some(Value::Other("a table")))
    }
}

/// A config value; `None` for CBOR null, which counts as "not given".
struct Slot(Option<Value>);

impl<'de> Deserialize<'de> for Slot {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor).map(Slot)
    }
}

/// Why a config table was refused. Every variant but [`ConfigError::NotATable`]
/// names the key, for an operator reading the load error.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// The bytes are not a CBOR map of plain values.
    #[error("the driver config is not a table of plain values: {0}")]
    NotATable(String),
    /// An integer that does not fit the type the key needs.
    #[error("config key `{key}`: {value} is out of range for a {ty}")]
    OutOfRange {
        /// The key.
        key: String,
        /// The integer given.
        value: i128,
        /// The type it had to fit (`u8`, `u32`, ...).
        ty: &'static str,
    },
    /// A value of the wrong kind.
    #[error("config key `{key}`: expected {expected}, got {got}")]
    WrongType {
        /// The key.
        key: String,
        /// What the key takes (`an integer`, `true or false`, `a number`).
        expected: &'static str,
        /// What it held.
        got: Value,
    },
    /// A key nobody reads (a typo, or a setting of another plugin).
    #[error("unknown config key `{key}` (known keys: {known})")]
    UnknownKey {
        /// The key.
        key: String,
        /// The keys that exist, comma-separated.
        known: String,
    },
    /// A value of the right kind that the plugin cannot use.
    #[error("config key `{key}`: {message}")]
    Invalid {
        /// The key.
        key: String,
        /// What is wrong with it.
        message: String,
    },
}

impl ConfigError {
    /// A value of `key` the plugin cannot use, and why.
    pub fn invalid(key: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid { key: key.into(), message: message.into() }
    }
}

/// The config table, consumed key by key.
#[derive(Debug, Default)]
pub struct Table(BTreeMap<String, Value>);

impl Table {
    /// Decodes the CBOR the host passes as `InitArgs::config` (empty bytes
    /// or null mean an empty table).
    pub fn decode(cbor: &[u8]) -> Result<Self, ConfigError> {
        if cbor.is_empty() || cbor == [0xf6] {
            return Ok(Table::default());
        }
        let map: BTreeMap<String, Slot> =
            crate::codec::decode(cbor).map_err(|e| ConfigError::NotATable(e.to_string()))?;
        Ok(Table(map.into_iter().filter_map(|(k, v)| v.0.map(|v| (k, v))).collect()))
    }

    /// Takes integer `key`, which must fit `T` (the type names the range).
    pub fn int<T: TryFrom<i128>>(&mut self, key: &str) -> Result<Option<T>, ConfigError> {
        match self.0.remove(key) {
            None => Ok(None),
            Some(Value::Int(i)) => T::try_from(i).map(Some).map_err(|_| ConfigError::OutOfRange {
                key: key.into(),
                value: i,
                ty: short_type::<T>(),
            }),
            Some(got) => Err(ConfigError::WrongType { key: key.into(), expected: "an integer", got }),
        }
    }

    /// Takes boolean `key`.
    pub fn bool(&mut self, key: &str) -> Result<Option<bool>, ConfigError> {
        match self.0.remove(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(b)),
            Some(got) => Err(ConfigError::WrongType { key: key.into(), expected: "true or false", got }),
        }
    }

    /// Takes number `key` (an integer is accepted as a number too).
    pub fn number(&mut self, key: &str) -> Result<Option<f64>, ConfigError> {
        match self.0.remove(key) {
            None => Ok(None),
            Some(Value::Float(x)) => Ok(Some(x)),
            Some(Value::Int(i)) => Ok(Some(i as f64)),
            Some(got) => Err(ConfigError::WrongType { key: key.into(), expected: "a number", got }),
        }
    }

    /// Fails on the first key nobody took, listing the keys that exist.
    pub fn finish(self, known: &[&str]) -> Result<(), ConfigError> {
        match self.0.into_keys().next() {
            None => Ok(()),
            Some(key) => Err(ConfigError::UnknownKey { key, known: known.join(", ") }),
        }
    }
}

/// `u32` rather than `core::primitive::u32`.
fn short_type<T>() -> &'static str {
    let full = core::any::type_name::<T>();
    full.rsplit("::").next().unwrap_or(full)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec;

    #[derive(serde::Serialize)]
    struct Sample {
        a: u64,
        b: bool,
        c: &'static str,
        d: f64,
        e: Vec<u8>,
        f: Option<u8>,
    }

    #[test]
    fn getters_take_keys_and_name_them_in_errors() {
        let cbor = codec::encode(&Sample { a: 300, b: true, c: "x", d: 1.5, e: vec![1], f: None }).unwrap();
        let mut t = Table::decode(&cbor).unwrap();
        assert_eq!(t.int::<u8>("a").unwrap_err().to_string(), "config key `a`: 300 is out of range for a u8");
        assert_eq!(t.bool("b"), Ok(Some(true)));
        assert!(t.int::<u32>("c").unwrap_err().to_string().contains("`c`: expected an integer, got the string \"x\""));
        assert_eq!(t.number("d"), Ok(Some(1.5)));
        assert_eq!(t.int::<u32>("f"), Ok(None), "null is 'not given'");
        assert!(t.finish(&["a"]).unwrap_err().to_string().starts_with("unknown config key `e`"));
        assert!(Table::decode(&[]).unwrap().finish(&[]).is_ok());
        assert!(Table::decode(&[0x01]).is_err(), "a bare integer is not a table");
    }
}
