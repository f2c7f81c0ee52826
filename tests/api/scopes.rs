//! Data minimisation: what each scope unlocks on every service read (`/api/v1/users/{user_id}/...`), and
//! `?fields=` asking for less.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::support::TestApp;

const SENSITIVE: [&str; 2] = ["date_of_birth", "phone"];

/// The service reads, by name, as paths under `/api/v1/users/u1/` (`{id}`: the user's address).
const READS: [(&str, &str); 6] = [
    ("profile", "profile"),
    ("addresses", "addresses"),
    ("defaults", "addresses/defaults"),
    ("address", "addresses/{id}"),
    ("revision", "addresses/{id}/revisions/1"),
    ("preferences", "preferences"),
];

/// Who reads, and which of `READS` they may: `sensitive` when the profile comes with `date_of_birth` and `phone`.
struct Case {
    caller: &'static str,
    roles: &'static [&'static str],
    scope: Option<&'static str>,
    allowed: &'static [&'static str],
    sensitive: bool,
}

const ADDRESS_READS: &[&str] = &["addresses", "defaults", "address", "revision"];
const EVERY_READ: &[&str] = &[
    "profile",
    "addresses",
    "defaults",
    "address",
    "revision",
    "preferences",
];

const CASES: &[Case] = &[
    Case {
        caller: "crm",
        roles: &[],
        scope: Some("profiles:read"),
        allowed: &["profile"],
        sensitive: false,
    },
    Case {
        caller: "kyc",
        roles: &[],
        scope: Some("profiles:read profiles:read_sensitive"),
        allowed: &["profile"],
        sensitive: true,
    },
    Case {
        caller: "lonely",
        roles: &[],
        scope: Some("profiles:read_sensitive"),
        allowed: &[],
        sensitive: false,
    },
    Case {
        caller: "orders",
        roles: &[],
        scope: Some("addresses:read"),
        allowed: ADDRESS_READS,
        sensitive: false,
    },
    Case {
        caller: "mailer",
        roles: &[],
        scope: Some("preferences:read"),
        allowed: &["preferences"],
        sensitive: false,
    },
    Case {
        caller: "feed",
        roles: &[],
        scope: Some("events:read"),
        allowed: &[],
        sensitive: false,
    },
    Case {
        caller: "checkout",
        roles: &[],
        scope: Some("addresses:read preferences:read profiles:read"),
        allowed: EVERY_READ,
        sensitive: false,
    },
    Case {
        caller: "backend",
        roles: &["service"],
        scope: None,
        allowed: EVERY_READ,
        sensitive: true,
    },
    Case {
        caller: "ops",
        roles: &["admin"],
        scope: None,
        allowed: EVERY_READ,
        sensitive: true,
    },
    Case {
        caller: "u1",
        roles: &["user"],
        scope: None,
        allowed: EVERY_READ,
        sensitive: true,
    },
    Case {
        caller: "u2",
        roles: &["user"],
        scope: None,
        allowed: &[],
        sensitive: false,
    },
];

/// `u1` with a full profile, one address and preferences; returns the address's id.
async fn subject(app: &TestApp) -> String {
    let token = app.token("u1");
    let created = app
        .put_json(
            "/api/v1/profiles/me",
            &token,
            &json!({"email": "u1@example.com", "display_name": "U1", "phone": "+442079460000",
                    "date_of_birth": "1990-12-10", "locale": "en-GB"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    let address = app
        .post_json(
            "/api/v1/profiles/me/addresses",
            &token,
            &json!({"recipient_name": "U One", "line1": "1 Main St", "city": "London",
                    "postal_code": "SW1A 1AA", "country": "GB", "phone": "+442079460000"}),
        )
        .await;
    assert_eq!(address.status, StatusCode::CREATED);
    app.patch_json(
        "/api/v1/profiles/me/preferences",
        &token,
        &json!({"currency": "GBP"}),
    )
    .await;
    address.json()["id"].as_str().unwrap().to_string()
}

fn path(rest: &str, id: &str) -> String {
    format!("/api/v1/users/u1/{}", rest.replace("{id}", id))
}

#[tokio::test]
async fn every_scope_reads_exactly_what_it_unlocks_on_every_service_read() {
    let app = TestApp::spawn().await;
    let id = subject(&app).await;

    for case in CASES {
        let token = app.token_with(case.caller, case.roles, case.scope);
        for (read, rest) in READS {
            let response = app.get(&path(rest, &id), &token).await;
            let who = format!(
                "{} ({:?} {:?}) reading {read}",
                case.caller, case.roles, case.scope
            );
            if !case.allowed.contains(&read) {
                assert_eq!(response.status, StatusCode::FORBIDDEN, "{who}");
                response.assert_problem(403, "forbidden");
                continue;
            }
            assert_eq!(
                response.status,
                StatusCode::OK,
                "{who}: {}",
                String::from_utf8_lossy(&response.body)
            );
            let body = response.json();
            if read == "profile" {
                assert_eq!(body["email"], "u1@example.com", "{who}");
                for field in SENSITIVE {
                    assert_eq!(
                        body.get(field).is_some(),
                        case.sensitive,
                        "{who}: {field} in {body}"
                    );
                }
            } else {
                // Addresses and preferences carry no profile field.
                let text = body.to_string();
                for trace in [
                    "u1@example.com",
                    "1990-12-10",
                    "\"display_name\"",
                    "\"user_id\"",
                    "en-GB",
                ] {
                    assert!(!text.contains(trace), "{who}: {trace} in {text}");
                }
            }
        }
    }
}

#[tokio::test]
async fn fields_asks_for_less_on_every_service_read() {
    let app = TestApp::spawn().await;
    let id = subject(&app).await;
    let service = app.token_with("backend", &["service"], None);
    let keys = |value: &Value| -> Vec<String> {
        let mut keys: Vec<String> = value.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        keys
    };

    let profile = app
        .get(&path("profile?fields=email,locale", &id), &service)
        .await;
    let list = app
        .get(&path("addresses?fields=id,revision", &id), &service)
        .await
        .json();
    let defaults = app
        .get(&path("addresses/defaults?fields=id", &id), &service)
        .await
        .json();
    let address = app
        .get(
            &path("addresses/{id}?fields=country,revision", &id),
            &service,
        )
        .await;
    let revision = app
        .get(
            &path("addresses/{id}/revisions/1?fields=postal_code", &id),
            &service,
        )
        .await
        .json();
    let preferences = app
        .get(&path("preferences?fields=currency,version", &id), &service)
        .await;

    assert_eq!(profile.status, StatusCode::OK);
    assert_eq!(profile.header("etag").as_deref(), Some("\"1\""));
    assert_eq!(
        profile.json(),
        json!({"email": "u1@example.com", "locale": "en-GB"})
    );
    assert_eq!(list["items"], json!([{"id": id, "revision": 1}]));
    assert_eq!(list["next_cursor"], Value::Null);
    assert_eq!(
        defaults,
        json!({"shipping": {"id": id}, "billing": {"id": id}})
    );
    assert_eq!(address.header("etag").as_deref(), Some("\"1\""));
    assert_eq!(keys(&address.json()), ["country", "revision"]);
    assert_eq!(revision, json!({"postal_code": "SW1A 1AA"}));
    assert_eq!(preferences.json(), json!({"currency": "GBP", "version": 1}));
}

#[tokio::test]
async fn an_unknown_field_is_422_naming_fields_after_the_caller_is_judged() {
    let app = TestApp::spawn().await;
    let id = subject(&app).await;
    let service = app.token_with("backend", &["service"], None);
    let stranger = app.token("u2");

    for (read, rest) in READS {
        let separator = if rest.contains('?') { '&' } else { '?' };
        let asked = format!("{}{separator}fields=id,password", path(rest, &id));

        let problem = app
            .get(&asked, &service)
            .await
            .assert_problem(422, "validation_failed");
        let refused = app.get(&asked, &stranger).await;

        assert_eq!(problem["errors"][0]["field"], "fields", "{read}");
        assert_eq!(problem["errors"][0]["code"], "unknown_field", "{read}");
        refused.assert_problem(403, "forbidden");
    }
}

#[tokio::test]
async fn naming_a_sensitive_field_without_the_sensitive_scope_is_403() {
    let app = TestApp::spawn().await;
    let id = subject(&app).await;
    let basic = app.token_with("crm", &[], Some("profiles:read"));
    let sensitive = app.token_with("kyc", &[], Some("profiles:read profiles:read_sensitive"));

    for field in SENSITIVE {
        let asked = path(&format!("profile?fields=email,{field}"), &id);
        let problem = app
            .get(&asked, &basic)
            .await
            .assert_problem(403, "forbidden");
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .contains("profiles:read_sensitive")
        );
        let allowed = app.get(&asked, &sensitive).await;
        assert_eq!(allowed.status, StatusCode::OK);
        assert!(allowed.json()[field].is_string(), "{field}");
    }
}
