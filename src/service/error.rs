//! `service::Error`: why a business operation did not happen. The transport maps each to its answer
//! (`http::error` renders them as problem+json); the `code`s are SPEC's.

use sqlx::error::DatabaseError;

use crate::{
    auth::StaleLogin,
    domain::{precondition::PreconditionFailed, validation::FieldError},
};

/// Every way an operation of the service layer can fail. What the answer says about each (`detail`) is in the
/// message catalogue (`domain::messages`), by `code`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{code}")]
    NotFound { code: &'static str },
    #[error("this profile is suspended; it can be read, exported and erased, but not changed")]
    ProfileSuspended,
    /// The user must log in again: the action needs a login at most `max_age_secs` old.
    #[error("log in again: this needs a login at most {max_age_secs} seconds old")]
    ReauthenticationRequired { max_age_secs: u64 },
    /// The data existed and was erased (410), as opposed to never existing (404).
    #[error("{code}")]
    Gone { code: &'static str },
    #[error("{code}")]
    Conflict { code: &'static str },
    /// `current` is the resource's current version, absent when it does not exist.
    #[error("the resource does not match the request's precondition")]
    PreconditionFailed { current: Option<i64> },
    #[error("the request has invalid fields")]
    Validation(Vec<FieldError>),
    #[error("the database is unavailable; try again shortly")]
    Unavailable,
    #[error("an internal error occurred")]
    Internal(#[source] anyhow::Error),
}

impl Error {
    pub const PROFILE_NOT_FOUND: Error = Error::NotFound {
        code: "profile_not_found",
    };
    pub const ADDRESS_NOT_FOUND: Error = Error::NotFound {
        code: "address_not_found",
    };
    pub const REVISION_NOT_FOUND: Error = Error::NotFound {
        code: "revision_not_found",
    };
    pub const ADDRESS_FORMAT_NOT_FOUND: Error = Error::NotFound {
        code: "address_format_not_found",
    };
    pub const PROFILE_ERASED: Error = Error::Gone {
        code: "profile_erased",
    };
    pub const ADDRESS_ERASED: Error = Error::Gone {
        code: "address_erased",
    };
    pub const KEPT_SUSPENSION_NOT_FOUND: Error = Error::NotFound {
        code: "kept_suspension_not_found",
    };
    pub const CURSOR_EXPIRED: Error = Error::Gone {
        code: "cursor_expired",
    };
    pub const ADDRESS_LIMIT_REACHED: Error = Error::Conflict {
        code: "address_limit_reached",
    };
    pub const ADDRESS_HISTORY_FULL: Error = Error::Conflict {
        code: "address_history_full",
    };
    pub const CONSENT_HISTORY_FULL: Error = Error::Conflict {
        code: "consent_history_full",
    };
    pub const EMAIL_TAKEN: Error = Error::Conflict {
        code: "email_taken",
    };
    pub const PROFILE_EXISTS: Error = Error::Conflict {
        code: "profile_exists",
    };
}

impl From<sqlx::Error> for Error {
    fn from(err: sqlx::Error) -> Self {
        match err {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                tracing::warn!(error = %err, "database unavailable");
                Error::Unavailable
            }
            sqlx::Error::Database(ref db_err) if is_sqlite_transient(db_err.as_ref()) => {
                tracing::warn!(error = %err, "database cannot be written now");
                Error::Unavailable
            }
            other => Error::Internal(other.into()),
        }
    }
}

/// SQLite's verdicts that pass once an operator or another process acts: `SQLITE_BUSY` (5) and
/// `SQLITE_LOCKED` (6), a lock held elsewhere; `SQLITE_READONLY` (8), a file or file system that cannot be
/// written; `SQLITE_FULL` (13), a full disk. SQLite reports the extended result code, whose low byte is the
/// primary one.
fn is_sqlite_transient(err: &dyn DatabaseError) -> bool {
    const BUSY: i32 = 5;
    const LOCKED: i32 = 6;
    const READONLY: i32 = 8;
    const FULL: i32 = 13;
    err.try_downcast_ref::<sqlx::sqlite::SqliteError>()
        .and_then(|e| e.code()?.parse::<i32>().ok())
        .is_some_and(|c| matches!(c & 0xff, BUSY | LOCKED | READONLY | FULL))
}

impl From<Vec<FieldError>> for Error {
    fn from(errors: Vec<FieldError>) -> Self {
        Error::Validation(errors)
    }
}

impl From<StaleLogin> for Error {
    fn from(stale: StaleLogin) -> Self {
        Error::ReauthenticationRequired {
            max_age_secs: stale.max_age_secs,
        }
    }
}

impl From<PreconditionFailed> for Error {
    fn from(failed: PreconditionFailed) -> Self {
        Error::PreconditionFailed {
            current: failed.current,
        }
    }
}

/// Turns the database's uniqueness verdicts on profiles into answers, where the write happens (no
/// check-then-insert races).
pub(crate) trait ProfileWriteExt<T> {
    fn on_unique_violation(self) -> Result<T, Error>;
}

impl<T> ProfileWriteExt<T> for Result<T, sqlx::Error> {
    fn on_unique_violation(self) -> Result<T, Error> {
        self.map_err(|err| {
            if crate::db::is_unique_violation(
                &err,
                "profiles_email_key",
                "profiles.email_normalized",
            ) {
                Error::EMAIL_TAKEN
            } else if crate::db::is_unique_violation(&err, "profiles_pkey", "profiles.user_id") {
                Error::PROFILE_EXISTS
            } else {
                Error::from(err)
            }
        })
    }
}
