//! The OpenAPI document and Swagger UI: every served route is documented, the UI works offline, and the
//! document matches the committed snapshot `docs/openapi.json`, so a contract change is always deliberate.

use std::{collections::HashMap, path::Path};

use axum::http::{Method, StatusCode};
use serde_json::Value;

use crate::support::TestApp;

async fn spec(app: &TestApp) -> Value {
    let response = app
        .request(Method::GET, "/api-docs/openapi.json", None, None, &[])
        .await;
    assert_eq!(response.status, StatusCode::OK);
    response.json()
}

/// The routes SPEC.md promises that exist so far; each must be in the document.
const EXPECTED: &[(&str, &str)] = &[
    ("get", "/health"),
    ("get", "/health/ready"),
    ("get", "/api/v1/profiles/me"),
    ("put", "/api/v1/profiles/me"),
    ("patch", "/api/v1/profiles/me"),
    ("delete", "/api/v1/profiles/me"),
    ("get", "/api/v1/profiles/me/addresses"),
    ("post", "/api/v1/profiles/me/addresses"),
    ("get", "/api/v1/profiles/me/addresses/{address_id}"),
    ("put", "/api/v1/profiles/me/addresses/{address_id}"),
    ("patch", "/api/v1/profiles/me/addresses/{address_id}"),
    ("delete", "/api/v1/profiles/me/addresses/{address_id}"),
    ("get", "/api/v1/users/{user_id}/addresses"),
    ("get", "/api/v1/users/{user_id}/addresses/defaults"),
    ("get", "/api/v1/users/{user_id}/addresses/{address_id}"),
    (
        "get",
        "/api/v1/users/{user_id}/addresses/{address_id}/revisions/{revision}",
    ),
    ("get", "/api/v1/profiles/me/preferences"),
    ("put", "/api/v1/profiles/me/preferences"),
    ("patch", "/api/v1/profiles/me/preferences"),
    ("get", "/api/v1/profiles/me/export"),
    ("get", "/api/v1/users/{user_id}/preferences"),
    ("get", "/api/v1/admin/profiles"),
    ("get", "/api/v1/admin/profiles/{user_id}"),
    ("patch", "/api/v1/admin/profiles/{user_id}"),
    ("delete", "/api/v1/admin/profiles/{user_id}"),
    ("get", "/api/v1/admin/kept-suspensions/{user_id}"),
    ("delete", "/api/v1/admin/kept-suspensions/{user_id}"),
    ("get", "/api/v1/admin/audit-events"),
    ("get", "/api/v1/address-formats"),
    ("get", "/api/v1/address-formats/{country}"),
];

#[tokio::test]
async fn the_spec_documents_every_promised_route_with_bearer_security() {
    let app = TestApp::spawn().await;
    let spec = spec(&app).await;
    for (method, path) in EXPECTED {
        assert!(
            spec["paths"][path][method].is_object(),
            "{method} {path} is missing from the spec"
        );
    }
    assert_eq!(
        spec["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    assert!(spec["components"]["schemas"]["ProblemDetails"].is_object());
}

#[tokio::test]
async fn every_documented_operation_is_served_by_the_router_and_documents_its_errors() {
    let app = TestApp::spawn().await;
    let spec = spec(&app).await;
    let mut operations = 0;
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            operations += 1;
            let concrete = path.replace(['{', '}'], "");
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let response = app
                .request(method.clone(), &concrete, None, None, &[])
                .await;
            assert_ne!(
                response.status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path} is documented but not routed"
            );
            if response.status == StatusCode::NOT_FOUND {
                assert_ne!(
                    response.json()["code"],
                    "not_found",
                    "{method} {path} is documented but not routed"
                );
            }
            assert!(
                op["responses"]["500"].is_object(),
                "{method} {path} does not document 500"
            );
            let status = response.status.as_u16().to_string();
            assert!(
                op["responses"][&status].is_object(),
                "{method} {path} answered {status}, which is not documented"
            );
        }
    }
    assert!(operations >= EXPECTED.len());
}

#[tokio::test]
async fn swagger_ui_is_served_from_the_binary() {
    let app = TestApp::spawn().await;
    let page = app.request(Method::GET, "/docs/", None, None, &[]).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(String::from_utf8_lossy(&page.body).contains("swagger"));
    let asset = app
        .request(Method::GET, "/docs/swagger-ui-bundle.js", None, None, &[])
        .await;
    assert_eq!(asset.status, StatusCode::OK);
    assert!(
        asset.body.len() > 100_000,
        "the UI bundle is vendored in the binary"
    );
}

#[tokio::test]
async fn swagger_ui_is_configured_to_ask_no_validator_service() {
    let app = TestApp::spawn().await;

    let initializer = app
        .request(Method::GET, "/docs/swagger-initializer.js", None, None, &[])
        .await;

    assert_eq!(initializer.status, StatusCode::OK);
    let script = String::from_utf8_lossy(&initializer.body).replace(char::is_whitespace, "");
    assert!(script.contains("\"validatorUrl\":\"none\""), "{script}");
    assert!(script.contains("/api-docs/openapi.json"), "{script}");
}

#[tokio::test]
async fn the_openapi_command_prints_the_same_document() {
    let app = TestApp::spawn().await;
    let served = spec(&app).await;
    let printed = serde_json::to_value(user_profile_service::http::openapi()).unwrap();
    assert_eq!(served, printed);
}

/// The committed document, relative to the crate root.
const SNAPSHOT: &str = "docs/openapi.json";
/// The one command that rewrites the snapshot from the served document.
const UPDATE_COMMAND: &str = "UPDATE_OPENAPI_SNAPSHOT=1 cargo test --test api openapi_snapshot";

#[tokio::test]
async fn the_served_document_matches_the_committed_openapi_snapshot() {
    let app = TestApp::spawn().await;
    let response = app
        .request(Method::GET, "/api-docs/openapi.json", None, None, &[])
        .await;
    assert_eq!(response.status, StatusCode::OK);
    let served = pretty(std::str::from_utf8(&response.body).unwrap());
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(SNAPSHOT);

    #[allow(
        clippy::disallowed_methods,
        reason = "a developer's switch for this test, not service configuration"
    )]
    let update = std::env::var("UPDATE_OPENAPI_SNAPSHOT").as_deref() == Ok("1");
    if update {
        std::fs::write(&path, &served).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == served,
        "{SNAPSHOT} differs from the document served at /api-docs/openapi.json.\n{}\
         If the change is intended, update the snapshot and commit it:\n    {UPDATE_COMMAND}\n",
        diff_hint(&committed, &served)
    );
}

/// Re-indents compact JSON the way `serde_json::to_string_pretty` does (two spaces, `"key": value`), keeping
/// the keys in the order they were served, and ends it with a newline like `user-profile-service openapi`.
fn pretty(compact: &str) -> String {
    fn newline(out: &mut String, depth: usize) {
        out.push('\n');
        out.push_str(&"  ".repeat(depth));
    }
    let mut out = String::with_capacity(compact.len() * 2);
    let mut depth = 0;
    let mut chars = compact.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                out.push(c);
                while let Some(c) = chars.next() {
                    out.push(c);
                    match c {
                        '\\' => out.extend(chars.next()),
                        '"' => break,
                        _ => {}
                    }
                }
            }
            '{' | '[' if matches!(chars.peek(), Some('}' | ']')) => {
                out.push(c);
                out.extend(chars.next());
            }
            '{' | '[' => {
                out.push(c);
                depth += 1;
                newline(&mut out, depth);
            }
            '}' | ']' => {
                depth -= 1;
                newline(&mut out, depth);
                out.push(c);
            }
            ',' => {
                out.push(c);
                newline(&mut out, depth);
            }
            ':' => out.push_str(": "),
            c if c.is_whitespace() => {}
            c => out.push(c),
        }
    }
    out.push('\n');
    out
}

/// What changed, in a few lines: the paths and schemas added or removed, then the first lines found on one
/// side only (`-` the committed file, `+` the served document, with their line numbers).
fn diff_hint(committed: &str, served: &str) -> String {
    let mut hint = String::new();
    if committed.is_empty() {
        return format!("{SNAPSHOT} is missing or empty.\n");
    }
    if let (Ok(old), Ok(new)) = (
        serde_json::from_str::<Value>(committed),
        serde_json::from_str::<Value>(served),
    ) {
        for pointer in ["/paths", "/components/schemas"] {
            let keys = |doc: &Value| -> Vec<String> {
                doc.pointer(pointer)
                    .and_then(Value::as_object)
                    .map(|m| m.keys().cloned().collect())
                    .unwrap_or_default()
            };
            let (old_keys, new_keys) = (keys(&old), keys(&new));
            let added: Vec<_> = new_keys.iter().filter(|k| !old_keys.contains(k)).collect();
            let removed: Vec<_> = old_keys.iter().filter(|k| !new_keys.contains(k)).collect();
            if !added.is_empty() {
                hint += &format!("{pointer} added: {added:?}\n");
            }
            if !removed.is_empty() {
                hint += &format!("{pointer} removed: {removed:?}\n");
            }
        }
    }
    // Lines present on one side only (as a multiset, so moved blocks do not count), first few of each.
    let mut balance: HashMap<&str, i64> = HashMap::new();
    for line in committed.lines() {
        *balance.entry(line).or_default() += 1;
    }
    for line in served.lines() {
        *balance.entry(line).or_default() -= 1;
    }
    for (sign, text, excess) in [("-", committed, 1), ("+", served, -1)] {
        let mut left = balance.clone();
        let only: Vec<_> = text
            .lines()
            .enumerate()
            .filter(|(_, line)| {
                let n = left.get_mut(line).unwrap();
                let keep = *n * excess > 0;
                if keep {
                    *n -= excess;
                }
                keep
            })
            .collect();
        for (number, line) in only.iter().take(5) {
            hint += &format!("{sign} {:>5}: {}\n", number + 1, line.trim());
        }
        if only.len() > 5 {
            hint += &format!("{sign} ... and {} more lines\n", only.len() - 5);
        }
    }
    hint
}
