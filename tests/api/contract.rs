//! The typed contract: what the OpenAPI document promises a generated client (enums for closed sets, typed
//! nesting, plain header parameters, merge patches that refuse unknown keys, declared headers, links that
//! resolve), and the check that holds every test's answers to it (`support::contract`), shown to fail.

use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use serde_json::{Value, json};
use user_profile_service::domain::audit::AuditAction;

use crate::support::{TestApp, contract};

fn document() -> Value {
    serde_json::to_value(user_profile_service::http::openapi()).unwrap()
}

/// Every operation of the document: (path, method, operation).
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            out.push((path.clone(), method.clone(), op.clone()));
        }
    }
    out
}

/// Follows `$ref`s within the document.
fn resolve<'a>(doc: &'a Value, value: &'a Value) -> &'a Value {
    match value["$ref"].as_str() {
        Some(target) => resolve(doc, doc.pointer(&target[1..]).unwrap()),
        None => value,
    }
}

#[test]
fn every_operation_has_a_summary_a_description_and_an_operation_id() {
    let doc = document();
    for (path, method, op) in operations(&doc) {
        for key in ["summary", "description", "operationId"] {
            let text = op[key].as_str().unwrap_or_default();
            assert!(!text.trim().is_empty(), "{method} {path} has no {key}");
        }
    }
}

#[test]
fn header_parameters_are_optional_strings_that_cannot_be_null() {
    let doc = document();
    let mut seen = 0;
    for (path, method, op) in operations(&doc) {
        for parameter in op["parameters"].as_array().into_iter().flatten() {
            if parameter["in"] == "header" {
                seen += 1;
                assert_eq!(
                    parameter["schema"]["type"], "string",
                    "{method} {path} {parameter}"
                );
                assert_ne!(parameter["required"], true, "{method} {path} {parameter}");
            }
        }
    }
    assert!(
        seen > 20,
        "If-Match, If-None-Match and Idempotency-Key are documented"
    );
}

#[test]
fn the_document_names_its_license_and_the_license_file_is_committed() {
    let doc = document();
    assert_eq!(doc["info"]["license"]["name"], "Apache-2.0");
    assert_eq!(doc["info"]["license"]["identifier"], "Apache-2.0");
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/LICENSE")).unwrap();
    assert!(text.contains("Apache License") && text.contains("Version 2.0"));
}

#[test]
fn closed_sets_are_enums_listing_exactly_what_the_server_uses() {
    let doc = document();
    let schemas = &doc["components"]["schemas"];
    let actions: Vec<&str> = AuditAction::ALL.iter().map(|a| a.as_str()).collect();
    assert_eq!(schemas["AuditAction"]["enum"], json!(actions));
    assert_eq!(
        schemas["ProfileStatus"]["enum"],
        json!(["active", "suspended"])
    );
    assert_eq!(
        schemas["ActorRole"]["enum"],
        json!(["user", "admin", "service"])
    );
    assert_eq!(
        schemas["ConsentChannel"]["enum"],
        json!(["email", "sms", "push"])
    );
    assert_eq!(
        schemas["ConsentPurpose"]["enum"],
        json!(["marketing", "newsletter"])
    );
    assert!(schemas["CountryCode"]["enum"].as_array().unwrap().len() > 240);
    assert!(schemas["CurrencyCode"]["enum"].as_array().unwrap().len() > 150);
    let profile = &schemas["Profile"]["properties"];
    assert_eq!(
        resolve(&doc, &profile["status"])["enum"],
        json!(["active", "suspended"])
    );
    let record = &schemas["AuditEvent"]["properties"];
    assert_eq!(record["action"]["$ref"], "#/components/schemas/AuditAction");
    assert_eq!(
        record["actor_role"]["$ref"],
        "#/components/schemas/ActorRole"
    );
    let consent = &schemas["ConsentRecord"]["properties"];
    assert_eq!(
        consent["channel"]["$ref"],
        "#/components/schemas/ConsentChannel"
    );
    let list = &doc["paths"]["/api/v1/admin/profiles"]["get"]["parameters"];
    let status = list
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "status")
        .unwrap();
    assert_eq!(
        status["schema"]["$ref"],
        "#/components/schemas/ProfileStatus"
    );
}

#[test]
fn exported_and_admin_viewed_addresses_are_typed_with_their_revisions() {
    let doc = document();
    let schemas = &doc["components"]["schemas"];
    for owner in ["ProfileExport", "AdminProfileView"] {
        assert_eq!(
            schemas[owner]["properties"]["addresses"]["items"]["$ref"],
            "#/components/schemas/AddressHistory",
            "{owner}"
        );
    }
    let history = serde_json::to_string(&schemas["AddressHistory"]).unwrap();
    assert!(
        history.contains("#/components/schemas/Address\""),
        "{history}"
    );
    assert!(history.contains("revisions"), "{history}");
}

#[test]
fn patch_bodies_require_nothing_refuse_unknown_keys_and_cannot_clear_a_required_field() {
    let doc = document();
    let schemas = &doc["components"]["schemas"];
    for name in [
        "ProfilePatch",
        "AddressPatch",
        "AdminProfilePatch",
        "PreferencesInput",
    ] {
        let schema = &schemas[name];
        assert_eq!(schema["additionalProperties"], false, "{name}");
        assert!(schema.get("required").is_none(), "{name}");
    }
    let admin = &schemas["AdminProfilePatch"]["properties"];
    assert_eq!(
        admin["status"]["$ref"],
        "#/components/schemas/ProfileStatus"
    );
    assert_eq!(admin["email"]["type"], "string", "email cannot be null");
    assert_eq!(admin["first_name"]["type"], json!(["string", "null"]));
    assert_eq!(schemas["ProfilePatch"]["properties"], {
        let mut p = admin.clone();
        p.as_object_mut().unwrap().remove("status");
        p
    });
    let body = &doc["paths"]["/api/v1/admin/profiles/{user_id}"]["patch"]["requestBody"];
    assert_eq!(
        body["content"]["application/merge-patch+json"]["schema"]["$ref"],
        "#/components/schemas/AdminProfilePatch"
    );
}

#[tokio::test]
async fn a_patch_with_a_key_the_schema_does_not_list_is_refused_with_422() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u1", "a@example.com").await;

    let profile = app
        .patch_json("/api/v1/profiles/me", &token, &json!({"nickname": "x"}))
        .await;
    let preferences = app
        .patch_json(
            "/api/v1/profiles/me/preferences",
            &token,
            &json!({"notifications": [true]}),
        )
        .await;

    profile.assert_problem(422, "validation_failed");
    preferences.assert_problem(422, "validation_failed");
}

#[test]
fn every_response_declares_x_request_id_and_the_headers_its_status_carries() {
    let doc = document();
    for (path, method, op) in operations(&doc) {
        for (status, response) in op["responses"].as_object().unwrap() {
            let headers = &resolve(&doc, response)["headers"];
            let at = format!("{method} {path} {status}");
            assert!(headers["X-Request-Id"].is_object(), "{at}: X-Request-Id");
            let expected: &[&str] = match status.as_str() {
                "401" => &["WWW-Authenticate"],
                "429" => &[
                    "Retry-After",
                    "RateLimit-Limit",
                    "RateLimit-Remaining",
                    "RateLimit-Reset",
                ],
                "503" => &["Retry-After"],
                "304" | "412" => &["ETag"],
                "201" => &["Location", "ETag"],
                _ => &[],
            };
            for name in expected {
                assert!(headers[*name].is_object(), "{at}: {name}");
            }
        }
    }
}

/// The value a runtime expression such as `$response.body#/items/0/id` points at exists in the schema.
fn schema_has(doc: &Value, schema: &Value, pointer: &[&str]) -> bool {
    let schema = resolve(doc, schema);
    let Some((first, rest)) = pointer.split_first() else {
        return true;
    };
    let alternatives: Vec<&Value> = ["allOf", "anyOf", "oneOf"]
        .iter()
        .flat_map(|k| schema[*k].as_array().into_iter().flatten())
        .collect();
    if alternatives.iter().any(|s| schema_has(doc, s, pointer)) {
        return true;
    }
    if first.parse::<usize>().is_ok() && schema["items"].is_object() {
        return schema_has(doc, &schema["items"], rest);
    }
    schema["properties"]
        .get(*first)
        .is_some_and(|p| schema_has(doc, p, rest))
}

#[test]
fn every_link_names_an_operation_its_parameters_and_values_the_answer_holds() {
    let doc = document();
    let ops = operations(&doc);
    let by_id = |id: &str| ops.iter().find(|(_, _, op)| op["operationId"] == id);
    let mut links = 0;
    let mut reached = std::collections::BTreeSet::new();
    for (path, method, op) in &ops {
        for (status, response) in op["responses"].as_object().unwrap() {
            let response = resolve(&doc, response);
            for (name, link) in response["links"].as_object().into_iter().flatten() {
                links += 1;
                let at = format!("{method} {path} {status} link {name}");
                let target = link["operationId"].as_str().unwrap();
                reached.insert(target.to_string());
                let (_, _, target) = by_id(target).unwrap_or_else(|| panic!("{at}: no {target}"));
                for (parameter, expression) in link["parameters"].as_object().into_iter().flatten()
                {
                    let takes = target["parameters"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|p| p["name"] == parameter.as_str());
                    assert!(takes, "{at}: the target takes no `{parameter}`");
                    let expression = expression.as_str().unwrap();
                    if let Some(pointer) = expression.strip_prefix("$response.body#/") {
                        let schema = &response["content"]["application/json"]["schema"];
                        let pointer: Vec<&str> = pointer.split('/').collect();
                        assert!(schema_has(&doc, schema, &pointer), "{at}: {expression}");
                    } else if let Some(name) = expression.strip_prefix("$request.path.") {
                        assert!(path.contains(&format!("{{{name}}}")), "{at}: {expression}");
                    } else {
                        panic!("{at}: unexpected expression {expression}");
                    }
                }
            }
        }
    }
    assert!(
        links > 30,
        "links from the profile, the addresses and the service reads"
    );
    // Every operation that needs an id from another answer is reached by a link.
    for (path, method, op) in &ops {
        if !path.contains('{') {
            continue;
        }
        let id = op["operationId"].as_str().unwrap();
        assert!(
            reached.contains(id),
            "{method} {path} is the target of no link"
        );
    }
}

fn json_headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    headers.insert("x-request-id", HeaderValue::from_static("r-1"));
    headers
}

fn profile() -> Value {
    json!({
        "user_id": "u1", "email": "a@example.com", "display_name": "A", "status": "active", "version": 1,
        "created_at": "2025-01-31T09:30:00Z", "updated_at": "2025-01-31T09:30:00Z",
    })
}

fn check(status: u16, headers: &HeaderMap, body: &Value) -> Result<(), String> {
    contract::check(
        &Method::GET,
        "/api/v1/profiles/me",
        StatusCode::from_u16(status).unwrap(),
        headers,
        &serde_json::to_vec(body).unwrap(),
    )
}

#[test]
fn the_contract_check_accepts_an_answer_the_document_describes() {
    let mut headers = json_headers();
    headers.insert("etag", HeaderValue::from_static("\"1\""));

    assert_eq!(check(200, &headers, &profile()), Ok(()));
}

#[test]
fn the_contract_check_refuses_a_status_the_operation_does_not_document() {
    let error = check(418, &json_headers(), &profile()).unwrap_err();

    assert!(error.contains("does not describe"), "{error}");
}

#[test]
fn the_contract_check_refuses_a_body_that_breaks_the_schema() {
    let mut missing = profile();
    missing.as_object_mut().unwrap().remove("email");
    let mut bad_enum = profile();
    bad_enum["status"] = json!("banned");
    let mut bad_format = profile();
    bad_format["created_at"] = json!("yesterday");

    for (body, expected) in [
        (missing, "`email` is missing"),
        (bad_enum, "\"banned\" is not one of"),
        (bad_format, "is not a date-time"),
    ] {
        let error = check(200, &json_headers(), &body).unwrap_err();
        assert!(error.contains(expected), "{error}");
    }
}

#[test]
fn the_contract_check_refuses_an_undeclared_or_malformed_header_and_a_missing_request_id() {
    let mut undeclared = json_headers();
    undeclared.insert("erasure-receipt", HeaderValue::from_static("x"));
    let mut malformed = json_headers();
    malformed.insert("etag", HeaderValue::from_static("1"));
    let mut no_id = json_headers();
    no_id.remove("x-request-id");

    let undeclared = check(200, &undeclared, &profile()).unwrap_err();
    let malformed = check(200, &malformed, &profile()).unwrap_err();
    let no_id = check(200, &no_id, &profile()).unwrap_err();

    assert!(undeclared.contains("does not declare"), "{undeclared}");
    assert!(malformed.contains("does not match"), "{malformed}");
    assert!(no_id.contains("X-Request-Id"), "{no_id}");
}
