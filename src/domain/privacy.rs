//! The privacy export: everything the service holds about one user, as one document.

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
