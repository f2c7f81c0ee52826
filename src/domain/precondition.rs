//! Conditional requests (RFC 9110 section 13): `If-Match` / `If-None-Match` against a resource's version.
//!
//! A header that is present but cannot be parsed never lets a write through (SPEC section 7): on a write, a
//! malformed `If-Match` or `If-None-Match` fails like a mismatch. On a read, a malformed `If-None-Match` is
//! ignored (the full representation is sent). `If-Match` compares strongly and accepts only strong tags;
//! `If-None-Match` compares weakly, as RFC 9110 section 13.1.2 says.

/// One entity tag of a header: `"opaque"` or, weak, `W/"opaque"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityTag {
    pub weak: bool,
    /// The characters between the quotes (RFC 9110 `etagc`: visible ASCII but `"`, and obs-text).
    pub opaque: Vec<u8>,
}

impl EntityTag {
    /// Whether this tag names `version` (weak comparison: the weakness flag is not compared).
    fn names(&self, version: i64) -> bool {
        self.opaque == version.to_string().as_bytes()
    }
}

/// A parsed `If-Match` / `If-None-Match` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EtagCondition {
    /// `*`: any current representation.
    Any,
    /// A non-empty list of entity tags.
    Tags(Vec<EntityTag>),
    /// Present but not `*` or a list of entity tags (for `If-Match`: of strong ones), e.g. `9`, `garbage`, an
    /// empty value, or `"1", x`. It holds for no resource.
    Malformed,
}

impl EtagCondition {
    /// Parses an `If-Match` value: `*` or a list of strong entity tags; a weak tag makes it malformed.
    pub fn parse_if_match(raw: &[u8]) -> Self {
        Self::parse(raw, false)
    }

    /// Parses an `If-None-Match` value: `*` or a list of entity tags, weak ones included.
    pub fn parse_if_none_match(raw: &[u8]) -> Self {
        Self::parse(raw, true)
    }

    fn parse(raw: &[u8], allow_weak: bool) -> Self {
        if trim_ows(raw) == b"*" {
            return EtagCondition::Any;
        }
        match parse_tag_list(raw) {
            Some(tags) if allow_weak || tags.iter().all(|t| !t.weak) => EtagCondition::Tags(tags),
            _ => EtagCondition::Malformed,
        }
    }

    /// Whether some tag names `version` (weak comparison).
    fn names(&self, version: i64) -> bool {
        matches!(self, EtagCondition::Tags(tags) if tags.iter().any(|t| t.names(version)))
    }
}

/// `1#entity-tag` with RFC 9110's list rules: elements separated by commas and optional whitespace, empty
/// elements ignored; `None` unless every element is an entity tag and there is at least one.
fn parse_tag_list(raw: &[u8]) -> Option<Vec<EntityTag>> {
    let mut tags = Vec::new();
    let mut rest = raw;
    loop {
        rest = trim_ows(rest);
        match rest.split_first() {
            None => break,
            Some((b',', after)) => rest = after,
            Some(_) => {
                let (tag, after) = parse_tag(rest)?;
                tags.push(tag);
                rest = trim_ows(after);
                match rest.split_first() {
                    None => break,
                    Some((b',', after)) => rest = after,
                    Some(_) => return None,
                }
            }
        }
    }
    (!tags.is_empty()).then_some(tags)
}

/// One `entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE` at the start of `s`, and what follows it.
fn parse_tag(s: &[u8]) -> Option<(EntityTag, &[u8])> {
    let (weak, s) = match s.strip_prefix(b"W/") {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let s = s.strip_prefix(b"\"")?;
    let end = s.iter().position(|&b| b == b'"')?;
    let opaque = &s[..end];
    if !opaque
        .iter()
        .all(|&b| b == 0x21 || (0x23..=0x7e).contains(&b) || b >= 0x80)
    {
        return None;
    }
    let tag = EntityTag {
        weak,
        opaque: opaque.to_vec(),
    };
    Some((tag, &s[end + 1..]))
}

fn trim_ows(s: &[u8]) -> &[u8] {
    let is_ows = |b: &u8| *b == b' ' || *b == b'\t';
    let start = s.iter().position(|b| !is_ows(b)).unwrap_or(s.len());
    let end = s.iter().rposition(|b| !is_ows(b)).map_or(start, |i| i + 1);
    &s[start..end]
}

/// The preconditions a request carries; `None` where the header is absent.
#[derive(Debug, Clone, Default)]
pub struct Preconditions {
    pub if_match: Option<EtagCondition>,
    pub if_none_match: Option<EtagCondition>,
}

/// A write refused by its precondition; `current` is the resource's version, absent when it has none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreconditionFailed {
    pub current: Option<i64>,
}

/// What a write's preconditions are evaluated against.
#[derive(Debug, Clone, Copy)]
struct Target {
    /// The version its `ETag` carries, if it has one.
    version: Option<i64>,
    /// Whether it has a current representation (`If-Match: *` holds).
    exists: bool,
    /// Whether anything is stored (`If-None-Match: *` fails).
    stored: bool,
}

impl Preconditions {
    /// Reads both headers; each is the raw value, or the values of several header lines joined with `, `.
    pub fn from_headers(if_match: Option<&[u8]>, if_none_match: Option<&[u8]>) -> Self {
        Preconditions {
            if_match: if_match.map(EtagCondition::parse_if_match),
            if_none_match: if_none_match.map(EtagCondition::parse_if_none_match),
        }
    }

    /// For a write to a resource at `current` (`None` when it does not exist).
    pub fn check_write(&self, current: Option<i64>) -> Result<(), PreconditionFailed> {
        self.check(Target {
            version: current,
            exists: current.is_some(),
            stored: current.is_some(),
        })
    }

    /// For a write to a resource whose defaults stand in, as version 0, until its first write (preferences):
    /// `If-Match: "0"` and `If-Match: *` hold while the defaults apply, `If-None-Match: *` only then.
    pub fn check_write_over_defaults(&self, version: i64) -> Result<(), PreconditionFailed> {
        self.check(Target {
            version: Some(version),
            exists: true,
            stored: version > 0,
        })
    }

    /// For a write to a resource that has no version (its `ETag` is never sent): only `If-Match: *` can hold,
    /// and only when it exists.
    pub fn check_write_unversioned(&self, exists: bool) -> Result<(), PreconditionFailed> {
        self.check(Target {
            version: None,
            exists,
            stored: exists,
        })
    }

    fn check(&self, target: Target) -> Result<(), PreconditionFailed> {
        let if_match_holds = match &self.if_match {
            None => true,
            Some(EtagCondition::Any) => target.exists,
            // Every tag is strong (a weak one made the header malformed), so this is strong comparison.
            Some(tags @ EtagCondition::Tags(_)) => target.version.is_some_and(|v| tags.names(v)),
            Some(EtagCondition::Malformed) => false,
        };
        let if_none_match_holds = match &self.if_none_match {
            None => true,
            Some(EtagCondition::Any) => !target.stored,
            Some(tags @ EtagCondition::Tags(_)) => !target.version.is_some_and(|v| tags.names(v)),
            Some(EtagCondition::Malformed) => false,
        };
        if if_match_holds && if_none_match_holds {
            Ok(())
        } else {
            Err(PreconditionFailed {
                current: target.version,
            })
        }
    }

    /// For a read of a resource at `current`: true when the client's copy is current and a 304 should be sent.
    /// A malformed `If-None-Match` is ignored here: the client gets the full representation.
    pub fn not_modified(&self, current: &str) -> bool {
        match &self.if_none_match {
            Some(EtagCondition::Any) => true,
            Some(EtagCondition::Tags(tags)) => tags.iter().any(|t| t.opaque == current.as_bytes()),
            None | Some(EtagCondition::Malformed) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn tag(weak: bool, opaque: &str) -> EntityTag {
        EntityTag {
            weak,
            opaque: opaque.as_bytes().to_vec(),
        }
    }

    fn if_match(raw: &str) -> Preconditions {
        Preconditions::from_headers(Some(raw.as_bytes()), None)
    }

    fn if_none_match(raw: &str) -> Preconditions {
        Preconditions::from_headers(None, Some(raw.as_bytes()))
    }

    #[test]
    fn if_match_parses_star_and_lists_of_strong_tags() {
        assert_eq!(EtagCondition::parse_if_match(b" * "), EtagCondition::Any);
        assert_eq!(
            EtagCondition::parse_if_match(b"\"1\",\t\"a,b\" , ,\"\""),
            EtagCondition::Tags(vec![tag(false, "1"), tag(false, "a,b"), tag(false, "")])
        );
    }

    #[test]
    fn if_match_that_is_not_star_or_a_list_of_strong_tags_is_malformed() {
        for raw in [
            "",
            " ",
            ",",
            "9",
            "garbage",
            "null",
            "W/\"1\"",
            "\"1\", W/\"2\"",
            "\"1\" \"2\"",
            "\"1\", 2",
            "\"1",
            "1\"",
            "*, \"1\"",
            "**",
            "w/\"1\"",
            "\"a\"b\"",
            "\"\u{1}\"",
            "\"a b\"",
        ] {
            assert_eq!(
                EtagCondition::parse_if_match(raw.as_bytes()),
                EtagCondition::Malformed,
                "{raw:?}"
            );
        }
    }

    #[test]
    fn if_none_match_accepts_weak_tags_and_compares_weakly() {
        let pre = if_none_match("W/\"3\", \"1\"");
        assert!(pre.not_modified("3"));
        assert!(pre.not_modified("1"));
        assert!(!pre.not_modified("2"));
        assert_eq!(
            pre.check_write(Some(3)),
            Err(PreconditionFailed { current: Some(3) })
        );
        assert!(pre.check_write(Some(2)).is_ok());
    }

    #[test]
    fn a_malformed_if_none_match_is_ignored_on_reads_and_fails_writes() {
        let pre = if_none_match("garbage");
        assert!(!pre.not_modified("1"));
        assert_eq!(
            pre.check_write(Some(1)),
            Err(PreconditionFailed { current: Some(1) })
        );
        assert_eq!(
            pre.check_write(None),
            Err(PreconditionFailed { current: None })
        );
    }

    #[test]
    fn if_match_holds_only_for_the_exact_strong_tag_or_star_on_an_existing_resource() {
        assert!(if_match("\"2\", \"7\"").check_write(Some(7)).is_ok());
        assert!(if_match("*").check_write(Some(7)).is_ok());
        for raw in ["\"07\"", "\"7 \"", "W/\"7\"", "7", "", "*", "\"7\", x"] {
            let current = if raw == "*" { None } else { Some(7) };
            assert_eq!(
                if_match(raw).check_write(current),
                Err(PreconditionFailed { current }),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn if_none_match_star_fails_a_write_when_the_resource_exists() {
        let p = if_none_match("*");
        assert!(p.check_write(None).is_ok());
        assert_eq!(
            p.check_write(Some(1)),
            Err(PreconditionFailed { current: Some(1) })
        );
    }

    #[test]
    fn defaults_count_as_version_0_for_if_match_and_as_nothing_stored_for_if_none_match_star() {
        assert!(if_match("\"0\"").check_write_over_defaults(0).is_ok());
        assert!(if_match("*").check_write_over_defaults(0).is_ok());
        assert!(if_none_match("*").check_write_over_defaults(0).is_ok());
        assert_eq!(
            if_none_match("*").check_write_over_defaults(1),
            Err(PreconditionFailed { current: Some(1) })
        );
        assert_eq!(
            if_match("\"0\"").check_write_over_defaults(1),
            Err(PreconditionFailed { current: Some(1) })
        );
    }

    #[test]
    fn an_unversioned_resource_matches_only_star() {
        assert!(if_match("*").check_write_unversioned(true).is_ok());
        assert!(if_match("\"1\"").check_write_unversioned(true).is_err());
        assert!(if_match("*").check_write_unversioned(false).is_err());
        assert!(if_none_match("*").check_write_unversioned(false).is_ok());
        assert!(if_none_match("*").check_write_unversioned(true).is_err());
    }

    /// Header values as clients and attackers send them: any bytes, and near-misses of real tags.
    fn header_value() -> impl Strategy<Value = Vec<u8>> {
        let piece = prop_oneof![
            Just(b"\"".to_vec()),
            Just(b"W/".to_vec()),
            Just(b",".to_vec()),
            Just(b" ".to_vec()),
            Just(b"*".to_vec()),
            Just(b"\"7\"".to_vec()),
            (0i64..20).prop_map(|n| n.to_string().into_bytes()),
            proptest::collection::vec(any::<u8>(), 0..4),
        ];
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..40),
            proptest::collection::vec(piece, 0..8).prop_map(|p| p.concat()),
        ]
    }

    /// True when `raw` holds the strong tag `"<version>"` (not preceded by `W/`).
    fn contains_strong_tag(raw: &[u8], version: i64) -> bool {
        let needle = format!("\"{version}\"").into_bytes();
        raw.windows(needle.len())
            .enumerate()
            .any(|(i, w)| w == needle.as_slice() && !raw[..i].ends_with(b"W/"))
    }

    proptest! {
        #[test]
        fn no_if_match_lets_a_write_through_unless_it_is_star_or_holds_the_exact_strong_tag(
            raw in header_value(),
            version in 0i64..20,
        ) {
            let pre = Preconditions::from_headers(Some(&raw), None);
            if pre.check_write(Some(version)).is_ok() {
                prop_assert!(trim_ows(&raw) == b"*" || contains_strong_tag(&raw, version), "{raw:?}");
            }
            if pre.check_write_over_defaults(version).is_ok() {
                prop_assert!(trim_ows(&raw) == b"*" || contains_strong_tag(&raw, version), "{raw:?}");
            }
            prop_assert!(pre.check_write(None).is_err());
            prop_assert!(pre.check_write_unversioned(false).is_err());
        }

        #[test]
        fn a_well_formed_list_with_the_strong_tag_lets_the_write_through(
            before in proptest::collection::vec(0i64..100, 0..4),
            after in proptest::collection::vec(0i64..100, 0..4),
            version in 0i64..100,
        ) {
            let tags: Vec<String> = before.iter().chain([&version]).chain(&after)
                .map(|n| format!("\"{n}\"")).collect();
            let pre = Preconditions::from_headers(Some(tags.join(" , ").as_bytes()), None);
            prop_assert!(pre.check_write(Some(version)).is_ok());
        }

        #[test]
        fn parsing_any_header_value_never_panics(raw in header_value(), version in 0i64..20) {
            let pre = Preconditions::from_headers(Some(&raw), Some(&raw));
            let _ = pre.check_write(Some(version));
            let _ = pre.not_modified(&version.to_string());
        }
    }
}
