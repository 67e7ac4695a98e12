//! [`RecordValue`]: a record's value, in one of two forms fixed where it
//! enters and kept from then on: the JSON text it arrived as (over HTTP, or
//! bytes that are exactly one JSON value), or raw bytes (what a Kafka
//! producer sent that is not). Carried, replicated, stored and served as
//! those bytes: decoded into a tree and encoded again nowhere on the append
//! or read path.
//!
//! Cloning shares the bytes (a reference count), so the copies the log makes
//! of an entry (to replicate it, to apply it) cost no allocation. Equality
//! is of the form and the bytes: `1.0` and `1` are different values, as are
//! `{"a":1}` and `{ "a": 1 }`, because a reader gets back exactly what was
//! written.
//!
//! JSON text: decoding (serde's `Deserialize`,
//! [`RecordValue::from_stored_bytes`]) only finds where the value ends,
//! which is enough for text ordo wrote itself; text from a client must also
//! pass [`RecordValue::check`] (the edge's `validate_append` calls it,
//! through `NewRecord::validate`), which refuses what a JSON parser would:
//! numbers out of range, lone surrogates, and nesting deeper than
//! [`MAX_VALUE_NESTING`] (so that a page of records holding the value still
//! parses). Serializing embeds the text as it is; this works with
//! serde_json (the only format ordo writes values in), which is what its
//! `raw_value` feature is for.
//!
//! Raw bytes: [`RecordValue::from_bytes`] keeps bytes as JSON text when
//! they are exactly one checked JSON value other than `null` (so Kafka's
//! bytes `null` is not a tombstone), and as bytes otherwise. A JSON document
//! shows bytes as [`RecordValue::rendering`] says (JSON, a string, or
//! base64 in a `value_b64` field: [`crate::value_field`]).

use std::fmt;
use std::sync::Arc;

use base64::display::Base64Display;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use serde::de::{DeserializeOwned, DeserializeSeed, Error as _, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

use crate::limits::MAX_VALUE_NESTING;

/// See the module's documentation.
#[derive(Clone)]
pub struct RecordValue(Form);

/// The two forms a value is kept in.
#[derive(Clone)]
enum Form {
    /// One whole JSON value, as its text.
    Json(Arc<RawValue>),
    /// Bytes that [`RecordValue::from_bytes`] did not take as JSON text.
    Bytes(Bytes),
}

/// How a JSON document shows a value: what [`RecordValue::rendering`]
/// returns.
#[derive(Debug, Clone, Copy)]
pub enum Rendering<'a> {
    /// As this JSON text (a JSON value's, or bytes that are valid JSON
    /// once surrounding whitespace is dropped), in a `value` field.
    Json(&'a RawValue),
    /// As a JSON string of this text (bytes that are UTF-8 but not JSON),
    /// in a `value` field.
    Text(&'a str),
    /// As standard base64 of these bytes (bytes that are not UTF-8), in a
    /// `value_b64` field.
    Base64(&'a [u8]),
}

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
        let value = Self(Form::Json(Arc::from(raw)));
        value.check()?;
        Ok(value)
    }

    /// The value a client sent as bytes (a Kafka record's value), which
    /// [`RecordValue::as_bytes`] gives back exactly: JSON text if the bytes
    /// are exactly one JSON value that passes [`RecordValue::check`], with
    /// no surrounding whitespace, other than `null`; raw bytes otherwise.
    /// Takes a `Vec` (or `Bytes`) without copying it when it stays bytes.
    pub fn from_bytes(bytes: impl Into<Vec<u8>>) -> Self {
        let bytes = bytes.into();
        let text = match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(not_utf8) => return Self::from_stored_raw(not_utf8.into_bytes()),
        };
        if is_exact_json(&text) {
            // Checked just above, so this parses; were it not to, the
            // bytes stay bytes, which is still exact.
            if let Ok(raw) = serde_json::from_str::<Box<RawValue>>(&text) {
                return Self(Form::Json(Arc::from(raw)));
            }
        }
        Self::from_stored_raw(text.into_bytes())
    }

    /// A value from bytes ordo wrote itself (a record in a segment file):
    /// one whole JSON value, UTF-8, but not [`RecordValue::check`]ed again.
    pub fn from_stored_bytes(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        let raw: Box<RawValue> = serde_json::from_slice(bytes)?;
        Ok(Self(Form::Json(Arc::from(raw))))
    }

    /// A value of raw bytes that ordo wrote itself, stored as raw bytes
    /// because [`RecordValue::from_bytes`] did not take them as JSON text:
    /// kept as raw bytes, not classified again.
    pub fn from_stored_raw(bytes: impl Into<Bytes>) -> Self {
        Self(Form::Bytes(bytes.into()))
    }

    /// Whether a JSON parser would take the text as it is, inside a page of
    /// records: every number in range, every string valid (no lone
    /// surrogate), arrays and objects nested at most [`MAX_VALUE_NESTING`]
    /// deep. Allocates nothing. Raw bytes always pass: they are shown as a
    /// string or base64 when they are not JSON.
    pub fn check(&self) -> Result<(), serde_json::Error> {
        match &self.0 {
            Form::Json(raw) => check_text(raw.get()),
            Form::Bytes(_) => Ok(()),
        }
    }

    /// The value's JSON text, exactly as it was written; `None` for raw
    /// bytes (see [`RecordValue::as_bytes`] and [`RecordValue::rendering`]).
    pub fn json_text(&self) -> Option<&str> {
        match &self.0 {
            Form::Json(raw) => Some(raw.get()),
            Form::Bytes(_) => None,
        }
    }

    /// The value's bytes, exactly as they were written: the JSON text's or
    /// the raw bytes. What Kafka serves, and what retention counts.
    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            Form::Json(raw) => raw.get().as_bytes(),
            Form::Bytes(bytes) => bytes,
        }
    }

    /// The length of [`RecordValue::as_bytes`].
    pub fn len(&self) -> usize {
        self.as_bytes().len()
    }

    /// Whether [`RecordValue::as_bytes`] is empty (only raw bytes can be).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the value is kept as raw bytes rather than JSON text.
    pub fn is_bytes(&self) -> bool {
        matches!(self.0, Form::Bytes(_))
    }

    /// Whether the value is JSON `null` (a tombstone with a key). Raw bytes
    /// `null` are not.
    pub fn is_null(&self) -> bool {
        self.json_text() == Some("null")
    }

    /// How a JSON document shows the value. JSON text is itself; raw bytes
    /// are JSON if they parse as a checked JSON value (they had whitespace
    /// around them, or were `null`), else a string if they are UTF-8, else
    /// base64. Allocates nothing; parses raw bytes that are UTF-8.
    pub fn rendering(&self) -> Rendering<'_> {
        let bytes = match &self.0 {
            Form::Json(raw) => return Rendering::Json(raw),
            Form::Bytes(bytes) => bytes,
        };
        let Ok(text) = std::str::from_utf8(bytes) else {
            return Rendering::Base64(bytes);
        };
        if check_text(text).is_ok() {
            if let Ok(raw) = serde_json::from_str::<&RawValue>(text) {
                return Rendering::Json(raw);
            }
        }
        Rendering::Text(text)
    }

    /// The value decoded into `T` (a struct of the caller's, or a
    /// `serde_json::Value`), as [`RecordValue::rendering`] shows it: raw
    /// bytes as their JSON or as a string; bytes that are not UTF-8 do not
    /// decode.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        match self.rendering() {
            Rendering::Json(raw) => serde_json::from_str(raw.get()),
            Rendering::Text(text) => T::deserialize(serde::de::value::StrDeserializer::<
                serde_json::Error,
            >::new(text)),
            Rendering::Base64(_) => Err(serde_json::Error::custom(
                "the value is bytes that are not UTF-8",
            )),
        }
    }

    /// The value as a `serde_json::Value` tree, as [`RecordValue::rendering`]
    /// shows it; bytes that are not UTF-8 as a string of their base64.
    pub fn to_json(&self) -> serde_json::Value {
        if let Rendering::Base64(bytes) = self.rendering() {
            return serde_json::Value::String(Base64Display::new(bytes, &STANDARD).to_string());
        }
        // JSON text was checked when this value was made, and raw bytes
        // render as JSON or a string, so it decodes; `Null` would only stand
        // for a broken invariant.
        self.parse().unwrap_or(serde_json::Value::Null)
    }
}

/// Whether `text` is exactly one JSON value that passes the check, with no
/// whitespace around it, and not `null`: what [`RecordValue::from_bytes`]
/// keeps as JSON text.
fn is_exact_json(text: &str) -> bool {
    let is_space = |byte: Option<&u8>| matches!(byte, Some(b' ' | b'\t' | b'\n' | b'\r'));
    let bytes = text.as_bytes();
    !bytes.is_empty()
        && !is_space(bytes.first())
        && !is_space(bytes.last())
        && text != "null"
        && check_text(text).is_ok()
}

/// See [`RecordValue::check`].
fn check_text(text: &str) -> Result<(), serde_json::Error> {
    let mut parser = serde_json::Deserializer::from_str(text);
    Checked { depth: 0 }.deserialize(&mut parser)?;
    parser.end()
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
            Ok(raw) => Self(Form::Json(Arc::from(raw))),
            Err(_) => unreachable!("a serde_json::Value always serializes"),
        }
    }
}

impl PartialEq for RecordValue {
    fn eq(&self, other: &Self) -> bool {
        self.is_bytes() == other.is_bytes() && self.as_bytes() == other.as_bytes()
    }
}

impl Eq for RecordValue {}

/// Compares as JSON (the text decoded, or raw bytes as
/// [`RecordValue::to_json`] shows them), for tests and callers holding a
/// tree.
impl PartialEq<serde_json::Value> for RecordValue {
    fn eq(&self, other: &serde_json::Value) -> bool {
        self.parse::<serde_json::Value>().ok().as_ref() == Some(other)
    }
}

/// JSON text as it is; raw bytes as `b"…"` with escapes.
impl fmt::Debug for RecordValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Form::Json(raw) => f.write_str(raw.get()),
            Form::Bytes(bytes) => write!(f, "b\"{}\"", bytes.escape_ascii()),
        }
    }
}

/// JSON text as it is; raw bytes as their UTF-8 text, or else `base64:`
/// and their base64.
impl fmt::Display for RecordValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Form::Json(raw) => f.write_str(raw.get()),
            Form::Bytes(bytes) => match std::str::from_utf8(bytes) {
                Ok(text) => f.write_str(text),
                Err(_) => write!(f, "base64:{}", Base64Display::new(bytes, &STANDARD)),
            },
        }
    }
}

/// The value as a JSON value on its own: JSON text embedded as it is, raw
/// bytes as [`RecordValue::rendering`] shows them. Raw bytes that are not
/// UTF-8 have no such form and fail: a struct holding a value writes it
/// with [`crate::value_field`], which names a `value_b64` field for them.
impl Serialize for RecordValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.rendering() {
            Rendering::Json(raw) => raw.serialize(serializer),
            Rendering::Text(text) => serializer.serialize_str(text),
            Rendering::Base64(_) => Err(serde::ser::Error::custom(
                "a value of bytes that are not UTF-8 is written as `value_b64`, by value_field",
            )),
        }
    }
}

/// One JSON value, kept as its text.
impl<'de> Deserialize<'de> for RecordValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(deserializer)?;
        Ok(Self(Form::Json(Arc::from(raw))))
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
        assert_eq!(value.json_text(), Some(text));
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
            assert_eq!(value.json_text(), Some(text.as_str()));
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
            Some(r#"{"a":1}"#),
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

    /// What `from_bytes` made of `bytes`: whether it kept raw bytes, and
    /// the JSON a document shows (`None` for base64).
    fn kept(bytes: &[u8]) -> (RecordValue, Option<String>) {
        let value = RecordValue::from_bytes(bytes.to_vec());
        assert_eq!(value.as_bytes(), bytes, "gives back the same bytes");
        assert_eq!(value.len(), bytes.len());
        let shown = match value.rendering() {
            Rendering::Json(raw) => Some(raw.get().to_owned()),
            Rendering::Text(text) => Some(serde_json::to_string(text).unwrap()),
            Rendering::Base64(_) => None,
        };
        (value, shown)
    }

    #[test]
    fn bytes_that_are_exactly_one_json_value_are_kept_as_json_text() {
        for text in [r#"{"a":1}"#, "1.0", r#""x""#, "[true,null]", "false"] {
            let (value, shown) = kept(text.as_bytes());
            assert!(!value.is_bytes(), "{text}");
            assert_eq!(value.json_text(), Some(text));
            assert_eq!(value, RecordValue::from_json_text(text).unwrap());
            assert_eq!(shown.as_deref(), Some(text));
        }
    }

    #[test]
    fn other_bytes_stay_bytes_and_render_as_json_a_string_or_base64() {
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        let cases: [(&[u8], Option<&str>); 9] = [
            (b" 1", Some("1")),
            (b"{\"a\":1}\n", Some(r#"{"a":1}"#)),
            (b"null", Some("null")),
            (b"hello", Some(r#""hello""#)),
            (b"1e999", Some(r#""1e999""#)),
            (
                deep.as_bytes(),
                Some(&*serde_json::to_string(&deep).unwrap()),
            ),
            (b"", Some(r#""""#)),
            (b"\xff\x00", None),
            (b"\"\xff\"", None),
        ];
        for (bytes, shown) in cases {
            let (value, rendered) = kept(bytes);
            assert!(value.is_bytes(), "{bytes:?}");
            assert_eq!(value.json_text(), None);
            assert!(value.check().is_ok());
            assert_eq!(rendered.as_deref(), shown, "{bytes:?}");
        }
        assert!(RecordValue::from_bytes(Vec::new()).is_empty());
        assert!(
            !RecordValue::from_bytes(b"null".to_vec()).is_null(),
            "bytes null is not a tombstone"
        );
        assert_ne!(
            RecordValue::from_bytes(b" 1".to_vec()),
            RecordValue::from_json_text(" 1").unwrap(),
            "same JSON, different bytes"
        );
        assert_ne!(
            RecordValue::from_stored_raw(&b"1"[..]),
            RecordValue::from_json_text("1").unwrap(),
            "same bytes, different form"
        );
    }

    #[test]
    fn raw_bytes_parse_print_and_serialize_as_they_render() {
        let text = RecordValue::from_bytes(b"hello".to_vec());
        assert_eq!(text.parse::<String>().unwrap(), "hello");
        assert_eq!(text.to_json(), json!("hello"));
        assert_eq!(text, json!("hello"));
        assert_eq!(serde_json::to_string(&text).unwrap(), r#""hello""#);
        assert_eq!(text.to_string(), "hello");
        assert_eq!(format!("{text:?}"), r#"b"hello""#);
        let spaced = RecordValue::from_bytes(b" [1] ".to_vec());
        assert_eq!(spaced.parse::<Vec<u32>>().unwrap(), vec![1]);
        assert_eq!(serde_json::to_string(&spaced).unwrap(), "[1]");
        let binary = RecordValue::from_bytes(b"\xff\x00".to_vec());
        assert!(binary.parse::<serde_json::Value>().is_err());
        assert_eq!(binary.to_json(), json!("/wA="));
        assert_eq!(binary.to_string(), "base64:/wA=");
        assert_eq!(format!("{binary:?}"), r#"b"\xff\x00""#);
        assert!(
            serde_json::to_string(&binary).is_err(),
            "not UTF-8: only a holder's value_b64 can carry it"
        );
    }
}
