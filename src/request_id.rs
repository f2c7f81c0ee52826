//! The id of the request being served, readable anywhere on its task: problem bodies and audit events carry it.
//! A caller may choose it, but only in a strict format, so no free text (an email address, say) reaches the logs
//! or the audit trail through it.

use std::future::Future;

use tokio::task::futures::TaskLocalFuture;

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The longest id a caller may choose.
pub const MAX_LEN: usize = 64;

/// True for an id of the strict format (SPEC section 3): 1-64 ASCII letters, digits, `-` or `_`, so a UUID
/// (hyphenated or simple) passes.
pub fn is_valid(id: &str) -> bool {
    (1..=MAX_LEN).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
}

/// The id to use for a request: the caller's when it has the strict format, else a new UUIDv7.
pub fn accept_or_generate(caller_id: Option<&[u8]>) -> String {
    caller_id
        .and_then(|raw| std::str::from_utf8(raw).ok())
        .filter(|id| is_valid(id))
        .map_or_else(|| uuid::Uuid::now_v7().to_string(), str::to_owned)
}

/// The id of the request being served on this task, if any.
pub fn current() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// Runs `work` with `id` as the current request id.
pub fn scope<F: Future>(id: String, work: F) -> TaskLocalFuture<String, F> {
    REQUEST_ID.scope(id, work)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn a_caller_id_of_the_strict_format_is_kept() {
        for id in [
            "checkout-42_a",
            "0193b7c2-6f1e-7d2a-9b1c-3f4e5a6b7c8d",
            "0193b7c26f1e7d2a9b1c3f4e5a6b7c8d",
            &"a".repeat(64),
        ] {
            assert_eq!(accept_or_generate(Some(id.as_bytes())), id);
        }
    }

    #[test]
    fn any_other_caller_id_is_replaced_by_a_new_uuid() {
        for id in [
            "",
            "ada@example.com",
            "has space",
            "a.b",
            "a:b",
            "semi;colon",
            "ünïcode",
            &"a".repeat(65),
        ] {
            let used = accept_or_generate(Some(id.as_bytes()));
            assert_ne!(used, id);
            assert!(uuid::Uuid::parse_str(&used).is_ok(), "{used}");
        }
        assert!(uuid::Uuid::parse_str(&accept_or_generate(None)).is_ok());
    }

    proptest! {
        /// Whatever the header holds, the id used has the strict format.
        #[test]
        fn the_id_used_always_has_the_strict_format(raw in proptest::collection::vec(any::<u8>(), 0..100)) {
            let used = accept_or_generate(Some(&raw));
            prop_assert!(is_valid(&used), "{}", used);
            prop_assert!(used.as_bytes() == raw.as_slice() || uuid::Uuid::parse_str(&used).is_ok());
        }

        /// Printable header values, the kind a client actually sends, are kept exactly when they are valid.
        #[test]
        fn a_printable_id_is_kept_exactly_when_it_is_valid(raw in "[ -~]{0,80}") {
            let used = accept_or_generate(Some(raw.as_bytes()));
            prop_assert_eq!(used == raw, is_valid(&raw));
        }
    }
}
