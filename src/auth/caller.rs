//! The caller of a request: its verified id, roles, scopes and time of login, why a token is refused, and who
//! may do what.

use crate::domain::{
    fields::{FieldMask, PROFILE_FIELDS, SENSITIVE_PROFILE_FIELDS},
    text,
};

/// The scopes a service token may carry for `/users/{user_id}/...` reads (roles `service` and `admin` hold all).
pub mod scopes {
    /// The profile (`GET /users/{user_id}/profile`) without `date_of_birth` and `phone`.
    pub const PROFILES_READ: &str = "profiles:read";
    /// With `profiles:read`, also `date_of_birth` and `phone`; alone it reads nothing.
    pub const PROFILES_READ_SENSITIVE: &str = "profiles:read_sensitive";
    /// Addresses, their defaults and revisions; no profile field.
    pub const ADDRESSES_READ: &str = "addresses:read";
    /// Preferences; not the profile.
    pub const PREFERENCES_READ: &str = "preferences:read";
}

/// The roles the service knows; others in a token are ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    User,
    Service,
    Admin,
}

impl Role {
    fn parse(raw: &str) -> Option<Self> {
        match raw {
            "user" => Some(Role::User),
            "service" => Some(Role::Service),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("invalid token")]
    Invalid,
    #[error("expired token")]
    Expired,
    #[error("auth service unavailable")]
    Unavailable { retry_after_secs: u64 },
}

/// Why an authenticated caller may not do what it asked: the message catalogue's key of the answer's `detail`
/// (`forbidden.admin_only`, ...; `domain::messages`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Denied(pub &'static str);

/// A user's login is older than the destructive action they asked for allows (or the token does not say when).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("log in again: this needs a login at most {max_age_secs} seconds old")]
pub struct StaleLogin {
    pub max_age_secs: u64,
}

/// An authenticated caller: the verified `sub`, roles and scopes of the bearer token, and when the user logged
/// in (`auth_time`), when the token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub user_id: String,
    pub roles: Vec<Role>,
    pub scopes: Vec<String>,
    /// `auth_time`: when the user last authenticated, in seconds since the epoch.
    pub auth_time: Option<u64>,
}

impl Caller {
    /// Builds a caller from a user id, role names (unknown ones ignored) and scopes; a user id outside 1-128
    /// characters, or holding a control or invisible character (`domain::text`), makes the token invalid: the
    /// id is stored and shown as it is.
    pub fn from_parts(
        user_id: String,
        roles: &[String],
        scopes: Vec<String>,
    ) -> Result<Self, AuthError> {
        if user_id.is_empty() || user_id.chars().count() > 128 || text::check(&user_id).is_err() {
            return Err(AuthError::Invalid);
        }
        Ok(Caller {
            user_id,
            roles: roles.iter().filter_map(|r| Role::parse(r)).collect(),
            scopes,
            auth_time: None,
        })
    }

    /// The same caller, logged in at `auth_time` (seconds since the epoch).
    #[must_use]
    pub fn with_auth_time(self, auth_time: Option<u64>) -> Self {
        Caller { auth_time, ..self }
    }

    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    /// `/admin/...` is for role `admin` only.
    pub fn require_admin(&self) -> Result<(), Denied> {
        if self.has_role(Role::Admin) {
            Ok(())
        } else {
            Err(Denied("forbidden.admin_only"))
        }
    }

    /// `/profiles/me/...` is for users: role `user`, or a token with no role this service knows and no scope
    /// (how the auth service issues shopper tokens). A token with only scopes, or only roles `service`/`admin`,
    /// acts on users through `/users/{user_id}/...` and `/admin/...`, never as one.
    pub fn require_user(&self) -> Result<(), Denied> {
        if self.has_role(Role::User) || (self.roles.is_empty() && self.scopes.is_empty()) {
            Ok(())
        } else {
            Err(Denied("forbidden.users_only"))
        }
    }

    /// `/users/{user_id}/...`: role `service` or `admin`, the given scope, or the user themself.
    pub fn require_reader_of(&self, user_id: &str, scope: &str) -> Result<(), Denied> {
        if self.has_role(Role::Service)
            || self.has_role(Role::Admin)
            || self.has_scope(scope)
            || self.user_id == user_id
        {
            Ok(())
        } else {
            Err(Denied("forbidden.other_user"))
        }
    }

    /// The change feed (`/events`): role `service` or `admin`, or scope `events:read`.
    pub fn require_event_reader(&self) -> Result<(), Denied> {
        if self.has_role(Role::Service)
            || self.has_role(Role::Admin)
            || self.has_scope("events:read")
        {
            Ok(())
        } else {
            Err(Denied("forbidden.event_reader"))
        }
    }

    /// May this caller see `user_id`'s `date_of_birth` and `phone`: roles `service` and `admin`, the user
    /// themself, or scope `profiles:read_sensitive`.
    pub fn may_read_sensitive(&self, user_id: &str) -> bool {
        self.has_role(Role::Service)
            || self.has_role(Role::Admin)
            || self.user_id == user_id
            || self.has_scope(scopes::PROFILES_READ_SENSITIVE)
    }

    /// The fields of `user_id`'s profile this caller gets when it asks for `asked`: all of them when it may read
    /// sensitive data, else `asked` without `date_of_birth` and `phone`; naming one of those is refused.
    pub fn visible_profile_fields(
        &self,
        user_id: &str,
        asked: FieldMask,
    ) -> Result<FieldMask, Denied> {
        if self.may_read_sensitive(user_id) {
            return Ok(asked);
        }
        if SENSITIVE_PROFILE_FIELDS.iter().any(|f| asked.names(f)) {
            return Err(Denied("forbidden.sensitive_fields"));
        }
        Ok(asked.without(SENSITIVE_PROFILE_FIELDS, PROFILE_FIELDS))
    }

    /// Destructive self-service (erasure, a change of email) needs a recent login: `auth_time` at most
    /// `max_age_secs` before `now` (a token without it counts as old). `max_age_secs` 0 turns the check off;
    /// admins and services are not subject to it.
    pub fn require_recent_login(&self, now: u64, max_age_secs: u64) -> Result<(), StaleLogin> {
        let exempt =
            max_age_secs == 0 || self.has_role(Role::Admin) || self.has_role(Role::Service);
        // A login stamped in the future (clock skew) counts as just now.
        let recent = self
            .auth_time
            .is_some_and(|at| now.saturating_sub(at) <= max_age_secs);
        if exempt || recent {
            Ok(())
        } else {
            Err(StaleLogin { max_age_secs })
        }
    }

    /// The most privileged role, as recorded in the audit trail.
    pub fn primary_role(&self) -> &'static str {
        if self.has_role(Role::Admin) {
            "admin"
        } else if self.has_role(Role::Service) {
            "service"
        } else {
            "user"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(roles: &[&str], scopes: &[&str]) -> Caller {
        let roles: Vec<String> = roles.iter().map(|r| (*r).to_string()).collect();
        let scopes = scopes.iter().map(|s| (*s).to_string()).collect();
        Caller::from_parts("u1".into(), &roles, scopes).unwrap()
    }

    #[test]
    fn users_are_role_user_or_tokens_with_no_known_role_and_no_scope() {
        for user in [
            caller(&["user"], &[]),
            caller(&["user"], &["profile:read"]),
            caller(&["user", "admin"], &[]),
            caller(&[], &[]),
            caller(&["customer"], &[]),
        ] {
            assert_eq!(user.require_user(), Ok(()), "{user:?}");
        }
    }

    #[test]
    fn services_admins_and_scoped_tokens_are_not_users() {
        for other in [
            caller(&["service"], &[]),
            caller(&["admin"], &[]),
            caller(&["service", "admin"], &[]),
            caller(&[], &["addresses:read"]),
            caller(&["customer"], &["preferences:read"]),
        ] {
            assert!(other.require_user().is_err(), "{other:?}");
        }
    }

    #[test]
    fn a_recent_login_is_one_at_most_max_age_seconds_old() {
        let at = |auth_time| caller(&["user"], &[]).with_auth_time(auth_time);
        let now = 1_000_000;

        assert_eq!(at(Some(now - 300)).require_recent_login(now, 300), Ok(()));
        assert_eq!(at(Some(now + 5)).require_recent_login(now, 300), Ok(()));
        assert_eq!(
            at(Some(now - 301)).require_recent_login(now, 300),
            Err(StaleLogin { max_age_secs: 300 })
        );
        assert!(at(None).require_recent_login(now, 300).is_err());
        // 0 turns the check off.
        assert_eq!(at(None).require_recent_login(now, 0), Ok(()));
    }

    #[test]
    fn admins_and_services_need_no_recent_login() {
        for exempt in [
            caller(&["admin"], &[]),
            caller(&["service"], &[]),
            caller(&["user", "admin"], &[]),
        ] {
            assert_eq!(
                exempt.require_recent_login(1_000_000, 300),
                Ok(()),
                "{exempt:?}"
            );
        }
        assert!(
            caller(&[], &[])
                .require_recent_login(1_000_000, 300)
                .is_err()
        );
    }

    #[test]
    fn sensitive_profile_fields_need_a_role_the_user_themself_or_the_sensitive_scope() {
        assert!(caller(&["service"], &[]).may_read_sensitive("u2"));
        assert!(caller(&["admin"], &[]).may_read_sensitive("u2"));
        assert!(caller(&["user"], &[]).may_read_sensitive("u1"));
        assert!(
            caller(&[], &["profiles:read", "profiles:read_sensitive"]).may_read_sensitive("u2")
        );
        assert!(!caller(&[], &["profiles:read"]).may_read_sensitive("u2"));
        assert!(!caller(&["user"], &[]).may_read_sensitive("u2"));
    }

    #[test]
    fn without_the_sensitive_scope_the_profile_loses_phone_and_date_of_birth_and_naming_them_is_denied()
     {
        let basic = caller(&[], &["profiles:read"]);
        let all = basic
            .visible_profile_fields("u2", FieldMask::all())
            .unwrap();
        assert!(!all.is_all());
        let mut profile = serde_json::json!({"email": "a@example.com", "phone": "+33", "date_of_birth": "1990-01-01"});
        all.apply(&mut profile);
        assert_eq!(profile, serde_json::json!({"email": "a@example.com"}));

        let phone = FieldMask::parse(Some("email,phone"), PROFILE_FIELDS).unwrap();
        assert!(basic.visible_profile_fields("u2", phone.clone()).is_err());
        let sensitive = caller(&[], &["profiles:read", "profiles:read_sensitive"]);
        assert_eq!(
            sensitive.visible_profile_fields("u2", phone.clone()),
            Ok(phone)
        );
    }

    #[test]
    fn a_sub_with_a_control_or_invisible_character_is_an_invalid_token() {
        for sub in ["u\0", "u\n1", "\u{85}u", "u\u{202e}1", "u\u{200b}"] {
            assert_eq!(
                Caller::from_parts(sub.into(), &[], vec![]),
                Err(AuthError::Invalid),
                "{sub:?}"
            );
        }
        assert!(Caller::from_parts("user-42 é".into(), &[], vec![]).is_ok());
    }
}
