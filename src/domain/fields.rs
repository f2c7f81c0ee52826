//! `?fields=a,b`: a service asking for less of a resource than it may read (data minimisation). Top-level
//! field names only; the answer holds exactly the named fields.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::domain::validation::FieldError;

/// The fields of a `Profile`, as serialized.
pub const PROFILE_FIELDS: &[&str] = &[
    "user_id",
    "email",
    "display_name",
    "first_name",
    "last_name",
    "phone",
    "date_of_birth",
    "locale",
    "timezone",
    "avatar_url",
    "status",
    "version",
    "created_at",
    "updated_at",
];

/// The profile fields only callers allowed sensitive data see (scope `profiles:read_sensitive`, roles
/// `service` and `admin`, the user themself).
pub const SENSITIVE_PROFILE_FIELDS: &[&str] = &["date_of_birth", "phone"];

/// The fields of an `Address`, as serialized.
pub const ADDRESS_FIELDS: &[&str] = &[
    "id",
    "label",
    "recipient_name",
    "company",
    "line1",
    "line2",
    "city",
    "region",
    "postal_code",
    "country",
    "phone",
    "is_default_shipping",
    "is_default_billing",
    "revision",
    "created_at",
    "updated_at",
    "deleted_at",
];

/// The top-level fields of `Preferences`, as serialized.
pub const PREFERENCES_FIELDS: &[&str] = &[
    "notifications",
    "language",
    "currency",
    "cart",
    "recommendations",
    "version",
    "updated_at",
];

/// Which fields of a resource to answer with: all of them, or the named ones.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldMask(Option<BTreeSet<String>>);

impl FieldMask {
    /// Every field.
    pub fn all() -> Self {
        FieldMask(None)
    }

    /// Parses `?fields=`: comma-separated names out of `known`; absent means every field. An empty name or one
    /// the resource does not have is a field error naming `fields`.
    pub fn parse(raw: Option<&str>, known: &[&str]) -> Result<Self, FieldError> {
        let Some(raw) = raw else {
            return Ok(FieldMask::all());
        };
        let mut names = BTreeSet::new();
        for name in raw.split(',') {
            if name.is_empty() {
                return Err(FieldError::new("fields", "invalid_format")
                    .message("invalid_format.field_list"));
            }
            if !known.contains(&name) {
                return Err(FieldError::new("fields", "unknown_field")
                    .message("unknown_field.fields")
                    .with("name", name)
                    .with("known", known.join(", ")));
            }
            names.insert(name.to_string());
        }
        Ok(FieldMask(Some(names)))
    }

    /// True when `?fields=` named `name` explicitly.
    pub fn names(&self, name: &str) -> bool {
        self.0.as_ref().is_some_and(|names| names.contains(name))
    }

    /// This mask without `hidden`: what a caller who may not see those fields gets.
    pub fn without(&self, hidden: &[&str], known: &[&str]) -> Self {
        let names = match &self.0 {
            Some(names) => names.clone(),
            None => known.iter().map(|n| (*n).to_string()).collect(),
        };
        FieldMask(Some(
            names
                .into_iter()
                .filter(|n| !hidden.contains(&n.as_str()))
                .collect(),
        ))
    }

    /// True when the mask keeps every field.
    pub fn is_all(&self) -> bool {
        self.0.is_none()
    }

    /// Keeps only the masked fields of a JSON object; anything else is left as it is.
    pub fn apply(&self, value: &mut Value) {
        if let (Some(names), Value::Object(map)) = (&self.0, value) {
            map.retain(|key, _| names.contains(key));
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// The property names of a type's OpenAPI schema, which are its serialized field names.
    fn schema_properties<T: utoipa::PartialSchema>() -> Vec<String> {
        match T::schema() {
            utoipa::openapi::RefOr::T(utoipa::openapi::Schema::Object(object)) => {
                object.properties.keys().cloned().collect()
            }
            _ => panic!("not an object schema"),
        }
    }

    #[test]
    fn the_field_lists_are_the_fields_of_each_resource() {
        use crate::domain::{address::Address, preferences::Preferences, profile::Profile};
        let sorted = |names: &[&str]| {
            let mut names: Vec<String> = names.iter().map(|n| (*n).to_string()).collect();
            names.sort();
            names
        };
        let mut profile = schema_properties::<Profile>();
        let mut address = schema_properties::<Address>();
        // Flattened settings make its schema an `allOf`: its serialization tells the names.
        let mut preferences: Vec<String> = match serde_json::to_value(Preferences::defaults()) {
            Ok(Value::Object(map)) => map.keys().cloned().collect(),
            other => panic!("not an object: {other:?}"),
        };
        profile.sort();
        address.sort();
        preferences.sort();
        assert_eq!(profile, sorted(PROFILE_FIELDS));
        assert_eq!(address, sorted(ADDRESS_FIELDS));
        assert_eq!(preferences, sorted(PREFERENCES_FIELDS));
        assert!(
            SENSITIVE_PROFILE_FIELDS
                .iter()
                .all(|f| PROFILE_FIELDS.contains(f))
        );
    }

    #[test]
    fn absent_fields_keep_everything_and_named_fields_keep_only_those() {
        let mut all = json!({"id": 1, "city": "Paris", "phone": "+33"});
        FieldMask::parse(None, ADDRESS_FIELDS)
            .unwrap()
            .apply(&mut all);
        assert_eq!(all, json!({"id": 1, "city": "Paris", "phone": "+33"}));

        let mut some = all.clone();
        FieldMask::parse(Some("id,city,id"), ADDRESS_FIELDS)
            .unwrap()
            .apply(&mut some);
        assert_eq!(some, json!({"id": 1, "city": "Paris"}));
    }

    #[test]
    fn an_unknown_or_empty_name_is_a_field_error_on_fields() {
        let unknown = FieldMask::parse(Some("id,password"), ADDRESS_FIELDS).unwrap_err();
        assert_eq!(
            (unknown.field.as_str(), unknown.code.as_str()),
            ("fields", "unknown_field")
        );
        assert!(unknown.message.starts_with("password is not a field"));
        assert_eq!(unknown.params["name"], "password");

        for raw in ["", "id,", ",id", "id,,city"] {
            let empty = FieldMask::parse(Some(raw), ADDRESS_FIELDS).unwrap_err();
            assert_eq!(empty.code, "invalid_format", "{raw:?}");
        }
        // Names are exact: no spaces, no case folding, no nested paths.
        for raw in ["id, city", "ID", "notifications.email"] {
            assert!(
                FieldMask::parse(Some(raw), PREFERENCES_FIELDS).is_err(),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn without_drops_hidden_fields_from_every_field_or_from_the_named_ones() {
        let mut profile =
            json!({"email": "a@example.com", "phone": "+33", "date_of_birth": "1990-01-01"});
        FieldMask::all()
            .without(SENSITIVE_PROFILE_FIELDS, PROFILE_FIELDS)
            .apply(&mut profile);
        assert_eq!(profile, json!({"email": "a@example.com"}));

        let named = FieldMask::parse(Some("email,phone"), PROFILE_FIELDS).unwrap();
        assert!(named.names("phone") && !named.names("locale"));
        let mut profile = json!({"email": "a@example.com", "phone": "+33", "locale": "fr"});
        named
            .without(SENSITIVE_PROFILE_FIELDS, PROFILE_FIELDS)
            .apply(&mut profile);
        assert_eq!(profile, json!({"email": "a@example.com"}));
    }
}
