//! What is wrong with an input, field by field: `FieldError`, and the `validator` and serde failures turned
//! into it. Every layer reports bad input this way; the transport renders the list as one 422.
//!
//! A body is judged whole: `parse_collecting` does not stop at the first unknown field or wrong type, and
//! `parse_valid` adds the rule violations of what did parse, so one answer names every problem.

use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;

use crate::domain::messages::{self, Language, Params};
use serde_path_to_error::Segment;
use utoipa::ToSchema;
use validator::{Validate, ValidationErrors, ValidationErrorsKind};

/// One invalid field of a request body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[schema(example = json!({"field": "label", "code": "length", "message": "must be at most 50 characters long", "params": {"max": 50}}))]
pub struct FieldError {
    /// JSON path of the field, e.g. `email` or `notifications.email.marketing`.
    pub field: String,
    /// Stable, snake_case reason, e.g. `required`, `invalid_format`, `length`, `unknown_field`
    /// (docs/errors.md lists them all).
    pub code: String,
    /// Human-readable explanation, in the language `Accept-Language` chose (`Content-Language` says which).
    pub message: String,
    /// The values the message names, stable like `code` (e.g. `{"max": 50}`), so a client can write its own
    /// message; empty when there are none. Values are strings or integers.
    #[schema(value_type = Object)]
    pub params: Params,
    /// The catalogue key of `message`: `code`, or a key of its own such as `invalid_format.phone`.
    #[serde(skip)]
    pub key: String,
}

/// Every field error `code` the service gives (docs/errors.md); each has a message in every language.
pub const FIELD_CODES: &[&str] = &[
    "blank",
    "control_character",
    "duplicate",
    "email",
    "invalid_format",
    "invalid_type",
    "invalid_value",
    "invisible_character",
    "length",
    "not_in_past",
    "out_of_range",
    "required",
    "unknown_field",
];

impl FieldError {
    /// A field error with its code's message; `message` and `with` refine it.
    pub fn new(field: impl Into<String>, code: impl Into<String>) -> Self {
        let code = code.into();
        debug_assert!(
            FIELD_CODES.contains(&code.as_str()),
            "unknown field code {code}"
        );
        let mut error = Self {
            field: field.into(),
            key: code.clone(),
            code,
            message: String::new(),
            params: Params::new(),
        };
        error.localise(Language::En);
        error
    }

    /// Explains the error with the catalogue's message `key` (e.g. `invalid_format.phone`) instead of its
    /// code's.
    pub fn message(mut self, key: &str) -> Self {
        debug_assert!(messages::has_field_key(key), "no message {key}");
        self.key = key.to_string();
        self.localise(Language::En);
        self
    }

    /// Adds a value the message names (or a client may use).
    pub fn with(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.params.insert(name.to_string(), value.into());
        self.localise(Language::En);
        self
    }

    /// A value outside `min..=max`, with the message that names both.
    pub fn between(
        field: impl Into<String>,
        code: impl Into<String>,
        min: impl Into<Value>,
        max: impl Into<Value>,
    ) -> Self {
        Self::new(field, code)
            .message("between")
            .with("min", min)
            .with("max", max)
    }

    /// Writes `message` in `language`.
    pub fn localise(&mut self, language: Language) {
        self.message = messages::field_message(&self.key, &self.params, language);
    }
}

/// Runs `validator` rules and turns every failure into a named field error, sorted by field.
pub fn validate(value: &impl Validate) -> Result<(), Vec<FieldError>> {
    value.validate().map_err(|errors| {
        let mut out = Vec::new();
        flatten_errors("", &errors, &mut out);
        out.sort_by(|a, b| a.field.cmp(&b.field));
        out
    })
}

/// Most field errors one answer lists (a 64 KiB body can hold thousands of unknown keys).
pub const MAX_FIELD_ERRORS: usize = 100;

/// What parsing a JSON document as `T` found.
#[derive(Debug)]
pub struct Parsed<T> {
    /// The value, when the document parsed once its offending fields were taken out.
    pub value: Option<T>,
    /// Every unknown field and wrongly typed value, in the order found.
    pub errors: Vec<FieldError>,
    /// The document without the fields named in `errors`.
    pub document: Value,
}

/// Deserializes `document` as `T` without stopping at the first problem: each unknown field or wrongly typed
/// value is recorded and taken out of the document (a bad list item takes its whole list), and the rest is
/// parsed again. Stops at a problem that taking fields out cannot cure (a missing field, a root of the wrong
/// type) and after `MAX_FIELD_ERRORS`.
pub fn parse_collecting<T: DeserializeOwned>(mut document: Value) -> Parsed<T> {
    let mut errors: Vec<FieldError> = Vec::new();
    loop {
        let err = match serde_path_to_error::deserialize::<_, T>(&document) {
            Ok(value) => {
                return Parsed {
                    value: Some(value),
                    errors,
                    document,
                };
            }
            Err(err) => err,
        };
        let error = data_error(&err.path().to_string(), &err.inner().to_string());
        // Each pass removes one key, so the loop ends.
        let removed = error.code != "required" && remove_at(&mut document, err.path());
        if !errors.iter().any(|e| e.field == error.field) {
            errors.push(error);
        }
        if !removed || errors.len() >= MAX_FIELD_ERRORS {
            return Parsed {
                value: None,
                errors,
                document,
            };
        }
    }
}

/// Parses `document` as `T` and validates it: unknown fields, wrong types and rule violations in one list,
/// sorted by field. A value that did not parse is not reported again by the rules (as `required`, say).
pub fn parse_valid<T: DeserializeOwned + Validate>(document: Value) -> Result<T, Vec<FieldError>> {
    let Parsed {
        value, mut errors, ..
    } = parse_collecting::<T>(document);
    if let Some(Err(rule_errors)) = value.as_ref().map(validate) {
        let unparsed: Vec<String> = errors
            .iter()
            .filter(|e| e.code != "unknown_field")
            .map(|e| e.field.clone())
            .collect();
        errors.extend(
            rule_errors
                .into_iter()
                .filter(|e| !unparsed.iter().any(|field| overlaps(field, &e.field))),
        );
    }
    match value {
        Some(value) if errors.is_empty() => Ok(value),
        _ => Err(sorted(errors)),
    }
}

/// Field errors as an answer lists them: sorted by field (stable), at most `MAX_FIELD_ERRORS`.
pub fn sorted(mut errors: Vec<FieldError>) -> Vec<FieldError> {
    errors.sort_by(|a, b| a.field.cmp(&b.field));
    errors.truncate(MAX_FIELD_ERRORS);
    errors
}

/// Whether one field path is the other or lies inside it (`a.b` in `a`, `a[1]` in `a`).
fn overlaps(a: &str, b: &str) -> bool {
    let inside = |inner: &str, outer: &str| {
        inner
            .strip_prefix(outer)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
    };
    inside(a, b) || inside(b, a)
}

/// Takes the field a serde error points at out of `document`: the last object key on the path. False when the
/// path names no object key that is there.
fn remove_at(document: &mut Value, path: &serde_path_to_error::Path) -> bool {
    let segments: Vec<&Segment> = path.iter().collect();
    let Some(last_key) = segments
        .iter()
        .rposition(|s| matches!(s, Segment::Map { .. }))
    else {
        return false;
    };
    let mut node = document;
    for segment in &segments[..last_key] {
        let next = match (segment, node) {
            (Segment::Map { key }, Value::Object(map)) => map.get_mut(key),
            (Segment::Seq { index }, Value::Array(items)) => items.get_mut(*index),
            _ => None,
        };
        let Some(next) = next else {
            return false;
        };
        node = next;
    }
    match (segments[last_key], node) {
        (Segment::Map { key }, Value::Object(map)) => map.remove(key).is_some(),
        _ => false,
    }
}

/// Deserializes an already-parsed JSON value; a wrong type or unknown field names the field.
pub fn from_json_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, FieldError> {
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        data_error(&path, &err.into_inner().to_string())
    })
}

/// A serde data error at `path` (as serde_path_to_error writes it) as a field error.
pub fn data_error(path: &str, message: &str) -> FieldError {
    let path = if path == "." { "" } else { path };
    let message = message.split(" at line ").next().unwrap_or(message);
    if let Some(rest) = message.strip_prefix("unknown field `") {
        // serde_path_to_error already ends the path with the unknown field's name.
        let name = rest.split('`').next().unwrap_or("");
        let field = if path.is_empty() { name } else { path };
        return FieldError::new(field, "unknown_field");
    }
    if let Some(rest) = message.strip_prefix("missing field `") {
        let name = rest.split('`').next().unwrap_or("");
        let field = if path.is_empty() {
            name.to_string()
        } else {
            format!("{path}.{name}")
        };
        return FieldError::new(field, "required");
    }
    // serde says what it expected in words of the Rust types ("a string", "one of `a`, `b`"), never the value.
    match message.rsplit_once(", expected ") {
        Some((_, expected)) => FieldError::new(path, "invalid_type")
            .message("invalid_type.expected")
            .with("expected", expected),
        None => FieldError::new(path, "invalid_type"),
    }
}

fn flatten_errors(prefix: &str, errors: &ValidationErrors, out: &mut Vec<FieldError>) {
    for (field, kind) in errors.errors() {
        let path = if prefix.is_empty() {
            field.to_string()
        } else {
            format!("{prefix}.{field}")
        };
        match kind {
            ValidationErrorsKind::Field(list) => {
                for e in list {
                    // A struct-level (schema) rule names the field it reports on in its `field` param.
                    let path = match e.params.get("field").and_then(|f| f.as_str()) {
                        Some(name) if prefix.is_empty() => name.to_string(),
                        Some(name) => format!("{prefix}.{name}"),
                        None => path.clone(),
                    };
                    out.push(field_error(path, e));
                }
            }
            ValidationErrorsKind::Struct(inner) => flatten_errors(&path, inner, out),
            ValidationErrorsKind::List(items) => {
                for (index, inner) in items {
                    flatten_errors(&format!("{path}[{index}]"), inner, out);
                }
            }
        }
    }
}

/// A `validator` failure as a field error: its code; its message key (the rules of `domain` set it as the
/// message); its params, except `value` (the input itself, which an answer never repeats) and `field`.
fn field_error(path: String, e: &validator::ValidationError) -> FieldError {
    // `validator`'s own `range` rule answers with the service's code.
    let code = match e.code.as_ref() {
        "range" => "out_of_range",
        code => code,
    };
    let mut error = FieldError::new(path, code);
    for (name, value) in &e.params {
        if name != "value" && name != "field" {
            error = error.with(name, value.clone());
        }
    }
    let bounded = e.params.contains_key("min") && e.params.contains_key("max");
    let key = match (&e.message, code) {
        (Some(key), _) => key.to_string(),
        // The `length(max = ..)` and `range(..)` attributes.
        (None, "length") if bounded => "length.range".into(),
        (None, "length") if e.params.contains_key("max") => "length.max".into(),
        (None, "out_of_range") if bounded => "between".into(),
        (None, code) => code.to_string(),
    };
    error.message(&key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Debug, serde::Deserialize, Validate)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        #[validate(length(min = 2))]
        name: Option<String>,
        #[validate(range(max = 10))]
        count: Option<u32>,
        tags: Option<Vec<String>>,
        inner: Option<Inner>,
    }

    #[derive(Debug, serde::Deserialize, Validate)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        flag: Option<bool>,
    }

    fn problems(document: serde_json::Value) -> Vec<String> {
        match parse_valid::<Outer>(document) {
            Ok(_) => vec![],
            Err(errors) => errors
                .into_iter()
                .map(|e| format!("{}:{}", e.field, e.code))
                .collect(),
        }
    }

    #[test]
    fn unknown_fields_wrong_types_and_rule_violations_are_reported_together_sorted_by_field() {
        let found = problems(json!({
            "zeta": 1, "name": "x", "count": "many", "inner": {"flag": "yes", "extra": null},
            "alpha": null, "tags": ["a", 5]
        }));
        assert_eq!(
            found,
            [
                "alpha:unknown_field",
                "count:invalid_type",
                "inner.extra:unknown_field",
                "inner.flag:invalid_type",
                "name:length",
                "tags[1]:invalid_type",
                "zeta:unknown_field"
            ]
        );
    }

    #[test]
    fn a_value_that_did_not_parse_is_not_reported_again_by_the_rules() {
        assert_eq!(problems(json!({"count": -1})), ["count:invalid_type"]);
        assert_eq!(problems(json!({"count": 11})), ["count:out_of_range"]);
        assert_eq!(
            problems(json!({"name": "ok", "count": 3})),
            Vec::<String>::new()
        );
    }

    #[test]
    fn a_root_of_the_wrong_type_is_one_error_and_the_list_is_capped() {
        assert_eq!(problems(json!("x")), [":invalid_type"]);
        let many: serde_json::Map<String, serde_json::Value> =
            (0..500).map(|i| (format!("k{i:03}"), json!(i))).collect();
        let errors = parse_valid::<Outer>(serde_json::Value::Object(many)).unwrap_err();
        assert_eq!(errors.len(), MAX_FIELD_ERRORS);
        assert!(errors.iter().all(|e| e.code == "unknown_field"));
    }

    #[test]
    fn paths_overlap_only_along_their_segments() {
        assert!(overlaps("a", "a.b") && overlaps("a[1]", "a") && overlaps("a", "a"));
        assert!(!overlaps("a", "ab") && !overlaps("a.b", "a.c"));
    }

    #[test]
    fn unknown_and_missing_fields_are_named_with_their_path() {
        #[derive(Debug, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct Body {
            name: String,
        }
        let wrong_type = from_json_value::<Body>(serde_json::json!({"name": 5})).unwrap_err();
        assert_eq!(
            (wrong_type.field.as_str(), wrong_type.code.as_str()),
            ("name", "invalid_type")
        );
        let unknown =
            from_json_value::<Body>(serde_json::json!({"name": "a", "extra": 1})).unwrap_err();
        assert_eq!(
            (unknown.field.as_str(), unknown.code.as_str()),
            ("extra", "unknown_field")
        );
        let missing = from_json_value::<Body>(serde_json::json!({})).unwrap_err();
        assert_eq!(
            (missing.field.as_str(), missing.code.as_str()),
            ("name", "required")
        );
    }
}
