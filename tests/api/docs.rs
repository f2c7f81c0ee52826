//! The documents other programs and people rely on agree with the code: every problem `code` the service
//! defines is listed in docs/errors.md exactly once, and nothing else is.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::Path,
};

use regex_lite::Regex;

/// Every `.rs` file under `dir`, read.
fn sources(dir: &Path, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(std::fs::read_to_string(&path).unwrap());
        }
    }
}

/// The problem codes defined in `src/`: `code: "..."` fields (named errors such as `ApiError::ADDRESS_NOT_FOUND`)
/// and the arms of `ApiError::code` (`ApiError::Timeout => "request_timeout"`).
fn codes_in_source() -> BTreeSet<String> {
    let mut files = Vec::new();
    sources(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    let field = Regex::new(r#"\bcode: "([a-z_]+)""#).unwrap();
    let arm = Regex::new(r#"ApiError::\w+[^=\n]*=>\s*"([a-z_]+)""#).unwrap();
    files
        .iter()
        .flat_map(|text| field.captures_iter(text).chain(arm.captures_iter(text)))
        .map(|c| c[1].to_string())
        .collect()
}

/// The codes in the table of docs/errors.md, with how often each is listed.
fn codes_in_docs() -> BTreeMap<String, usize> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/errors.md");
    let row = Regex::new(r"^\|\s*\d{3}\s*\|\s*`([a-z_]+)`\s*\|").unwrap();
    let mut counts = BTreeMap::new();
    for line in std::fs::read_to_string(path).unwrap().lines() {
        if let Some(c) = row.captures(line) {
            *counts.entry(c[1].to_string()).or_insert(0) += 1;
        }
    }
    counts
}

#[test]
fn docs_errors_md_lists_every_problem_code_of_the_source_once_and_no_other() {
    let defined = codes_in_source();
    let documented = codes_in_docs();

    let twice: Vec<_> = documented.iter().filter(|(_, n)| **n > 1).collect();
    let undocumented: Vec<_> = defined
        .iter()
        .filter(|c| !documented.contains_key(*c))
        .collect();
    let unknown: Vec<_> = documented
        .keys()
        .filter(|c| !defined.contains(*c))
        .collect();

    assert!(
        defined.len() >= 20,
        "found only {defined:?} in src/: did the codes move? update codes_in_source"
    );
    assert!(
        twice.is_empty(),
        "listed more than once in docs/errors.md: {twice:?}"
    );
    assert!(
        undocumented.is_empty(),
        "missing from docs/errors.md: {undocumented:?}"
    );
    assert!(
        unknown.is_empty(),
        "in docs/errors.md but not defined in src/: {unknown:?}"
    );
}

#[test]
fn every_problem_code_and_field_code_has_a_message_in_every_language() {
    use user_profile_service::domain::{
        messages::{self, Language, Params},
        validation::FIELD_CODES,
    };
    // A catalogue entry is one text per language by its type; these say every code has an entry.
    let codes = codes_in_source();
    let no_message: Vec<_> = codes
        .iter()
        .filter(|c| !messages::has_problem_key(c))
        .collect();
    assert!(
        no_message.is_empty(),
        "problem codes without a message: {no_message:?}"
    );
    let no_message: Vec<_> = FIELD_CODES
        .iter()
        .filter(|c| !messages::has_field_key(c))
        .collect();
    assert!(
        no_message.is_empty(),
        "field codes without a message: {no_message:?}"
    );
    // And the catalogue holds nothing else: each key is a code or a variant of one.
    for (key, texts) in messages::problem_keys() {
        let code = key.split('.').next().unwrap();
        assert!(
            codes.contains(code),
            "message for an unknown problem code: {key}"
        );
        assert_eq!(texts.len(), Language::ALL.len());
    }
    for (key, _) in messages::field_keys() {
        let code = key.split('.').next().unwrap();
        assert!(
            FIELD_CODES.contains(&code) || key == "between",
            "message for an unknown field code: {key}"
        );
    }
    assert!(!messages::field_message("required", &Params::new(), Language::Es).is_empty());
}

#[test]
fn docs_errors_md_lists_exactly_the_field_codes() {
    use user_profile_service::domain::validation::FIELD_CODES;
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/errors.md");
    let text = std::fs::read_to_string(path).unwrap();
    let section = text
        .split("## Field error codes")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("docs/errors.md has a section on field error codes");
    let row = Regex::new(r"(?m)^\|\s*`([a-z_]+)`\s*\|").unwrap();
    let listed: BTreeSet<String> = row
        .captures_iter(section)
        .map(|c| c[1].to_string())
        .collect();
    let expected: BTreeSet<String> = FIELD_CODES.iter().map(|c| (*c).to_string()).collect();
    assert_eq!(listed, expected);
}
