//! The user's preferences: notification opt-ins, language, currency, cart and recommendation settings.
//!
//! A client writes `PreferencesInput`, where every field is optional and a missing or `null` field takes its
//! default; the service resolves it into `PreferenceSettings`, which always has every field. Marketing and
//! newsletter opt-ins default to `false` (opt-in), and each change of one is a `ConsentChange`.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;
use validator::{Validate, ValidationError};

use crate::domain::{
    codes::{CurrencyCode, LanguageTag},
    currency, locale,
    rules::{invalid, with_param},
    text,
};

/// Most favourite categories a user may keep.
pub const MAX_FAVORITE_CATEGORIES: usize = 20;
/// Longest favourite category, in characters.
pub const MAX_CATEGORY_CHARS: usize = 50;

/// The resolved preferences: every field present, defaults filled in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate, ToSchema)]
#[serde(from = "PreferencesInput")]
pub struct PreferenceSettings {
    pub notifications: Notifications,
    /// BCP 47 language tag for messages; `null` means "use the profile's `locale`".
    #[validate(custom(function = "language_tag"))]
    #[schema(value_type = Option<LanguageTag>, required = true)]
    pub language: Option<String>,
    /// ISO 4217 code (upper case) for prices; `null` means "the shop's default".
    #[validate(custom(function = "currency_code"))]
    #[schema(value_type = Option<CurrencyCode>, required = true)]
    pub currency: Option<String>,
    pub cart: CartSettings,
    #[validate(nested)]
    pub recommendations: Recommendations,
}

/// Which messages the user wants, per channel.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Notifications {
    /// Default: order updates on, marketing and newsletter off.
    pub email: ChannelSettings,
    /// Default: everything off (SMS is opt-in even for order updates).
    pub sms: ChannelSettings,
    /// Default: order updates on, marketing and newsletter off.
    pub push: ChannelSettings,
}

/// The opt-ins of one channel.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
pub struct ChannelSettings {
    /// Messages about the user's own orders (transactional).
    #[schema(example = true)]
    pub order_updates: bool,
    /// Offers and promotions; every change is kept as a consent record.
    #[schema(example = false)]
    pub marketing: bool,
    /// The newsletter; every change is kept as a consent record.
    #[schema(example = false)]
    pub newsletter: bool,
}

/// How the cart behaves.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
pub struct CartSettings {
    /// Keep items moved out of the cart in a "saved for later" list (default `true`).
    #[schema(example = true)]
    pub save_for_later: bool,
    /// On sign-in, merge the cart built while signed out into the user's cart (default `true`).
    #[schema(example = true)]
    pub merge_guest_cart: bool,
}

/// What the shop may recommend.
#[derive(Debug, Clone, PartialEq, Serialize, Validate, ToSchema)]
pub struct Recommendations {
    /// Recommendations based on the user's history (profiling: off by default).
    #[schema(example = false)]
    pub personalized: bool,
    /// Up to 20 distinct categories of 1-50 characters.
    #[validate(custom(function = "favorite_categories"))]
    #[schema(max_items = 20, example = json!(["books", "garden"]))]
    pub favorite_categories: Vec<String>,
}

impl Default for PreferenceSettings {
    fn default() -> Self {
        PreferenceSettings {
            notifications: Notifications::default(),
            language: None,
            currency: None,
            cart: CartSettings {
                save_for_later: true,
                merge_guest_cart: true,
            },
            recommendations: Recommendations {
                personalized: false,
                favorite_categories: Vec::new(),
            },
        }
    }
}

impl Default for Notifications {
    fn default() -> Self {
        let transactional_only = ChannelSettings {
            order_updates: true,
            marketing: false,
            newsletter: false,
        };
        Notifications {
            email: transactional_only,
            sms: ChannelSettings {
                order_updates: false,
                ..transactional_only
            },
            push: transactional_only,
        }
    }
}

/// A request body for PUT, or the target of a merge patch: every field optional, missing or `null` = default.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "notifications": {"email": {"marketing": true}, "sms": {"order_updates": true}},
    "language": "de-DE",
    "currency": "EUR",
    "recommendations": {"personalized": true, "favorite_categories": ["books", "garden"]}
}))]
pub struct PreferencesInput {
    pub notifications: Option<NotificationsInput>,
    /// BCP 47 language tag, or `null` to follow the profile's `locale`.
    #[schema(value_type = Option<LanguageTag>)]
    pub language: Option<String>,
    /// ISO 4217 code in upper case, or `null`.
    #[schema(value_type = Option<CurrencyCode>)]
    pub currency: Option<String>,
    pub cart: Option<CartInput>,
    pub recommendations: Option<RecommendationsInput>,
}

/// Notification opt-ins per channel; a missing channel keeps that channel's defaults.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NotificationsInput {
    pub email: Option<ChannelInput>,
    pub sms: Option<ChannelInput>,
    pub push: Option<ChannelInput>,
}

/// The opt-ins of one channel; a missing one takes the channel's default.
#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChannelInput {
    #[schema(example = true)]
    pub order_updates: Option<bool>,
    #[schema(example = true)]
    pub marketing: Option<bool>,
    #[schema(example = false)]
    pub newsletter: Option<bool>,
}

/// Cart behaviour; a missing field takes its default (`true`).
#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CartInput {
    pub save_for_later: Option<bool>,
    pub merge_guest_cart: Option<bool>,
}

/// Recommendation settings; a missing field takes its default (`false`, `[]`).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecommendationsInput {
    pub personalized: Option<bool>,
    #[schema(example = json!(["books", "garden"]))]
    pub favorite_categories: Option<Vec<String>>,
}

impl From<PreferencesInput> for PreferenceSettings {
    fn from(input: PreferencesInput) -> Self {
        let defaults = PreferenceSettings::default();
        let n = input.notifications.unwrap_or_default();
        let cart = input.cart.unwrap_or_default();
        let rec = input.recommendations.unwrap_or_default();
        PreferenceSettings {
            notifications: Notifications {
                email: resolve_channel(n.email, defaults.notifications.email),
                sms: resolve_channel(n.sms, defaults.notifications.sms),
                push: resolve_channel(n.push, defaults.notifications.push),
            },
            language: input.language,
            currency: input.currency,
            cart: CartSettings {
                save_for_later: cart.save_for_later.unwrap_or(defaults.cart.save_for_later),
                merge_guest_cart: cart
                    .merge_guest_cart
                    .unwrap_or(defaults.cart.merge_guest_cart),
            },
            recommendations: Recommendations {
                personalized: rec
                    .personalized
                    .unwrap_or(defaults.recommendations.personalized),
                favorite_categories: rec.favorite_categories.unwrap_or_default(),
            },
        }
    }
}

fn resolve_channel(input: Option<ChannelInput>, defaults: ChannelSettings) -> ChannelSettings {
    let input = input.unwrap_or_default();
    ChannelSettings {
        order_updates: input.order_updates.unwrap_or(defaults.order_updates),
        marketing: input.marketing.unwrap_or(defaults.marketing),
        newsletter: input.newsletter.unwrap_or(defaults.newsletter),
    }
}

/// The preferences as the API returns them.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Preferences {
    #[serde(flatten)]
    pub settings: PreferenceSettings,
    /// Current version, also the `ETag`; `0` while the user has set nothing and the defaults apply.
    #[schema(example = 3)]
    pub version: i64,
    /// When the user last changed them; `null` while the defaults apply.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime, required = true)]
    pub updated_at: Option<OffsetDateTime>,
}

impl Preferences {
    /// What a user who never set anything has.
    pub fn defaults() -> Self {
        Preferences {
            settings: PreferenceSettings::default(),
            version: 0,
            updated_at: None,
        }
    }
}

/// One change of a marketing or newsletter opt-in, to be kept as a consent record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConsentChange {
    /// `email`, `sms` or `push`.
    pub channel: &'static str,
    /// `marketing` or `newsletter`.
    pub purpose: &'static str,
    /// The new value.
    pub granted: bool,
}

/// The marketing/newsletter opt-ins that differ between two settings, in a fixed order.
pub fn consent_changes(
    before: &PreferenceSettings,
    after: &PreferenceSettings,
) -> Vec<ConsentChange> {
    let (b, a) = (&before.notifications, &after.notifications);
    let channels = [
        ("email", b.email, a.email),
        ("sms", b.sms, a.sms),
        ("push", b.push, a.push),
    ];
    let mut out = Vec::new();
    for (channel, b, a) in channels {
        for (purpose, before, after) in [
            ("marketing", b.marketing, a.marketing),
            ("newsletter", b.newsletter, a.newsletter),
        ] {
            if before != after {
                out.push(ConsentChange {
                    channel,
                    purpose,
                    granted: after,
                });
            }
        }
    }
    out
}

/// The channel of a consent record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ConsentChannel {
    Email,
    Sms,
    Push,
}

/// What a consent record's opt-in is for (order updates are transactional and need none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ConsentPurpose {
    Marketing,
    Newsletter,
}

/// A stored consent record: what the user agreed to or withdrew, and when.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema, sqlx::FromRow)]
pub struct ConsentRecord {
    pub id: Uuid,
    /// `email`, `sms` or `push`.
    #[schema(value_type = ConsentChannel)]
    pub channel: String,
    /// `marketing` or `newsletter`.
    #[schema(value_type = ConsentPurpose)]
    pub purpose: String,
    /// `true` when consent was given, `false` when it was withdrawn.
    pub granted: bool,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub recorded_at: OffsetDateTime,
    /// The request that made the change.
    pub request_id: Option<String>,
}

fn language_tag(value: &str) -> Result<(), ValidationError> {
    text::plain(value)?;
    if locale::is_language_tag(value) {
        Ok(())
    } else {
        Err(with_param(
            invalid("invalid_format", "invalid_format.language_tag"),
            "example",
            &"de-DE",
        ))
    }
}

fn currency_code(value: &str) -> Result<(), ValidationError> {
    text::plain(value)?;
    if currency::is_currency_code(value) {
        Ok(())
    } else {
        Err(invalid("invalid_value", "invalid_value.currency"))
    }
}

fn favorite_categories(values: &[String]) -> Result<(), ValidationError> {
    if values.len() > MAX_FAVORITE_CATEGORIES {
        return Err(with_param(
            invalid("length", "length.items"),
            "max",
            &MAX_FAVORITE_CATEGORIES,
        ));
    }
    // The character rule first, over every item: a control character is always reported as one.
    for (index, value) in values.iter().enumerate() {
        if let Err(refusal) = text::check(value) {
            return Err(with_param(
                invalid(refusal.code(), refusal.code()),
                "index",
                &index,
            ));
        }
    }
    for (index, value) in values.iter().enumerate() {
        if value.trim().is_empty() {
            return Err(with_param(invalid("blank", "blank.item"), "index", &index));
        }
        if value.chars().count() > MAX_CATEGORY_CHARS {
            let error = with_param(invalid("length", "length.item"), "index", &index);
            return Err(with_param(error, "max", &MAX_CATEGORY_CHARS));
        }
        if values[..index].contains(value) {
            return Err(with_param(
                invalid("duplicate", "duplicate.item"),
                "index",
                &index,
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::validation::{FieldError, from_json_value, validate};
    use serde_json::json;

    fn parse(body: serde_json::Value) -> PreferenceSettings {
        serde_json::from_value(body).unwrap()
    }

    /// The field error of a body that does not parse as preferences.
    fn parse_err(body: &[u8]) -> FieldError {
        let value = serde_json::from_slice(body).unwrap();
        from_json_value::<PreferenceSettings>(value).unwrap_err()
    }

    /// `field:code` of every validation failure, with nested paths as the API reports them.
    fn error_codes(settings: &PreferenceSettings) -> Vec<String> {
        match validate(settings) {
            Ok(()) => vec![],
            Err(list) => list
                .into_iter()
                .map(|f| format!("{}:{}", f.field, f.code))
                .collect(),
        }
    }

    #[test]
    fn an_empty_document_resolves_to_the_documented_defaults() {
        let settings = parse(json!({}));
        assert_eq!(settings, PreferenceSettings::default());
        let n = settings.notifications;
        assert!(n.email.order_updates && n.push.order_updates && !n.sms.order_updates);
        for channel in [n.email, n.sms, n.push] {
            assert!(!channel.marketing && !channel.newsletter, "opt-in only");
        }
        assert!(settings.cart.save_for_later && settings.cart.merge_guest_cart);
        assert!(!settings.recommendations.personalized);
        assert_eq!(settings.language, None);
    }

    #[test]
    fn missing_or_null_fields_take_the_default_of_their_own_channel() {
        let settings = parse(json!({
            "notifications": {"sms": {"marketing": true}, "email": {"order_updates": null}, "push": null},
            "cart": {"save_for_later": false}
        }));
        assert_eq!(
            settings.notifications.sms,
            ChannelSettings {
                order_updates: false,
                marketing: true,
                newsletter: false
            }
        );
        assert!(settings.notifications.email.order_updates);
        assert!(settings.notifications.push.order_updates);
        assert!(!settings.cart.save_for_later && settings.cart.merge_guest_cart);
    }

    #[test]
    fn resolved_settings_round_trip_through_their_serialized_form() {
        let settings = parse(json!({"language": "de-DE", "currency": "EUR",
            "recommendations": {"favorite_categories": ["books"]}}));
        let again: PreferenceSettings =
            serde_json::from_value(serde_json::to_value(&settings).unwrap()).unwrap();
        assert_eq!(again, settings);
    }

    #[test]
    fn unknown_keys_are_refused_with_their_full_path() {
        for (body, path) in [
            (
                &b"{\"notifications\": {\"email\": {\"foo\": true}}}"[..],
                "notifications.email.foo",
            ),
            (b"{\"cart\": {\"wishlist\": true}}", "cart.wishlist"),
            (b"{\"theme\": \"dark\"}", "theme"),
            (b"{\"version\": 3}", "version"),
        ] {
            let error = parse_err(body);
            assert_eq!(error.field, path);
            assert_eq!(error.code, "unknown_field");
        }
    }

    #[test]
    fn wrong_types_name_the_field() {
        let error = parse_err(b"{\"notifications\": {\"sms\": {\"marketing\": \"yes\"}}}");
        assert_eq!(error.field, "notifications.sms.marketing");
        assert_eq!(error.code, "invalid_type");
    }

    #[test]
    fn language_currency_and_categories_are_validated() {
        let valid = parse(json!({"language": "zh-Hant-TW", "currency": "CHF",
            "recommendations": {"favorite_categories": ["books", "garden & outdoor"]}}));
        assert!(valid.validate().is_ok());

        let bad = parse(json!({"language": "en_GB", "currency": "eur"}));
        assert_eq!(
            error_codes(&bad),
            ["currency:invalid_value", "language:invalid_format"]
        );

        let field = "recommendations.favorite_categories";
        for (categories, code) in [
            (json!([" "]), "blank"),
            (json!(["x".repeat(51)]), "length"),
            (json!(["books", "books"]), "duplicate"),
            (
                json!((0..21).map(|i| format!("c{i}")).collect::<Vec<_>>()),
                "length",
            ),
        ] {
            let settings = parse(json!({"recommendations": {"favorite_categories": categories}}));
            assert_eq!(error_codes(&settings), [format!("{field}:{code}")]);
        }
        let twenty = parse(json!({"recommendations": {"favorite_categories":
            (0..20).map(|i| format!("c{i}")).collect::<Vec<_>>()}}));
        assert!(twenty.validate().is_ok());
    }

    #[test]
    fn consent_changes_list_only_marketing_and_newsletter_flips() {
        let before = PreferenceSettings::default();
        let after = parse(json!({"notifications": {
            "email": {"marketing": true, "order_updates": false},
            "push": {"newsletter": true},
            "sms": {"order_updates": true}
        }}));

        let changes = consent_changes(&before, &after);

        assert_eq!(
            changes,
            [
                ConsentChange {
                    channel: "email",
                    purpose: "marketing",
                    granted: true
                },
                ConsentChange {
                    channel: "push",
                    purpose: "newsletter",
                    granted: true
                },
            ]
        );
        assert_eq!(
            consent_changes(&after, &before),
            [
                ConsentChange {
                    channel: "email",
                    purpose: "marketing",
                    granted: false
                },
                ConsentChange {
                    channel: "push",
                    purpose: "newsletter",
                    granted: false
                },
            ]
        );
        assert!(consent_changes(&after, &after).is_empty());
    }

    #[test]
    fn the_defaults_are_version_0_with_no_update_time() {
        let defaults = serde_json::to_value(Preferences::defaults()).unwrap();
        assert_eq!(defaults["version"], 0);
        assert_eq!(defaults["updated_at"], serde_json::Value::Null);
        assert_eq!(defaults["notifications"]["email"]["order_updates"], true);
        assert_eq!(defaults["language"], serde_json::Value::Null);
    }
}
