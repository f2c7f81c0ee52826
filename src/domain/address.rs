//! Shipping and billing addresses: what a client writes (`AddressInput`, validated) and what the API returns
//! (`Address`, also the shape of every stored revision).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;
use validator::{Validate, ValidationError};

use crate::domain::{
    address_format,
    codes::{CountryCode, PhoneNumber},
    country, postal, regions,
    rules::{e164, invalid, with_param},
    text,
};

/// Live addresses a user may have at once.
pub const MAX_ADDRESSES_PER_USER: i64 = 50;

/// Address revisions a user may accumulate, over all their live and deleted addresses, until erasure: revisions
/// are pinned by orders and never pruned, so writes that add one are refused past this (docs/limits.md).
pub const MAX_ADDRESS_REVISIONS_PER_USER: i64 = 5_000;

/// An address as stored at one revision.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema, sqlx::FromRow)]
#[schema(example = json!({
    "id": "0193b7c2-6f1e-7d2a-9b1c-3f4e5a6b7c8d",
    "label": "Home",
    "recipient_name": "Ada Lovelace",
    "company": null,
    "line1": "12 St James's Square",
    "line2": null,
    "city": "London",
    "region": null,
    "postal_code": "SW1Y 4JH",
    "country": "GB",
    "phone": "+442079460000",
    "is_default_shipping": true,
    "is_default_billing": true,
    "revision": 1,
    "created_at": "2025-01-31T09:30:00.123Z",
    "updated_at": "2025-01-31T09:30:00.123Z"
}))]
pub struct Address {
    /// The address's id (UUIDv7); with `revision` it names one immutable snapshot.
    pub id: Uuid,
    /// The user's own name for it, e.g. "Home".
    pub label: Option<String>,
    /// Who receives the parcel or invoice.
    pub recipient_name: String,
    pub company: Option<String>,
    /// Street and number.
    pub line1: String,
    /// Flat, floor, building.
    pub line2: Option<String>,
    pub city: String,
    /// State, province or county.
    pub region: Option<String>,
    /// Checked against the country's format where one is known.
    pub postal_code: String,
    /// ISO 3166-1 alpha-2 code, upper case.
    #[schema(value_type = CountryCode)]
    pub country: String,
    /// E.164 phone number for the carrier.
    #[schema(value_type = Option<PhoneNumber>)]
    pub phone: Option<String>,
    /// The user's default shipping address (exactly one while they have addresses).
    pub is_default_shipping: bool,
    /// The user's default billing address (exactly one while they have addresses).
    pub is_default_billing: bool,
    /// Increments with every change; also the `ETag`.
    pub revision: i64,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    /// When this revision was written.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: OffsetDateTime,
    /// Present only on a deleted address (service reads) and on the revision that deleted it.
    #[serde(
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub deleted_at: Option<OffsetDateTime>,
}

/// The fields a user writes with POST and PUT (all of them) or PATCH (a merge patch over them).
///
/// No text field may hold a control character (U+0000-U+001F, U+007F-U+009F, U+2028, U+2029: a newline would
/// forge a line on the label), a bidirectional control or a zero-width character. The text printed on the
/// parcel (every field but `country` and `phone`) is stored without the white space around it and must not be
/// blank.
///
/// `is_default_shipping`/`is_default_billing` are requests, not stored state: `true` makes this address the
/// default (the previous one loses the flag); `false` or absent asks for nothing. A user with addresses always
/// has one default of each kind, so `false` on the address that is, or is about to become, the default is a 422.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[validate(schema(function = "postal_code_fits_country", skip_on_field_errors = false))]
#[validate(schema(function = "region_fits_country", skip_on_field_errors = false))]
#[allow(
    clippy::duplicated_attributes,
    reason = "two cross-field rules, each its own `schema` attribute"
)]
#[schema(example = json!({
    "label": "Home",
    "recipient_name": "Ada Lovelace",
    "line1": "12 St James's Square",
    "city": "London",
    "postal_code": "SW1Y 4JH",
    "country": "GB",
    "phone": "+442079460000",
    "is_default_shipping": true
}))]
pub struct AddressInput {
    /// The user's own name for it, 1-50 characters.
    #[serde(default, deserialize_with = "text::trimmed")]
    #[validate(length(max = 50), custom(function = "text::name"))]
    #[schema(min_length = 1, max_length = 50, example = "Home")]
    pub label: Option<String>,
    /// Required, 1-100 characters.
    #[serde(default, deserialize_with = "text::trimmed")]
    #[validate(required, length(max = 100), custom(function = "text::name"))]
    #[schema(value_type = String, required = true, min_length = 1, max_length = 100, example = "Ada Lovelace")]
    pub recipient_name: Option<String>,
    #[serde(default, deserialize_with = "text::trimmed")]
    #[validate(length(max = 100), custom(function = "text::name"))]
    #[schema(min_length = 1, max_length = 100, example = "Analytical Engines Ltd")]
    pub company: Option<String>,
    /// Required, 1-200 characters.
    #[serde(default, deserialize_with = "text::trimmed")]
    #[validate(required, length(max = 200), custom(function = "text::name"))]
    #[schema(value_type = String, required = true, min_length = 1, max_length = 200, example = "12 St James's Square")]
    pub line1: Option<String>,
    #[serde(default, deserialize_with = "text::trimmed")]
    #[validate(length(max = 200), custom(function = "text::name"))]
    #[schema(min_length = 1, max_length = 200, example = "Flat 3")]
    pub line2: Option<String>,
    /// Required, 1-100 characters.
    #[serde(default, deserialize_with = "text::trimmed")]
    #[validate(required, length(max = 100), custom(function = "text::name"))]
    #[schema(value_type = String, required = true, min_length = 1, max_length = 100, example = "London")]
    pub city: Option<String>,
    /// State, province or county, 1-100 characters. Required, and one of the country's regions (by code or
    /// name, any case), where the service has the country's list: US, CA, AU and BR
    /// (`GET /api/v1/address-formats/{country}`).
    #[serde(default, deserialize_with = "text::trimmed")]
    #[validate(length(max = 100), custom(function = "text::name"))]
    #[schema(min_length = 1, max_length = 100, example = "Greater London")]
    pub region: Option<String>,
    /// Required, 1-20 characters, in the country's format where one is known.
    #[serde(default, deserialize_with = "text::trimmed")]
    #[validate(required, length(max = 20), custom(function = "text::name"))]
    #[schema(value_type = String, required = true, min_length = 1, max_length = 20, example = "SW1Y 4JH")]
    pub postal_code: Option<String>,
    /// Required ISO 3166-1 alpha-2 code, upper case.
    #[validate(required, custom(function = "country_code"))]
    #[schema(value_type = CountryCode, required = true)]
    pub country: Option<String>,
    /// E.164 phone number: `+`, country code, subscriber number; at most 15 digits.
    #[validate(custom(function = "e164"))]
    #[schema(value_type = Option<PhoneNumber>)]
    pub phone: Option<String>,
    /// `true` makes this the default shipping address.
    #[schema(example = true)]
    pub is_default_shipping: Option<bool>,
    /// `true` makes this the default billing address.
    #[schema(example = false)]
    pub is_default_billing: Option<bool>,
}

impl AddressInput {
    /// The writable fields of a stored address, as a merge patch's starting point; default requests are absent.
    pub fn from_address(a: &Address) -> Self {
        AddressInput {
            label: a.label.clone(),
            recipient_name: Some(a.recipient_name.clone()),
            company: a.company.clone(),
            line1: Some(a.line1.clone()),
            line2: a.line2.clone(),
            city: Some(a.city.clone()),
            region: a.region.clone(),
            postal_code: Some(a.postal_code.clone()),
            country: Some(a.country.clone()),
            phone: a.phone.clone(),
            is_default_shipping: None,
            is_default_billing: None,
        }
    }

    /// The same fields without the default requests: what a revision stores besides the flags.
    pub fn fields(&self) -> Self {
        AddressInput {
            is_default_shipping: None,
            is_default_billing: None,
            ..self.clone()
        }
    }
}

/// Which defaults an address holds; also used for the defaults a write sets or clears.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Defaults {
    pub shipping: bool,
    pub billing: bool,
}

impl Defaults {
    pub fn of(a: &Address) -> Self {
        Defaults {
            shipping: a.is_default_shipping,
            billing: a.is_default_billing,
        }
    }

    pub fn any(self) -> bool {
        self.shipping || self.billing
    }

    /// Names of the flags that differ, for the audit trail.
    pub fn changed_fields(self, after: Defaults) -> Vec<String> {
        let mut out = Vec::new();
        if self.shipping != after.shipping {
            out.push("is_default_shipping".to_string());
        }
        if self.billing != after.billing {
            out.push("is_default_billing".to_string());
        }
        out
    }
}

/// The defaults an address ends up with after a write carrying `input`'s default requests.
///
/// `current` is what it holds now (for a user's first address: both). A user with addresses always has one
/// default of each kind, so `false` for a default the address holds is refused, naming the field.
pub fn resolve_defaults(
    input: &AddressInput,
    current: Defaults,
) -> Result<Defaults, Vec<&'static str>> {
    let mut refused = Vec::new();
    let mut one = |requested: Option<bool>, current: bool, field: &'static str| match requested {
        Some(false) if current => {
            refused.push(field);
            current
        }
        Some(true) => true,
        _ => current,
    };
    let resolved = Defaults {
        shipping: one(
            input.is_default_shipping,
            current.shipping,
            "is_default_shipping",
        ),
        billing: one(
            input.is_default_billing,
            current.billing,
            "is_default_billing",
        ),
    };
    if refused.is_empty() {
        Ok(resolved)
    } else {
        Err(refused)
    }
}

fn country_code(value: &str) -> Result<(), ValidationError> {
    text::plain(value)?;
    if !country::is_country_code(value) {
        return Err(invalid("invalid_value", "invalid_value.country"));
    }
    Ok(())
}

/// Cross-field rule, reported on `postal_code` (the `field` param names it; see `domain::validation::validate`).
fn postal_code_fits_country(input: &AddressInput) -> Result<(), ValidationError> {
    let (Some(country), Some(code)) = (&input.country, &input.postal_code) else {
        return Ok(());
    };
    if postal::postal_code_matches(country, code) == Some(false) {
        let err = invalid("invalid_format", "invalid_format.postal_code");
        let err = with_param(err, "country", country);
        let err = with_param(err, "example", &postal::example(country));
        return Err(with_param(err, "field", &"postal_code"));
    }
    Ok(())
}

/// Cross-field rule, reported on `region`: where the service has the country's region list
/// (`domain::regions`), the region is required and must be one of them.
fn region_fits_country(input: &AddressInput) -> Result<(), ValidationError> {
    let Some(country) = &input.country else {
        return Ok(());
    };
    let mut err = match &input.region {
        None if address_format::region_required(country) => ValidationError::new("required"),
        // A region with a control character is already refused as such.
        Some(region)
            if text::check(region).is_ok()
                && regions::is_region(country, region) == Some(false) =>
        {
            with_param(
                invalid("invalid_value", "invalid_value.region"),
                "country",
                country,
            )
        }
        _ => return Ok(()),
    };
    err.add_param("field".into(), &"region");
    Err(err)
}

/// The user's default addresses; both are `null` only while the user has no address.
#[derive(Debug, Serialize, ToSchema)]
pub struct DefaultAddresses {
    /// Where to ship by default.
    #[schema(required = true)]
    pub shipping: Option<Address>,
    /// Where to bill by default (often the same address).
    #[schema(required = true)]
    pub billing: Option<Address>,
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::domain::{text, validation::parse_valid};

    fn valid() -> AddressInput {
        AddressInput {
            label: Some("Home".into()),
            recipient_name: Some("Ada Lovelace".into()),
            company: Some("Analytical Engines Ltd".into()),
            line1: Some("12 St James's Square".into()),
            line2: Some("Flat 3".into()),
            city: Some("London".into()),
            region: Some("Greater London".into()),
            postal_code: Some("SW1Y 4JH".into()),
            country: Some("GB".into()),
            phone: Some("+442079460000".into()),
            is_default_shipping: Some(true),
            is_default_billing: None,
        }
    }

    /// Field names of every failure, the cross-field rule under the field its `field` param names.
    fn failing_fields(input: &AddressInput) -> Vec<String> {
        let Err(errors) = input.validate() else {
            return vec![];
        };
        let mut fields: Vec<String> = errors
            .field_errors()
            .iter()
            .flat_map(|(field, list)| {
                list.iter().map(move |e| match e.params.get("field") {
                    Some(name) => name.as_str().unwrap_or_default().to_string(),
                    None => field.to_string(),
                })
            })
            .collect();
        fields.sort();
        fields
    }

    #[test]
    fn a_complete_address_is_valid() {
        assert_eq!(failing_fields(&valid()), Vec::<String>::new());
    }

    #[test]
    fn only_recipient_line1_city_postal_code_and_country_are_required() {
        assert_eq!(
            failing_fields(&AddressInput::default()),
            ["city", "country", "line1", "postal_code", "recipient_name"]
        );
        let minimal = AddressInput {
            label: None,
            company: None,
            line2: None,
            region: None,
            phone: None,
            is_default_shipping: None,
            ..valid()
        };
        assert!(minimal.validate().is_ok());
    }

    #[test]
    fn each_bad_field_is_named() {
        let input = AddressInput {
            label: Some("x".repeat(51)),
            recipient_name: Some("   ".into()),
            company: Some("".into()),
            line1: Some("1 Main St\nEvil line".into()),
            line2: Some("x".repeat(201)),
            city: Some("\t".into()),
            region: Some("r".repeat(101)),
            postal_code: Some("x".repeat(21)),
            country: Some("UK".into()),
            phone: Some("020 7946 0000".into()),
            ..Default::default()
        };
        assert_eq!(
            failing_fields(&input),
            [
                "city",
                "company",
                "country",
                "label",
                "line1",
                "line2",
                "phone",
                "postal_code",
                "recipient_name",
                "region"
            ]
        );
    }

    #[test]
    fn country_must_be_an_assigned_upper_case_alpha_2_code() {
        for bad in ["gb", "GBR", "XX", "EU", ""] {
            let input = AddressInput {
                country: Some(bad.into()),
                ..valid()
            };
            assert_eq!(failing_fields(&input), ["country"], "{bad:?}");
        }
    }

    #[test]
    fn postal_code_is_checked_against_the_country_and_reported_on_postal_code() {
        let german_code_in_gb = AddressInput {
            postal_code: Some("10115".into()),
            ..valid()
        };
        assert_eq!(failing_fields(&german_code_in_gb), ["postal_code"]);
        let german_code_in_de = AddressInput {
            postal_code: Some("10115".into()),
            country: Some("DE".into()),
            ..valid()
        };
        assert!(german_code_in_de.validate().is_ok());
    }

    #[test]
    fn postal_code_is_free_form_where_the_country_has_no_known_format() {
        let input = AddressInput {
            postal_code: Some("anything 1".into()),
            country: Some("AE".into()),
            ..valid()
        };
        assert!(input.validate().is_ok());
    }

    #[test]
    fn a_bad_country_and_a_bad_phone_are_both_reported_with_the_postal_check_skipped() {
        let input = AddressInput {
            country: Some("ZZ".into()),
            phone: Some("12345".into()),
            ..valid()
        };
        assert_eq!(failing_fields(&input), ["country", "phone"]);
    }

    #[test]
    fn true_makes_a_default_absent_keeps_it_and_false_on_a_default_is_refused() {
        let none = Defaults::default();
        let both = Defaults {
            shipping: true,
            billing: true,
        };
        let ask = |shipping, billing| AddressInput {
            is_default_shipping: shipping,
            is_default_billing: billing,
            ..valid()
        };
        assert_eq!(
            resolve_defaults(&ask(Some(true), None), none),
            Ok(Defaults {
                shipping: true,
                billing: false
            })
        );
        assert_eq!(resolve_defaults(&ask(None, None), both), Ok(both));
        assert_eq!(
            resolve_defaults(&ask(Some(false), Some(false)), none),
            Ok(none)
        );
        let refused = resolve_defaults(&ask(Some(false), Some(true)), both).unwrap_err();
        assert_eq!(refused.len(), 1);
        assert_eq!(refused[0], "is_default_shipping");
    }

    /// Every field printed on the parcel, with its longest length.
    const PRINTED: [(&str, usize); 8] = [
        ("label", 50),
        ("recipient_name", 100),
        ("company", 100),
        ("line1", 200),
        ("line2", 200),
        ("city", 100),
        ("region", 100),
        ("postal_code", 20),
    ];

    /// Parses and validates `field: value` over a valid address in a country without a postal format.
    fn with_field(field: &str, value: &str) -> Result<AddressInput, Vec<String>> {
        let mut body = serde_json::to_value(AddressInput {
            country: Some("AE".into()),
            ..valid()
        })
        .unwrap();
        body[field] = serde_json::Value::String(value.into());
        parse_valid::<AddressInput>(body).map_err(|errors| {
            errors
                .into_iter()
                .map(|e| format!("{}:{}", e.field, e.code))
                .collect()
        })
    }

    #[test]
    fn printed_fields_are_trimmed_and_refuse_blank_control_and_invisible_text() {
        for (field, _) in PRINTED {
            let stored = with_field(field, "\u{a0} Flat  3 \u{3000}").unwrap();
            let stored = serde_json::to_value(stored).unwrap();
            assert_eq!(stored[field], "Flat  3", "{field}");
            for (value, code) in [
                (" \u{2003} ", "blank"),
                ("Flat 3\n", "control_character"),
                ("\tFlat 3", "control_character"),
                ("Flat\u{0}3", "control_character"),
                ("Flat\u{85}3", "control_character"),
                ("Flat\u{2028}3", "control_character"),
                ("\u{202e}3 talF", "invisible_character"),
                ("Flat\u{200b}3", "invisible_character"),
            ] {
                assert_eq!(
                    with_field(field, value).unwrap_err(),
                    [format!("{field}:{code}")],
                    "{value:?}"
                );
            }
        }
        assert_eq!(
            with_field("country", "G\u{0}").unwrap_err(),
            ["country:control_character"]
        );
        assert_eq!(
            with_field("phone", "+44\u{0}").unwrap_err(),
            ["phone:control_character"]
        );
    }

    fn any_text() -> impl Strategy<Value = String> {
        let c = prop_oneof![
            4 => proptest::char::range('a', 'z'),
            2 => Just(' '),
            1 => any::<char>(),
            1 => proptest::char::range('\u{0}', '\u{9f}'),
            1 => proptest::char::range('\u{2000}', '\u{206f}'),
            1 => Just('\u{3000}'),
        ];
        proptest::collection::vec(c, 0..24).prop_map(|v| v.into_iter().collect())
    }

    proptest! {
        #[test]
        fn a_printed_field_is_accepted_exactly_when_its_trimmed_text_follows_the_rules(
            index in 0..PRINTED.len(),
            value in any_text(),
        ) {
            let (field, max) = PRINTED[index];
            let trimmed = text::trim(&value);
            let allowed = text::check(&value).is_ok()
                && !trimmed.is_empty()
                && trimmed.chars().count() <= max;
            match with_field(field, &value) {
                Ok(input) => {
                    prop_assert!(allowed, "{value:?} accepted");
                    let stored = serde_json::to_value(input).unwrap();
                    prop_assert_eq!(stored[field].as_str(), Some(trimmed));
                }
                Err(errors) => {
                    prop_assert!(!allowed, "{value:?} refused: {errors:?}");
                    let prefix = format!("{field}:");
                    prop_assert!(errors.iter().all(|e| e.starts_with(&prefix)));
                }
            }
        }
    }

    #[test]
    fn defaults_name_the_flags_that_changed() {
        let before = Defaults {
            shipping: true,
            billing: false,
        };
        let after = Defaults {
            shipping: false,
            billing: false,
        };
        assert_eq!(before.changed_fields(after), ["is_default_shipping"]);
        assert!(before.changed_fields(before).is_empty());
    }
}
