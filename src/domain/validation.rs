//! What is wrong with an input, field by field: `FieldError`, and the `validator` and serde failures turned
//! into it. Every layer reports bad input this way; the transport renders the list as one 422.

use serde::{Serialize, de::DeserializeOwned};
use utoipa::ToSchema;
use validator::{Validate, ValidationErrors, ValidationErrorsKind};

/// One invalid field of a request body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// JSON path of the field, e.g. `email` or `notifications.email.marketing`.
    pub field: String,
    /// Stable, snake_case reason, e.g. `required`, `invalid_format`, `too_long`, `unknown_field`.
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
}

impl FieldError {
    pub fn new(
        field: impl Into<String>,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            field: field.into(),
            code: code.into(),
            message: message.into(),
        }
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
        return FieldError::new(
            field,
            "unknown_field",
            "this field is not part of the resource or is read-only",
        );
    }
    if let Some(rest) = message.strip_prefix("missing field `") {
        let name = rest.split('`').next().unwrap_or("");
        let field = if path.is_empty() {
            name.to_string()
        } else {
            format!("{path}.{name}")
        };
        return FieldError::new(field, "required", "this field is required");
    }
    FieldError::new(path, "invalid_type", message)
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
                    let message = e
                        .message
                        .as_ref()
                        .map(std::string::ToString::to_string)
                        .unwrap_or_else(|| default_message(&e.code));
                    // A struct-level (schema) rule names the field it reports on in its `field` param.
                    let path = match e.params.get("field").and_then(|f| f.as_str()) {
                        Some(name) if prefix.is_empty() => name.to_string(),
                        Some(name) => format!("{prefix}.{name}"),
                        None => path.clone(),
                    };
                    out.push(FieldError::new(path, e.code.to_string(), message));
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

fn default_message(code: &str) -> String {
    match code {
        "required" => "this field is required".into(),
        "length" => "this value has the wrong length".into(),
        "email" => "this is not a valid email address".into(),
        "url" => "this is not a valid URL".into(),
        "range" => "this value is out of range".into(),
        other => format!("this value is not valid ({other})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
