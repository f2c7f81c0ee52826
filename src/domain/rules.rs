//! Field rules shared by more than one resource, for their `validator` attributes.

use std::borrow::Cow;

use validator::ValidationError;

use crate::domain::{phone, text};

/// A validation failure with a stable `code`, explained by the message catalogue's `key`
/// (`domain::messages`; `FieldError` renders it).
pub(crate) fn invalid(code: &'static str, key: &'static str) -> ValidationError {
    ValidationError::new(code).with_message(Cow::Borrowed(key))
}

/// `error` with a value its message names (sent as one of the field error's `params`).
pub(crate) fn with_param<T: serde::Serialize>(
    mut error: ValidationError,
    name: &'static str,
    value: &T,
) -> ValidationError {
    error.add_param(Cow::Borrowed(name), value);
    error
}

/// A phone number in E.164 form.
pub(crate) fn e164(value: &str) -> Result<(), ValidationError> {
    text::plain(value)?;
    if !phone::is_e164(value) {
        return Err(invalid("invalid_format", "invalid_format.phone"));
    }
    Ok(())
}
