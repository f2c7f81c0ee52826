//! The user's profile: what a client may write (`ProfileInput`, validated) and what the API returns (`Profile`).

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime, macros::format_description};
use utoipa::ToSchema;
use validator::{Validate, ValidateEmail, ValidationError};

use crate::domain::{
    codes::{LanguageTag, PhoneNumber, TimeZoneName},
    locale,
    rules::{e164, invalid, with_param},
    text, timezone,
};

time::serde::format_description!(ymd, Date, "[year]-[month]-[day]");

/// A stored profile.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema, sqlx::FromRow)]
pub struct Profile {
    /// The user's id: the `sub` claim of their token.
    #[schema(example = "u-42")]
    pub user_id: String,
    /// Contact email, unique across profiles regardless of case.
    #[schema(example = "ada@example.com")]
    pub email: String,
    /// Name shown in the shop.
    #[schema(example = "Ada")]
    pub display_name: String,
    #[schema(example = "Ada")]
    pub first_name: Option<String>,
    #[schema(example = "Lovelace")]
    pub last_name: Option<String>,
    /// E.164 phone number.
    #[schema(value_type = Option<PhoneNumber>)]
    pub phone: Option<String>,
    /// A past date, `YYYY-MM-DD`.
    #[serde(with = "ymd::option")]
    #[schema(value_type = Option<String>, format = Date, example = "1990-12-10")]
    pub date_of_birth: Option<Date>,
    /// BCP 47 language tag.
    #[schema(value_type = Option<LanguageTag>)]
    pub locale: Option<String>,
    /// IANA time zone.
    #[schema(value_type = Option<TimeZoneName>)]
    pub timezone: Option<String>,
    /// https URL of the avatar image.
    #[schema(
        pattern = "^https://",
        example = "https://cdn.example.com/avatars/42.png"
    )]
    pub avatar_url: Option<String>,
    /// `active` or `suspended` (set by admins; a suspended user can read, export and erase only).
    #[schema(value_type = ProfileStatus)]
    pub status: String,
    /// Current version; also the `ETag`.
    #[schema(example = 1)]
    pub version: i64,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: OffsetDateTime,
}

/// Whether the user may change their data: `suspended` profiles (set by admins) can be read, exported and
/// erased, nothing else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ProfileStatus {
    Active,
    Suspended,
}

impl ProfileStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ProfileStatus::Active => "active",
            ProfileStatus::Suspended => "suspended",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "active" => Some(ProfileStatus::Active),
            "suspended" => Some(ProfileStatus::Suspended),
            _ => None,
        }
    }
}

/// A profile as the admin search lists it: enough to recognise the user; the full record is an audited read.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema, sqlx::FromRow)]
pub struct ProfileSummary {
    #[schema(example = "u-42")]
    pub user_id: String,
    #[schema(example = "ada@example.com")]
    pub email: String,
    #[schema(example = "Ada")]
    pub display_name: String,
    #[schema(example = "Ada")]
    pub first_name: Option<String>,
    #[schema(example = "Lovelace")]
    pub last_name: Option<String>,
    /// `active` or `suspended`.
    #[schema(value_type = ProfileStatus)]
    pub status: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: OffsetDateTime,
}

/// The fields a user writes with PUT (all of them) or PATCH (a merge patch over them).
///
/// No text field may hold a control character (U+0000-U+001F, U+007F-U+009F, U+2028, U+2029), a bidirectional
/// control or a zero-width character; the names are stored without the white space around them and must not
/// be blank.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileInput {
    /// Contact email (required, at most 254 characters).
    #[validate(required, custom(function = "email_address"), length(max = 254))]
    #[schema(value_type = String, max_length = 254, format = Email, example = "ada@example.com")]
    pub email: Option<String>,
    /// Name shown in the shop (required, 1-100 characters, not blank).
    #[serde(default, deserialize_with = "text::trimmed")]
    #[validate(required, length(max = 100), custom(function = "text::name"))]
    #[schema(value_type = String, required = true, min_length = 1, max_length = 100, example = "Ada")]
    pub display_name: Option<String>,
    #[serde(default, deserialize_with = "text::trimmed")]
    #[validate(length(max = 100), custom(function = "text::name"))]
    #[schema(min_length = 1, max_length = 100, example = "Ada")]
    pub first_name: Option<String>,
    #[serde(default, deserialize_with = "text::trimmed")]
    #[validate(length(max = 100), custom(function = "text::name"))]
    #[schema(min_length = 1, max_length = 100, example = "Lovelace")]
    pub last_name: Option<String>,
    /// E.164 phone number: `+`, country code, subscriber number; at most 15 digits.
    #[validate(custom(function = "e164"))]
    #[schema(value_type = Option<PhoneNumber>)]
    pub phone: Option<String>,
    /// Date of birth, `YYYY-MM-DD`, in the past.
    #[validate(custom(function = "past_date"))]
    #[schema(format = Date, example = "1990-12-10")]
    pub date_of_birth: Option<String>,
    /// BCP 47 language tag.
    #[validate(custom(function = "language_tag"))]
    #[schema(value_type = Option<LanguageTag>)]
    pub locale: Option<String>,
    /// IANA time zone name.
    #[validate(custom(function = "iana_timezone"))]
    #[schema(value_type = Option<TimeZoneName>)]
    pub timezone: Option<String>,
    /// https URL of the avatar image, at most 2048 characters.
    #[validate(length(max = 2048), custom(function = "https_url"))]
    #[schema(
        max_length = 2048,
        pattern = "^https://",
        example = "https://cdn.example.com/avatars/42.png"
    )]
    pub avatar_url: Option<String>,
}

impl ProfileInput {
    /// The writable fields of a stored profile, as a merge patch's starting point.
    pub fn from_profile(p: &Profile) -> Self {
        ProfileInput {
            email: Some(p.email.clone()),
            display_name: Some(p.display_name.clone()),
            first_name: p.first_name.clone(),
            last_name: p.last_name.clone(),
            phone: p.phone.clone(),
            date_of_birth: p.date_of_birth.map(|d| d.to_string()),
            locale: p.locale.clone(),
            timezone: p.timezone.clone(),
            avatar_url: p.avatar_url.clone(),
        }
    }

    /// The parsed date of birth; call after validation.
    pub fn date_of_birth(&self) -> Option<Date> {
        self.date_of_birth.as_deref().and_then(parse_date)
    }

    /// True when this input moves `profile` to another email address. Case does not count: emails are unique
    /// regardless of case, so `Ada@example.com` and `ada@example.com` are one address.
    pub fn changes_email_of(&self, profile: &Profile) -> bool {
        self.email
            .as_deref()
            .is_some_and(|email| normalize_email(email) != normalize_email(&profile.email))
    }
}

/// Lower-cased email used for the case-insensitive uniqueness rule.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// Lower-cased name used by the admin search's case-insensitive prefix match (trimmed like every name).
pub fn normalize_name(name: &str) -> String {
    text::trim(name).to_lowercase()
}

fn parse_date(raw: &str) -> Option<Date> {
    Date::parse(raw, format_description!("[year]-[month]-[day]")).ok()
}

fn email_address(value: &str) -> Result<(), ValidationError> {
    text::plain(value)?;
    if !value.validate_email() {
        return Err(invalid("email", "email"));
    }
    Ok(())
}

fn past_date(value: &str) -> Result<(), ValidationError> {
    text::plain(value)?;
    let date = parse_date(value).ok_or_else(|| invalid("invalid_format", "invalid_format.date"))?;
    if date >= OffsetDateTime::now_utc().date() {
        return Err(invalid("not_in_past", "not_in_past"));
    }
    if date.year() < 1900 {
        return Err(with_param(
            invalid("out_of_range", "out_of_range.after"),
            "min",
            &"1900-01-01",
        ));
    }
    Ok(())
}

fn language_tag(value: &str) -> Result<(), ValidationError> {
    text::plain(value)?;
    if !locale::is_language_tag(value) {
        return Err(with_param(
            invalid("invalid_format", "invalid_format.language_tag"),
            "example",
            &"en-GB",
        ));
    }
    Ok(())
}

fn iana_timezone(value: &str) -> Result<(), ValidationError> {
    text::plain(value)?;
    if !timezone::is_iana_timezone(value) {
        return Err(invalid("invalid_value", "invalid_value.timezone"));
    }
    Ok(())
}

fn https_url(value: &str) -> Result<(), ValidationError> {
    // Before parsing: the URL parser silently drops tabs and newlines, which would then be stored.
    text::plain(value)?;
    match reqwest::Url::parse(value) {
        Ok(url) if url.scheme() == "https" && url.host_str().is_some() => Ok(()),
        _ => Err(invalid("invalid_format", "invalid_format.https_url")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> ProfileInput {
        ProfileInput {
            email: Some("ada@example.com".into()),
            display_name: Some("Ada".into()),
            phone: Some("+442079460000".into()),
            date_of_birth: Some("1990-12-10".into()),
            locale: Some("en-GB".into()),
            timezone: Some("Europe/London".into()),
            avatar_url: Some("https://cdn.example.com/a.png".into()),
            ..Default::default()
        }
    }

    fn failing_fields(input: &ProfileInput) -> Vec<String> {
        match input.validate() {
            Ok(()) => vec![],
            Err(e) => {
                let mut f: Vec<String> = e
                    .field_errors()
                    .keys()
                    .map(std::string::ToString::to_string)
                    .collect();
                f.sort();
                f
            }
        }
    }

    #[test]
    fn a_complete_profile_is_valid() {
        assert!(valid().validate().is_ok());
    }

    #[test]
    fn missing_required_fields_are_each_named() {
        assert_eq!(
            failing_fields(&ProfileInput::default()),
            ["display_name", "email"]
        );
    }

    #[test]
    fn each_bad_field_is_named() {
        let input = ProfileInput {
            email: Some("not-an-email".into()),
            display_name: Some("   ".into()),
            phone: Some("0201234".into()),
            date_of_birth: Some("2999-01-01".into()),
            locale: Some("en_GB".into()),
            timezone: Some("Mars/Base".into()),
            avatar_url: Some("http://insecure.example.com/a.png".into()),
            first_name: Some("".into()),
            last_name: Some("x".repeat(101)),
        };
        assert_eq!(
            failing_fields(&input),
            [
                "avatar_url",
                "date_of_birth",
                "display_name",
                "email",
                "first_name",
                "last_name",
                "locale",
                "phone",
                "timezone"
            ]
        );
    }

    #[test]
    fn date_of_birth_must_parse_and_be_past() {
        assert!(past_date("2000-02-29").is_ok());
        assert!(past_date("2001-02-29").is_err());
        assert!(past_date("10/12/1990").is_err());
        let today = OffsetDateTime::now_utc().date().to_string();
        assert!(past_date(&today).is_err());
    }

    #[test]
    fn emails_are_normalized_for_uniqueness() {
        assert_eq!(normalize_email(" Ada@Example.COM "), "ada@example.com");
    }
}
