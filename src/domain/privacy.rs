//! The privacy export: everything the service holds about one user, as one document; and what erasure keeps
//! of a suspended user.

use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::domain::{
    address::Address,
    preferences::{ConsentRecord, Preferences},
    profile::Profile,
};

/// Everything held about the caller (the audit trail, which holds only ids and action names, is not included).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProfileExport {
    /// When this document was made.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub exported_at: OffsetDateTime,
    pub profile: Profile,
    /// Current preferences (the defaults, version 0, when never set).
    pub preferences: Preferences,
    /// Every change of a marketing or newsletter opt-in, oldest first.
    pub consent_records: Vec<ConsentRecord>,
    /// Every address, deleted ones included, each with all its revisions.
    #[schema(value_type = Vec<Object>)]
    pub addresses: Vec<AddressHistory>,
}

/// An address as it is now (deleted or not), plus `revisions`: every revision it had, oldest first. Serialized
/// straight into the response, so the largest export is never built as a JSON tree first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AddressHistory {
    #[serde(flatten)]
    pub address: Address,
    pub revisions: Vec<Address>,
}

/// What erasure keeps of a suspended user: the suspension, so the same `sub` cannot come back active by
/// re-creating the profile. User id and times only, no personal data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema, sqlx::FromRow)]
pub struct KeptSuspension {
    /// The user's id: the `sub` claim of their token.
    #[schema(example = "u-42")]
    pub user_id: String,
    /// When the profile was suspended (its latest `profile.suspended` audit event); `null` when that event had
    /// already expired at erasure.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub suspended_at: Option<OffsetDateTime>,
    /// When the suspended profile was erased.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub erased_at: OffsetDateTime,
}
