//! What the service says to people, in English, German, French and Spanish: problem titles and details, and
//! field error messages (docs/errors.md#languages). A message is found by its key (a problem or field `code`, or
//! `code.variant`) and its `{placeholders}` are filled from the error's params, which clients also receive, so
//! a frontend can write its own text from `code` and `params` instead.

mod catalogue;

use std::collections::BTreeMap;

use serde_json::Value;

/// A message in every language, in the order of [`Language::ALL`].
type Texts = [&'static str; 4];

/// The values a message names, by placeholder; sent as a field error's `params`.
pub type Params = BTreeMap<String, Value>;

/// A language the service answers in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Language {
    #[default]
    En,
    De,
    Fr,
    Es,
}

impl Language {
    pub const ALL: [Language; 4] = [Language::En, Language::De, Language::Fr, Language::Es];

    /// The language's BCP 47 tag, as `Content-Language` says it.
    pub fn tag(self) -> &'static str {
        match self {
            Language::En => "en",
            Language::De => "de",
            Language::Fr => "fr",
            Language::Es => "es",
        }
    }

    fn index(self) -> usize {
        self as usize
    }

    /// The language of a primary subtag (`de` of `de-CH`), any case.
    fn of_primary(tag: &str) -> Option<Language> {
        let primary = tag.split('-').next().unwrap_or("");
        Language::ALL
            .into_iter()
            .find(|l| l.tag().eq_ignore_ascii_case(primary))
    }

    /// The language to answer a request whose `Accept-Language` is `header` (RFC 9110 section 12.5.4): the
    /// highest `q` wins, then the earlier range; a range matches by its primary subtag (`de-CH` gets `de`); `*`
    /// and anything unknown or absent get English. A range with `q=0` is refused, so `de;q=0, *` is English.
    pub fn negotiate(header: Option<&str>) -> Language {
        let Some(header) = header else {
            return Language::En;
        };
        let mut best: Option<(u16, Language)> = None;
        for range in header.split(',') {
            let mut parts = range.split(';');
            let tag = parts.next().unwrap_or("").trim();
            let quality = parts
                .find_map(|p| p.trim().strip_prefix("q=").or(p.trim().strip_prefix("Q=")))
                .map_or(Some(1000), parse_quality);
            let language = if tag == "*" {
                Some(Language::En)
            } else {
                Language::of_primary(tag)
            };
            if let (Some(language), Some(q)) = (language, quality) {
                if q > 0 && best.is_none_or(|(best_q, _)| q > best_q) {
                    best = Some((q, language));
                }
            }
        }
        best.map_or(Language::En, |(_, language)| language)
    }
}

/// A `q` value in thousandths: `0`, `0.5`, `1`, `1.000`; `None` when malformed.
fn parse_quality(raw: &str) -> Option<u16> {
    let (whole, fraction) = raw.split_once('.').unwrap_or((raw, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths: u16 = format!("{fraction:0<3}").parse().ok()?;
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

fn find(table: &'static [(&'static str, Texts)], key: &str) -> Option<&'static Texts> {
    table
        .binary_search_by(|(k, _)| (*k).cmp(key))
        .ok()
        .map(|i| &table[i].1)
}

/// A problem's `title` for `status`; `None` for a status the API does not answer with.
pub fn title(status: u16, language: Language) -> Option<&'static str> {
    let titles = catalogue::TITLES;
    titles
        .binary_search_by(|(s, _)| s.cmp(&status))
        .ok()
        .map(|i| titles[i].1[language.index()])
}

/// A problem's `detail` by key (its `code`, or `code.variant`); an unknown variant falls back to its code's
/// message.
pub fn problem_detail(key: &str, params: &Params, language: Language) -> String {
    render(lookup(catalogue::PROBLEMS, key), params, language)
}

/// A field error's `message` by key (its `code`, or a key of its own such as `invalid_format.phone`); an unknown
/// key falls back to its code's message.
pub fn field_message(key: &str, params: &Params, language: Language) -> String {
    render(lookup(catalogue::FIELDS, key), params, language)
}

/// The texts of `key`, else of the code before its first dot.
fn lookup(table: &'static [(&'static str, Texts)], key: &str) -> Option<&'static Texts> {
    find(table, key).or_else(|| find(table, key.split('.').next().unwrap_or(key)))
}

fn render(texts: Option<&Texts>, params: &Params, language: Language) -> String {
    let Some(texts) = texts else {
        return String::new();
    };
    let mut text = texts[language.index()].to_string();
    for (name, value) in params {
        let placeholder = format!("{{{name}}}");
        if text.contains(&placeholder) {
            let value = match value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            text = text.replace(&placeholder, &value);
        }
    }
    text
}

/// The `{placeholders}` of a text.
pub fn placeholders(text: &str) -> Vec<&str> {
    let mut out: Vec<&str> = text
        .split('{')
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name))
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// Every problem key and field key with its texts, for the completeness tests.
pub fn problem_keys() -> impl Iterator<Item = (&'static str, &'static Texts)> {
    catalogue::PROBLEMS.iter().map(|(k, t)| (*k, t))
}

pub fn field_keys() -> impl Iterator<Item = (&'static str, &'static Texts)> {
    catalogue::FIELDS.iter().map(|(k, t)| (*k, t))
}

/// Whether the catalogue has `key`'s own field message (not only its code's).
pub fn has_field_key(key: &str) -> bool {
    find(catalogue::FIELDS, key).is_some()
}

/// Whether the catalogue has `key`'s own problem detail (not only its code's).
pub fn has_problem_key(key: &str) -> bool {
    find(catalogue::PROBLEMS, key).is_some()
}

/// The placeholders of field message `key` that `params` leaves unfilled (none, when the caller did its part).
pub fn missing_field_params<'a>(key: &str, params: &Params) -> Vec<&'a str> {
    missing(lookup(catalogue::FIELDS, key), params)
}

/// The placeholders of problem detail `key` that `params` leaves unfilled.
pub fn missing_problem_params<'a>(key: &str, params: &Params) -> Vec<&'a str> {
    missing(lookup(catalogue::PROBLEMS, key), params)
}

fn missing<'a>(texts: Option<&'static Texts>, params: &Params) -> Vec<&'a str> {
    texts.map_or_else(Vec::new, |texts| {
        placeholders(texts[0])
            .into_iter()
            .filter(|name| !params.contains_key(*name))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_sorted_and_unique() {
        assert!(catalogue::TITLES.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(catalogue::PROBLEMS.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(catalogue::FIELDS.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn every_message_has_the_same_placeholders_in_every_language_and_no_empty_text() {
        let tables = catalogue::PROBLEMS.iter().chain(catalogue::FIELDS);
        for (key, texts) in tables {
            let english = placeholders(texts[0]);
            for (language, text) in Language::ALL.iter().zip(texts) {
                assert!(!text.trim().is_empty(), "{key} {language:?}");
                assert_eq!(placeholders(text), english, "{key} {language:?}");
            }
            // A variant's own message or its code's: every variant key has a code to fall back to.
            let code = key.split('.').next().unwrap();
            assert!(
                find(catalogue::PROBLEMS, code).is_some()
                    || find(catalogue::FIELDS, code).is_some(),
                "{key}"
            );
        }
    }

    #[test]
    fn placeholders_are_filled_from_params_and_numbers_are_written_plainly() {
        let params: Params = [("max".to_string(), Value::from(100))]
            .into_iter()
            .collect();
        assert_eq!(
            field_message("length.max", &params, Language::De),
            "darf höchstens 100 Zeichen lang sein"
        );
        let params: Params = [("country".to_string(), Value::from("US"))]
            .into_iter()
            .chain([("example".to_string(), Value::from("12345"))])
            .collect();
        assert_eq!(
            field_message("invalid_format.postal_code", &params, Language::Fr),
            "ne correspond pas au format de code postal de US, par ex. 12345"
        );
    }

    #[test]
    fn an_unknown_variant_falls_back_to_its_codes_message() {
        let none = Params::new();
        assert_eq!(
            field_message("required.something_new", &none, Language::Es),
            "este campo es obligatorio"
        );
        assert_eq!(
            problem_detail("forbidden.something_new", &none, Language::En),
            "this token may not do this"
        );
    }

    #[test]
    fn accept_language_picks_the_best_supported_language() {
        let cases = [
            (None, Language::En),
            (Some(""), Language::En),
            (Some("de"), Language::De),
            (Some("de-CH"), Language::De),
            (Some("DE-de"), Language::De),
            (
                Some("fr-CH, fr;q=0.9, en;q=0.8, de;q=0.7, *;q=0.5"),
                Language::Fr,
            ),
            (Some("it, es;q=0.5"), Language::Es),
            (Some("en;q=0.1, de;q=0.9"), Language::De),
            (Some("es;q=0.5, fr;q=0.5"), Language::Es),
            (Some("*"), Language::En),
            (Some("de;q=0, *"), Language::En),
            (Some("de;q=0"), Language::En),
            (Some("ja, zh-CN"), Language::En),
            (Some("fr;q=2, es"), Language::Es),
            (Some("fr;q=abc"), Language::En),
            (Some("es ; q=0.8 , de ; q=0.801"), Language::De),
        ];
        for (header, expected) in cases {
            assert_eq!(Language::negotiate(header), expected, "{header:?}");
        }
    }
}
