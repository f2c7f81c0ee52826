//! Extractors that own the error format: JSON bodies, merge patches, preconditions and pagination; and the
//! checks of path and query values that keep characters the database cannot hold from reaching it.

use axum::{
    body::Bytes,
    extract::{FromRequest, Request, rejection::BytesRejection},
    http::{HeaderMap, header},
};
use serde::de::DeserializeOwned;
use serde_json::Value;
use validator::Validate;

use crate::{
    domain::{
        fields::FieldMask,
        patch::MergePatch,
        precondition::Preconditions,
        text,
        validation::{FieldError, Parsed, data_error, parse_collecting, parse_valid, sorted},
    },
    http::error::ApiError,
    service,
};

/// Largest request body accepted (SPEC section 3).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A JSON body (`application/json` or any `+json` type), deserialized with field-level errors: every unknown
/// field and wrongly typed value in one 422.
pub struct AppJson<T>(pub T);

/// A JSON body that also passes its `validator` rules; any failure is one 422 naming every bad field, unknown
/// and wrongly typed ones included.
pub struct ValidatedJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for AppJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let document = json_document(req, state, false).await?;
        parsed(parse_collecting(Value::Object(document))).map(AppJson)
    }
}

impl<S: Send + Sync, T: DeserializeOwned + Validate> FromRequest<S> for ValidatedJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let document = json_document(req, state, false).await?;
        parse_valid(Value::Object(document))
            .map(ValidatedJson)
            .map_err(ApiError::Validation)
    }
}

impl<S: Send + Sync> FromRequest<S> for MergePatch {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        json_document(req, state, true).await.map(MergePatch)
    }
}

/// The body as a JSON object, after the media type and size checks. Every body and merge patch of the API is
/// an object; serde would otherwise read an array into a struct field by field.
async fn json_document<S: Send + Sync>(
    req: Request,
    state: &S,
    merge_patch: bool,
) -> Result<serde_json::Map<String, Value>, ApiError> {
    require_json(req.headers(), merge_patch)?;
    let bytes = read_body(req, state).await?;
    match parse_document(&bytes)? {
        Value::Object(map) => Ok(map),
        _ if merge_patch => Err(FieldError::new("", "invalid_type")
            .message("invalid_type.merge_patch")
            .into()),
        _ => Err(FieldError::new("", "invalid_type")
            .message("invalid_type.object")
            .into()),
    }
}

pub(crate) async fn read_body<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state)
        .await
        .map_err(|rejection| match rejection {
            BytesRejection::FailedToBufferBody(_) if is_length_limit(&rejection) => {
                ApiError::PayloadTooLarge
            }
            other => {
                tracing::debug!(error = %other, "the request body could not be read");
                ApiError::MalformedJson(None)
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
        Err(ApiError::UnsupportedMediaType { merge_patch: true })
    } else {
        Err(ApiError::UnsupportedMediaType { merge_patch: false })
    }
}

/// Deserializes JSON: syntax errors are 400 `malformed_json`; wrong types and unknown fields are one 422 naming
/// every such field.
pub fn from_json_bytes<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    parsed(parse_collecting(parse_document(bytes)?))
}

/// Parses JSON text into a document; anything that is not JSON is 400 `malformed_json`.
fn parse_document(bytes: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(bytes)
        .map_err(|err| ApiError::MalformedJson(Some((err.line(), err.column()))))
}

/// The parsed value, or one 422 naming every field that did not parse.
fn parsed<T>(parsed: Parsed<T>) -> Result<T, ApiError> {
    match parsed.value {
        Some(value) if parsed.errors.is_empty() => Ok(value),
        _ => Err(ApiError::Validation(sorted(parsed.errors))),
    }
}

/// The value of an `ETag` header for a version: a strong tag, `"<version>"`.
pub fn etag_value(version: &str) -> String {
    format!("\"{version}\"")
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Preconditions {
    type Rejection = std::convert::Infallible;

    /// Never refuses: a malformed header is kept as such, and the service answers 412 when a write meets it.
    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        // Several header lines of one field are one comma-separated list (RFC 9110 section 5.3).
        let joined = |name| {
            let mut lines = parts.headers.get_all(name).iter().peekable();
            lines.peek()?;
            Some(
                lines
                    .map(axum::http::HeaderValue::as_bytes)
                    .collect::<Vec<_>>()
                    .join(&b", "[..]),
            )
        };
        let if_match = joined(header::IF_MATCH);
        let if_none_match = joined(header::IF_NONE_MATCH);
        Ok(Preconditions::from_headers(
            if_match.as_deref(),
            if_none_match.as_deref(),
        ))
    }
}

/// Parses an address id from the path: anything that is not a UUID names no address (404, not 400).
pub fn parse_address_id(raw: &str) -> Result<uuid::Uuid, ApiError> {
    uuid::Uuid::parse_str(raw).map_err(|_| service::Error::ADDRESS_NOT_FOUND.into())
}

/// Checks a `{user_id}` from the path: one holding a character no token's `sub` may hold (`domain::text`) is
/// 422 naming `user_id`, and never reaches the database. Called after the caller's permission check, so a
/// refused caller learns nothing from it.
pub fn check_user_id(user_id: &str) -> Result<(), ApiError> {
    text::check(user_id)
        .map_err(|refusal| ApiError::from(FieldError::new("user_id", refusal.code())))
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
        let (pairs, mut errors) = query_pairs(query);
        let encoded = serde_urlencoded::to_string(&pairs).unwrap_or_default();
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(encoded.as_bytes()));
        let value = serde_path_to_error::deserialize(de).map_err(|err| {
            let path = err.path().to_string();
            errors.push(data_error(&path, &err.into_inner().to_string()));
        });
        match value {
            Ok(value) if errors.is_empty() => Ok(AppQuery(value)),
            _ => Err(ApiError::Validation(sorted(errors))),
        }
    }
}

/// The non-empty parameters of a query string (`?cursor=` means no cursor), without those whose value holds a
/// control character: each of those is a field error naming the parameter.
fn query_pairs(query: &str) -> (Vec<(String, String)>, Vec<FieldError>) {
    let mut errors = Vec::new();
    let pairs = form_urlencoded::parse(query.as_bytes())
        .filter(|(_, v)| !v.is_empty())
        .filter(|(k, v)| match text::check_controls(v) {
            Ok(()) => true,
            Err(refusal) => {
                errors.push(FieldError::new(k.as_ref(), refusal.code()));
                false
            }
        })
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    (pairs, errors)
}

/// `?fields=` of a service read: ask for less than the token may read (data minimisation).
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FieldsParam {
    /// Comma-separated top-level field names (e.g. `id,revision,country`): the answer holds only these (of a
    /// list, each item; of the defaults, each address). Absent: every field the token may read. A name the
    /// resource does not have is 422 (`unknown_field` on `fields`).
    #[param(pattern = "^[a-z_]+(,[a-z_]+)*$", example = "id,revision,country")]
    pub fields: Option<String>,
}

impl FieldsParam {
    /// The mask over a resource with these `known` fields, or a 422 naming `fields`.
    pub fn mask(&self, known: &[&str]) -> Result<FieldMask, ApiError> {
        FieldMask::parse(self.fields.as_deref(), known).map_err(|e| ApiError::Validation(vec![e]))
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
            Some(_) => Err(FieldError::between("limit", "out_of_range", 1, Self::MAX_LIMIT).into()),
        }
    }

    /// The decoded cursor, or a 422 when it was not made by this service (a cursor holding a control character
    /// never was, and its position must not reach the database).
    pub fn cursor<C: DeserializeOwned>(&self) -> Result<Option<C>, ApiError> {
        self.cursor
            .as_deref()
            .map(|raw| decode_cursor("cursor", raw))
            .transpose()
    }
}

/// The position an opaque cursor (`pages::encode_cursor`) holds, or a 422 on `field` when this service did not
/// make it.
pub fn decode_cursor<C: DeserializeOwned>(field: &str, raw: &str) -> Result<C, ApiError> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(raw)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
        .filter(holds_no_control_character)
        .and_then(|position| serde_json::from_value(position).ok())
        .ok_or_else(|| {
            FieldError::new(field, "invalid_value")
                .message("invalid_value.cursor")
                .into()
        })
}

/// Whether no string (or key) anywhere in a JSON value holds a control character.
fn holds_no_control_character(value: &Value) -> bool {
    match value {
        Value::String(s) => text::check_controls(s).is_ok(),
        Value::Array(items) => items.iter().all(holds_no_control_character),
        Value::Object(map) => map
            .iter()
            .all(|(k, v)| text::check_controls(k).is_ok() && holds_no_control_character(v)),
        Value::Null | Value::Bool(_) | Value::Number(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_errors_are_malformed_json_and_type_errors_name_the_field() {
        #[derive(Debug, serde::Deserialize)]
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
    }
}

#[cfg(test)]
mod page_tests {
    use proptest::prelude::*;

    use super::*;
    use crate::http::pages::encode_cursor;

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

    fn page(cursor: String) -> PageParams {
        PageParams {
            limit: None,
            cursor: Some(cursor),
        }
    }

    #[test]
    fn a_cursor_whose_position_holds_a_control_character_is_refused() {
        let forged = encode_cursor(&("u\u{0}1", 1));
        assert!(page(forged).cursor::<(String, i64)>().is_err());
    }

    proptest! {
        #[test]
        fn any_string_is_a_position_or_a_422(raw in "\\PC{0,40}|[A-Za-z0-9_-]{0,60}") {
            match page(raw).cursor::<(String, i64)>() {
                Ok(Some((id, _))) => prop_assert!(text::check_controls(&id).is_ok()),
                Ok(None) => prop_assert!(false, "a present cursor is a position or a 422"),
                Err(e) => prop_assert_eq!(e.status().as_u16(), 422),
            }
        }

        #[test]
        fn issued_cursors_round_trip_unless_they_hold_a_control_character(
            id in any::<String>(),
            n in any::<i64>(),
            nul in any::<bool>(),
        ) {
            let id = if nul { format!("{id}\u{0}") } else { id };
            let decoded = page(encode_cursor(&(id.clone(), n))).cursor::<(String, i64)>();
            if text::check_controls(&id).is_ok() {
                prop_assert_eq!(decoded.ok().flatten(), Some((id, n)));
            } else {
                prop_assert!(decoded.is_err());
            }
        }
    }
}
