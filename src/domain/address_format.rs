//! Address forms for frontends: for each country, the fields of an address in the order its label prints them,
//! which are required, what the region is called and which regions exist, and the postal code's pattern with an
//! example. Built from the tables the address validator uses (`country`, `postal`, `regions`), so a form shows
//! exactly what the server accepts; docs/address-formats.md says where the orders and names come from.

use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::{country, postal, regions};

/// How one country writes an address, for a frontend to render its form.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[schema(example = json!({
    "country": "CA",
    "fields": [
        {"name": "label", "required": false, "max_length": 50},
        {"name": "recipient_name", "required": true, "max_length": 100},
        {"name": "company", "required": false, "max_length": 100},
        {"name": "line1", "required": true, "max_length": 200},
        {"name": "line2", "required": false, "max_length": 200},
        {"name": "city", "required": true, "max_length": 100},
        {"name": "region", "required": true, "max_length": 100},
        {"name": "postal_code", "required": true, "max_length": 20},
        {"name": "phone", "required": false, "max_length": 16}
    ],
    "required": ["recipient_name", "line1", "city", "region", "postal_code", "country"],
    "region_name": "province",
    "regions": [{"code": "AB", "name": "Alberta"}, {"code": "BC", "name": "British Columbia"}],
    "postal_code_name": "postal",
    "postal_code": {"pattern": "^(?:[ABCEGHJKLMNPRSTVXY]\\d[ABCEGHJ-NPRSTV-Z] ?\\d[ABCEGHJ-NPRSTV-Z]\\d)$", "example": "A1A 2A3"}
}))]
pub struct AddressFormat {
    /// ISO 3166-1 alpha-2 code, upper case: the `country` of the address.
    pub country: String,
    /// The fields a form shows (all the address body's text fields but `country`), in the order the country
    /// prints them. A field left out here, such as `region` in most of Europe, is optional and may still be sent.
    pub fields: Vec<FormField>,
    /// The fields the server requires for this country, `country` included.
    pub required: Vec<String>,
    /// What the country calls the `region` field (`state`, `province`, `county`, `prefecture`, ...); absent
    /// where addresses have no region line.
    #[schema(required = true)]
    pub region_name: Option<String>,
    /// The regions accepted, where the service has a list: `region` must then be one of them, by `code` or by
    /// `name` (any case). Absent: any region is accepted.
    #[schema(required = true)]
    pub regions: Option<Vec<Region>>,
    /// What the country calls the postal code: `zip`, `pin`, `eircode` or `postal`.
    pub postal_code_name: String,
    /// The postal code's format; absent where none is known (any 1-20 characters are accepted).
    #[schema(required = true)]
    pub postal_code: Option<PostalCodeFormat>,
}

/// Every country's address format.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct AddressFormatList {
    /// One format per assigned ISO 3166-1 alpha-2 code, in code order.
    pub items: Vec<AddressFormat>,
}

/// One field of the form.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct FormField {
    /// The field's name in the address body.
    #[schema(example = "postal_code")]
    pub name: String,
    /// The server refuses an address without it (`required`).
    pub required: bool,
    /// The most characters the server accepts.
    #[schema(example = 20)]
    pub max_length: u32,
}

/// One accepted region.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Region {
    /// The short code the postal service uses, e.g. `CA` for California, `NSW` for New South Wales.
    #[schema(example = "CA")]
    pub code: String,
    /// Its name in English (Portuguese for Brazil).
    #[schema(example = "California")]
    pub name: String,
}

/// A postal code format.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct PostalCodeFormat {
    /// Anchored regular expression (ECMAScript and Rust syntax alike), to match case-insensitively against the
    /// code without the white space around it.
    #[schema(example = "^(?:\\d{5})$")]
    pub pattern: String,
    /// A code of this format, for a placeholder.
    #[schema(example = "10115")]
    pub example: String,
}

/// The form fields with their length limits, in the default order (the validator's limits on `AddressInput`;
/// a test holds them equal).
const FIELDS: &[(&str, u32)] = &[
    ("label", 50),
    ("recipient_name", 100),
    ("company", 100),
    ("line1", 200),
    ("line2", 200),
    ("city", 100),
    ("region", 100),
    ("postal_code", 20),
    ("phone", 16),
];

/// Fields every country requires.
const ALWAYS_REQUIRED: &[&str] = &["recipient_name", "line1", "city", "postal_code", "country"];

/// Countries that print the postal code before the city ("10115 Berlin"), sorted.
const POSTAL_CODE_FIRST: &[&str] = &[
    "AD", "AR", "AT", "AX", "BA", "BE", "BG", "BL", "CH", "CL", "CR", "CU", "CV", "CY", "CZ", "DE",
    "DK", "DZ", "EE", "ES", "FI", "FO", "FR", "GE", "GF", "GL", "GP", "GR", "GT", "HR", "HU", "IL",
    "IS", "IT", "LI", "LT", "LU", "MA", "MC", "MD", "ME", "MF", "MK", "MQ", "MX", "NC", "NL", "NO",
    "PF", "PL", "PM", "PT", "RE", "RO", "RS", "SE", "SI", "SJ", "SK", "SM", "TN", "TR", "UY", "VA",
    "WF", "YT",
];

/// Countries that write an address from the largest unit down (postal code, region, city, then the street),
/// sorted.
const LARGEST_FIRST: &[&str] = &["CN", "JP", "KR", "TW"];

/// What each country that prints a region line calls it, sorted.
const REGION_NAMES: &[(&str, &str)] = &[
    ("AE", "emirate"),
    ("AR", "province"),
    ("AU", "state"),
    ("BR", "state"),
    ("BS", "island"),
    ("CA", "province"),
    ("CN", "province"),
    ("CO", "department"),
    ("ES", "province"),
    ("HK", "area"),
    ("ID", "province"),
    ("IE", "county"),
    ("IN", "state"),
    ("IT", "province"),
    ("JM", "parish"),
    ("JP", "prefecture"),
    ("KE", "county"),
    ("KR", "do_si"),
    ("KY", "island"),
    ("KZ", "oblast"),
    ("MX", "state"),
    ("MY", "state"),
    ("NG", "state"),
    ("NI", "department"),
    ("PH", "province"),
    ("RU", "oblast"),
    ("SV", "department"),
    ("TH", "province"),
    ("TR", "province"),
    ("TW", "county"),
    ("UA", "oblast"),
    ("US", "state"),
    ("VE", "state"),
];

/// What countries other than `postal` call the postal code, sorted.
const POSTAL_CODE_NAMES: &[(&str, &str)] = &[
    ("AS", "zip"),
    ("FM", "zip"),
    ("GU", "zip"),
    ("IE", "eircode"),
    ("IN", "pin"),
    ("MH", "zip"),
    ("MP", "zip"),
    ("PR", "zip"),
    ("PW", "zip"),
    ("UM", "zip"),
    ("US", "zip"),
    ("VI", "zip"),
];

fn lookup(table: &[(&'static str, &'static str)], country: &str) -> Option<&'static str> {
    table
        .binary_search_by(|(code, _)| (*code).cmp(country))
        .ok()
        .map(|i| table[i].1)
}

/// Whether the server requires `region` in `country`'s addresses: where it has the country's region list.
pub fn region_required(country: &str) -> bool {
    regions::regions(country).is_some()
}

impl AddressFormat {
    /// The format of `country` (upper-case ISO 3166-1 alpha-2), `None` for anything else.
    pub fn of(country: &str) -> Option<AddressFormat> {
        if !country::is_country_code(country) {
            return None;
        }
        let region_name = lookup(REGION_NAMES, country);
        let regions = regions::regions(country).map(|list| {
            list.iter()
                .map(|(code, name)| Region {
                    code: (*code).to_string(),
                    name: (*name).to_string(),
                })
                .collect()
        });
        let postal_code = postal::pattern(country).map(|pattern| PostalCodeFormat {
            pattern,
            example: postal::example(country).unwrap_or_default(),
        });
        let mut required: Vec<String> = ALWAYS_REQUIRED.iter().map(|f| (*f).to_string()).collect();
        if region_required(country) {
            required.insert(3, "region".to_string());
        }
        let fields = field_order(country, region_name.is_some() || region_required(country))
            .into_iter()
            .map(|name| FormField {
                name: name.to_string(),
                required: required.iter().any(|r| r == name),
                max_length: FIELDS.iter().find(|(f, _)| *f == name).map_or(0, |f| f.1),
            })
            .collect();
        Some(AddressFormat {
            country: country.to_string(),
            fields,
            required,
            region_name: region_name.map(str::to_string),
            regions,
            postal_code_name: lookup(POSTAL_CODE_NAMES, country)
                .unwrap_or("postal")
                .to_string(),
            postal_code,
        })
    }

    /// Every country's format, by country code.
    pub fn all() -> Vec<AddressFormat> {
        country::all().iter().filter_map(|c| Self::of(c)).collect()
    }
}

/// The form's fields for `country` in print order; `region` only where the country has a region line.
fn field_order(country: &str, with_region: bool) -> Vec<&'static str> {
    let locality: &[&str] = if LARGEST_FIRST.binary_search(&country).is_ok() {
        &["postal_code", "region", "city"]
    } else if POSTAL_CODE_FIRST.binary_search(&country).is_ok() {
        &["postal_code", "city", "region"]
    } else {
        &["city", "region", "postal_code"]
    };
    let street: &[&str] = &["line1", "line2"];
    let (first, second) = if LARGEST_FIRST.binary_search(&country).is_ok() {
        (locality, street)
    } else {
        (street, locality)
    };
    ["label", "recipient_name", "company"]
        .iter()
        .chain(first)
        .chain(second)
        .chain(&["phone"])
        .copied()
        .filter(|f| with_region || *f != "region")
        .collect()
}

#[cfg(test)]
mod tests {
    use validator::Validate;

    use super::*;
    use crate::domain::{address::AddressInput, validation};

    fn sorted(table: &[&str]) -> bool {
        table.windows(2).all(|w| w[0] < w[1])
    }

    #[test]
    fn tables_are_sorted_and_keyed_by_country_codes() {
        for table in [REGION_NAMES, POSTAL_CODE_NAMES] {
            assert!(table.windows(2).all(|w| w[0].0 < w[1].0));
            assert!(table.iter().all(|(c, _)| country::is_country_code(c)));
        }
        for table in [POSTAL_CODE_FIRST, LARGEST_FIRST] {
            assert!(sorted(table));
            assert!(table.iter().all(|c| country::is_country_code(c)));
        }
        // A region list without a name for the region line would render an unlabelled field.
        for format in AddressFormat::all() {
            if format.regions.is_some() {
                assert!(format.region_name.is_some(), "{}", format.country);
            }
        }
    }

    #[test]
    fn every_country_has_a_format_and_nothing_else_has_one() {
        assert_eq!(AddressFormat::all().len(), 249);
        for code in ["XX", "us", "UK", ""] {
            assert_eq!(AddressFormat::of(code), None, "{code:?}");
        }
    }

    #[test]
    fn the_orders_follow_how_each_country_prints_an_address() {
        let names = |c: &str| -> Vec<String> {
            AddressFormat::of(c)
                .unwrap()
                .fields
                .into_iter()
                .map(|f| f.name)
                .collect()
        };
        let tail = |c: &str| names(c)[3..].join(" ");
        assert_eq!(tail("US"), "line1 line2 city region postal_code phone");
        assert_eq!(tail("DE"), "line1 line2 postal_code city phone");
        assert_eq!(tail("GB"), "line1 line2 city postal_code phone");
        assert_eq!(tail("JP"), "postal_code region city line1 line2 phone");
        assert_eq!(names("US")[..3], ["label", "recipient_name", "company"]);
    }

    /// An address filled in from the format: the required fields, the first region, the postal code example.
    fn filled_in(format: &AddressFormat) -> AddressInput {
        AddressInput {
            recipient_name: Some("Ada Lovelace".into()),
            line1: Some("1 Main Street".into()),
            city: Some("Springfield".into()),
            region: format.regions.as_ref().map(|r| r[0].code.clone()),
            postal_code: Some(
                format
                    .postal_code
                    .as_ref()
                    .map_or("1234".into(), |p| p.example.clone()),
            ),
            country: Some(format.country.clone()),
            ..Default::default()
        }
    }

    fn failing(input: &AddressInput) -> Vec<(String, String)> {
        match validation::validate(input) {
            Ok(()) => vec![],
            Err(errors) => errors.into_iter().map(|e| (e.field, e.code)).collect(),
        }
    }

    #[test]
    fn the_validator_requires_exactly_the_required_fields_of_every_format() {
        for format in AddressFormat::all() {
            let input = filled_in(&format);
            assert_eq!(failing(&input), vec![], "{}", format.country);
            let as_json = serde_json::to_value(&input).unwrap();
            for field in ["recipient_name", "line1", "city", "region", "postal_code"] {
                let mut without = as_json.clone();
                without[field] = serde_json::Value::Null;
                let without: AddressInput = serde_json::from_value(without).unwrap();
                let required = format.required.iter().any(|r| r == field);
                assert_eq!(
                    failing(&without),
                    if required {
                        vec![(field.to_string(), "required".to_string())]
                    } else {
                        vec![]
                    },
                    "{} without {field}",
                    format.country
                );
            }
        }
    }

    #[test]
    fn the_length_limits_are_the_validators() {
        let format = AddressFormat::of("GB").unwrap();
        for field in &format.fields {
            let mut input = serde_json::to_value(filled_in(&format)).unwrap();
            let max = field.max_length as usize;
            let value = |n: usize| match field.name.as_str() {
                "phone" => format!("+44{}", "2".repeat(n - 3)),
                "postal_code" => "1".repeat(n),
                _ => "x".repeat(n),
            };
            if field.name == "postal_code" {
                // Where the country's format allows a length, the limit is the same for every country.
                input["country"] = "AE".into();
            }
            input[&field.name] = value(max).into();
            let at_limit: AddressInput = serde_json::from_value(input.clone()).unwrap();
            assert!(at_limit.validate().is_ok(), "{} at {max}", field.name);
            input[&field.name] = value(max + 1).into();
            let over: AddressInput = serde_json::from_value(input).unwrap();
            assert!(over.validate().is_err(), "{} over {max}", field.name);
        }
    }

    #[test]
    fn a_region_outside_the_list_or_a_postal_code_off_the_pattern_is_refused() {
        let us = AddressFormat::of("US").unwrap();
        let mut input = filled_in(&us);
        input.region = Some("Ontario".into());
        assert_eq!(
            failing(&input),
            [("region".to_string(), "invalid_value".to_string())]
        );
        input.region = Some("california".into());
        input.postal_code = Some("1234".into());
        assert_eq!(
            failing(&input),
            [("postal_code".to_string(), "invalid_format".to_string())]
        );
    }
}
