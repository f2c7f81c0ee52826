//! BCP 47 (RFC 5646) language tags: well-formedness only, not whether the subtags are registered.

/// Longest tag accepted; RFC 5646 section 4.4.1 asks for at least 35 characters of storage.
const MAX_LEN: usize = 35;

/// True when `tag` is a well-formed BCP 47 language tag such as "en", "zh-Hant-TW" or "es-419".
///
/// Follows the `langtag` and `privateuse` productions of RFC 5646, case-insensitively.
/// Grandfathered tags ("i-klingon", "zh-min-nan", ...) are not accepted unless they also fit `langtag`.
pub fn is_language_tag(tag: &str) -> bool {
    if tag.is_empty() || tag.len() > MAX_LEN {
        return false;
    }
    let subtags: Vec<&str> = tag.split('-').collect();
    if subtags
        .iter()
        .any(|s| s.is_empty() || !s.bytes().all(|b| b.is_ascii_alphanumeric()))
    {
        return false;
    }
    let rest = subtags.as_slice();
    if is_private_use_singleton(rest[0]) {
        return is_private_use(&rest[1..]);
    }
    let Some(rest) = skip_language(rest) else {
        return false;
    };
    let rest = skip_script_region_variants(rest);
    let Some(rest) = skip_extensions(rest) else {
        return false;
    };
    match rest.first() {
        None => true,
        Some(s) if is_private_use_singleton(s) => is_private_use(&rest[1..]),
        Some(_) => false,
    }
}

/// language = 2*3ALPHA ["-" extlang] / 4ALPHA / 5*8ALPHA; `None` when the first subtag is no language.
fn skip_language<'a, 't>(subtags: &'a [&'t str]) -> Option<&'a [&'t str]> {
    let language = subtags[0];
    if !(2..=8).contains(&language.len()) || !is_alpha(language) {
        return None;
    }
    let mut rest = &subtags[1..];
    if language.len() <= 3 {
        // extlang = 3ALPHA *2("-" 3ALPHA)
        let extlangs = rest
            .iter()
            .take(3)
            .take_while(|s| s.len() == 3 && is_alpha(s))
            .count();
        rest = &rest[extlangs..];
    }
    Some(rest)
}

/// The optional script, region and variants after the language.
fn skip_script_region_variants<'a, 't>(mut rest: &'a [&'t str]) -> &'a [&'t str] {
    // script = 4ALPHA
    if rest.first().is_some_and(|s| s.len() == 4 && is_alpha(s)) {
        rest = &rest[1..];
    }

    // region = 2ALPHA / 3DIGIT
    if rest
        .first()
        .is_some_and(|s| (s.len() == 2 && is_alpha(s)) || (s.len() == 3 && is_digit(s)))
    {
        rest = &rest[1..];
    }

    // variant = 5*8alphanum / (DIGIT 3alphanum)
    while rest.first().is_some_and(|s| {
        (5..=8).contains(&s.len()) || (s.len() == 4 && s.as_bytes()[0].is_ascii_digit())
    }) {
        rest = &rest[1..];
    }
    rest
}

/// extension = singleton 1*("-" (2*8alphanum)); `None` when a singleton has no body.
fn skip_extensions<'a, 't>(mut rest: &'a [&'t str]) -> Option<&'a [&'t str]> {
    while rest
        .first()
        .is_some_and(|s| s.len() == 1 && !is_private_use_singleton(s))
    {
        let body = rest[1..]
            .iter()
            .take_while(|s| (2..=8).contains(&s.len()))
            .count();
        if body == 0 {
            return None;
        }
        rest = &rest[1 + body..];
    }
    Some(rest)
}

/// privateuse = "x" 1*("-" (1*8alphanum)), given the subtags after the "x".
fn is_private_use(subtags: &[&str]) -> bool {
    !subtags.is_empty() && subtags.iter().all(|s| s.len() <= 8)
}

fn is_private_use_singleton(subtag: &str) -> bool {
    subtag.eq_ignore_ascii_case("x")
}

fn is_alpha(subtag: &str) -> bool {
    subtag.bytes().all(|b| b.is_ascii_alphabetic())
}

fn is_digit(subtag: &str) -> bool {
    subtag.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_well_formed_tags() {
        for tag in [
            "en",
            "en-US",
            "de-CH",
            "zh-Hant-TW",
            "sr-Latn-RS",
            "es-419",
            "en-US-x-twain",
            "EN-us",
            "zh-yue-HK",
            "ast",
            "sl-rozaj-biske",
            "de-CH-1901",
            "hy-Latn-IT-arevela",
            "de-DE-u-co-phonebk",
            "en-a-bbb-x-a-ccc",
            "x-whatever",
            "qaa-Qaaa-QM-x-southern",
        ] {
            assert!(is_language_tag(tag), "{tag}");
        }
    }

    #[test]
    fn rejects_malformed_tags() {
        for tag in [
            "",
            "e",
            "en_US",
            "english-US-",
            "123",
            "en--US",
            "toolongtag-US",
            "-en",
            "en-US-",
            "en-u",
            "en-u-x-foo",
            "en-x",
            "de-419-DE",
            "en-Latn-Latn",
            "en-US-a-b",
            "x",
            "en-US-x-toolongpart",
            "zh-Hant-TW-variant-u-co-phonebk-x-private-extra",
            "é",
        ] {
            assert!(!is_language_tag(tag), "{tag:?}");
        }
    }
}
