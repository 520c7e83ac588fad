//! Strict JSON for everything that crosses a trust boundary (token header and payload, JWKS,
//! discovery documents, `ISSUERS`).
//!
//! `serde_json` keeps the last of duplicate object members. RFC 7515 §5.2 allows that, but it
//! is how parser-differential attacks work (`{"iss":"good","iss":"evil"}` read one way by us
//! and another way by the origin), so duplicates are rejected at every depth instead.
//! Nesting depth is bounded by `serde_json`'s own recursion limit (128).

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::fmt;

/// Parses `bytes` as JSON, rejecting duplicate object keys anywhere in the document.
pub fn parse_strict(bytes: &[u8]) -> Result<Value, serde_json::Error> {
    serde_json::from_slice::<Strict>(bytes).map(|strict| strict.0)
}

/// Parses `bytes` as a strict JSON object (see [`parse_strict`]).
pub fn parse_object(bytes: &[u8]) -> Result<Map<String, Value>, ObjectError> {
    match parse_strict(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ObjectError::NotAnObject),
        Err(_) => Err(ObjectError::Syntax),
    }
}

/// Why [`parse_object`] failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectError {
    /// Not JSON, or JSON with duplicate keys.
    Syntax,
    /// Valid JSON, but not an object.
    NotAnObject,
}

struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value without duplicate object keys")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        // serde_json never produces NaN or infinities from text, so this cannot be Null.
        Ok(Value::from(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Strict(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            let Strict(value) = access.next_value()?;
            if map.contains_key(&key) {
                return Err(de::Error::custom("duplicate object key"));
            }
            map.insert(key, value);
        }
        Ok(Value::Object(map))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_keys_are_rejected_at_any_depth() {
        assert!(parse_strict(br#"{"a":1,"a":2}"#).is_err());
        assert!(parse_strict(br#"{"a":{"b":1,"b":1}}"#).is_err());
        assert!(parse_strict(br#"[{"x":1,"x":1}]"#).is_err());
    }

    #[test]
    fn ordinary_json_round_trips() {
        let v = parse_strict(br#"{"a":[1,-2,3.5,"s",true,null],"b":{"c":18446744073709551615}}"#)
            .unwrap();
        assert_eq!(v["a"][1], Value::from(-2));
        assert_eq!(v["b"]["c"], Value::from(u64::MAX));
    }

    #[test]
    fn objects_only_where_an_object_is_required() {
        assert_eq!(parse_object(b"[1,2]"), Err(ObjectError::NotAnObject));
        assert_eq!(parse_object(b"{"), Err(ObjectError::Syntax));
        assert_eq!(parse_object(b"{} x"), Err(ObjectError::Syntax));
        assert!(parse_object(b" {} ").is_ok());
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let deep = "[".repeat(100_000);
        assert!(parse_strict(deep.as_bytes()).is_err());
    }
}
