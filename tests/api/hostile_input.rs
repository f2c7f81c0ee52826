//! Hostile input across the API: control and invisible characters in bodies, path ids, query values, cursors
//! and tokens are refused before they reach the database (PostgreSQL cannot store U+0000); names are trimmed
//! the same way everywhere; and a 422 names every problem of a body at once, read-only fields in any form.

use axum::http::{Method, StatusCode};
use base64::Engine;
use serde_json::{Value, json};

use crate::support::{TestApp, TestResponse};

const ME: &str = "/api/v1/profiles/me";
const ADDRESSES: &str = "/api/v1/profiles/me/addresses";
const PREFS: &str = "/api/v1/profiles/me/preferences";
const ADMIN_PROFILES: &str = "/api/v1/admin/profiles";
const EVENTS: &str = "/api/v1/admin/audit-events";

/// Control characters of each kind: C0 (NUL, tab, newline, escape), DEL, C1 (NEL, CSI) and the line separator.
const CONTROLS: [char; 8] = [
    '\u{0}', '\t', '\n', '\u{1b}', '\u{7f}', '\u{85}', '\u{9b}', '\u{2028}',
];
/// Bidirectional overrides and isolates, and zero-width characters.
const INVISIBLES: [char; 6] = [
    '\u{202e}', '\u{202a}', '\u{2067}', '\u{200b}', '\u{200d}', '\u{feff}',
];

const PROFILE_TEXT_FIELDS: [&str; 9] = [
    "avatar_url",
    "date_of_birth",
    "display_name",
    "email",
    "first_name",
    "last_name",
    "locale",
    "phone",
    "timezone",
];
const PROFILE_NAMES: [&str; 3] = ["display_name", "first_name", "last_name"];
const ADDRESS_TEXT_FIELDS: [&str; 10] = [
    "city",
    "company",
    "country",
    "label",
    "line1",
    "line2",
    "phone",
    "postal_code",
    "recipient_name",
    "region",
];
const ADDRESS_PRINTED: [&str; 8] = [
    "city",
    "company",
    "label",
    "line1",
    "line2",
    "postal_code",
    "recipient_name",
    "region",
];

fn profile() -> Value {
    json!({
        "email": "ada@example.com", "display_name": "Ada", "first_name": "Ada", "last_name": "Lovelace",
        "phone": "+442079460000", "date_of_birth": "1990-12-10", "locale": "en-GB",
        "timezone": "Europe/London", "avatar_url": "https://cdn.example.com/a.png"
    })
}

fn address() -> Value {
    json!({
        "label": "Home", "recipient_name": "Ada Lovelace", "company": "Engines Ltd",
        "line1": "12 St James's Square", "line2": "Flat 3", "city": "London", "region": "Greater London",
        "postal_code": "SW1Y 4JH", "country": "GB", "phone": "+442079460000"
    })
}

/// `field:code` of every error of a 422, in the answer's order.
fn errors_of(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{}:{}",
                e["field"].as_str().unwrap(),
                e["code"].as_str().unwrap()
            )
        })
        .collect()
}

/// `field:code` for each field, sorted like an answer.
fn expected(fields: &[&str], code: &str) -> Vec<String> {
    let mut out: Vec<String> = fields.iter().map(|f| format!("{f}:{code}")).collect();
    out.sort();
    out
}

#[track_caller]
fn assert_422(response: &TestResponse) -> Vec<String> {
    errors_of(&response.assert_problem(422, "validation_failed"))
}

async fn admin_patch(app: &TestApp, user_id: &str, body: &Value) -> TestResponse {
    let token = app.token_with("ops", &["admin"], None);
    app.patch_json(&format!("{ADMIN_PROFILES}/{user_id}"), &token, body)
        .await
}

#[tokio::test]
async fn every_profile_text_field_holding_a_control_character_is_named_in_one_422_and_nothing_is_stored()
 {
    let app = TestApp::spawn().await;
    let token = app.token("u1");
    for c in CONTROLS {
        let mut body = profile();
        for field in PROFILE_TEXT_FIELDS {
            let value = body[field].as_str().unwrap();
            body[field] = json!(format!("{value}{c}"));
        }

        let errors = assert_422(&app.put_json(ME, &token, &body).await);

        let controls: Vec<&String> = errors
            .iter()
            .filter(|e| e.ends_with(":control_character"))
            .collect();
        assert_eq!(
            controls,
            expected(&PROFILE_TEXT_FIELDS, "control_character")
                .iter()
                .collect::<Vec<_>>(),
            "{c:?}: {errors:?}"
        );
    }
    app.get(ME, &token)
        .await
        .assert_problem(404, "profile_not_found");
}

#[tokio::test]
async fn bidi_controls_and_zero_width_characters_are_refused_in_every_profile_name() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u1", "a@example.com").await;
    for c in INVISIBLES {
        let mut body = profile();
        for field in PROFILE_NAMES {
            body[field] = json!(format!("Ad{c}a"));
        }

        let put = assert_422(&app.put_json(ME, &token, &body).await);
        let patch = assert_422(
            &app.patch_json(ME, &token, &json!({"display_name": format!("{c}Ada")}))
                .await,
        );

        assert_eq!(
            put,
            expected(&PROFILE_NAMES, "invisible_character"),
            "{c:?}"
        );
        assert_eq!(patch, ["display_name:invisible_character"], "{c:?}");
    }
    assert_eq!(app.get(ME, &token).await.json()["version"], 1);
}

#[tokio::test]
async fn every_address_text_field_holding_a_control_character_is_refused_on_post_put_and_patch() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u1", "a@example.com").await;
    let created = app.post_json(ADDRESSES, &token, &address()).await.json();
    let at = format!("{ADDRESSES}/{}", created["id"].as_str().unwrap());
    for c in CONTROLS {
        let mut body = address();
        for field in ADDRESS_TEXT_FIELDS {
            let value = body[field].as_str().unwrap();
            body[field] = json!(format!("{value}{c}"));
        }
        let patch: Value = ADDRESS_TEXT_FIELDS
            .iter()
            .map(|f| (f.to_string(), json!(format!("{c}x"))))
            .collect::<serde_json::Map<_, _>>()
            .into();

        for response in [
            app.post_json(ADDRESSES, &token, &body).await,
            app.put_json(&at, &token, &body).await,
            app.patch_json(&at, &token, &patch).await,
        ] {
            let errors = assert_422(&response);
            let controls: Vec<String> = errors
                .into_iter()
                .filter(|e| e.ends_with(":control_character"))
                .collect();
            assert_eq!(
                controls,
                expected(&ADDRESS_TEXT_FIELDS, "control_character"),
                "{c:?}"
            );
        }
    }
    let page = app.get(ADDRESSES, &token).await.json();
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert_eq!(page["items"][0]["revision"], 1);
}

#[tokio::test]
async fn bidi_controls_and_zero_width_characters_are_refused_in_every_printed_address_field() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u1", "a@example.com").await;
    for c in INVISIBLES {
        let mut body = address();
        body["country"] = json!("AE");
        for field in ADDRESS_PRINTED {
            body[field] = json!(format!("A{c}1"));
        }

        let errors = assert_422(&app.post_json(ADDRESSES, &token, &body).await);

        assert_eq!(
            errors,
            expected(&ADDRESS_PRINTED, "invisible_character"),
            "{c:?}"
        );
    }
}

#[tokio::test]
async fn preference_texts_holding_control_or_invisible_characters_are_refused_and_nothing_is_stored()
 {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u1", "a@example.com").await;
    let body = json!({
        "language": "de-DE\u{0}", "currency": "\u{0}EUR",
        "recommendations": {"favorite_categories": ["books", " ", "gar\u{0}den"]}
    });

    let put = assert_422(&app.put_json(PREFS, &token, &body).await);
    let patch = assert_422(&app.patch_json(PREFS, &token, &body).await);
    let invisible = assert_422(
        &app.patch_json(
            PREFS,
            &token,
            &json!({"recommendations": {"favorite_categories": ["bo\u{202e}oks"]}}),
        )
        .await,
    );

    let wanted = [
        "currency:control_character",
        "language:control_character",
        "recommendations.favorite_categories:control_character",
    ];
    assert_eq!(put, wanted);
    assert_eq!(patch, wanted);
    assert_eq!(
        invisible,
        ["recommendations.favorite_categories:invisible_character"]
    );
    assert_eq!(app.get(PREFS, &token).await.json()["version"], 0);
}

#[tokio::test]
async fn names_lose_surrounding_white_space_in_every_name_field_and_a_blank_one_is_422() {
    let app = TestApp::spawn().await;
    let token = app.token("u1");
    let mut body = profile();
    body["display_name"] = json!("\u{a0} Ada  King \u{3000}");
    body["first_name"] = json!(" Ada");
    body["last_name"] = json!("King ");

    let created = app.put_json(ME, &token, &body).await;
    let mut address = address();
    address["recipient_name"] = json!("  Ada King\u{2003}");
    address["line1"] = json!(" 12 St James's Square ");
    address["postal_code"] = json!(" SW1Y 4JH ");
    let stored = app.post_json(ADDRESSES, &token, &address).await;

    assert_eq!(created.status, StatusCode::CREATED);
    let profile = created.json();
    assert_eq!(
        (
            &profile["display_name"],
            &profile["first_name"],
            &profile["last_name"]
        ),
        (&json!("Ada  King"), &json!("Ada"), &json!("King"))
    );
    assert_eq!(stored.status, StatusCode::CREATED);
    let stored = stored.json();
    assert_eq!(stored["recipient_name"], "Ada King");
    assert_eq!(stored["line1"], "12 St James's Square");
    assert_eq!(stored["postal_code"], "SW1Y 4JH");
    let admin = app.token_with("ops", &["admin"], None);
    let found = app
        .get(&format!("{ADMIN_PROFILES}?q=ada%20%20k"), &admin)
        .await
        .json();
    assert_eq!(found["items"][0]["user_id"], "u1");
    for field in PROFILE_NAMES {
        let errors = assert_422(
            &app.patch_json(ME, &token, &json!({ field: " \u{2003} " }))
                .await,
        );
        assert_eq!(errors, [format!("{field}:blank")]);
    }
}

#[tokio::test]
async fn a_path_user_id_holding_a_control_or_invisible_character_is_422_naming_user_id() {
    let app = TestApp::spawn().await;
    let service = app.token_with("orders", &["service"], None);
    let admin = app.token_with("ops", &["admin"], None);
    let address = "0193b7c2-6f1e-7d2a-9b1c-3f4e5a6b7c8d";
    for id in ["u%00", "u%0A1", "%C2%85u", "u%E2%80%AE1", "%E2%80%8Bu"] {
        let mut responses = Vec::new();
        for path in [
            format!("/api/v1/users/{id}/addresses"),
            format!("/api/v1/users/{id}/addresses/defaults"),
            format!("/api/v1/users/{id}/addresses/{address}"),
            format!("/api/v1/users/{id}/addresses/{address}/revisions/1"),
            format!("/api/v1/users/{id}/preferences"),
        ] {
            responses.push(app.get(&path, &service).await);
        }
        let profile = format!("{ADMIN_PROFILES}/{id}");
        responses.push(app.get(&profile, &admin).await);
        responses.push(
            app.patch_json(&profile, &admin, &json!({"status": "suspended"}))
                .await,
        );
        responses.push(app.delete(&profile, &admin).await);
        let kept = format!("/api/v1/admin/kept-suspensions/{id}");
        responses.push(app.get(&kept, &admin).await);
        responses.push(app.delete(&kept, &admin).await);

        for response in responses {
            let errors = assert_422(&response);
            assert_eq!(errors.len(), 1, "{id}");
            assert!(errors[0].starts_with("user_id:"), "{id}: {errors:?}");
        }
    }
    // A caller who may not read the user is refused first, and learns nothing from a 422.
    let stranger = app.token("u2");
    app.get("/api/v1/users/u%00/addresses", &stranger)
        .await
        .assert_problem(403, "forbidden");
}

#[tokio::test]
async fn query_values_holding_a_control_character_are_422_naming_every_such_parameter() {
    let app = TestApp::spawn().await;
    let admin = app.token_with("ops", &["admin"], None);
    let token = app.create_profile("u1", "a@example.com").await;
    for (path, token, parameters) in [
        (
            ADMIN_PROFILES,
            &admin,
            &["q", "status", "cursor", "limit"][..],
        ),
        (
            EVENTS,
            &admin,
            &["user_id", "actor_id", "action", "since", "until", "cursor"][..],
        ),
        (ADDRESSES, &token, &["cursor"][..]),
        ("/api/v1/users/u1/addresses", &admin, &["cursor"][..]),
    ] {
        for parameter in parameters {
            let errors = assert_422(&app.get(&format!("{path}?{parameter}=a%00b"), token).await);
            assert_eq!(errors, [format!("{parameter}:control_character")], "{path}");
        }
        let all: Vec<String> = parameters.iter().map(|p| format!("{p}=%C2%85")).collect();
        let errors = assert_422(&app.get(&format!("{path}?{}", all.join("&")), token).await);
        assert_eq!(errors, expected(parameters, "control_character"), "{path}");
    }
}

#[tokio::test]
async fn a_cursor_whose_decoded_position_holds_a_control_character_is_422() {
    let app = TestApp::spawn().await;
    let admin = app.token_with("ops", &["admin"], None);
    let token = app.create_profile("u1", "a@example.com").await;
    let forge = |position: Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(position.to_string())
    };
    for (path, token, position) in [
        (ADMIN_PROFILES, &admin, json!({"after_user_id": "u\u{0}1"})),
        (EVENTS, &admin, json!({"after_id": "\u{0}"})),
        (ADDRESSES, &token, json!("\u{0}")),
        ("/api/v1/users/u1/addresses", &admin, json!("\u{85}")),
    ] {
        let response = app
            .get(&format!("{path}?cursor={}", forge(position)), token)
            .await;
        assert_eq!(assert_422(&response), ["cursor:invalid_value"], "{path}");
    }
    // A forged position without control characters is just a position.
    let page = app
        .get(
            &format!(
                "{ADMIN_PROFILES}?cursor={}",
                forge(json!({"after_user_id": "\u{202e}"}))
            ),
            &admin,
        )
        .await;
    assert_eq!(page.status, StatusCode::OK);
}

#[tokio::test]
async fn a_token_whose_sub_holds_a_control_or_invisible_character_is_401_invalid_token() {
    let app = TestApp::spawn().await;
    for sub in ["u\u{0}", "u\n1", "\u{9b}u", "u\u{202e}1", "\u{feff}u"] {
        let token = app.token(sub);
        for response in [
            app.get(ME, &token).await,
            app.put_json(ME, &token, &profile()).await,
        ] {
            response.assert_problem(401, "invalid_token");
        }
    }
}

#[tokio::test]
async fn an_unknown_field_and_every_invalid_field_of_a_body_are_reported_in_one_422() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u1", "a@example.com").await;
    let profile = json!({"nickname": "x", "email": "nope", "display_name": " ", "phone": 44,
                         "status": "active", "locale": "en_GB"});
    let address = json!({"id": "x", "recipient_name": "Ada", "line1": 1, "city": "London\n",
                         "postal_code": "SW1Y 4JH", "country": "UK", "extra": {"a": 1}});
    let preferences = json!({"theme": "dark", "language": "en_GB",
                             "notifications": {"email": {"foo": true, "marketing": "yes"}},
                             "recommendations": {"favorite_categories": ["a", "a"]}});

    let profile = assert_422(&app.put_json(ME, &token, &profile).await);
    let address = assert_422(&app.post_json(ADDRESSES, &token, &address).await);
    let preferences = assert_422(&app.put_json(PREFS, &token, &preferences).await);

    assert_eq!(
        profile,
        [
            "display_name:blank",
            "email:email",
            "locale:invalid_format",
            "nickname:unknown_field",
            "phone:invalid_type",
            "status:unknown_field"
        ]
    );
    assert_eq!(
        address,
        [
            "city:control_character",
            "country:invalid_value",
            "extra:unknown_field",
            "id:unknown_field",
            "line1:invalid_type"
        ]
    );
    assert_eq!(
        preferences,
        [
            "language:invalid_format",
            "notifications.email.foo:unknown_field",
            "notifications.email.marketing:invalid_type",
            "recommendations.favorite_categories:duplicate",
            "theme:unknown_field"
        ]
    );
}

#[tokio::test]
async fn a_merge_patch_reports_its_unknown_fields_with_every_invalid_one() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u1", "a@example.com").await;
    let created = app.post_json(ADDRESSES, &token, &address()).await.json();
    let at = format!("{ADDRESSES}/{}", created["id"].as_str().unwrap());

    let profile = assert_422(
        &app.patch_json(
            ME,
            &token,
            &json!({"nickname": null, "email": null, "phone": "1"}),
        )
        .await,
    );
    let address = assert_422(
        &app.patch_json(
            &at,
            &token,
            &json!({"revision": 5, "city": null, "country": "XX"}),
        )
        .await,
    );
    let preferences = assert_422(
        &app.patch_json(
            PREFS,
            &token,
            &json!({"cart": {"wishlist": true}, "currency": "eur", "language": 5}),
        )
        .await,
    );

    assert_eq!(
        profile,
        [
            "email:required",
            "nickname:unknown_field",
            "phone:invalid_format"
        ]
    );
    assert_eq!(
        address,
        [
            "city:required",
            "country:invalid_value",
            "revision:unknown_field"
        ]
    );
    assert_eq!(
        preferences,
        [
            "cart.wishlist:unknown_field",
            "currency:invalid_value",
            "language:invalid_type"
        ]
    );
}

#[tokio::test]
async fn read_only_fields_in_a_merge_patch_are_422_unknown_field_whatever_their_value_even_null() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u1", "a@example.com").await;
    let created = app.post_json(ADDRESSES, &token, &address()).await.json();
    let at = format!("{ADDRESSES}/{}", created["id"].as_str().unwrap());
    let resources = [
        (
            ME.to_string(),
            &["status", "version", "user_id", "created_at", "updated_at"][..],
        ),
        (
            at.clone(),
            &["id", "revision", "created_at", "updated_at", "deleted_at"][..],
        ),
        (PREFS.to_string(), &["version", "updated_at"][..]),
    ];
    for (path, fields) in resources {
        for field in fields {
            for value in [Value::Null, json!("suspended"), json!(7), json!({})] {
                let errors = assert_422(
                    &app.patch_json(&path, &token, &json!({ *field: value }))
                        .await,
                );
                assert_eq!(errors, [format!("{field}:unknown_field")], "{path} {value}");
            }
        }
    }
    assert_eq!(app.get(ME, &token).await.json()["version"], 1);
    assert_eq!(app.get(&at, &token).await.json()["revision"], 1);
    assert_eq!(app.get(PREFS, &token).await.json()["version"], 0);
}

#[tokio::test]
async fn the_admin_patch_takes_status_and_reports_a_bad_status_with_every_other_problem() {
    let app = TestApp::spawn().await;
    app.create_profile("u1", "a@example.com").await;

    let refused = admin_patch(
        &app,
        "u1",
        &json!({"status": "gone", "email": "nope", "version": null, "display_name": "Ad\u{0}a"}),
    )
    .await;
    let suspended = admin_patch(&app, "u1", &json!({"status": "suspended"})).await;

    assert_eq!(
        assert_422(&refused),
        [
            "display_name:control_character",
            "email:email",
            "status:invalid_value",
            "version:unknown_field"
        ]
    );
    assert_eq!(suspended.status, StatusCode::OK);
    assert_eq!(suspended.json()["status"], "suspended");
}

#[tokio::test]
async fn a_body_that_is_not_a_json_object_is_422_on_the_whole_body() {
    let app = TestApp::spawn().await;
    let token = app.token("u1");
    for body in [json!(["a@example.com", "Ada"]), json!("Ada"), json!(1)] {
        let errors = assert_422(&app.put_json(ME, &token, &body).await);
        assert_eq!(errors, [":invalid_type"], "{body}");
    }
    let response = app
        .request(
            Method::PUT,
            ME,
            Some(&token),
            None,
            &[("content-type", "application/json")],
        )
        .await;
    response.assert_problem(400, "malformed_json");
}
