//! The contract check every response of the API tests goes through (`TestApp::send`): the answer must be one the
//! OpenAPI document describes for its operation and status, with a body that fits the schema and the headers it
//! sends declared and well-formed. A new test gets the check for free; a change that makes the server and the
//! document disagree fails the tests that see it.
//!
//! The validator is our own and covers the JSON Schema the document uses (docs/contract.md says why): `$ref`,
//! `allOf`/`anyOf`/`oneOf`, `type` (with `null` in a type list), `enum`, `const`, `required`, `properties`,
//! `additionalProperties`, `items`, `minItems`/`maxItems`, `minLength`/`maxLength`, `pattern`,
//! `minimum`/`maximum`, and the formats `date-time`, `date`, `uuid`, `email`, `uri`. A keyword it does not know
//! fails the check, so the document cannot outgrow it silently.

use std::{cell::RefCell, collections::HashMap, io::Read, sync::LazyLock};

use axum::http::{HeaderMap, Method, StatusCode};
use serde_json::Value;

/// The served document (`the_openapi_command_prints_the_same_document` checks they are the same).
static DOCUMENT: LazyLock<Value> = LazyLock::new(|| {
    serde_json::to_value(user_profile_service::http::openapi()).expect("the document is JSON")
});

/// Headers the document must declare on a response that sends them (the transport's own, such as
/// `content-type` or `vary`, are not part of the contract).
const CONTRACT_HEADERS: &[&str] = &[
    "x-request-id",
    "etag",
    "location",
    "retry-after",
    "www-authenticate",
    "ratelimit-limit",
    "ratelimit-remaining",
    "ratelimit-reset",
    "idempotent-replayed",
    "erasure-receipt",
    "content-disposition",
    "content-language",
];

/// Keywords that only annotate a schema.
const ANNOTATIONS: &[&str] = &[
    "description",
    "example",
    "examples",
    "title",
    "default",
    "deprecated",
    "readOnly",
    "writeOnly",
    "discriminator",
    "propertyNames",
];

/// Checks one answer against the document; `Err` says what does not fit. Paths the document does not describe
/// (the UI, the document itself, unknown routes, unrouted methods) are not checked here.
pub fn check(
    method: &Method,
    uri: &str,
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), String> {
    let path = uri.split('?').next().unwrap_or(uri);
    let Some(operation) = operation(method, path) else {
        return Ok(());
    };
    let where_ = format!("{method} {uri} answered {status}");
    let responses = &operation["responses"];
    let Some(response) = responses.get(status.as_str()) else {
        return Err(format!(
            "{where_}, which the document does not describe (it describes {:?})",
            responses
                .as_object()
                .map(|r| r.keys().collect::<Vec<_>>())
                .unwrap_or_default()
        ));
    };
    let response = resolve(response);
    check_headers(response, headers).map_err(|e| format!("{where_}: {e}"))?;
    check_body(response, headers, body).map_err(|e| format!("{where_}: {e}"))
}

/// The operation of the document that serves `method` on `path`: the template with the most literal segments
/// among those that match (`/addresses/defaults` before `/addresses/{address_id}`).
fn operation(method: &Method, path: &str) -> Option<&'static Value> {
    let segments: Vec<&str> = path.split('/').collect();
    let method = method.as_str().to_ascii_lowercase();
    DOCUMENT["paths"]
        .as_object()?
        .iter()
        .filter_map(|(template, item)| {
            let parts: Vec<&str> = template.split('/').collect();
            let fits = parts.len() == segments.len()
                && parts
                    .iter()
                    .zip(&segments)
                    .all(|(t, s)| t.starts_with('{') || t == s);
            let literal = parts.iter().filter(|t| !t.starts_with('{')).count();
            fits.then_some((literal, item))
        })
        .max_by_key(|(literal, _)| *literal)
        .and_then(|(_, item)| item.get(&method))
}

/// Follows a `$ref` to its target (`#/components/...`), repeatedly.
fn resolve(value: &'static Value) -> &'static Value {
    match value.get("$ref").and_then(Value::as_str) {
        Some(target) => resolve(target_of(target)),
        None => value,
    }
}

fn target_of(reference: &str) -> &'static Value {
    let pointer = reference.strip_prefix('#').unwrap_or(reference);
    DOCUMENT
        .pointer(pointer)
        .unwrap_or_else(|| panic!("the document has no {reference}"))
}

fn check_headers(response: &'static Value, headers: &HeaderMap) -> Result<(), String> {
    let declared: HashMap<String, &Value> = response["headers"]
        .as_object()
        .map(|h| {
            h.iter()
                .map(|(name, header)| (name.to_ascii_lowercase(), resolve(header)))
                .collect()
        })
        .unwrap_or_default();
    if !headers.contains_key("x-request-id") {
        return Err("the answer has no X-Request-Id".into());
    }
    for name in CONTRACT_HEADERS {
        let Some(value) = headers.get(*name) else {
            continue;
        };
        let Some(header) = declared.get(*name) else {
            return Err(format!(
                "it sends `{name}`, which the document does not declare on this response"
            ));
        };
        let value = value
            .to_str()
            .map_err(|_| format!("`{name}` is not text"))?;
        let Some(schema) = header.get("schema") else {
            continue;
        };
        let value = match schema["type"].as_str() {
            Some("integer") => value
                .parse::<i64>()
                .map(Value::from)
                .map_err(|_| format!("`{name}: {value}` is not an integer"))?,
            _ => Value::from(value),
        };
        let mut errors = Vec::new();
        validate(schema, &value, name, &mut errors);
        if !errors.is_empty() {
            return Err(errors.join("; "));
        }
    }
    Ok(())
}

fn check_body(response: &'static Value, headers: &HeaderMap, body: &[u8]) -> Result<(), String> {
    let content = response.get("content").and_then(Value::as_object);
    let Some(content) = content.filter(|c| !c.is_empty()) else {
        return match body.is_empty() {
            true => Ok(()),
            false => Err("it has a body, but the document describes none".into()),
        };
    };
    let media_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::trim)
        .ok_or("it has no Content-Type, but the document describes a body")?;
    // A described media type may carry parameters (`text/plain; version=0.0.4`): compare the type itself.
    let described = content
        .iter()
        .find(|(key, _)| key.split(';').next().map(str::trim) == Some(media_type))
        .map(|(_, described)| described);
    let Some(described) = described else {
        return Err(format!(
            "its body is {media_type}; the document describes {:?}",
            content.keys().collect::<Vec<_>>()
        ));
    };
    if !media_type.ends_with("json") {
        return Ok(());
    }
    let body = decoded(headers, body)?;
    let value: Value =
        serde_json::from_slice(&body).map_err(|e| format!("its body is not JSON: {e}"))?;
    let mut errors = Vec::new();
    if let Some(schema) = described.get("schema") {
        validate(schema, &value, "body", &mut errors);
    }
    match errors.is_empty() {
        true => Ok(()),
        false => Err(format!(
            "its body does not fit the schema:\n  {}\nbody: {value}",
            errors.join("\n  ")
        )),
    }
}

/// The body with its `Content-Encoding` (gzip) undone.
fn decoded(headers: &HeaderMap, body: &[u8]) -> Result<Vec<u8>, String> {
    match headers
        .get("content-encoding")
        .and_then(|v| v.to_str().ok())
    {
        Some("gzip") => {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(body)
                .read_to_end(&mut out)
                .map_err(|e| format!("its gzip body does not decode: {e}"))?;
            Ok(out)
        }
        _ => Ok(body.to_vec()),
    }
}

/// Validates `value` against `schema`, pushing one line per violation (with the JSON path `at`).
fn validate(schema: &'static Value, value: &Value, at: &str, errors: &mut Vec<String>) {
    let Some(keywords) = schema.as_object() else {
        return;
    };
    for (keyword, rule) in keywords {
        match keyword.as_str() {
            "$ref" => validate(
                target_of(rule.as_str().unwrap_or_default()),
                value,
                at,
                errors,
            ),
            "allOf" => each(rule)
                .into_iter()
                .for_each(|s| validate(s, value, at, errors)),
            "anyOf" | "oneOf" => {
                let fitting = each(rule).iter().filter(|s| fits(s, value)).count();
                let ok = if keyword == "anyOf" {
                    fitting >= 1
                } else {
                    fitting == 1
                };
                if !ok {
                    errors.push(format!("{at}: fits {fitting} of the {keyword} schemas"));
                    // Say why for the one closest to fitting, the first with the same JSON type.
                    if let Some(s) = each(rule).into_iter().find(|s| same_type(s, value)) {
                        validate(s, value, at, errors);
                    }
                }
            }
            "type" => check_type(rule, value, at, errors),
            "enum" if !each_value(rule).contains(&value) => {
                errors.push(format!("{at}: {value} is not one of {rule}"));
            }
            "const" if rule != value => errors.push(format!("{at}: {value} is not {rule}")),
            "required" => {
                for name in each_value(rule).into_iter().filter_map(Value::as_str) {
                    if value.is_object() && value.get(name).is_none() {
                        errors.push(format!("{at}: `{name}` is missing"));
                    }
                }
            }
            // The two are judged together, once.
            "properties" => check_properties(keywords, value, at, errors),
            "additionalProperties" if !keywords.contains_key("properties") => {
                check_properties(keywords, value, at, errors);
            }
            "additionalProperties" => {}
            "items" => {
                for (i, item) in value.as_array().into_iter().flatten().enumerate() {
                    validate(rule, item, &format!("{at}[{i}]"), errors);
                }
            }
            "minItems" | "maxItems" | "minLength" | "maxLength" | "minimum" | "maximum" => {
                check_bound(keyword, rule, value, at, errors);
            }
            "pattern" => check_pattern(rule.as_str().unwrap_or_default(), value, at, errors),
            "format" => check_format(rule.as_str().unwrap_or_default(), value, at, errors),
            "enum" | "const" => {}
            other if ANNOTATIONS.contains(&other) => {}
            other => errors.push(format!(
                "{at}: the schema uses `{other}`, which this validator does not know"
            )),
        }
    }
}

fn fits(schema: &'static Value, value: &Value) -> bool {
    let mut errors = Vec::new();
    validate(schema, value, "", &mut errors);
    errors.is_empty()
}

fn same_type(schema: &'static Value, value: &Value) -> bool {
    let schema = resolve(schema);
    let mut errors = Vec::new();
    match schema.get("type") {
        Some(rule) => check_type(rule, value, "", &mut errors),
        None => return schema.get("allOf").is_some() && value.is_object(),
    }
    errors.is_empty()
}

fn each(rule: &'static Value) -> Vec<&'static Value> {
    rule.as_array()
        .map(|a| a.iter().collect())
        .unwrap_or_default()
}

fn each_value(rule: &Value) -> Vec<&Value> {
    rule.as_array()
        .map(|a| a.iter().collect())
        .unwrap_or_default()
}

fn check_type(rule: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
    let types: Vec<&str> = match rule {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    let fits = types.iter().any(|t| match *t {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "number" => value.is_number(),
        "integer" => value.is_i64() || value.is_u64(),
        _ => false,
    });
    if !fits {
        errors.push(format!("{at}: {value} is not of type {rule}"));
    }
}

fn check_properties(
    keywords: &'static serde_json::Map<String, Value>,
    value: &Value,
    at: &str,
    errors: &mut Vec<String>,
) {
    let Some(object) = value.as_object() else {
        return;
    };
    static EMPTY: LazyLock<serde_json::Map<String, Value>> = LazyLock::new(Default::default);
    let properties = keywords
        .get("properties")
        .and_then(Value::as_object)
        .unwrap_or(&EMPTY);
    let additional = keywords.get("additionalProperties");
    for (name, field) in object {
        let path = format!("{at}.{name}");
        match (properties.get(name), additional) {
            (Some(schema), _) => validate(schema, field, &path, errors),
            (None, Some(Value::Bool(false))) => {
                errors.push(format!(
                    "{at}: `{name}` is not a property the document allows"
                ));
            }
            (None, Some(schema @ Value::Object(_))) => validate(schema, field, &path, errors),
            (None, _) => {}
        }
    }
}

fn check_bound(keyword: &str, rule: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
    let bound = rule.as_f64().unwrap_or_default();
    let measured = match keyword {
        "minItems" | "maxItems" => value.as_array().map(|a| a.len() as f64),
        "minLength" | "maxLength" => value.as_str().map(|s| s.chars().count() as f64),
        _ => value.as_f64(),
    };
    let Some(measured) = measured else {
        return;
    };
    let ok = match keyword {
        "minItems" | "minLength" | "minimum" => measured >= bound,
        _ => measured <= bound,
    };
    if !ok {
        errors.push(format!("{at}: {value} breaks {keyword} {rule}"));
    }
}

fn check_pattern(pattern: &str, value: &Value, at: &str, errors: &mut Vec<String>) {
    thread_local! {
        static COMPILED: RefCell<HashMap<String, regex_lite::Regex>> = RefCell::new(HashMap::new());
    }
    let Some(text) = value.as_str() else {
        return;
    };
    let matches = COMPILED.with(|compiled| {
        let mut compiled = compiled.borrow_mut();
        let regex = compiled.entry(pattern.to_string()).or_insert_with(|| {
            regex_lite::Regex::new(pattern).unwrap_or_else(|e| {
                panic!("the document's pattern {pattern} does not compile: {e}")
            })
        });
        regex.is_match(text)
    });
    if !matches {
        errors.push(format!("{at}: {value} does not match {pattern}"));
    }
}

fn check_format(format: &str, value: &Value, at: &str, errors: &mut Vec<String>) {
    use time::format_description::well_known::Rfc3339;
    let Some(text) = value.as_str() else {
        return;
    };
    let ok = match format {
        "date-time" => time::OffsetDateTime::parse(text, &Rfc3339).is_ok(),
        "date" => {
            let format = time::macros::format_description!("[year]-[month]-[day]");
            time::Date::parse(text, &format).is_ok()
        }
        "uuid" => uuid::Uuid::parse_str(text).is_ok(),
        "email" => text
            .split_once('@')
            .is_some_and(|(l, d)| !l.is_empty() && !d.is_empty()),
        "uri" => text
            .split_once("://")
            .is_some_and(|(s, rest)| !s.is_empty() && !rest.is_empty()),
        _ => true,
    };
    if !ok {
        errors.push(format!("{at}: {value} is not a {format}"));
    }
}
