//! How a struct written as JSON (a record, a job) holds a record's value:
//! a `value` field when the value has a JSON form (its JSON text, or a
//! string of raw bytes that are UTF-8), else a `value_b64` field with the
//! standard base64 of its bytes; and how such a struct reads either field
//! back. The writers add a field to a struct being serialized, so each
//! holder writes its own `Serialize` around them; a holder reads its fields
//! into a mirror struct (`value` with [`present`], `value_b64` with
//! [`base64`]) and takes the value from [`one_of`]. Pure.

use base64::display::Base64Display;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::ser::SerializeStruct;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::record_value::{RecordValue, Rendering};

/// The field that holds a value with a JSON form.
pub const VALUE: &str = "value";
/// The field that holds the base64 of a value's bytes.
pub const VALUE_B64: &str = "value_b64";

/// Adds `value` as a client reads it: as [`RecordValue::rendering`] shows
/// it, so raw bytes that are JSON or UTF-8 read back as JSON text (not as
/// raw bytes). For what ordo serves.
pub fn serialize_shown<S: SerializeStruct>(
    fields: &mut S,
    value: &RecordValue,
) -> Result<(), S::Error> {
    match value.rendering() {
        Rendering::Json(raw) => put_value(fields, raw),
        Rendering::Text(text) => put_value(fields, text),
        Rendering::Base64(bytes) => put_base64(fields, bytes),
    }
}

/// Adds `value` so that it reads back as the same value: raw bytes always
/// as `value_b64`. For what ordo or a server reads back as a value to keep
/// (a record to append, a command's records).
pub fn serialize_exact<S: SerializeStruct>(
    fields: &mut S,
    value: &RecordValue,
) -> Result<(), S::Error> {
    match value.json_text() {
        Some(_) => put_value(fields, value),
        None => put_base64(fields, value.as_bytes()),
    }
}

fn put_value<S: SerializeStruct, T: Serialize + ?Sized>(
    fields: &mut S,
    value: &T,
) -> Result<(), S::Error> {
    fields.serialize_field(VALUE, value)?;
    fields.skip_field(VALUE_B64)
}

fn put_base64<S: SerializeStruct>(fields: &mut S, bytes: &[u8]) -> Result<(), S::Error> {
    fields.skip_field(VALUE)?;
    fields.serialize_field(VALUE_B64, &Base64Text(bytes))
}

/// Bytes written as a string of their base64, without an intermediate
/// `String`.
struct Base64Text<'a>(&'a [u8]);

impl Serialize for Base64Text<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&Base64Display::new(self.0, &STANDARD))
    }
}

/// For a mirror's `value` field, with `#[serde(default, deserialize_with)]`:
/// a present field, even `null` (a tombstone), is `Some`.
pub fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<RecordValue>, D::Error> {
    RecordValue::deserialize(d).map(Some)
}

/// For a mirror's `value_b64` field, with `#[serde(default,
/// deserialize_with)]`: the bytes of standard base64 text, as
/// [`RecordValue::from_bytes`] keeps them. `null` is no field.
pub fn base64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<RecordValue>, D::Error> {
    let Some(text) = Option::<String>::deserialize(d)? else {
        return Ok(None);
    };
    let bytes = STANDARD.decode(text).map_err(|e| {
        serde::de::Error::custom(format_args!("`{VALUE_B64}` is not standard base64: {e}"))
    })?;
    Ok(Some(RecordValue::from_bytes(bytes)))
}

/// Why a struct's fields hold no value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueFieldError {
    #[error("missing field `{VALUE}` (or `{VALUE_B64}`)")]
    Missing,
    #[error("fields `{VALUE}` and `{VALUE_B64}` both given; a record has one value")]
    Both,
}

/// The value of a struct that had `value` or `value_b64`, not both.
pub fn one_of(
    value: Option<RecordValue>,
    value_b64: Option<RecordValue>,
) -> Result<RecordValue, ValueFieldError> {
    match (value, value_b64) {
        (Some(value), None) | (None, Some(value)) => Ok(value),
        (None, None) => Err(ValueFieldError::Missing),
        (Some(_), Some(_)) => Err(ValueFieldError::Both),
    }
}
