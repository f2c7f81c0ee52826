//! Change events: what other services learn of a committed change, through the feed and the broker
//! (docs/events.md). Ids, type names, numbers and field names only, never the value of a field.

use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

/// The kinds of change event (SPEC section 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, ToSchema)]
pub enum EventType {
    #[serde(rename = "profile.created")]
    ProfileCreated,
    #[serde(rename = "profile.updated")]
    ProfileUpdated,
    #[serde(rename = "profile.suspended")]
    ProfileSuspended,
    #[serde(rename = "profile.reactivated")]
    ProfileReactivated,
    #[serde(rename = "profile.erased")]
    ProfileErased,
    #[serde(rename = "address.created")]
    AddressCreated,
    #[serde(rename = "address.revised")]
    AddressRevised,
    #[serde(rename = "address.deleted")]
    AddressDeleted,
    #[serde(rename = "address.defaults_changed")]
    AddressDefaultsChanged,
    #[serde(rename = "preferences.updated")]
    PreferencesUpdated,
    #[serde(rename = "consent.changed")]
    ConsentChanged,
}

impl EventType {
    pub const ALL: [EventType; 11] = [
        EventType::ProfileCreated,
        EventType::ProfileUpdated,
        EventType::ProfileSuspended,
        EventType::ProfileReactivated,
        EventType::ProfileErased,
        EventType::AddressCreated,
        EventType::AddressRevised,
        EventType::AddressDeleted,
        EventType::AddressDefaultsChanged,
        EventType::PreferencesUpdated,
        EventType::ConsentChanged,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::ProfileCreated => "profile.created",
            EventType::ProfileUpdated => "profile.updated",
            EventType::ProfileSuspended => "profile.suspended",
            EventType::ProfileReactivated => "profile.reactivated",
            EventType::ProfileErased => "profile.erased",
            EventType::AddressCreated => "address.created",
            EventType::AddressRevised => "address.revised",
            EventType::AddressDeleted => "address.deleted",
            EventType::AddressDefaultsChanged => "address.defaults_changed",
            EventType::PreferencesUpdated => "preferences.updated",
            EventType::ConsentChanged => "consent.changed",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == raw)
    }

    /// True for the address events, whose resource is an address and whose number is its `revision`; the
    /// others carry the `version` of the profile or of the preferences.
    pub fn is_about_an_address(self) -> bool {
        matches!(
            self,
            EventType::AddressCreated
                | EventType::AddressRevised
                | EventType::AddressDeleted
                | EventType::AddressDefaultsChanged
        )
    }

    /// What the event means, for the catalogue (docs/events.md and the OpenAPI components).
    pub fn meaning(self) -> &'static str {
        match self {
            EventType::ProfileCreated => {
                "The user created their profile. `resource_id` is the user id."
            }
            EventType::ProfileUpdated => {
                "Profile fields changed (by the user or an admin); `changed_fields` names them."
            }
            EventType::ProfileSuspended => {
                "An admin suspended the profile: its writes are refused."
            }
            EventType::ProfileReactivated => "An admin reactivated a suspended profile.",
            EventType::ProfileErased => {
                "The profile and everything held about the user were erased: the last event of this user \
                 until they create a profile again. Delete every copy of their data."
            }
            EventType::AddressCreated => "An address was added. `resource_id` is the address id.",
            EventType::AddressRevised => {
                "An address got a new revision: its fields or its default flags changed."
            }
            EventType::AddressDeleted => {
                "An address was deleted; its revisions stay readable for orders until erasure."
            }
            EventType::AddressDefaultsChanged => {
                "The address became the user's default shipping or billing address (`changed_fields`: \
                 `is_default_shipping`, `is_default_billing`)."
            }
            EventType::PreferencesUpdated => {
                "Preferences changed; `changed_fields` names them (e.g. `notifications.email.marketing`)."
            }
            EventType::ConsentChanged => {
                "A marketing or newsletter opt-in was granted or withdrawn; `changed_fields` names the \
                 opt-ins (`notifications.<channel>.<purpose>`)."
            }
        }
    }
}

/// Who made a change, by kind; never who exactly (the audit trail keeps that).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ActorRole {
    User,
    Admin,
    Service,
}

impl ActorRole {
    pub fn as_str(self) -> &'static str {
        match self {
            ActorRole::User => "user",
            ActorRole::Admin => "admin",
            ActorRole::Service => "service",
        }
    }

    pub fn parse(raw: &str) -> Self {
        match raw {
            "admin" => ActorRole::Admin,
            "service" => ActorRole::Service,
            _ => ActorRole::User,
        }
    }
}

/// A change a write is about to commit, before the outbox gives it its id, sequence and time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub kind: EventType,
    pub user_id: String,
    /// The user id (profile, preferences and consent events) or the address id.
    pub resource_id: String,
    /// The resource's new version (profile, preferences) or revision (address).
    pub number: i64,
    pub changed_fields: Vec<String>,
}

impl Change {
    pub fn new(
        kind: EventType,
        user_id: &str,
        resource_id: &(impl std::fmt::Display + ?Sized),
        number: i64,
        changed_fields: Vec<String>,
    ) -> Self {
        Change {
            kind,
            user_id: user_id.to_string(),
            resource_id: resource_id.to_string(),
            number,
            changed_fields,
        }
    }
}

/// One change event, as the feed and the broker carry it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Event {
    /// UUIDv7; the broker's `Nats-Msg-Id`.
    pub id: Uuid,
    #[serde(rename = "type")]
    pub kind: EventType,
    pub user_id: String,
    /// The user id, or the address id for `address.*` events.
    pub resource_id: String,
    /// The resource's new `version` (profile and preference events; absent on address events, never null).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = i64, required = false, minimum = 1)]
    pub version: Option<i64>,
    /// The address's new `revision` (address events only; absent on the others, never null).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = i64, required = false, minimum = 1)]
    pub revision: Option<i64>,
    /// Per user, from 1, without gaps: a consumer that sees a gap has missed an event. A profile created
    /// again after `profile.erased` starts again at 1.
    pub sequence: i64,
    /// Names of the fields that changed, never their values.
    pub changed_fields: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub occurred_at: OffsetDateTime,
    pub actor_role: ActorRole,
    /// The request that made the change (`X-Request-Id`).
    pub request_id: Option<String>,
}

impl Event {
    /// The event of `change`, made by `actor_role` in request `request_id`, numbered `sequence` for its user.
    pub fn of(
        change: Change,
        sequence: i64,
        occurred_at: OffsetDateTime,
        actor_role: ActorRole,
        request_id: Option<String>,
    ) -> Self {
        let address = change.kind.is_about_an_address();
        Event {
            id: Uuid::now_v7(),
            kind: change.kind,
            user_id: change.user_id,
            resource_id: change.resource_id,
            version: (!address).then_some(change.number),
            revision: address.then_some(change.number),
            sequence,
            changed_fields: change.changed_fields,
            occurred_at,
            actor_role,
            request_id,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_round_trips_through_its_name_and_serializes_as_it() {
        for kind in EventType::ALL {
            assert_eq!(EventType::parse(kind.as_str()), Some(kind));
            assert_eq!(
                serde_json::to_value(kind).unwrap(),
                serde_json::json!(kind.as_str())
            );
        }
        assert_eq!(EventType::parse("profile.deleted"), None);
    }

    #[test]
    fn address_events_carry_a_revision_and_the_others_a_version() {
        let at = OffsetDateTime::UNIX_EPOCH;
        let address = Event::of(
            Change::new(EventType::AddressRevised, "u1", "a1", 3, vec![]),
            7,
            at,
            ActorRole::User,
            None,
        );
        let json = serde_json::to_value(&address).unwrap();
        assert_eq!(json["revision"], 3);
        assert!(json.get("version").is_none());
        let profile = Event::of(
            Change::new(
                EventType::ProfileUpdated,
                "u1",
                "u1",
                4,
                vec!["phone".into()],
            ),
            8,
            at,
            ActorRole::Admin,
            Some("r1".into()),
        );
        let json = serde_json::to_value(&profile).unwrap();
        assert_eq!(json["version"], 4);
        assert!(json.get("revision").is_none());
        assert_eq!(json["type"], "profile.updated");
        assert_eq!(json["actor_role"], "admin");
        assert_eq!(json["changed_fields"], serde_json::json!(["phone"]));
    }
}
