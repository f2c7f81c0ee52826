//! The codes and formats the domain accepts, as OpenAPI schemas, so generated clients and forms know them:
//! closed sets become enums built from the same lists the validators read, open formats become patterns
//! (tests below check each pattern against its validator).

use std::borrow::Cow;

use utoipa::{
    PartialSchema, ToSchema,
    openapi::{
        RefOr, Schema,
        schema::{ObjectBuilder, Type},
    },
};

use crate::domain::{country, currency};

/// E.164: `+`, a country code not starting with 0, at most 15 digits in all (`phone::is_e164`).
pub const E164_PATTERN: &str = r"^\+[1-9][0-9]{1,14}$";

/// RFC 5646 `Language-Tag` without the grandfathered tags (`locale::is_language_tag`): language (with up to
/// three extlangs), script, region, variants, extensions, private use; or private use alone.
pub const LANGUAGE_TAG_PATTERN: &str = concat!(
    "^(?:(?:[A-Za-z]{2,3}(?:-[A-Za-z]{3}){0,3}|[A-Za-z]{4,8})",
    "(?:-[A-Za-z]{4})?",
    "(?:-(?:[A-Za-z]{2}|[0-9]{3}))?",
    "(?:-(?:[A-Za-z0-9]{5,8}|[0-9][A-Za-z0-9]{3}))*",
    "(?:-[0-9A-WYZa-wyz](?:-[A-Za-z0-9]{2,8})+)*",
    "(?:-[Xx](?:-[A-Za-z0-9]{1,8})+)?",
    "|[Xx](?:-[A-Za-z0-9]{1,8})+)$"
);

/// The spelling of a tz database name (`Area/Location`, `UTC`); which names exist is `timezone.rs`'s list.
pub const TIME_ZONE_PATTERN: &str = "^[A-Za-z][A-Za-z0-9_+-]*(?:/[A-Za-z0-9_+-]+)*$";

/// The characters `text::check` refuses: C0 and C1 controls, U+2028/U+2029, bidirectional controls and
/// zero-width characters (as a character class body).
macro_rules! refused {
    () => {
        "\\u0000-\\u001F\\u007F-\\u009F\\u2028\\u2029\\u202A-\\u202E\\u2066-\\u2069\\u200B-\\u200D\\u2060\\uFEFF"
    };
}

/// An identifier from a token or a path (`user_id`): any text without a refused character.
pub const PLAIN_TEXT_PATTERN: &str = concat!("^[^", refused!(), "]*$");

/// Text a person writes (names, address lines): no refused character, and something besides white space (names
/// are stored trimmed and must not be blank).
pub const TEXT_PATTERN: &str = concat!(
    "^[^",
    refused!(),
    "]*[^\\s",
    refused!(),
    "][^",
    refused!(),
    "]*$"
);

/// ISO 3166-1 alpha-2 country code: an assigned code in upper case (`country.rs`).
pub struct CountryCode;

impl PartialSchema for CountryCode {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(
                "ISO 3166-1 alpha-2 code of an assigned country, upper case",
            ))
            .enum_values(Some(country::all().iter().copied()))
            .examples(["GB"])
            .into()
    }
}

impl ToSchema for CountryCode {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("CountryCode")
    }
}

/// ISO 4217 alphabetic currency code: an active code in upper case (`currency.rs`).
pub struct CurrencyCode;

impl PartialSchema for CurrencyCode {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some("ISO 4217 code of an active currency, upper case"))
            .enum_values(Some(currency::all().iter().copied()))
            .examples(["EUR"])
            .into()
    }
}

impl ToSchema for CurrencyCode {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("CurrencyCode")
    }
}

/// A well-formed BCP 47 language tag.
pub struct LanguageTag;

impl PartialSchema for LanguageTag {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(
                "BCP 47 (RFC 5646) language tag, well-formed, at most 35 characters, e.g. `en-GB`, `zh-Hant-TW`",
            ))
            .min_length(Some(2))
            .max_length(Some(35))
            .pattern(Some(LANGUAGE_TAG_PATTERN))
            .examples(["en-GB"])
            .into()
    }
}

impl ToSchema for LanguageTag {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("LanguageTag")
    }
}

/// A time zone name of the IANA tz database.
pub struct TimeZoneName;

impl PartialSchema for TimeZoneName {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(
                "Zone or link name of the IANA tz database (2025b), spelled exactly, e.g. `Europe/London`, `UTC`",
            ))
            .max_length(Some(64))
            .pattern(Some(TIME_ZONE_PATTERN))
            .examples(["Europe/London"])
            .into()
    }
}

impl ToSchema for TimeZoneName {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("TimeZoneName")
    }
}

/// A phone number in E.164 form.
pub struct PhoneNumber;

impl PartialSchema for PhoneNumber {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(
                "E.164 phone number: `+`, country code, subscriber number; at most 15 digits, no separators",
            ))
            .pattern(Some(E164_PATTERN))
            .examples(["+442079460000"])
            .into()
    }
}

impl ToSchema for PhoneNumber {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("PhoneNumber")
    }
}

#[cfg(test)]
mod tests {
    use regex_lite::Regex;

    use super::*;
    use crate::domain::{locale, phone, timezone};

    #[test]
    fn the_language_tag_pattern_agrees_with_the_validator() {
        let pattern = Regex::new(LANGUAGE_TAG_PATTERN).unwrap();
        for tag in [
            "en",
            "en-GB",
            "de-DE",
            "zh-Hant-TW",
            "es-419",
            "sl-rozaj-biske",
            "de-CH-1901",
            "x-private",
            "en-a-bbb-x-a-ccc",
            "zh-yue-HK",
            "i-klingon",
            "en--GB",
            "e",
            "en-",
            "-en",
            "abcdefghi",
            "en-GB-x",
            "en-a",
            "1en",
            "en_GB",
            "qaa-Qaaa-QM-x-southern",
            "en-x-1-2",
            "ar-aao-aaa-aab-aac",
            "sr-Latn-RS",
            "x-a-b-c",
            "en-GB-oed-x-pig",
        ] {
            assert_eq!(
                pattern.is_match(tag) && tag.len() <= 35,
                locale::is_language_tag(tag),
                "{tag}"
            );
        }
    }

    #[test]
    fn the_time_zone_pattern_matches_every_known_zone_and_refuses_other_spellings() {
        let pattern = Regex::new(TIME_ZONE_PATTERN).unwrap();
        for zone in include_str!("timezones.txt").lines() {
            assert!(pattern.is_match(zone) && zone.len() <= 64, "{zone}");
        }
        for not_a_zone in ["", "/Europe", "Europe/", "Europe//Berlin", "Europe Berlin"] {
            assert!(!pattern.is_match(not_a_zone), "{not_a_zone}");
            assert!(!timezone::is_iana_timezone(not_a_zone));
        }
    }

    #[test]
    fn the_e164_pattern_agrees_with_the_validator() {
        let pattern = Regex::new(E164_PATTERN).unwrap();
        for number in [
            "+14155552671",
            "+12",
            "+1",
            "+123456789012345",
            "+1234567890123456",
            "+0123",
            "14155552671",
            "+44 20",
            "+",
        ] {
            assert_eq!(pattern.is_match(number), phone::is_e164(number), "{number}");
        }
    }

    #[test]
    fn the_text_pattern_agrees_with_the_text_rules() {
        let pattern = Regex::new(TEXT_PATTERN).unwrap();
        for value in [
            "Ada",
            " Ada ",
            "12 St James's Square",
            "Zo\u{eb}",
            "\u{4e2d}\u{6587}",
            "",
            "   ",
            "a\nb",
            "a\tb",
            "a\u{7f}",
            "a\u{85}",
            "a\u{2028}",
            "a\u{202e}b",
            "a\u{200b}",
            "\u{feff}a",
            "a\u{2066}",
        ] {
            let ok = crate::domain::text::check(value).is_ok() && !value.trim().is_empty();
            assert_eq!(pattern.is_match(value), ok, "{value:?}");
        }
    }

    #[test]
    fn the_plain_text_pattern_refuses_what_text_check_refuses() {
        let pattern = Regex::new(PLAIN_TEXT_PATTERN).unwrap();
        for value in [
            "u-42",
            "",
            " ",
            "a\u{0}",
            "a\u{9f}",
            "a\u{2029}",
            "a\u{2069}",
            "a\u{2060}",
        ] {
            let ok = crate::domain::text::check(value).is_ok();
            assert_eq!(pattern.is_match(value), ok, "{value:?}");
        }
    }

    #[test]
    fn the_code_enums_are_the_validators_lists() {
        let schema = serde_json::to_value(CountryCode::schema()).unwrap();
        assert_eq!(
            schema["enum"].as_array().unwrap().len(),
            country::all().len()
        );
        assert!(country::all().iter().all(|c| country::is_country_code(c)));
        let schema = serde_json::to_value(CurrencyCode::schema()).unwrap();
        assert_eq!(
            schema["enum"].as_array().unwrap().len(),
            currency::all().len()
        );
    }
}
