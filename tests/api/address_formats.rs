//! `/api/v1/address-formats`: public, cacheable address forms, and what they show is exactly what the address
//! validator accepts, country by country.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{TestApp, TestResponse};

const FORMATS: &str = "/api/v1/address-formats";
const ADDRESSES: &str = "/api/v1/profiles/me/addresses";

async fn public_get(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> TestResponse {
    app.request(Method::GET, path, None, None, headers).await
}

#[tokio::test]
async fn the_list_needs_no_token_and_holds_every_country_with_cache_headers() {
    let app = TestApp::spawn().await;

    let response = public_get(&app, FORMATS, &[]).await;

    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(
        response.header("cache-control").as_deref(),
        Some("public, max-age=86400")
    );
    let etag = response.header("etag").unwrap();
    assert!(etag.starts_with("W/\"") && etag.ends_with('"'), "{etag}");
    let items = response.json()["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 249);
    let countries: Vec<&str> = items
        .iter()
        .map(|f| f["country"].as_str().unwrap())
        .collect();
    assert!(countries.windows(2).all(|w| w[0] < w[1]));
    assert!(countries.contains(&"US") && countries.contains(&"ZW"));
}

#[tokio::test]
async fn one_country_names_its_region_field_lists_its_regions_and_gives_its_postal_pattern() {
    let app = TestApp::spawn().await;

    let us = public_get(&app, &format!("{FORMATS}/US"), &[]).await;

    assert_eq!(us.status, StatusCode::OK);
    let us = us.json();
    assert_eq!(us["region_name"], "state");
    assert_eq!(us["postal_code_name"], "zip");
    assert_eq!(
        us["required"],
        json!([
            "recipient_name",
            "line1",
            "city",
            "region",
            "postal_code",
            "country"
        ])
    );
    let regions = us["regions"].as_array().unwrap();
    assert!(regions.contains(&json!({"code": "CA", "name": "California"})));
    assert_eq!(us["postal_code"]["example"], "12345");
    let de = public_get(&app, &format!("{FORMATS}/DE"), &[]).await.json();
    assert_eq!(de["regions"], Value::Null);
    assert_eq!(de["region_name"], Value::Null);
    let names: Vec<&str> = de["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "label",
            "recipient_name",
            "company",
            "line1",
            "line2",
            "postal_code",
            "city",
            "phone"
        ]
    );
}

#[tokio::test]
async fn a_current_copy_is_answered_304_with_its_tag_and_cache_policy() {
    let app = TestApp::spawn().await;
    for path in [FORMATS.to_string(), format!("{FORMATS}/JP")] {
        let first = public_get(&app, &path, &[]).await;
        let etag = first.header("etag").unwrap();

        let again = public_get(&app, &path, &[("if-none-match", &etag)]).await;
        let strong = etag.trim_start_matches("W/");
        let strong_copy = public_get(&app, &path, &[("if-none-match", strong)]).await;
        let stale = public_get(&app, &path, &[("if-none-match", "W/\"0\"")]).await;

        assert_eq!(again.status, StatusCode::NOT_MODIFIED, "{path}");
        assert!(again.body.is_empty());
        assert_eq!(again.header("etag"), Some(etag.clone()));
        assert_eq!(
            again.header("cache-control").as_deref(),
            Some("public, max-age=86400")
        );
        assert_eq!(strong_copy.status, StatusCode::NOT_MODIFIED, "{path}");
        assert_eq!(stale.status, StatusCode::OK, "{path}");
        assert_eq!(stale.body, first.body);
    }
}

#[tokio::test]
async fn an_unknown_or_lower_case_country_is_404_address_format_not_found() {
    let app = TestApp::spawn().await;
    for country in ["XX", "us", "USA", "UK"] {
        let response = public_get(&app, &format!("{FORMATS}/{country}"), &[]).await;

        let problem = response.assert_problem(404, "address_format_not_found");
        assert_eq!(
            response.header("cache-control").as_deref(),
            Some("no-store"),
            "{country}"
        );
        assert!(problem["detail"].as_str().unwrap().contains("ISO 3166-1"));
    }
}

/// The address a frontend would send after filling in `format`'s form: the required fields, the first region
/// of the list, the postal code's example.
fn filled_in(format: &Value) -> Value {
    let mut body = json!({
        "recipient_name": "Ada Lovelace",
        "line1": "1 Main Street",
        "city": "Springfield",
        "postal_code": format["postal_code"]["example"].as_str().unwrap_or("1234"),
        "country": format["country"],
    });
    if let Some(regions) = format["regions"].as_array() {
        body["region"] = regions[0]["code"].clone();
    }
    body
}

fn errors_of(response: &TestResponse) -> Vec<String> {
    response.json()["errors"]
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

#[tokio::test]
async fn every_countrys_form_is_exactly_what_the_address_endpoint_accepts() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u-forms", "forms@example.com").await;
    let formats = public_get(&app, FORMATS, &[]).await.json();

    for format in formats["items"].as_array().unwrap() {
        let country = format["country"].as_str().unwrap();
        let body = filled_in(format);

        // The filled-in form is accepted (and removed again: a user has at most 50 addresses).
        let created = app.post_json(ADDRESSES, &token, &body).await;
        assert_eq!(
            created.status,
            StatusCode::CREATED,
            "{country}: {}",
            String::from_utf8_lossy(&created.body)
        );
        let id = created.json()["id"].as_str().unwrap().to_string();
        assert_eq!(
            app.delete(&format!("{ADDRESSES}/{id}"), &token)
                .await
                .status,
            StatusCode::NO_CONTENT
        );

        // Each required field, left out, is refused as required, and nothing else is.
        for field in format["required"].as_array().unwrap() {
            let field = field.as_str().unwrap();
            let mut without = body.clone();
            without.as_object_mut().unwrap().remove(field);
            let refused = app.post_json(ADDRESSES, &token, &without).await;
            assert_eq!(
                refused.status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{country} without {field}"
            );
            assert_eq!(
                errors_of(&refused),
                [format!("{field}:required")],
                "{country}"
            );
        }
        // The form marks the same fields required.
        for field in format["fields"].as_array().unwrap() {
            let name = field["name"].as_str().unwrap();
            let listed = format["required"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r == name);
            assert_eq!(
                field["required"].as_bool(),
                Some(listed),
                "{country} {name}"
            );
        }

        // A postal code off the pattern is refused; so is a region off the list.
        if format["postal_code"].is_object() {
            let mut off = body.clone();
            off["postal_code"] = "!!".into();
            let refused = app.post_json(ADDRESSES, &token, &off).await;
            assert_eq!(
                errors_of(&refused),
                ["postal_code:invalid_format"],
                "{country}"
            );
        }
        if format["regions"].is_array() {
            let mut off = body.clone();
            off["region"] = "Atlantis".into();
            let refused = app.post_json(ADDRESSES, &token, &off).await;
            assert_eq!(errors_of(&refused), ["region:invalid_value"], "{country}");
        }
    }
    let live = app.get(ADDRESSES, &token).await.json();
    assert_eq!(live["items"], json!([]));
}

#[tokio::test]
async fn a_region_is_accepted_by_name_in_any_case_and_stored_as_written() {
    let app = TestApp::spawn().await;
    let token = app.create_profile("u-region", "region@example.com").await;
    let body = json!({
        "recipient_name": "Ada Lovelace", "line1": "1 Main Street", "city": "Toronto",
        "region": "ontario", "postal_code": "M5V 2T6", "country": "CA"
    });

    let created = app.post_json(ADDRESSES, &token, &body).await;

    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(created.json()["region"], "ontario");
}
