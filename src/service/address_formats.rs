//! Address forms (`domain::address_format`), published as JSON documents with their entity tags. The data is
//! compiled into the binary, so each document is serialized once per process; its tag is a digest of its
//! bytes, and changes exactly when a release changes the data.

use std::{collections::BTreeMap, sync::LazyLock};

use sha2::{Digest, Sha256};

use crate::{
    domain::address_format::{AddressFormat, AddressFormatList},
    service::{Error, Result},
};

/// A document ready to send.
#[derive(Debug)]
pub struct Published {
    /// The JSON body.
    pub json: String,
    /// The entity tag's opaque part (unquoted): hex of the body's SHA-256, shortened.
    pub etag: String,
}

impl Published {
    fn of(value: &impl serde::Serialize) -> Published {
        // Serializing plain structs of strings, numbers and lists cannot fail.
        let json = serde_json::to_string(value).unwrap_or_default();
        let digest = Sha256::digest(json.as_bytes());
        let etag = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
        Published { json, etag }
    }
}

static LIST: LazyLock<Published> = LazyLock::new(|| {
    Published::of(&AddressFormatList {
        items: AddressFormat::all(),
    })
});

static EACH: LazyLock<BTreeMap<String, Published>> = LazyLock::new(|| {
    AddressFormat::all()
        .into_iter()
        .map(|format| (format.country.clone(), Published::of(&format)))
        .collect()
});

/// Every country's format.
pub fn list() -> &'static Published {
    &LIST
}

/// The format of `country`; 404 `address_format_not_found` for anything but an assigned ISO 3166-1 alpha-2
/// code in upper case.
pub fn get(country: &str) -> Result<&'static Published> {
    EACH.get(country).ok_or(Error::ADDRESS_FORMAT_NOT_FOUND)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_document_has_its_own_tag_and_the_list_holds_them_all() {
        let us = get("US").unwrap();
        let ca = get("CA").unwrap();
        assert_ne!(us.etag, ca.etag);
        assert_eq!(us.etag.len(), 32);
        let list: serde_json::Value = serde_json::from_str(&list().json).unwrap();
        assert_eq!(list["items"].as_array().unwrap().len(), 249);
        assert_eq!(
            list["items"][232],
            serde_json::from_str::<serde_json::Value>(&us.json).unwrap()
        );
    }

    #[test]
    fn anything_but_an_upper_case_country_code_is_not_found() {
        for country in ["us", "XX", "USA", ""] {
            let err = get(country).unwrap_err();
            assert!(
                matches!(
                    err,
                    Error::NotFound {
                        code: "address_format_not_found",
                        ..
                    }
                ),
                "{country:?}"
            );
        }
    }
}
