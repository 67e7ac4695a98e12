//! [`RecordValue`]: a record's value as the JSON text it arrived as,
//! checked once where it enters (the HTTP body, the CLI) and from then on
//! carried, replicated, stored and served as that text: decoded into a tree
//! and encoded again nowhere on the append or read path.
//!
//! Cloning shares the text (a reference count), so the copies the log makes
//! of an entry (to replicate it, to apply it) cost no allocation. Equality
//! is of the text: `1.0` and `1` are different values, as are `{"a":1}` and
//! `{ "a": 1 }`, because a reader gets back exactly what was written.
//!
//! Decoding (serde's `Deserialize`, [`RecordValue::from_stored_bytes`])
//! only finds where the value ends, which is enough for text ordo wrote
//! itself; text from a client must also pass [`RecordValue::check`] (the
//! edge's `validate_append` calls it, through `NewRecord::validate`), which
//! refuses what a JSON parser would: numbers out of range, lone surrogates,
//! and nesting deeper than [`MAX_VALUE_NESTING`] (so that a page of records
//! holding the value still parses). Serializing embeds the text as it is;
//! this works with serde_json (the only format ordo writes values in), which
//! is what its `raw_value` feature is for.

use std::fmt;
use std::sync::Arc;

use serde::de::{DeserializeOwned, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

use crate::limits::MAX_VALUE_NESTING;

/// See the module's documentation.
#[derive(Clone)]
pub struct RecordValue(Arc<RawValue>);

impl RecordValue {
    /// JSON `null`: with a key, a tombstone for that key.
    pub fn null() -> Self {
        Self::from(serde_json::Value::Null)
    }

    /// The value whose JSON text is `text`, which must be one whole JSON
    /// value that passes [`RecordValue::check`] (surrounding whitespace is
    /// dropped).
    pub fn from_json_text(text: &str) -> Result<Self, serde_json::Error> {
        let raw: Box<RawValue> = serde_json::from_str(text)?;
        let value = Self(Arc::from(raw));
        value.check()?;
        Ok(value)
    }

    /// A value from bytes ordo wrote itself (a record in a segment file):
    /// one whole JSON value, UTF-8, but not [`RecordValue::check`]ed again.
    pub fn from_stored_bytes(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        let raw: Box<RawValue> = serde_json::from_slice(bytes)?;
        Ok(Self(Arc::from(raw)))
    }

    /// Whether a JSON parser would take the text as it is, inside a page of
    /// records: every number in range, every string valid (no lone
    /// surrogate), arrays and objects nested at most [`MAX_VALUE_NESTING`]
    /// deep. Allocates nothing.
    pub fn check(&self) -> Result<(), serde_json::Error> {
        let mut parser = serde_json::Deserializer::from_str(self.json_text());
        Checked { depth: 0 }.deserialize(&mut parser)?;
        parser.end()
    }

    /// The value's JSON text, exactly as it was written.
    pub fn json_text(&self) -> &str {
        self.0.get()
    }

    /// Whether the value is JSON `null`.
    pub fn is_null(&self) -> bool {
        self.json_text() == "null"
    }

    /// The value decoded into `T` (a struct of the caller's, or a
    /// `serde_json::Value`).
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_str(self.json_text())
    }

    /// The value as a `serde_json::Value` tree.
    pub fn to_json(&self) -> serde_json::Value {
        // The text was checked to be JSON when this value was made, so it
        // decodes; `Null` would only stand for a broken invariant.
        self.parse().unwrap_or(serde_json::Value::Null)
    }
}

impl From<serde_json::Value> for RecordValue {
    fn from(value: serde_json::Value) -> Self {
        Self::from(&value)
    }
}

impl From<&serde_json::Value> for RecordValue {
    fn from(value: &serde_json::Value) -> Self {
        // A `Value` always serializes (its map keys are strings), and
        // `to_raw_value` does not parse its own output again.
        match serde_json::value::to_raw_value(value) {
            Ok(raw) => Self(Arc::from(raw)),
            Err(_) => unreachable!("a serde_json::Value always serializes"),
        }
    }
}

impl PartialEq for RecordValue {
    fn eq(&self, other: &Self) -> bool {
        self.json_text() == other.json_text()
    }
}

impl Eq for RecordValue {}

/// Compares as JSON (the text decoded), for tests and callers holding a tree.
impl PartialEq<serde_json::Value> for RecordValue {
    fn eq(&self, other: &serde_json::Value) -> bool {
        self.parse::<serde_json::Value>().ok().as_ref() == Some(other)
    }
}

impl fmt::Debug for RecordValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.json_text())
    }
}

impl fmt::Display for RecordValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.json_text())
    }
}

impl Serialize for RecordValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for RecordValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(deserializer)?;
        Ok(Self(Arc::from(raw)))
    }
}

/// A parse that keeps nothing: what [`RecordValue::check`] runs. `depth`
/// is how many arrays and objects enclose the value it reads.
#[derive(Clone, Copy)]
struct Checked {
    depth: usize,
}

impl Checked {
    /// The seed for what an array or object at this depth holds.
    fn inner<E: serde::de::Error>(&self) -> Result<Checked, E> {
        if self.depth >= MAX_VALUE_NESTING {
            return Err(E::custom(format_args!(
                "nested more than {MAX_VALUE_NESTING} deep"
            )));
        }
        Ok(Checked {
            depth: self.depth + 1,
        })
    }
}

impl<'de> DeserializeSeed<'de> for Checked {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Checked {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<(), A::Error> {
        let inner = self.inner::<A::Error>()?;
        while items.next_element_seed(inner)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut entries: A) -> Result<(), A::Error> {
        let inner = self.inner::<A::Error>()?;
        while entries.next_key_seed(inner)?.is_some() {
            entries.next_value_seed(inner)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn keeps_the_text_it_was_given() {
        let text = r#"{ "b" : 1.0, "a": [1,2] }"#;
        let value = RecordValue::from_json_text(text).unwrap();
        assert_eq!(value.json_text(), text);
        #[derive(Serialize, Deserialize)]
        struct Holder {
            value: RecordValue,
        }
        let holder = Holder {
            value: value.clone(),
        };
        let encoded = serde_json::to_string(&holder).unwrap();
        assert_eq!(encoded, format!(r#"{{"value":{text}}}"#));
        let decoded: Holder = serde_json::from_str(&encoded).unwrap();
        assert_eq!(decoded.value, value);
    }

    #[test]
    fn refuses_what_is_not_one_json_value() {
        for text in ["", "{", "nul", "1 2", r#""unterminated"#, "[1,]"] {
            assert!(RecordValue::from_json_text(text).is_err(), "{text:?}");
            assert!(
                RecordValue::from_stored_bytes(text.as_bytes()).is_err(),
                "{text:?}"
            );
        }
        assert!(RecordValue::from_stored_bytes(b"\"\xff\"").is_err());
    }

    #[test]
    fn the_check_refuses_what_a_json_parser_would() {
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        let nested = |n: usize| format!("{}1{}", r#"{"a":"#.repeat(n), "}".repeat(n));
        for text in [
            "1e999999".to_owned(),
            "-1e400".to_owned(),
            r#""\ud800""#.to_owned(),
            r#"{"k":"\udc00x"}"#.to_owned(),
            deep(MAX_VALUE_NESTING + 1),
            deep(128),
            deep(100_000),
            nested(MAX_VALUE_NESTING + 1),
        ] {
            let value = RecordValue::from_stored_bytes(text.as_bytes()).expect("one JSON value");
            assert!(value.check().is_err(), "{:.40}", text);
            assert!(RecordValue::from_json_text(&text).is_err(), "{:.40}", text);
        }
        // The limit is the deepest value a page of records can hold and
        // still parse, no more, no less.
        let in_a_page = |value: &str| format!(r#"{{"records":[{{"value":{value}}}]}}"#);
        let page = |n: usize| serde_json::from_str::<serde_json::Value>(&in_a_page(&deep(n)));
        assert!(page(MAX_VALUE_NESTING).is_ok());
        assert!(page(MAX_VALUE_NESTING + 1).is_err());
        for text in [
            deep(MAX_VALUE_NESTING),
            nested(MAX_VALUE_NESTING),
            r#""\ud83d\ude00 é \n""#.to_owned(),
            "-0.5e10".to_owned(),
            "18446744073709551615".to_owned(),
            "-9223372036854775808".to_owned(),
            r#"{"a":[1,{"b":null}],"a":true}"#.to_owned(),
        ] {
            let value = RecordValue::from_json_text(&text).expect("valid JSON");
            assert_eq!(value.json_text(), text);
        }
    }

    #[test]
    fn compares_as_text_with_itself_and_as_json_with_a_tree() {
        let one = RecordValue::from_json_text("1.0").unwrap();
        assert_ne!(one, RecordValue::from_json_text("1").unwrap());
        assert_eq!(one, json!(1.0));
        assert_eq!(
            RecordValue::from(json!({"a": [1, "x"]})),
            json!({"a": [1, "x"]})
        );
        assert_eq!(
            RecordValue::from(json!({"a": 1})).json_text(),
            r#"{"a":1}"#,
            "a tree becomes compact text"
        );
    }

    #[test]
    fn knows_null_and_decodes_into_the_callers_types() {
        assert!(RecordValue::null().is_null());
        assert!(RecordValue::from_json_text(" null ").unwrap().is_null());
        assert!(!RecordValue::from(json!("null")).is_null());
        let pair: (u32, String) = RecordValue::from(json!([7, "x"])).parse().unwrap();
        assert_eq!(pair, (7, "x".to_owned()));
        assert_eq!(
            RecordValue::from(json!({"k": 2})).to_json(),
            json!({"k": 2})
        );
    }
}
