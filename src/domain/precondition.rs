//! Conditional requests (RFC 9110 section 13): `If-Match` / `If-None-Match` against a resource's version.

/// A parsed `If-Match` / `If-None-Match` header: `*` or a list of entity tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EtagCondition {
    Any,
    Tags(Vec<String>),
}

impl EtagCondition {
    /// `None` when the header holds no entity-tag at all (empty, `null`, unquoted): such a header is ignored.
    pub fn parse(raw: &str) -> Option<Self> {
        if raw.trim() == "*" {
            return Some(EtagCondition::Any);
        }
        let tags: Vec<String> = raw
            .split(',')
            .filter_map(|t| {
                let t = t.trim().trim_start_matches("W/");
                let inner = t.strip_prefix('"')?.strip_suffix('"')?;
                Some(inner.to_string())
            })
            .collect();
        (!tags.is_empty()).then_some(EtagCondition::Tags(tags))
    }

    /// Whether the condition holds for a resource at `current` (`None` when it does not exist).
    pub fn matches(&self, current: Option<&str>) -> bool {
        match (self, current) {
            (_, None) => false,
            (EtagCondition::Any, Some(_)) => true,
            (EtagCondition::Tags(tags), Some(version)) => tags.iter().any(|t| t == version),
        }
    }
}

/// The preconditions a request carries.
#[derive(Debug, Clone, Default)]
pub struct Preconditions {
    pub if_match: Option<EtagCondition>,
    pub if_none_match: Option<EtagCondition>,
}

/// A write refused by its precondition; `current` is the resource's version, absent when it does not exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreconditionFailed {
    pub current: Option<String>,
}

impl Preconditions {
    /// For a write: `If-Match` must match the current version; `If-None-Match: *` demands that nothing exists.
    pub fn check_write(&self, current: Option<&str>) -> Result<(), PreconditionFailed> {
        let failed = self.if_match.as_ref().is_some_and(|c| !c.matches(current))
            || self
                .if_none_match
                .as_ref()
                .is_some_and(|c| c.matches(current));
        if failed {
            return Err(PreconditionFailed {
                current: current.map(str::to_owned),
            });
        }
        Ok(())
    }

    /// For a read: true when the client's copy is current and a 304 should be sent.
    pub fn not_modified(&self, current: &str) -> bool {
        self.if_none_match
            .as_ref()
            .is_some_and(|c| c.matches(Some(current)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etag_conditions_parse_lists_weak_tags_and_star() {
        assert_eq!(EtagCondition::parse("*"), Some(EtagCondition::Any));
        assert_eq!(EtagCondition::parse(""), None);
        assert_eq!(EtagCondition::parse("null"), None);
        let c = EtagCondition::parse("\"1\", W/\"3\"").unwrap();
        assert!(c.matches(Some("3")));
        assert!(c.matches(Some("1")));
        assert!(!c.matches(Some("2")));
        assert!(!c.matches(None));
    }

    #[test]
    fn if_none_match_star_fails_a_write_when_the_resource_exists() {
        let p = Preconditions {
            if_match: None,
            if_none_match: Some(EtagCondition::Any),
        };
        assert!(p.check_write(None).is_ok());
        assert_eq!(
            p.check_write(Some("1")),
            Err(PreconditionFailed {
                current: Some("1".into())
            })
        );
    }
}
