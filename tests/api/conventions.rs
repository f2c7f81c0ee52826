//! SPEC section 3: problem+json for every error, request ids, body limits and content types.

use axum::{
    body::Body,
    http::{Method, Request, StatusCode},
};
use serde_json::json;

use crate::support::TestApp;

const ME: &str = "/api/v1/profiles/me";

#[tokio::test]
async fn unknown_route_returns_404_not_found_as_problem_json() {
    let app = TestApp::spawn().await;
    let response = app.get("/api/v1/nothing-here", &app.token("u1")).await;
    let problem = response.assert_problem(404, "not_found");
    assert_eq!(
        problem["type"],
        "urn:user-profile-service:problem:not_found"
    );
    assert_eq!(problem["title"], "Not Found");
}

#[tokio::test]
async fn wrong_method_returns_405_method_not_allowed_with_allow_header() {
    let app = TestApp::spawn().await;
    let response = app
        .request(Method::POST, ME, Some(&app.token("u1")), None, &[])
        .await;
    response.assert_problem(405, "method_not_allowed");
    let allow = response.header("allow").unwrap();
    assert!(
        allow.contains("GET")
            && allow.contains("PUT")
            && allow.contains("PATCH")
            && allow.contains("DELETE")
    );
}

#[tokio::test]
async fn malformed_json_returns_400_malformed_json() {
    let app = TestApp::spawn().await;
    let request = Request::builder()
        .method(Method::PUT)
        .uri(ME)
        .header("authorization", format!("Bearer {}", app.token("u1")))
        .header("content-type", "application/json")
        .body(Body::from("{\"email\": "))
        .unwrap();
    app.send(request)
        .await
        .assert_problem(400, "malformed_json");
}

#[tokio::test]
async fn a_body_that_is_not_json_returns_415_unsupported_media_type() {
    let app = TestApp::spawn().await;
    let body = json!({"email": "a@example.com", "display_name": "A"});
    for content_type in ["text/plain", "application/x-www-form-urlencoded"] {
        let response = app
            .request(
                Method::PUT,
                ME,
                Some(&app.token("u1")),
                Some(&body),
                &[("content-type", content_type)],
            )
            .await;
        response.assert_problem(415, "unsupported_media_type");
    }
    let request = Request::builder()
        .method(Method::PUT)
        .uri(ME)
        .header("authorization", format!("Bearer {}", app.token("u1")))
        .body(Body::from(body.to_string()))
        .unwrap();
    app.send(request)
        .await
        .assert_problem(415, "unsupported_media_type");
}

#[tokio::test]
async fn a_body_over_64_kib_returns_413_payload_too_large() {
    let app = TestApp::spawn().await;
    let body = json!({"email": "a@example.com", "display_name": "x".repeat(70 * 1024)});
    let response = app.put_json(ME, &app.token("u1"), &body).await;
    response.assert_problem(413, "payload_too_large");
    app.get(ME, &app.token("u1"))
        .await
        .assert_problem(404, "profile_not_found");
}

#[tokio::test]
async fn a_wrongly_typed_field_returns_422_naming_it() {
    let app = TestApp::spawn().await;
    let response = app
        .put_json(
            ME,
            &app.token("u1"),
            &json!({"email": 42, "display_name": "A"}),
        )
        .await;
    let problem = response.assert_problem(422, "validation_failed");
    assert_eq!(problem["errors"][0]["field"], "email");
    assert_eq!(problem["errors"][0]["code"], "invalid_type");
}

#[tokio::test]
async fn a_merge_patch_that_is_not_an_object_returns_422() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u1", "a@example.com").await;
    app.patch_json(ME, &token, &json!(["not", "an", "object"]))
        .await
        .assert_problem(422, "validation_failed");
}

#[tokio::test]
async fn every_response_carries_a_generated_request_id_when_none_is_sent() {
    let app = TestApp::spawn().await;
    let response = app.request(Method::GET, "/health", None, None, &[]).await;
    let id = response.header("x-request-id").expect("x-request-id");
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
}

#[tokio::test]
async fn a_safe_caller_request_id_is_echoed_in_the_header_and_problem_body() {
    let app = TestApp::spawn().await;
    let response = app
        .request(
            Method::GET,
            ME,
            Some(&app.token("u1")),
            None,
            &[("x-request-id", "checkout-42_a-b")],
        )
        .await;
    assert_eq!(
        response.header("x-request-id").as_deref(),
        Some("checkout-42_a-b")
    );
    assert_eq!(response.json()["request_id"], "checkout-42_a-b");
}

#[tokio::test]
async fn an_unsafe_caller_request_id_is_replaced() {
    let app = TestApp::spawn().await;
    let long = "x".repeat(200);
    for bad in ["has space", "semi;colon", long.as_str()] {
        let response = app
            .request(Method::GET, "/health", None, None, &[("x-request-id", bad)])
            .await;
        let id = response.header("x-request-id").unwrap();
        assert_ne!(id, bad);
        assert!(uuid::Uuid::parse_str(&id).is_ok());
    }
}

#[tokio::test]
async fn problem_bodies_never_contain_sql_or_the_submitted_values() {
    let app = TestApp::spawn().await;
    app.create_profile("u1", "taken@example.com").await;
    let response = app
        .put_json(
            ME,
            &app.token("u2"),
            &json!({"email": "taken@example.com", "display_name": "B"}),
        )
        .await;
    let text = String::from_utf8_lossy(&response.body).to_lowercase();
    assert_eq!(response.status, StatusCode::CONFLICT);
    for leak in [
        "taken@example.com",
        "insert",
        "unique",
        "constraint",
        "sqlite",
        "postgres",
    ] {
        assert!(!text.contains(leak), "problem body leaks `{leak}`: {text}");
    }
}
