//! JSON Merge Patch (RFC 7396): a partial change applied to the writable fields of a resource, then parsed
//! and validated like a full body.

use serde::{Serialize, de::DeserializeOwned};
use serde_json::{Map, Value};
use validator::Validate;

use crate::domain::validation::{FieldError, from_json_value, validate};

/// A merge patch document: always a JSON object.
#[derive(Debug, Clone, Default)]
pub struct MergePatch(pub Map<String, Value>);

impl MergePatch {
    /// Applies the patch to `current` and parses and validates the result like a full body.
    pub fn apply_to<T: Serialize + DeserializeOwned + Validate>(
        &self,
        current: &T,
    ) -> Result<T, Vec<FieldError>> {
        // Our input types are plain structs of strings, numbers and booleans: they always serialize.
        let mut target = serde_json::to_value(current).unwrap_or_default();
        merge(&mut target, &Value::Object(self.0.clone()));
        let patched: T = from_json_value(target).map_err(|e| vec![e])?;
        validate(&patched)?;
        Ok(patched)
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
    use serde_json::json;

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
