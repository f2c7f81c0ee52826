//! E.164 phone numbers: `+`, a country code not starting with 0, at most 15 digits in all.

/// True when `phone` is `+` followed by 2 to 15 ASCII digits, the first of them 1-9.
/// No spaces or separators: callers store the canonical form.
pub fn is_e164(phone: &str) -> bool {
    let Some(digits) = phone.strip_prefix('+') else {
        return false;
    };
    (2..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_e164_numbers() {
        for phone in [
            "+14155552671",
            "+442071838750",
            "+4930901820",
            "+12",
            "+123456789012345",
        ] {
            assert!(is_e164(phone), "{phone}");
        }
    }

    #[test]
    fn rejects_non_e164_numbers() {
        for phone in [
            "14155552671",
            "+0123",
            "+1 415 555",
            "+1-415-555-2671",
            "+1234567890123456",
            "+1",
            "+",
            "",
            "++14155552671",
            "+1415555267a",
            "+١٢٣٤٥",
            " +14155552671",
        ] {
            assert!(!is_e164(phone), "{phone:?}");
        }
    }
}
