//! JSON Merge Patch (RFC 7396): a partial change applied to the writable fields of a resource, then parsed
//! and validated like a full body. Every key of the patch must name a writable field, whatever its value.

use serde::{Serialize, de::DeserializeOwned};
use serde_json::{Map, Value};
use validator::Validate;

use crate::domain::validation::{FieldError, Parsed, parse_collecting, parse_valid, sorted};

/// A merge patch document: always a JSON object.
#[derive(Debug, Clone, Default)]
pub struct MergePatch(pub Map<String, Value>);

impl MergePatch {
    /// Applies the patch to `current` and parses and validates the result like a full body; every problem of
    /// the patch and of the result is reported at once.
    pub fn apply_to<T: Serialize + DeserializeOwned + Validate>(
        &self,
        current: &T,
    ) -> Result<T, Vec<FieldError>> {
        // The patch is first read as a `T` on its own, so that a key naming no writable field is refused even
        // when its value is `null` (`{"status": null}`), which merging alone would silently drop. Its unknown
        // keys and wrongly typed values are reported from here and left out of the merge.
        let Parsed {
            errors: mut problems,
            document: patch,
            ..
        } = parse_collecting::<T>(Value::Object(self.0.clone()));
        // A patch need not name every field; the merged result is judged on that.
        problems.retain(|e| e.code != "required");
        // Our input types are plain structs of strings, numbers and booleans: they always serialize.
        let mut target = serde_json::to_value(current).unwrap_or_default();
        merge(&mut target, &patch);
        match parse_valid::<T>(target) {
            Ok(patched) if problems.is_empty() => Ok(patched),
            Ok(_) => Err(sorted(problems)),
            Err(more) => {
                for error in more {
                    if !problems.contains(&error) {
                        problems.push(error);
                    }
                }
                Err(sorted(problems))
            }
        }
    }

    /// Takes `key` out of the patch (for a field that is not part of the input it is applied to).
    pub fn take(&mut self, key: &str) -> Option<Value> {
        self.0.remove(key)
    }
}

/// RFC 7396: objects merge recursively, `null` removes, anything else replaces.
pub fn merge(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::default());
    }
    if let Value::Object(map) = target {
        for (key, value) in patch {
            if value.is_null() {
                map.remove(key);
            } else {
                merge(map.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::{Value, json};

    use super::MergePatch;
    use crate::domain::profile::ProfileInput;

    fn current() -> ProfileInput {
        ProfileInput {
            email: Some("ada@example.com".into()),
            display_name: Some("Ada".into()),
            ..Default::default()
        }
    }

    fn patch(value: Value) -> MergePatch {
        let Value::Object(map) = value else {
            panic!("a patch is an object")
        };
        MergePatch(map)
    }

    fn problems(value: Value) -> Vec<String> {
        match patch(value).apply_to(&current()) {
            Ok(_) => vec![],
            Err(errors) => errors
                .into_iter()
                .map(|e| format!("{}:{}", e.field, e.code))
                .collect(),
        }
    }

    #[test]
    fn read_only_and_unknown_keys_are_refused_whatever_their_value() {
        for key in [
            "status",
            "version",
            "user_id",
            "created_at",
            "updated_at",
            "nickname",
        ] {
            for value in [Value::Null, json!("x"), json!(1), json!({})] {
                assert_eq!(
                    problems(json!({ key: value })),
                    [format!("{key}:unknown_field")],
                    "{key}: {value}"
                );
            }
        }
    }

    #[test]
    fn every_problem_of_the_patch_and_of_the_result_is_reported_at_once() {
        assert_eq!(
            problems(json!({"status": null, "email": null, "phone": 5, "first_name": " "})),
            [
                "email:required",
                "first_name:blank",
                "phone:invalid_type",
                "status:unknown_field"
            ]
        );
        let ok = patch(json!({"first_name": "  Ada ", "last_name": null}))
            .apply_to(&current())
            .unwrap();
        assert_eq!(ok.first_name.as_deref(), Some("Ada"));
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            ".{0,6}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
                proptest::collection::btree_map("[a-z_]{1,12}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn json_object() -> impl Strategy<Value = Value> {
        let key = prop_oneof![
            Just("email".to_string()),
            Just("display_name".to_string()),
            Just("first_name".to_string()),
            Just("phone".to_string()),
            Just("status".to_string()),
            Just("version".to_string()),
            "[a-z_]{1,10}",
        ];
        proptest::collection::btree_map(key, json_value(), 0..6)
            .prop_map(|m| Value::Object(m.into_iter().collect()))
    }

    proptest! {
        #[test]
        fn merging_is_idempotent(target in json_value(), p in json_value()) {
            let mut once = target;
            super::merge(&mut once, &p);
            let mut twice = once.clone();
            super::merge(&mut twice, &p);
            prop_assert_eq!(once, twice);
        }

        #[test]
        fn every_key_that_is_not_a_writable_field_is_named_as_unknown(p in json_object()) {
            let writable = serde_json::to_value(ProfileInput::default()).unwrap();
            let result = patch(p.clone()).apply_to(&current());
            let unknown: Vec<&String> = p.as_object().unwrap().keys()
                .filter(|k| writable.get(k.as_str()).is_none()).collect();
            match result {
                Ok(_) => prop_assert!(unknown.is_empty()),
                Err(errors) => {
                    prop_assert!(!errors.is_empty());
                    for key in unknown {
                        prop_assert!(errors.iter().any(|e| &e.field == key && e.code == "unknown_field"));
                    }
                }
            }
        }
    }

    #[test]
    fn merge_patch_follows_rfc_7396_examples() {
        let mut target = json!({"a": "b", "c": {"d": "e", "f": "g"}});
        super::merge(&mut target, &json!({"a": "z", "c": {"f": null}}));
        assert_eq!(target, json!({"a": "z", "c": {"d": "e"}}));
        let mut target = json!({"a": [{"b": "c"}]});
        super::merge(&mut target, &json!({"a": [1]}));
        assert_eq!(target, json!({"a": [1]}));
    }
}
