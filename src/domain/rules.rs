//! Field rules shared by more than one resource, for their `validator` attributes.

use std::borrow::Cow;

use validator::ValidationError;

use crate::domain::{phone, text};

/// A validation failure with a stable `code` and a human-readable message.
pub(crate) fn invalid(
    code: &'static str,
    message: impl Into<Cow<'static, str>>,
) -> ValidationError {
    ValidationError::new(code).with_message(message.into())
}

/// A phone number in E.164 form.
pub(crate) fn e164(value: &str) -> Result<(), ValidationError> {
    text::plain(value)?;
    if !phone::is_e164(value) {
        return Err(invalid(
            "invalid_format",
            "phone must be E.164, e.g. +442079460000",
        ));
    }
    Ok(())
}
