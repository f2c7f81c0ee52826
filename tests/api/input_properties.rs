//! Property tests of the parsers of untrusted input, through the real router: arbitrary text in every field
//! of the profile, address and preference bodies, arbitrary merge patches and arbitrary cursors never get a
//! 5xx, and a control character always gets a 422. Case counts stay small: every case is a request.

use proptest::{
    prelude::*,
    test_runner::{Config, TestCaseError, TestRunner},
};
use serde_json::{Map, Value, json};

use crate::support::{TestApp, TestResponse};

const ME: &str = "/api/v1/profiles/me";
const ADDRESSES: &str = "/api/v1/profiles/me/addresses";
const PREFS: &str = "/api/v1/profiles/me/preferences";

/// Runs `cases` cases of a property against one app (one database), on a runtime of its own.
fn check<S: Strategy>(
    cases: u32,
    strategy: S,
    setup: impl AsyncFnOnce(&TestApp) -> Vec<String>,
    property: &impl AsyncFn(&TestApp, &[String], S::Value) -> Result<(), TestCaseError>,
) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let app = runtime.block_on(TestApp::spawn());
    let context = runtime.block_on(setup(&app));
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&strategy, |value| {
        runtime.block_on(property(&app, &context, value))
    });
    runtime.block_on(async move { drop(app) });
    if let Err(failure) = result {
        panic!("{failure}");
    }
}

/// What this suite counts as a control character, written out independently of `domain::text`.
fn is_control(c: char) -> bool {
    matches!(c, '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}' | '\u{2028}' | '\u{2029}')
}

fn is_invisible(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200b}'..='\u{200d}' | '\u{2060}' | '\u{feff}')
}

/// Short text from every corner: letters, spaces of all kinds, controls, invisible characters, anything.
fn text() -> impl Strategy<Value = String> {
    let c = prop_oneof![
        6 => proptest::char::range('a', 'z'),
        2 => Just(' '),
        1 => proptest::char::range('\u{0}', '\u{9f}'),
        1 => proptest::char::range('\u{2000}', '\u{206f}'),
        1 => prop_oneof![Just('\u{feff}'), Just('\u{3000}'), Just('\u{a0}')],
        2 => any::<char>(),
    ];
    proptest::collection::vec(c, 0..16).prop_map(|v| v.into_iter().collect())
}

/// A field's value: mostly a valid one (so that a good share of writes succeed), else arbitrary text.
fn field(valid: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop_oneof![
        5 => proptest::sample::select(valid).prop_map(str::to_string),
        1 => text(),
    ]
}

fn object(fields: Vec<(&'static str, String)>) -> Value {
    Value::Object(
        fields
            .into_iter()
            .map(|(k, v)| (k.to_string(), Value::String(v)))
            .collect(),
    )
}

fn profile_body() -> impl Strategy<Value = Value> {
    (
        (
            field(&["ada@example.com"]),
            field(&["Ada", " Ada Lovelace "]),
            field(&["Ada"]),
            field(&["Lovelace"]),
            field(&["+442079460000"]),
        ),
        (
            field(&["1990-12-10"]),
            field(&["en-GB", "de"]),
            field(&["Europe/London"]),
            field(&["https://cdn.example.com/a.png"]),
        ),
    )
        .prop_map(
            |((email, display, first, last, phone), (birth, locale, tz, avatar))| {
                object(vec![
                    ("email", email),
                    ("display_name", display),
                    ("first_name", first),
                    ("last_name", last),
                    ("phone", phone),
                    ("date_of_birth", birth),
                    ("locale", locale),
                    ("timezone", tz),
                    ("avatar_url", avatar),
                ])
            },
        )
}

fn address_body() -> impl Strategy<Value = Value> {
    (
        (
            field(&["Home"]),
            field(&["Ada Lovelace", "  Ada  "]),
            field(&["Engines Ltd"]),
            field(&["1 Main St"]),
            field(&["Flat 3"]),
        ),
        (
            field(&["Dubai", "London"]),
            field(&["Dubai"]),
            field(&["12345", "SW1Y 4JH"]),
            field(&["AE", "GB"]),
            field(&["+442079460000"]),
        ),
    )
        .prop_map(
            |(
                (label, recipient, company, line1, line2),
                (city, region, postal, country, phone),
            )| {
                object(vec![
                    ("label", label),
                    ("recipient_name", recipient),
                    ("company", company),
                    ("line1", line1),
                    ("line2", line2),
                    ("city", city),
                    ("region", region),
                    ("postal_code", postal),
                    ("country", country),
                    ("phone", phone),
                ])
            },
        )
}

fn preferences_body() -> impl Strategy<Value = Value> {
    (
        field(&["de-DE", "en"]),
        field(&["EUR", "CHF"]),
        proptest::collection::vec(field(&["books", "garden"]), 0..4),
        any::<bool>(),
    )
        .prop_map(|(language, currency, categories, marketing)| {
            json!({
                "language": language, "currency": currency,
                "notifications": {"email": {"marketing": marketing}},
                "recommendations": {"favorite_categories": categories}
            })
        })
}

/// Every string in a document with its field path, as errors name them (list items by their list).
fn strings(value: &Value, path: &str, out: &mut Vec<(String, String)>) {
    match value {
        Value::String(s) => out.push((path.to_string(), s.clone())),
        Value::Array(items) => items.iter().for_each(|v| strings(v, path, out)),
        Value::Object(map) => {
            for (key, v) in map {
                let inner = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                strings(v, &inner, out);
            }
        }
        _ => {}
    }
}

/// The body property: no 5xx; a 2xx or a 4xx problem; and each field holding a control or invisible
/// character is named with its code in a 422.
fn judge_body(response: &TestResponse, body: &Value) -> Result<(), TestCaseError> {
    let status = response.status.as_u16();
    prop_assert!(
        (200..500).contains(&status),
        "{status}: {}",
        String::from_utf8_lossy(&response.body)
    );
    let mut found = Vec::new();
    strings(body, "", &mut found);
    let offending: Vec<&(String, String)> = found
        .iter()
        .filter(|(_, s)| s.chars().any(|c| is_control(c) || is_invisible(c)))
        .collect();
    if offending.is_empty() {
        return Ok(());
    }
    prop_assert_eq!(status, 422, "{:?}", offending);
    let problem = response.json();
    let errors = problem["errors"].as_array().unwrap();
    for (field, _) in offending {
        prop_assert!(
            errors.iter().any(|e| e["field"] == field.as_str()
                && (e["code"] == "control_character" || e["code"] == "invisible_character")),
            "{} not named: {}",
            field,
            problem
        );
    }
    Ok(())
}

#[test]
fn profile_bodies_with_arbitrary_text_never_get_a_5xx_and_bad_characters_always_a_422() {
    check(
        48,
        profile_body(),
        async |app| vec![app.token("u1")],
        &async |app, tokens, body| judge_body(&app.put_json(ME, &tokens[0], &body).await, &body),
    );
}

#[test]
fn address_bodies_with_arbitrary_text_never_get_a_5xx_and_bad_characters_always_a_422() {
    check(
        48,
        address_body(),
        async |app| {
            let token = app.create_profile("u1", "a@example.com").await;
            let body = json!({"recipient_name": "Ada", "line1": "1 Main St", "city": "Dubai",
                              "postal_code": "1", "country": "AE"});
            let created = app.post_json(ADDRESSES, &token, &body).await.json();
            vec![
                token,
                format!("{ADDRESSES}/{}", created["id"].as_str().unwrap()),
            ]
        },
        &async |app, context, body| {
            judge_body(&app.put_json(&context[1], &context[0], &body).await, &body)
        },
    );
}

#[test]
fn preference_bodies_with_arbitrary_text_never_get_a_5xx_and_bad_characters_always_a_422() {
    check(
        48,
        preferences_body(),
        async |app| vec![app.create_profile("u1", "a@example.com").await],
        &async |app, tokens, body| judge_body(&app.put_json(PREFS, &tokens[0], &body).await, &body),
    );
}

/// Keys a patch may hold: writable fields of the three resources, read-only fields, and anything.
const KEYS: &[&str] = &[
    "email",
    "display_name",
    "first_name",
    "phone",
    "city",
    "country",
    "label",
    "postal_code",
    "language",
    "currency",
    "notifications",
    "cart",
    "recommendations",
    "status",
    "version",
    "user_id",
    "created_at",
    "id",
    "revision",
    "deleted_at",
    "updated_at",
];
const READ_ONLY: &[&str] = &[
    "status",
    "version",
    "user_id",
    "created_at",
    "id",
    "revision",
    "deleted_at",
    "updated_at",
];

fn patch_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i32>().prop_map(Value::from),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            proptest::collection::btree_map(
                prop_oneof![
                    proptest::sample::select(KEYS).prop_map(str::to_string),
                    "[a-z]{1,6}"
                ],
                inner,
                0..3
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn patch() -> impl Strategy<Value = (usize, Map<String, Value>)> {
    let key = prop_oneof![
        3 => proptest::sample::select(KEYS).prop_map(str::to_string),
        1 => "[a-z_]{1,8}",
    ];
    (
        0..3usize,
        proptest::collection::btree_map(key, patch_value(), 0..5),
    )
        .prop_map(|(resource, m)| (resource, m.into_iter().collect()))
}

#[test]
fn arbitrary_merge_patches_never_get_a_5xx_and_read_only_keys_are_always_refused() {
    check(
        64,
        patch(),
        async |app| {
            let token = app.create_profile("u1", "a@example.com").await;
            let body = json!({"recipient_name": "Ada", "line1": "1 Main St", "city": "Dubai",
                              "postal_code": "1", "country": "AE"});
            let created = app.post_json(ADDRESSES, &token, &body).await.json();
            let address = format!("{ADDRESSES}/{}", created["id"].as_str().unwrap());
            vec![token, ME.into(), address, PREFS.into()]
        },
        &async |app, context, (resource, patch)| {
            let body = Value::Object(patch.clone());
            let response = app
                .patch_json(&context[resource + 1], &context[0], &body)
                .await;
            let status = response.status.as_u16();
            prop_assert!(
                (200..500).contains(&status),
                "{status}: {}",
                String::from_utf8_lossy(&response.body)
            );
            let read_only: Vec<&String> = patch
                .keys()
                .filter(|k| READ_ONLY.contains(&k.as_str()))
                .collect();
            if !read_only.is_empty() {
                prop_assert_eq!(status, 422);
                let problem = response.json();
                for key in read_only {
                    prop_assert!(
                        problem["errors"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .any(|e| e["field"] == key.as_str() && e["code"] == "unknown_field"),
                        "{} not refused: {}",
                        key,
                        problem
                    );
                }
            }
            Ok(())
        },
    );
}

/// Cursors for a list: random text, base64 of random bytes, and base64 of JSON positions of the list's shape
/// (a user id, or a UUID) holding random text or a real id.
fn cursor() -> impl Strategy<Value = (usize, String)> {
    use base64::Engine;
    let b64 = |position: Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(position.to_string())
    };
    let id = prop_oneof![
        any::<u128>().prop_map(|n| uuid::Uuid::from_u128(n).to_string()),
        text(),
    ];
    let position = (0..4usize, id).prop_map(move |(list, id)| {
        let position = match list {
            2 => json!({"after_user_id": id}),
            3 => json!({"after_id": id}),
            _ => Value::String(id),
        };
        (list, b64(position))
    });
    prop_oneof![
        1 => (0..4usize, text()),
        1 => (0..4usize, proptest::collection::vec(any::<u8>(), 0..48))
            .prop_map(|(list, bytes)| (list, base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))),
        3 => position,
    ]
}

#[test]
fn arbitrary_cursors_get_a_page_or_a_422_naming_the_cursor_on_every_list() {
    check(
        64,
        cursor(),
        async |app| {
            let token = app.create_profile("u1", "a@example.com").await;
            vec![token, app.token_with("ops", &["admin"], None)]
        },
        &async |app, tokens, (list, cursor)| {
            let (path, token) = [
                (ADDRESSES, &tokens[0]),
                ("/api/v1/users/u1/addresses", &tokens[1]),
                ("/api/v1/admin/profiles", &tokens[1]),
                ("/api/v1/admin/audit-events", &tokens[1]),
            ][list];
            let encoded: String = form_urlencoded::byte_serialize(cursor.as_bytes()).collect();
            let response = app.get(&format!("{path}?cursor={encoded}"), token).await;
            match response.status.as_u16() {
                200 => {}
                422 => {
                    let problem = response.json();
                    prop_assert_eq!(&problem["errors"][0]["field"], "cursor", "{}", problem);
                }
                other => prop_assert!(false, "{path}?cursor={cursor:?}: {other}"),
            }
            Ok(())
        },
    );
}
