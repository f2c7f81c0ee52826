//! Audit events: who did what to whose data, with field names and never values.

use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::event::{ActorRole, EventType};

/// What an audit event records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub enum AuditAction {
    #[serde(rename = "profile.created")]
    ProfileCreated,
    #[serde(rename = "profile.updated")]
    ProfileUpdated,
    /// The profile was erased (by the user or an admin).
    #[serde(rename = "profile.deleted")]
    ProfileDeleted,
    #[serde(rename = "profile.exported")]
    ProfileExported,
    /// An admin read the profile.
    #[serde(rename = "profile.admin_viewed")]
    ProfileAdminViewed,
    #[serde(rename = "profile.suspended")]
    ProfileSuspended,
    #[serde(rename = "profile.reactivated")]
    ProfileReactivated,
    #[serde(rename = "address.created")]
    AddressCreated,
    #[serde(rename = "address.updated")]
    AddressUpdated,
    #[serde(rename = "address.deleted")]
    AddressDeleted,
    #[serde(rename = "preferences.updated")]
    PreferencesUpdated,
}

impl AuditAction {
    pub const ALL: [AuditAction; 11] = [
        AuditAction::ProfileCreated,
        AuditAction::ProfileUpdated,
        AuditAction::ProfileDeleted,
        AuditAction::ProfileExported,
        AuditAction::ProfileAdminViewed,
        AuditAction::ProfileSuspended,
        AuditAction::ProfileReactivated,
        AuditAction::AddressCreated,
        AuditAction::AddressUpdated,
        AuditAction::AddressDeleted,
        AuditAction::PreferencesUpdated,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::ProfileCreated => "profile.created",
            AuditAction::ProfileUpdated => "profile.updated",
            AuditAction::ProfileDeleted => "profile.deleted",
            AuditAction::ProfileExported => "profile.exported",
            AuditAction::ProfileAdminViewed => "profile.admin_viewed",
            AuditAction::ProfileSuspended => "profile.suspended",
            AuditAction::ProfileReactivated => "profile.reactivated",
            AuditAction::AddressCreated => "address.created",
            AuditAction::AddressUpdated => "address.updated",
            AuditAction::AddressDeleted => "address.deleted",
            AuditAction::PreferencesUpdated => "preferences.updated",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == raw)
    }

    /// The action a change event is recorded as when the write records its event and audit entry together
    /// (`service::emit_and_record`): the event's type.
    pub fn of_event(kind: EventType) -> Option<Self> {
        Self::parse(kind.as_str())
    }
}

/// One entry of the audit trail.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct AuditEvent {
    pub id: Uuid,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub occurred_at: OffsetDateTime,
    /// `sub` of the caller who acted.
    pub actor_id: String,
    /// The caller's most privileged role: `admin`, `service` or `user`.
    #[schema(value_type = ActorRole)]
    pub actor_role: String,
    /// What happened, e.g. `profile.updated`.
    #[schema(value_type = AuditAction)]
    pub action: String,
    /// Whose data it was.
    pub target_user_id: String,
    /// The request that did it.
    pub request_id: Option<String>,
    /// Names of the fields that changed, never their values.
    #[schema(example = json!(["display_name", "phone"]))]
    pub changed_fields: Vec<String>,
}

/// Names of the top-level or nested fields whose values differ between two serializable snapshots.
pub fn changed_fields(before: &impl Serialize, after: &impl Serialize) -> Vec<String> {
    let before = serde_json::to_value(before).unwrap_or_default();
    let after = serde_json::to_value(after).unwrap_or_default();
    let mut out = Vec::new();
    diff("", &before, &after, &mut out);
    out
}

fn diff(
    prefix: &str,
    before: &serde_json::Value,
    after: &serde_json::Value,
    out: &mut Vec<String>,
) {
    use serde_json::Value::Object;
    match (before, after) {
        (Object(a), Object(b)) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            for key in keys {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                let null = serde_json::Value::Null;
                diff(
                    &path,
                    a.get(key).unwrap_or(&null),
                    b.get(key).unwrap_or(&null),
                    out,
                );
            }
        }
        (a, b) if a != b => out.push(prefix.to_string()),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_event_types_recorded_as_audit_actions_are_audit_actions() {
        // The types `service::emit_and_record` is called with.
        for kind in [
            EventType::ProfileCreated,
            EventType::ProfileUpdated,
            EventType::ProfileSuspended,
            EventType::ProfileReactivated,
            EventType::AddressDeleted,
        ] {
            assert_eq!(
                AuditAction::of_event(kind).map(AuditAction::as_str),
                Some(kind.as_str())
            );
        }
    }

    #[test]
    fn changed_fields_lists_names_of_changed_values_only() {
        let before = json!({"a": 1, "b": "x", "n": {"email": {"marketing": false}, "sms": true}});
        let after =
            json!({"a": 1, "b": "y", "c": null, "n": {"email": {"marketing": true}, "sms": true}});
        assert_eq!(changed_fields(&before, &after), ["b", "n.email.marketing"]);
    }
}
