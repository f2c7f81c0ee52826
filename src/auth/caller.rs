//! The caller of a request: its verified id, roles and scopes, why a token is refused, and who may do what.

use crate::domain::text;

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

/// Why an authenticated caller may not do what it asked; the text is the answer's `detail`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Denied(pub &'static str);

/// An authenticated caller: the verified `sub`, roles and scopes of the bearer token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub user_id: String,
    pub roles: Vec<Role>,
    pub scopes: Vec<String>,
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
        })
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
            Err(Denied("this operation needs role admin"))
        }
    }

    /// `/profiles/me/...` is for users: role `user`, or a token with no role this service knows and no scope
    /// (how the auth service issues shopper tokens). A token with only scopes, or only roles `service`/`admin`,
    /// acts on users through `/users/{user_id}/...` and `/admin/...`, never as one.
    pub fn require_user(&self) -> Result<(), Denied> {
        if self.has_role(Role::User) || (self.roles.is_empty() && self.scopes.is_empty()) {
            Ok(())
        } else {
            Err(Denied(
                "/profiles/me is for users: this token has no role user (services and admins use /users/{user_id} and /admin)",
            ))
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
            Err(Denied("this token may not read this user's data"))
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
            Err(Denied(
                "the change feed needs role service or admin, or scope events:read",
            ))
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
