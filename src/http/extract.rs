//! Extractors that own the error format: JSON bodies, merge patches, preconditions and pagination.

use axum::{
    body::Bytes,
    extract::{FromRequest, Request, rejection::BytesRejection},
    http::{HeaderMap, header},
};
use serde::de::DeserializeOwned;
use validator::Validate;

use crate::{
    domain::{
        patch::MergePatch,
        precondition::Preconditions,
        validation::{data_error, validate},
    },
    http::error::ApiError,
    service,
};

/// Largest request body accepted (SPEC section 3).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A JSON body (`application/json` or any `+json` type), deserialized with field-level errors.
pub struct AppJson<T>(pub T);

/// A JSON body that also passes its `validator` rules; any failure is one 422 naming every bad field.
pub struct ValidatedJson<T>(pub T);

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
        validate(&value).map_err(ApiError::Validation)?;
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
            serde_json::error::Category::Data => {
                ApiError::Validation(vec![data_error(&path, &inner.to_string())])
            }
        }
    })?;
    Ok(value)
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
                ApiError::Validation(vec![data_error(&path, &err.into_inner().to_string())])
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
}
