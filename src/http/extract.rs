//! Extractors that own the error format: JSON bodies, merge patches, preconditions and pagination.

use axum::{
    body::Bytes,
    extract::{FromRequest, Request, rejection::BytesRejection},
    http::{HeaderMap, header},
};
use serde::de::DeserializeOwned;
use validator::{Validate, ValidationErrors, ValidationErrorsKind};

use crate::http::error::{ApiError, FieldError};

/// Largest request body accepted (SPEC section 3).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A JSON body (`application/json` or any `+json` type), deserialized with field-level errors.
pub struct AppJson<T>(pub T);

/// A JSON body that also passes its `validator` rules; any failure is one 422 naming every bad field.
pub struct ValidatedJson<T>(pub T);

/// A JSON Merge Patch document (RFC 7386): always a JSON object.
pub struct MergePatch(pub serde_json::Map<String, serde_json::Value>);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for AppJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        require_json(req.headers(), false)?;
        let bytes = read_body(req, state).await?;
        Ok(AppJson(from_json_bytes(&bytes)?))
    }
}

impl<S: Send + Sync, T: DeserializeOwned + Validate> FromRequest<S> for ValidatedJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let AppJson(value) = AppJson::<T>::from_request(req, state).await?;
        validate(&value)?;
        Ok(ValidatedJson(value))
    }
}

impl<S: Send + Sync> FromRequest<S> for MergePatch {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        require_json(req.headers(), true)?;
        let bytes = read_body(req, state).await?;
        match from_json_bytes::<serde_json::Value>(&bytes)? {
            serde_json::Value::Object(map) => Ok(MergePatch(map)),
            _ => Err(ApiError::validation(
                "",
                "invalid_type",
                "a merge patch must be a JSON object",
            )),
        }
    }
}

async fn read_body<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state)
        .await
        .map_err(|rejection| match rejection {
            BytesRejection::FailedToBufferBody(_) if is_length_limit(&rejection) => {
                ApiError::PayloadTooLarge
            }
            other => {
                ApiError::MalformedJson(format!("the request body could not be read: {other}"))
            }
        })
}

fn is_length_limit(rejection: &BytesRejection) -> bool {
    rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE
}

fn require_json(headers: &HeaderMap, merge_patch: bool) -> Result<(), ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let ok = essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
        || (merge_patch && essence == "application/merge-patch+json");
    if ok {
        Ok(())
    } else if merge_patch {
        Err(ApiError::UnsupportedMediaType(
            "send the patch as application/merge-patch+json or application/json",
        ))
    } else {
        Err(ApiError::UnsupportedMediaType(
            "send the body as application/json",
        ))
    }
}

/// Deserializes JSON: syntax errors are 400 `malformed_json`; wrong types or unknown fields are 422 naming the field.
pub fn from_json_bytes<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        match inner.classify() {
            serde_json::error::Category::Syntax
            | serde_json::error::Category::Eof
            | serde_json::error::Category::Io => {
                ApiError::MalformedJson(format!("the body is not valid JSON: {inner}"))
            }
            serde_json::error::Category::Data => data_error(&path, &inner.to_string()),
        }
    })?;
    Ok(value)
}

fn data_error(path: &str, message: &str) -> ApiError {
    let path = if path == "." { "" } else { path };
    let message = message
        .split(" at line ")
        .next()
        .unwrap_or(message)
        .to_string();
    if let Some(rest) = message.strip_prefix("unknown field `") {
        // serde_path_to_error already ends the path with the unknown field's name.
        let name = rest.split('`').next().unwrap_or("");
        let field = if path.is_empty() {
            name.to_string()
        } else {
            path.to_string()
        };
        return ApiError::validation(
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
        return ApiError::validation(field, "required", "this field is required");
    }
    ApiError::validation(path, "invalid_type", message)
}

/// Runs `validator` rules and turns every failure into a named field error.
pub fn validate(value: &impl Validate) -> Result<(), ApiError> {
    value.validate().map_err(|errors| {
        let mut out = Vec::new();
        flatten_errors("", &errors, &mut out);
        out.sort_by(|a, b| a.field.cmp(&b.field));
        ApiError::Validation(out)
    })
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
                        .map(|m| m.to_string())
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

/// The value of an `ETag` header for a version: a strong tag, `"<version>"`.
pub fn etag_value(version: &str) -> String {
    format!("\"{version}\"")
}

/// A parsed `If-Match` / `If-None-Match` header: `*` or a list of entity tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EtagCondition {
    Any,
    Tags(Vec<String>),
}

impl EtagCondition {
    /// `None` when the header holds no entity-tag at all (empty, `null`, unquoted): such a header is ignored.
    fn parse(raw: &str) -> Option<Self> {
        if raw.trim() == "*" {
            return Some(EtagCondition::Any);
        }
        let tags: Vec<String> = raw
            .split(',')
            .filter_map(|t| {
                let t = t.trim().trim_start_matches("W/");
                let inner = t.strip_prefix('"')?.strip_suffix('"')?;
                Some(inner.to_string())
            })
            .collect();
        (!tags.is_empty()).then_some(EtagCondition::Tags(tags))
    }

    /// Whether the condition holds for a resource at `current` (`None` when it does not exist).
    pub fn matches(&self, current: Option<&str>) -> bool {
        match (self, current) {
            (_, None) => false,
            (EtagCondition::Any, Some(_)) => true,
            (EtagCondition::Tags(tags), Some(version)) => tags.iter().any(|t| t == version),
        }
    }
}

/// The preconditions a request carries.
#[derive(Debug, Clone, Default)]
pub struct Preconditions {
    pub if_match: Option<EtagCondition>,
    pub if_none_match: Option<EtagCondition>,
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Preconditions {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        let get = |name| {
            parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(EtagCondition::parse)
        };
        Ok(Preconditions {
            if_match: get(header::IF_MATCH),
            if_none_match: get(header::IF_NONE_MATCH),
        })
    }
}

impl Preconditions {
    /// For a write: `If-Match` must match the current version; `If-None-Match: *` demands that nothing exists.
    pub fn check_write(&self, current: Option<&str>) -> Result<(), ApiError> {
        let failed = self.if_match.as_ref().is_some_and(|c| !c.matches(current))
            || self
                .if_none_match
                .as_ref()
                .is_some_and(|c| c.matches(current));
        if failed {
            return Err(ApiError::PreconditionFailed {
                current: current.map(str::to_owned),
            });
        }
        Ok(())
    }

    /// For a read: true when the client's copy is current and a 304 should be sent.
    pub fn not_modified(&self, current: &str) -> bool {
        self.if_none_match
            .as_ref()
            .is_some_and(|c| c.matches(Some(current)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etag_conditions_parse_lists_weak_tags_and_star() {
        assert_eq!(EtagCondition::parse("*"), Some(EtagCondition::Any));
        assert_eq!(EtagCondition::parse(""), None);
        assert_eq!(EtagCondition::parse("null"), None);
        let c = EtagCondition::parse("\"1\", W/\"3\"").unwrap();
        assert!(c.matches(Some("3")));
        assert!(c.matches(Some("1")));
        assert!(!c.matches(Some("2")));
        assert!(!c.matches(None));
    }

    #[test]
    fn if_none_match_star_fails_a_write_when_the_resource_exists() {
        let p = Preconditions {
            if_match: None,
            if_none_match: Some(EtagCondition::Any),
        };
        assert!(p.check_write(None).is_ok());
        assert!(matches!(
            p.check_write(Some("1")),
            Err(ApiError::PreconditionFailed { .. })
        ));
    }

    #[test]
    fn syntax_errors_are_malformed_json_and_type_errors_name_the_field() {
        #[derive(Debug, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct Body {
            name: String,
        }
        assert!(matches!(
            from_json_bytes::<Body>(b"{\"name\":"),
            Err(ApiError::MalformedJson(_))
        ));
        match from_json_bytes::<Body>(b"{\"name\": 5}") {
            Err(ApiError::Validation(errors)) => assert_eq!(errors[0].field, "name"),
            other => panic!("unexpected {other:?}"),
        }
        match from_json_bytes::<Body>(b"{\"name\": \"a\", \"extra\": 1}") {
            Err(ApiError::Validation(errors)) => {
                assert_eq!(errors[0].field, "extra");
                assert_eq!(errors[0].code, "unknown_field");
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}

impl MergePatch {
    /// Applies the patch (RFC 7386) to the writable fields of `current` and parses the result like a full body.
    pub fn apply_to<T: serde::Serialize + DeserializeOwned>(
        &self,
        current: &T,
    ) -> Result<T, ApiError> {
        let mut target = serde_json::to_value(current).map_err(ApiError::internal)?;
        merge(&mut target, &serde_json::Value::Object(self.0.clone()));
        from_json_value(target)
    }
}

/// RFC 7386: objects merge recursively, `null` removes, anything else replaces.
pub fn merge(target: &mut serde_json::Value, patch: &serde_json::Value) {
    use serde_json::Value;
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Default::default());
    }
    if let Value::Object(map) = target {
        for (key, value) in patch {
            if value.is_null() {
                map.remove(key);
            } else {
                merge(map.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
    }
}

/// Deserializes an already-parsed JSON value with the same field-level errors as a body.
pub fn from_json_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        data_error(&path, &err.into_inner().to_string())
    })
}

#[cfg(test)]
mod merge_tests {
    use serde_json::json;

    #[test]
    fn merge_patch_follows_rfc_7386_examples() {
        let mut target = json!({"a": "b", "c": {"d": "e", "f": "g"}});
        super::merge(&mut target, &json!({"a": "z", "c": {"f": null}}));
        assert_eq!(target, json!({"a": "z", "c": {"d": "e"}}));
        let mut target = json!({"a": [{"b": "c"}]});
        super::merge(&mut target, &json!({"a": [1]}));
        assert_eq!(target, json!({"a": [1]}));
    }
}

/// Query parameters with problem+json rejections (422 naming the parameter).
pub struct AppQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> axum::extract::FromRequestParts<S> for AppQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        // `?cursor=` means no cursor: an empty value is the same as an absent parameter.
        let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let encoded = serde_urlencoded::to_string(&pairs).unwrap_or_default();
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(encoded.as_bytes()));
        serde_path_to_error::deserialize(de)
            .map(AppQuery)
            .map_err(|err| {
                let path = err.path().to_string();
                data_error(&path, &err.into_inner().to_string())
            })
    }
}

/// `?limit=&cursor=` of a keyset-paginated list (SPEC section 3: default 50, max 200).
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Items per page, 1-200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page; opaque.
    pub cursor: Option<String>,
}

impl PageParams {
    pub const DEFAULT_LIMIT: u32 = 50;
    pub const MAX_LIMIT: u32 = 200;

    /// The page size, or a 422 when it is out of range.
    pub fn limit(&self) -> Result<u32, ApiError> {
        match self.limit {
            None => Ok(Self::DEFAULT_LIMIT),
            Some(n) if (1..=Self::MAX_LIMIT).contains(&n) => Ok(n),
            Some(_) => Err(ApiError::validation(
                "limit",
                "out_of_range",
                "limit must be between 1 and 200",
            )),
        }
    }

    /// The decoded cursor, or a 422 when it was not made by this service.
    pub fn cursor<C: DeserializeOwned>(&self) -> Result<Option<C>, ApiError> {
        use base64::Engine;
        let Some(raw) = &self.cursor else {
            return Ok(None);
        };
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(raw)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .map(Some)
            .ok_or_else(|| {
                ApiError::validation(
                    "cursor",
                    "invalid_value",
                    "cursor is not a cursor this service issued",
                )
            })
    }
}

/// Encodes the position after the last item of a page as an opaque cursor.
pub fn encode_cursor(position: &impl serde::Serialize) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(serde_json::to_vec(position).unwrap_or_default())
}

#[cfg(test)]
mod page_tests {
    use super::*;

    #[test]
    fn limit_defaults_to_50_and_must_be_1_to_200() {
        assert_eq!(PageParams::default().limit().unwrap(), 50);
        assert_eq!(
            PageParams {
                limit: Some(200),
                cursor: None
            }
            .limit()
            .unwrap(),
            200
        );
        assert!(
            PageParams {
                limit: Some(0),
                cursor: None
            }
            .limit()
            .is_err()
        );
        assert!(
            PageParams {
                limit: Some(201),
                cursor: None
            }
            .limit()
            .is_err()
        );
    }

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let cursor = encode_cursor(&("u-9", 42));
        let page = PageParams {
            limit: None,
            cursor: Some(cursor),
        };
        assert_eq!(
            page.cursor::<(String, i64)>().unwrap(),
            Some(("u-9".to_string(), 42))
        );
        let bad = PageParams {
            limit: None,
            cursor: Some("!!".into()),
        };
        assert!(bad.cursor::<(String, i64)>().is_err());
    }
}
