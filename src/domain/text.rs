//! The character rules for text from outside, in one place: which characters no text may hold, and how the
//! whitespace around a name is treated. Body validators, query and path checks and the token's `sub` all ask
//! here (docs/input-rules.md).

use serde::{Deserialize, Deserializer};
use validator::ValidationError;

use crate::domain::rules::invalid;

/// Why a text was refused; `code()` is the field error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// A control character or a line/paragraph separator.
    Control,
    /// A bidirectional control or a zero-width character.
    Invisible,
}

impl Refusal {
    pub fn code(self) -> &'static str {
        match self {
            Refusal::Control => "control_character",
            Refusal::Invisible => "invisible_character",
        }
    }
}

/// C0 and C1 control characters (U+0000-U+001F, U+007F-U+009F; tab and newline too), and U+2028/U+2029, which
/// break a line like a newline does. PostgreSQL cannot store U+0000 at all.
pub fn is_control(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}')
}

/// Bidirectional embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069) and zero-width characters
/// (U+200B-U+200D, U+2060, U+FEFF): invisible, and able to make a value read as something it is not.
pub fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}'
    )
}

/// The rule for every text value: no control and no invisible character. The first offence decides.
pub fn check(value: &str) -> Result<(), Refusal> {
    for c in value.chars() {
        if is_control(c) {
            return Err(Refusal::Control);
        }
        if is_invisible(c) {
            return Err(Refusal::Invisible);
        }
    }
    Ok(())
}

/// Only the control-character half of `check`, for values that are matched, never stored or shown (query
/// filters): an invisible character there simply matches nothing.
pub fn check_controls(value: &str) -> Result<(), Refusal> {
    if value.chars().any(is_control) {
        return Err(Refusal::Control);
    }
    Ok(())
}

/// Whitespace that is trimmed from the ends of a name: Unicode white space other than control characters, which
/// are refused rather than silently dropped.
fn is_trimmable(c: char) -> bool {
    c.is_whitespace() && !is_control(c)
}

/// A name without the whitespace around it; inner whitespace is kept as sent.
pub fn trim(value: &str) -> &str {
    value.trim_matches(is_trimmable)
}

/// Serde `deserialize_with` for optional name fields: the value is trimmed as it is parsed, so validators,
/// storage and the admin search all see the same text.
pub fn trimmed<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    let value = Option::<String>::deserialize(deserializer)?;
    Ok(value.map(|v| match trim(&v) {
        t if t.len() == v.len() => v,
        t => t.to_string(),
    }))
}

/// Validator for every text field: `control_character` or `invisible_character`.
pub fn plain(value: &str) -> Result<(), ValidationError> {
    check(value).map_err(to_validation_error)
}

/// Validator for name-like fields (parsed with `trimmed`): the text rule, and not blank.
pub fn name(value: &str) -> Result<(), ValidationError> {
    check(value).map_err(to_validation_error)?;
    if trim(value).is_empty() {
        return Err(invalid("blank", "blank"));
    }
    Ok(())
}

fn to_validation_error(refusal: Refusal) -> ValidationError {
    invalid(refusal.code(), refusal.code())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn c0_c1_and_line_separators_are_control_characters() {
        for c in [
            '\0', '\t', '\n', '\r', '\u{1b}', '\u{1f}', '\u{7f}', '\u{85}', '\u{9f}', '\u{2028}',
            '\u{2029}',
        ] {
            assert_eq!(check(&format!("a{c}b")), Err(Refusal::Control), "{c:?}");
        }
        for c in [' ', '\u{a0}', '\u{3000}', 'é', '李'] {
            assert_eq!(check(&format!("a{c}b")), Ok(()), "{c:?}");
        }
    }

    #[test]
    fn bidi_controls_and_zero_width_characters_are_invisible() {
        for c in [
            '\u{202a}', '\u{202e}', '\u{2066}', '\u{2069}', '\u{200b}', '\u{200d}', '\u{2060}',
            '\u{feff}',
        ] {
            assert_eq!(check(&format!("a{c}b")), Err(Refusal::Invisible), "{c:?}");
            assert_eq!(check_controls(&format!("a{c}b")), Ok(()));
        }
        // Directional marks only steer neutral characters; they cannot reorder text and stay allowed.
        assert_eq!(check("\u{200e}x\u{200f}"), Ok(()));
    }

    #[test]
    fn names_lose_surrounding_white_space_but_not_control_characters() {
        assert_eq!(trim("  Ada Lovelace\u{3000}"), "Ada Lovelace");
        assert_eq!(trim("\u{a0}Ada  King\u{2003}"), "Ada  King");
        assert_eq!(trim("\tAda\n"), "\tAda\n");
        assert_eq!(name("   ").unwrap_err().code, "blank");
        assert_eq!(name("Ada\n").unwrap_err().code, "control_character");
        assert_eq!(name("\u{202e}adA").unwrap_err().code, "invisible_character");
    }

    fn any_text() -> impl Strategy<Value = String> {
        let c = prop_oneof![
            any::<char>(),
            proptest::char::range('\u{0}', '\u{9f}'),
            proptest::char::range('\u{2000}', '\u{206f}'),
            Just('\u{feff}'),
            Just('\u{3000}'),
        ];
        proptest::collection::vec(c, 0..12).prop_map(|v| v.into_iter().collect())
    }

    proptest! {
        #[test]
        fn check_refuses_exactly_the_texts_with_a_control_or_invisible_character(s in any_text()) {
            let offending = s.chars().any(|c| is_control(c) || is_invisible(c));
            prop_assert_eq!(check(&s).is_err(), offending);
            prop_assert_eq!(plain(&s).is_err(), offending);
        }

        #[test]
        fn trimming_keeps_every_control_character_and_is_idempotent(s in any_text()) {
            let t = trim(&s);
            prop_assert_eq!(t.chars().filter(|c| is_control(*c)).count(),
                s.chars().filter(|c| is_control(*c)).count());
            prop_assert_eq!(trim(t), t);
            prop_assert!(!t.starts_with(is_trimmable) && !t.ends_with(is_trimmable));
        }
    }
}
