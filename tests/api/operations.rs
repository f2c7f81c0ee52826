//! SPEC section 6 and issue 6: metrics, request logs (and what they never contain), CORS, the request time
//! limit and response compression.

use std::{
    collections::{BTreeMap, BTreeSet},
    io::Read,
    time::Duration,
};

use axum::{
    body::{Body, Bytes},
    http::{Method, Request, StatusCode},
};
use futures_util::StreamExt;
use serde_json::{Value, json};

use crate::support::{TestApp, TestResponse};

// ---------------------------------------------------------------------------------------------------------
// Metrics
// ---------------------------------------------------------------------------------------------------------

async fn scrape(app: &TestApp) -> String {
    let response = app.request(Method::GET, "/metrics", None, None, &[]).await;
    assert_eq!(response.status, StatusCode::OK);
    assert!(
        response
            .header("content-type")
            .unwrap()
            .starts_with("text/plain; version=0.0.4"),
        "{:?}",
        response.header("content-type")
    );
    String::from_utf8(response.body.to_vec()).unwrap()
}

/// Every sample of the Prometheus text as (name, labels, value).
fn samples(text: &str) -> Vec<(String, BTreeMap<String, String>, f64)> {
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').expect("`series value`");
            let value: f64 = value.parse().unwrap_or_else(|_| panic!("value of {line}"));
            let Some((name, labels)) = series.split_once('{') else {
                return (series.to_string(), BTreeMap::new(), value);
            };
            let labels = labels
                .strip_suffix('}')
                .unwrap()
                .split("\",")
                .filter(|kv| !kv.is_empty())
                .map(|kv| {
                    let (k, v) = kv.split_once("=\"").unwrap();
                    (k.to_string(), v.trim_end_matches('"').to_string())
                })
                .collect();
            (name.to_string(), labels, value)
        })
        .collect()
}

/// The value of the one series with exactly these labels; 0 when it has not been recorded yet.
fn value(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    let wanted: BTreeMap<String, String> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    samples(text)
        .into_iter()
        .find(|(n, l, _)| n == name && *l == wanted)
        .map_or(0.0, |(_, _, v)| v)
}

#[tokio::test]
async fn metrics_count_requests_by_method_route_template_and_status() {
    let app = TestApp::spawn().await;
    let token = app
        .create_profile("metrics-u1", "metrics-u1@example.com")
        .await;
    let me = [
        ("method", "GET"),
        ("route", "/api/v1/profiles/me"),
        ("status", "200"),
    ];
    let before = scrape(&app).await;

    for _ in 0..3 {
        assert_eq!(
            app.get("/api/v1/profiles/me", &token).await.status,
            StatusCode::OK
        );
    }
    let after = scrape(&app).await;

    // Other tests in this process count too, so the series moved by at least our three requests.
    let moved =
        value(&after, "http_requests_total", &me) - value(&before, "http_requests_total", &me);
    assert!(moved >= 3.0, "GET /api/v1/profiles/me 200 moved by {moved}");
    let latency = [("method", "GET"), ("route", "/api/v1/profiles/me")];
    assert!(value(&after, "http_request_duration_seconds_count", &latency) >= 3.0);
    let inf = [
        ("method", "GET"),
        ("route", "/api/v1/profiles/me"),
        ("le", "+Inf"),
    ];
    assert!(value(&after, "http_request_duration_seconds_bucket", &inf) >= 3.0);
    let fastest = [
        ("method", "GET"),
        ("route", "/api/v1/profiles/me"),
        ("le", "0.001"),
    ];
    assert!(
        samples(&after)
            .iter()
            .any(|(n, l, _)| n == "http_request_duration_seconds_bucket"
                && l.len() == 3
                && fastest
                    .iter()
                    .all(|(k, v)| l.get(*k).map(String::as_str) == Some(v))),
        "the histogram has a 1 ms bucket"
    );
    assert!(after.contains("# TYPE http_request_duration_seconds histogram"));
    assert!(after.contains("# HELP http_requests_total "));
}

#[tokio::test]
async fn metrics_label_routes_by_template_never_by_raw_path() {
    let app = TestApp::spawn().await;
    for user in ["raw-id-alpha-7f3a", "raw-id-beta-91c2"] {
        let token = app.token(user);
        app.get("/api/v1/profiles/me", &token).await;
        app.get(&format!("/api/v1/profiles/{user}"), &token).await;
        app.get(&format!("/api/v1/users/{user}/nothing-here"), &token)
            .await;
    }
    app.request(
        Method::from_bytes(b"BREW").unwrap(),
        "/api/v1/profiles/me",
        None,
        None,
        &[],
    )
    .await;
    let text = scrape(&app).await;

    assert!(
        !text.contains("raw-id-"),
        "a raw path reached a label:\n{text}"
    );
    let spec = app
        .request(Method::GET, "/api-docs/openapi.json", None, None, &[])
        .await
        .json();
    let templates: BTreeSet<&str> = spec["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for (name, labels, _) in samples(&text) {
        if let Some(route) = labels.get("route") {
            assert!(
                route == "unmatched"
                    || templates.contains(route.as_str())
                    || route.starts_with("/docs")
                    || route == "/api-docs/openapi.json",
                "{name} has route label `{route}`, which is not a template"
            );
        }
        if let Some(method) = labels.get("method").filter(|_| name.starts_with("http_")) {
            assert_ne!(method, "BREW", "unknown methods are labelled `other`");
        }
    }
    let unmatched = [("method", "GET"), ("route", "unmatched"), ("status", "404")];
    assert!(value(&text, "http_requests_total", &unmatched) >= 4.0);
}

#[tokio::test]
async fn metrics_need_no_token_and_report_database_pools() {
    let app = TestApp::spawn().await;
    let text = scrape(&app).await;

    let pools: BTreeSet<String> = samples(&text)
        .into_iter()
        .filter(|(n, _, _)| n == "db_pool_connections")
        .map(|(_, l, _)| format!("{}/{}", l["pool"], l["state"]))
        .collect();
    // Both backends keep writes in a pool of their own.
    let expected: &[&str] = &[
        "reader/idle",
        "reader/in_use",
        "writer/idle",
        "writer/in_use",
    ];
    for series in expected {
        assert!(pools.contains(*series), "{series} missing from {pools:?}");
    }
    assert!(text.contains("# TYPE db_pool_max_connections gauge"));
}

#[tokio::test]
async fn metrics_of_other_modules_render_with_their_descriptions() {
    let app = TestApp::spawn().await;
    // What auth/ and the cache emit through the `metrics` facade; adding zero leaves their real values alone.
    metrics::counter!("auth_verifications_total", "method" => "local", "outcome" => "valid")
        .increment(0);
    metrics::gauge!("auth_breaker_state").increment(0.0);
    metrics::counter!("cache_requests_total", "outcome" => "hit").increment(0);

    let text = scrape(&app).await;

    for (name, kind) in [
        ("auth_verifications_total", "counter"),
        ("auth_breaker_state", "gauge"),
        ("cache_requests_total", "counter"),
    ] {
        assert!(
            text.contains(&format!("# HELP {name} ")),
            "{name} has no HELP"
        );
        assert!(text.contains(&format!("# TYPE {name} {kind}")), "{name}");
    }
    assert!(
        samples(&text)
            .iter()
            .any(|(n, l, _)| n == "auth_verifications_total" && l["method"] == "local")
    );
}

#[tokio::test]
async fn metrics_are_documented_as_a_public_operations_endpoint() {
    let app = TestApp::spawn().await;
    let spec = app
        .request(Method::GET, "/api-docs/openapi.json", None, None, &[])
        .await
        .json();
    let op = &spec["paths"]["/metrics"]["get"];
    assert_eq!(op["tags"], json!(["operations"]));
    assert_eq!(op["security"], json!([{}]));
    assert!(op["responses"]["200"]["content"]["text/plain; version=0.0.4"].is_object());
}

// ---------------------------------------------------------------------------------------------------------
// CORS
// ---------------------------------------------------------------------------------------------------------

const SHOP: &str = "https://shop.example.com";

async fn preflight(app: &TestApp, origin: &str) -> TestResponse {
    app.request(
        Method::OPTIONS,
        "/api/v1/profiles/me",
        None,
        None,
        &[
            ("origin", origin),
            ("access-control-request-method", "PUT"),
            (
                "access-control-request-headers",
                "authorization,content-type,if-match",
            ),
        ],
    )
    .await
}

#[tokio::test]
async fn cors_preflight_from_an_allowed_origin_is_answered_with_its_permissions() {
    let app = TestApp::spawn_with(&[(
        "CORS_ALLOWED_ORIGINS",
        "https://shop.example.com, http://localhost:3000",
    )])
    .await;

    let response = preflight(&app, SHOP).await;

    assert!(response.status.is_success(), "{}", response.status);
    assert_eq!(
        response.header("access-control-allow-origin").as_deref(),
        Some(SHOP)
    );
    let methods = response.header("access-control-allow-methods").unwrap();
    for method in ["GET", "PUT", "PATCH", "POST", "DELETE"] {
        assert!(methods.contains(method), "{methods}");
    }
    let headers = response.header("access-control-allow-headers").unwrap();
    for header in [
        "authorization",
        "content-type",
        "if-match",
        "if-none-match",
        "x-request-id",
        "traceparent",
        "tracestate",
    ] {
        assert!(headers.contains(header), "{headers}");
    }
}

#[tokio::test]
async fn cors_answers_an_allowed_origin_and_exposes_the_api_headers() {
    let app = TestApp::spawn_with(&[("CORS_ALLOWED_ORIGINS", SHOP)]).await;
    let token = app.create_profile("cors-u1", "cors-u1@example.com").await;

    let response = app
        .request(
            Method::GET,
            "/api/v1/profiles/me",
            Some(&token),
            None,
            &[("origin", SHOP)],
        )
        .await;

    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(
        response.header("access-control-allow-origin").as_deref(),
        Some(SHOP)
    );
    let exposed = response.header("access-control-expose-headers").unwrap();
    for header in [
        "etag",
        "location",
        "x-request-id",
        "retry-after",
        "ratelimit-limit",
        "ratelimit-remaining",
        "ratelimit-reset",
    ] {
        assert!(exposed.contains(header), "{exposed}");
    }
    let missing = app
        .request(Method::GET, "/nowhere", None, None, &[("origin", SHOP)])
        .await;
    missing.assert_problem(404, "not_found");
    assert_eq!(
        missing.header("access-control-allow-origin").as_deref(),
        Some(SHOP)
    );
}

#[tokio::test]
async fn cors_refuses_an_origin_that_is_not_listed() {
    let app = TestApp::spawn_with(&[("CORS_ALLOWED_ORIGINS", SHOP)]).await;

    let response = preflight(&app, "https://evil.example.net").await;
    let simple = app
        .request(
            Method::GET,
            "/health",
            None,
            None,
            &[("origin", "https://evil.example.net")],
        )
        .await;

    assert_eq!(response.header("access-control-allow-origin"), None);
    assert_eq!(simple.status, StatusCode::OK);
    assert_eq!(simple.header("access-control-allow-origin"), None);
}

#[tokio::test]
async fn cors_is_off_when_no_origin_is_configured() {
    let app = TestApp::spawn().await;

    let response = preflight(&app, SHOP).await;
    let simple = app
        .request(Method::GET, "/health", None, None, &[("origin", SHOP)])
        .await;

    assert_eq!(response.header("access-control-allow-origin"), None);
    assert_eq!(response.header("access-control-allow-methods"), None);
    assert_eq!(simple.header("access-control-allow-origin"), None);
}

// ---------------------------------------------------------------------------------------------------------
// Request time limit
// ---------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_request_running_past_the_time_limit_gets_503_request_timeout_problem() {
    let app = TestApp::spawn_with(&[
        ("REQUEST_TIMEOUT_SECONDS", "1"),
        ("CORS_ALLOWED_ORIGINS", SHOP),
    ])
    .await;
    let token = app.token("slow-u1");
    // The body's last chunk comes long after the limit, so the handler is still reading when time runs out.
    let first = futures_util::stream::iter([Ok::<_, std::io::Error>(Bytes::from_static(
        br#"{"email": "slow@example.com", "#,
    ))]);
    let last = futures_util::stream::once(async {
        tokio::time::sleep(Duration::from_secs(60)).await;
        Ok(Bytes::from_static(br#""display_name": "Slow"}"#))
    });
    let request = Request::builder()
        .method(Method::PUT)
        .uri("/api/v1/profiles/me")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .header("origin", SHOP)
        .body(Body::from_stream(first.chain(last)))
        .unwrap();

    let response = app.send(request).await;

    let body = response.assert_problem(503, "request_timeout");
    assert_eq!(response.header("retry-after").as_deref(), Some("1"));
    assert!(body["detail"].as_str().unwrap().contains("in time"));
    // CORS wraps the time limit, so a browser can read this answer too.
    assert_eq!(
        response.header("access-control-allow-origin").as_deref(),
        Some(SHOP)
    );
}

// ---------------------------------------------------------------------------------------------------------
// Compression
// ---------------------------------------------------------------------------------------------------------

fn gunzip(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(body)
        .read_to_end(&mut out)
        .unwrap();
    out
}

#[tokio::test]
async fn large_responses_are_gzipped_when_the_client_accepts_it() {
    let app = TestApp::spawn().await;
    let plain = app
        .request(Method::GET, "/api-docs/openapi.json", None, None, &[])
        .await;

    let zipped = app
        .request(
            Method::GET,
            "/api-docs/openapi.json",
            None,
            None,
            &[("accept-encoding", "gzip")],
        )
        .await;

    assert_eq!(plain.header("content-encoding"), None);
    assert_eq!(zipped.status, StatusCode::OK);
    assert_eq!(zipped.header("content-encoding").as_deref(), Some("gzip"));
    assert!(
        zipped
            .header("vary")
            .unwrap()
            .to_lowercase()
            .contains("accept-encoding")
    );
    assert!(zipped.body.len() < plain.body.len());
    let unzipped: Value = serde_json::from_slice(&gunzip(&zipped.body)).unwrap();
    assert_eq!(unzipped, plain.json());
}

#[tokio::test]
async fn small_responses_and_responses_with_an_etag_are_not_compressed() {
    let app = TestApp::spawn().await;
    let token = app.token("gzip-u1");
    let long_avatar = format!("https://cdn.example.com/{}.png", "a".repeat(1500));
    let created = app
        .put_json(
            "/api/v1/profiles/me",
            &token,
            &json!({"email": "gzip@example.com", "display_name": "Gzip", "avatar_url": long_avatar}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED);

    let health = app
        .request(
            Method::GET,
            "/health",
            None,
            None,
            &[("accept-encoding", "gzip")],
        )
        .await;
    let profile = app
        .request(
            Method::GET,
            "/api/v1/profiles/me",
            Some(&token),
            None,
            &[("accept-encoding", "gzip")],
        )
        .await;

    assert_eq!(health.status, StatusCode::OK);
    assert_eq!(health.header("content-encoding"), None);
    assert_eq!(health.json()["status"], "ok");
    assert_eq!(profile.status, StatusCode::OK);
    assert!(
        profile.body.len() > 1024,
        "the profile is large enough to compress"
    );
    assert!(profile.header("etag").is_some());
    assert_eq!(profile.header("content-encoding"), None);
    assert_eq!(profile.json()["avatar_url"], json!(long_avatar));
}
