//! `Accept-Language` chooses the language of problem details (`title`, `detail`, field `message`s), which
//! `Content-Language` names; `code` and `params` stay the same in every language.

use axum::http::Method;
use serde_json::{Value, json};

use crate::support::{TestApp, TestResponse};

const ADDRESSES: &str = "/api/v1/profiles/me/addresses";

/// An address with a label too long, a blank city and a postal code that is not Germany's.
fn bad_address() -> Value {
    json!({
        "label": "x".repeat(51), "recipient_name": "Ada Lovelace", "line1": "Unter den Linden 1",
        "city": "  ", "postal_code": "1011", "country": "DE"
    })
}

async fn post_in(app: &TestApp, token: &str, language: Option<&str>) -> TestResponse {
    let headers: Vec<(&str, &str)> = language
        .map(|l| ("accept-language", l))
        .into_iter()
        .collect();
    app.request(
        Method::POST,
        ADDRESSES,
        Some(token),
        Some(&bad_address()),
        &headers,
    )
    .await
}

/// (field, code, params) of each field error: what stays the same in every language.
fn stable_parts(problem: &Value) -> Vec<(Value, Value, Value)> {
    problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["field"].clone(), e["code"].clone(), e["params"].clone()))
        .collect()
}

fn messages(problem: &Value) -> Vec<&str> {
    problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn a_validation_problem_speaks_the_requested_language_with_the_same_codes_and_params() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u-lang", "lang@example.com").await;

    let english = post_in(&app, &token, None).await;
    let german = post_in(&app, &token, Some("de-CH, fr;q=0.8")).await;
    let french = post_in(&app, &token, Some("fr")).await;
    let spanish = post_in(&app, &token, Some("es-MX;q=0.9, ja")).await;

    let en = english.assert_problem(422, "validation_failed");
    let de = german.assert_problem(422, "validation_failed");
    let fr = french.assert_problem(422, "validation_failed");
    let es = spanish.assert_problem(422, "validation_failed");
    for (response, tag) in [
        (&english, "en"),
        (&german, "de"),
        (&french, "fr"),
        (&spanish, "es"),
    ] {
        assert_eq!(response.header("content-language").as_deref(), Some(tag));
        let vary: Vec<String> = response
            .headers
            .get_all("vary")
            .iter()
            .map(|v| v.to_str().unwrap().to_ascii_lowercase())
            .collect();
        assert!(
            vary.iter().any(|v| v.contains("accept-language")),
            "{vary:?}"
        );
    }
    assert_eq!(
        stable_parts(&en),
        [
            (json!("city"), json!("blank"), json!({})),
            (json!("label"), json!("length"), json!({"max": 50})),
            (
                json!("postal_code"),
                json!("invalid_format"),
                json!({"country": "DE", "example": "12345"})
            ),
        ]
    );
    for other in [&de, &fr, &es] {
        assert_eq!(stable_parts(other), stable_parts(&en));
        assert_eq!(other["type"], en["type"]);
    }
    assert_eq!(
        (en["title"].as_str(), de["title"].as_str()),
        (
            Some("Unprocessable Entity"),
            Some("Nicht verarbeitbarer Inhalt")
        )
    );
    assert_eq!(de["detail"], "die Anfrage enthält ungültige Felder");
    assert_eq!(fr["detail"], "la requête contient des champs non valides");
    assert_eq!(es["detail"], "la solicitud contiene campos no válidos");
    assert_eq!(
        messages(&en),
        [
            "this field must not be blank",
            "must be at most 50 characters long",
            "does not match the postal code format of DE, e.g. 12345"
        ]
    );
    assert_eq!(
        messages(&de),
        [
            "dieses Feld darf nicht leer sein",
            "darf höchstens 50 Zeichen lang sein",
            "entspricht nicht dem Postleitzahlformat von DE, z. B. 12345"
        ]
    );
    assert_eq!(messages(&fr)[1], "doit comporter au plus 50 caractères");
    assert_eq!(messages(&es)[1], "debe tener como máximo 50 caracteres");
}

#[tokio::test]
async fn an_unsupported_or_wildcard_language_falls_back_to_english() {
    let app = TestApp::spawn().await;
    let token = app
        .create_profile("u-fallback", "fallback@example.com")
        .await;
    for header in ["ja", "*", "de;q=0, *;q=0.5", "x-klingon", "", "de;q=0"] {
        let response = post_in(&app, &token, Some(header)).await;

        let problem = response.assert_problem(422, "validation_failed");
        assert_eq!(
            response.header("content-language").as_deref(),
            Some("en"),
            "{header:?}"
        );
        assert_eq!(
            problem["detail"], "the request has invalid fields",
            "{header:?}"
        );
    }
}

#[tokio::test]
async fn problems_outside_validation_are_translated_too() {
    let app = TestApp::spawn().await;
    let token = app.token("u-nobody");

    let missing = app
        .request(
            Method::GET,
            "/api/v1/profiles/me",
            Some(&token),
            None,
            &[("accept-language", "es")],
        )
        .await;
    let no_token = app
        .request(
            Method::GET,
            "/api/v1/profiles/me",
            None,
            None,
            &[("accept-language", "fr")],
        )
        .await;
    let unknown_country = app
        .request(
            Method::GET,
            "/api/v1/address-formats/XX",
            None,
            None,
            &[("accept-language", "de")],
        )
        .await;

    let missing = missing.assert_problem(404, "profile_not_found");
    assert_eq!(missing["title"], "No encontrado");
    assert_eq!(
        missing["detail"],
        "no existe ningún perfil para este usuario"
    );
    let no_token_body = no_token.assert_problem(401, "unauthorized");
    assert_eq!(no_token_body["title"], "Non authentifié");
    assert_eq!(no_token_body["detail"], "aucun jeton bearer n'a été envoyé");
    assert_eq!(
        no_token.header("www-authenticate").as_deref(),
        Some("Bearer")
    );
    let unknown = unknown_country.assert_problem(404, "address_format_not_found");
    assert!(
        unknown["detail"]
            .as_str()
            .unwrap()
            .starts_with("kein Adressformat")
    );
}

#[tokio::test]
async fn malformed_json_names_the_position_in_every_language() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u-json", "json@example.com").await;
    let request = |language: &'static str| {
        axum::http::Request::builder()
            .method(Method::POST)
            .uri(ADDRESSES)
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .header("accept-language", language)
            .body(axum::body::Body::from("{\n  \"city\": }"))
            .unwrap()
    };

    let english = app
        .send(request("en"))
        .await
        .assert_problem(400, "malformed_json");
    let spanish = app
        .send(request("es"))
        .await
        .assert_problem(400, "malformed_json");

    assert_eq!(
        english["detail"],
        "the body is not valid JSON (line 2, column 11)"
    );
    assert_eq!(
        spanish["detail"],
        "el cuerpo no es JSON válido (línea 2, columna 11)"
    );
}

#[tokio::test]
async fn a_successful_answer_names_no_language() {
    let app = TestApp::spawn().await;
    let response = app
        .request(
            Method::GET,
            "/api/v1/address-formats/FR",
            None,
            None,
            &[("accept-language", "fr")],
        )
        .await;

    assert_eq!(response.status.as_u16(), 200);
    assert_eq!(response.header("content-language"), None);
}
