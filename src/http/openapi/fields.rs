//! The `?fields=` of the service reads in the document: the parameter lists the resource's field names, and the
//! 200 answer is the whole resource or, when `fields` names some, the same object with only those
//! (`ProfileFields`, `AddressFields`, ...: the resource's schema with no field required).

use serde_json::{Value, json};
use utoipa::openapi::{OpenApi, RefOr};

use super::operations_mut;
use crate::domain::fields::{ADDRESS_FIELDS, PREFERENCES_FIELDS, PROFILE_FIELDS};

/// Names the fields of each service read's resource in its `fields` parameter, and lets its 200 answer be
/// partial.
pub(super) fn describe(openapi: &mut OpenApi) {
    let mut partials = Vec::new();
    for (path, _, op) in operations_mut(openapi) {
        let known = if path.ends_with("/profile") {
            PROFILE_FIELDS
        } else if path.ends_with("/preferences") {
            PREFERENCES_FIELDS
        } else {
            ADDRESS_FIELDS
        };
        let mut has_fields = false;
        for parameter in op.parameters.iter_mut().flatten() {
            let RefOr::T(parameter) = parameter else {
                continue;
            };
            if parameter.name == "fields" {
                has_fields = true;
                list_fields(parameter, known);
            }
        }
        let ok = op.responses.responses.get_mut("200");
        if let (true, Some(RefOr::T(ok))) = (has_fields, ok) {
            for content in ok.content.values_mut() {
                let RefOr::T(content) = content else {
                    continue;
                };
                let Some(RefOr::Ref(whole)) = &content.schema else {
                    continue;
                };
                let name = whole
                    .ref_location
                    .rsplit('/')
                    .next()
                    .unwrap_or_default()
                    .to_string();
                let partial = format!("{name}Fields");
                let schema = json!({"anyOf": [
                    {"$ref": whole.ref_location},
                    {"$ref": format!("#/components/schemas/{partial}")},
                ]});
                content.schema = serde_json::from_value(schema).ok();
                partials.push((name, partial));
            }
        }
    }
    add_partials(openapi, partials);
}

/// `fields` as what it is: a comma-separated list of the resource's field names.
fn list_fields(parameter: &mut utoipa::openapi::path::Parameter, known: &[&str]) {
    let Ok(mut value) = serde_json::to_value(&*parameter) else {
        return;
    };
    value["style"] = json!("form");
    value["explode"] = json!(false);
    value["example"] = json!(&known[..2]);
    value["schema"] = json!({
        "type": "array",
        "minItems": 1,
        "items": {"type": "string", "enum": known},
    });
    if let Ok(typed) = serde_json::from_value(value) {
        *parameter = typed;
    }
}

/// Adds `{name}Fields` for each resource: a page's items and the defaults' addresses become partial, a
/// resource itself loses its `required`.
fn add_partials(openapi: &mut OpenApi, partials: Vec<(String, String)>) {
    let Ok(mut components) = serde_json::to_value(&openapi.components) else {
        return;
    };
    let schemas = components["schemas"].clone();
    for (name, partial) in partials {
        let Some(whole) = schemas.get(&name) else {
            continue;
        };
        let mut schema = whole.clone();
        let properties = &mut schema["properties"];
        if properties.get("items").is_some() {
            properties["items"]["items"] = json!({"$ref": "#/components/schemas/AddressFields"});
        } else if properties.get("shipping").is_some() {
            for key in ["shipping", "billing"] {
                properties[key] = json!({"oneOf": [
                    {"$ref": "#/components/schemas/AddressFields"},
                    {"type": "null"},
                ]});
            }
        } else {
            schema = without_required(&schemas, whole);
        }
        schema["description"] = Value::from(format!(
            "`{name}` as `?fields=` asks for it: only the fields named (none required)"
        ));
        components["schemas"][partial] = schema;
    }
    if let Ok(components) = serde_json::from_value(components) {
        openapi.components = Some(components);
    }
}

/// `schema` with nothing required at its top level, its `$ref` and `allOf` members inlined for that.
fn without_required(schemas: &Value, schema: &Value) -> Value {
    if let Some(target) = schema["$ref"].as_str() {
        let name = target.rsplit('/').next().unwrap_or_default();
        return without_required(schemas, &schemas[name]);
    }
    let mut schema = schema.clone();
    if let Some(object) = schema.as_object_mut() {
        object.remove("required");
        object.remove("example");
    }
    if let Some(members) = schema["allOf"].as_array_mut() {
        for member in members.iter_mut() {
            *member = without_required(schemas, member);
        }
    }
    schema
}
