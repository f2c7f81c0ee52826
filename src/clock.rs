//! The wall clock, read in one place so every layer agrees on its precision.

/// Now in UTC, truncated to milliseconds: the precision both databases store, so a written time reads back equal.
pub fn now() -> time::OffsetDateTime {
    let now = time::OffsetDateTime::now_utc();
    now.replace_millisecond(now.millisecond()).unwrap_or(now)
}

/// Seconds since the Unix epoch, the unit of a token's `exp`, `nbf` and `iat`.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
