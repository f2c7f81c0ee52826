//! Idempotency keys (docs/idempotency.md): the key a client sends with a write, and the fingerprint of the
//! request it was first used with.

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::domain::validation::FieldError;

/// The longest key accepted, as Stripe's.
pub const MAX_KEY_LENGTH: usize = 255;

/// A client's `Idempotency-Key`: 1-255 visible ASCII characters (`!` to `~`; no space, no control character).
/// A UUID, as most clients send, is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// The key in `raw`, or the field error that says what is wrong with it (named after the header).
    pub fn parse(raw: &[u8]) -> Result<Self, FieldError> {
        const FIELD: &str = "Idempotency-Key";
        if raw.is_empty() || raw.len() > MAX_KEY_LENGTH {
            return Err(FieldError::new(FIELD, "length")
                .message("length.range")
                .with("min", 1)
                .with("max", MAX_KEY_LENGTH));
        }
        if !raw.iter().all(u8::is_ascii_graphic) {
            return Err(
                FieldError::new(FIELD, "invalid_format").message("invalid_format.idempotency_key")
            );
        }
        // Only ASCII was let through.
        Ok(Self(String::from_utf8_lossy(raw).into_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// SHA-256 of a request body, so a retry can be told from another request under the same key without keeping
/// the body. A JSON body is hashed in a canonical form (object members sorted by name, no insignificant
/// white space), so a client that serializes the same document again with another member order or spacing
/// still sends "the same request"; any other body is hashed as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint(pub [u8; 32]);

impl Fingerprint {
    pub fn of_body(body: &[u8]) -> Self {
        let canonical = serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|document| serde_json::to_vec(&canonical(document)).ok());
        Fingerprint(Sha256::digest(canonical.as_deref().unwrap_or(body)).into())
    }
}

/// `value` with every object's members in name order, whatever order `serde_json` keeps maps in.
fn canonical(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut members: Vec<(String, Value)> = map.into_iter().collect();
            members.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(
                members
                    .into_iter()
                    .map(|(name, v)| (name, canonical(v)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.into_iter().map(canonical).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_1_to_255_visible_ascii_characters() {
        for ok in [
            "a".to_string(),
            "0193b7c2-6f1e-7d2a-9b1c-3f4e5a6b7c8d".to_string(),
            "!~{}[]\"'".to_string(),
            "k".repeat(255),
        ] {
            assert_eq!(IdempotencyKey::parse(ok.as_bytes()).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn an_empty_or_overlong_key_is_refused_for_its_length() {
        for bad in [String::new(), "k".repeat(256)] {
            let err = IdempotencyKey::parse(bad.as_bytes()).unwrap_err();
            assert_eq!(
                (err.field.as_str(), err.code.as_str()),
                ("Idempotency-Key", "length")
            );
        }
    }

    #[test]
    fn a_key_with_a_space_control_or_non_ascii_character_is_refused_for_its_format() {
        for bad in ["a b", "a\tb", "a\u{7f}", "clé", "\u{200b}x"] {
            let err = IdempotencyKey::parse(bad.as_bytes()).unwrap_err();
            assert_eq!(err.code, "invalid_format", "{bad:?}");
        }
    }

    #[test]
    fn the_same_json_document_has_one_fingerprint_whatever_its_member_order_and_spacing() {
        let a = Fingerprint::of_body(br#"{"b": 1, "a": {"y": [1, {"q": 2, "p": 3}], "x": null}}"#);
        let b = Fingerprint::of_body(br#"{"a":{"x":null,"y":[1,{"p":3,"q":2}]},"b":1}"#);
        assert_eq!(a, b);
    }

    #[test]
    fn another_document_or_array_order_has_another_fingerprint() {
        let base = Fingerprint::of_body(br#"{"a": [1, 2]}"#);
        assert_ne!(base, Fingerprint::of_body(br#"{"a": [2, 1]}"#));
        assert_ne!(base, Fingerprint::of_body(br#"{"a": [1, 2], "b": 0}"#));
        assert_ne!(base, Fingerprint::of_body(b""));
    }

    #[test]
    fn a_body_that_is_not_json_is_hashed_as_it_is() {
        assert_eq!(
            Fingerprint::of_body(b"not json"),
            Fingerprint::of_body(b"not json")
        );
        assert_ne!(
            Fingerprint::of_body(b"not json"),
            Fingerprint::of_body(b"not  json")
        );
    }
}
