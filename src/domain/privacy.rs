//! The privacy export: everything the service holds about one user, as one document; and what erasure keeps:
//! the receipt of each erasure, and the suspension of a suspended user.

use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::{
    address::Address,
    audit::AuditAction,
    event::ActorRole,
    preferences::{ConsentRecord, Preferences},
    profile::Profile,
};

/// Everything held about the caller, and every audit event about them (who read or changed their data).
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
    pub addresses: Vec<AddressHistory>,
    /// Every audit event about you still kept (`AUDIT_RETENTION_DAYS`), oldest first: your own changes, reads
    /// and changes by admins, exports (this one included). Who saw or changed your data, and when.
    pub audit_events: Vec<AccessRecord>,
}

/// An address as it is now (deleted or not), plus `revisions`: every revision it had, oldest first. Serialized
/// straight into the response, so the largest export is never built as a JSON tree first.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct AddressHistory {
    #[serde(flatten)]
    pub address: Address,
    /// Every revision of the address, oldest first.
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

/// Who erased a profile: the user themself (`DELETE /profiles/me`) or an admin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ErasureActor {
    User,
    Admin,
}

impl ErasureActor {
    pub fn as_str(self) -> &'static str {
        match self {
            ErasureActor::User => "user",
            ErasureActor::Admin => "admin",
        }
    }

    /// The stored name back; anything else is not a kind the service writes.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "user" => Some(ErasureActor::User),
            "admin" => Some(ErasureActor::Admin),
            _ => None,
        }
    }
}

/// How many records of each kind an erasure removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct ErasedCounts {
    /// The profile itself (1).
    #[schema(example = 1)]
    pub profiles: i64,
    /// Addresses, deleted ones included.
    #[schema(example = 2)]
    pub addresses: i64,
    /// Revisions of those addresses.
    #[schema(example = 5)]
    pub address_revisions: i64,
    /// The preferences record (0 when the user never set preferences).
    #[schema(example = 1)]
    pub preferences: i64,
    /// Consent records of marketing and newsletter opt-ins.
    #[schema(example = 3)]
    pub consent_records: i64,
}

/// The receipt an erasure leaves: that `user_id` was erased, when, by whom, and how much was removed. No
/// personal data; kept for good, like the tombstones that make reads of the erased data answer 410.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ErasureReceipt {
    /// The receipt's id (UUIDv7), sent as the `Erasure-Receipt` header of the erasing request.
    pub id: Uuid,
    /// The user whose profile was erased.
    #[schema(example = "u-42")]
    pub user_id: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub erased_at: OffsetDateTime,
    /// `user` (the user erased their own profile) or `admin`.
    pub actor_kind: ErasureActor,
    /// `sub` of who erased it: the user's own id, or the admin's.
    #[schema(example = "u-42")]
    pub actor_id: String,
    /// The request that erased it (its `X-Request-Id`).
    pub request_id: Option<String>,
    /// What was removed, per kind.
    pub removed: ErasedCounts,
}

/// One audit event about the user, as the privacy export shows it: who (role and id) did what, and when.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema, sqlx::FromRow)]
pub struct AccessRecord {
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub occurred_at: OffsetDateTime,
    /// `user` (you), `admin` or `service`.
    #[schema(value_type = ActorRole)]
    pub actor_role: String,
    /// `sub` of who acted.
    #[schema(example = "support-7")]
    pub actor_id: String,
    /// What happened, e.g. `profile.admin_viewed`, `profile.updated`, `profile.exported`.
    #[schema(value_type = AuditAction)]
    pub action: String,
}
