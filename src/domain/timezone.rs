//! IANA time zone names, checked against the zone and link names of the IANA tz database 2025b.

use std::sync::LazyLock;

/// Zone and link names from `tzdata.zi` (tz database version 2025b), one per line, sorted bytewise.
/// Regenerate with:
/// `awk '$1=="Z"{print $2} $1=="L"{print $3}' /usr/share/zoneinfo/tzdata.zi | LC_ALL=C sort -u`
static TIMEZONES: LazyLock<Vec<&'static str>> =
    LazyLock::new(|| include_str!("timezones.txt").lines().collect());

/// True when `name` is a zone or link name of the tz database, spelled exactly ("Europe/Berlin").
pub fn is_iana_timezone(name: &str) -> bool {
    TIMEZONES.binary_search(&name).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_is_sorted_unique_and_has_no_blank_lines() {
        assert!(TIMEZONES.len() > 500);
        assert!(TIMEZONES.windows(2).all(|w| w[0] < w[1]));
        assert!(
            TIMEZONES
                .iter()
                .all(|z| !z.trim().is_empty() && z.trim() == *z)
        );
    }

    #[test]
    fn accepts_zones_and_links() {
        // Asia/Kolkata is a zone, Asia/Calcutta and US/Eastern are links.
        for name in [
            "Europe/Berlin",
            "America/New_York",
            "UTC",
            "Asia/Kolkata",
            "Asia/Calcutta",
            "US/Eastern",
            "America/Argentina/Buenos_Aires",
            "Etc/GMT+5",
        ] {
            assert!(is_iana_timezone(name), "{name}");
        }
    }

    #[test]
    fn rejects_unknown_and_miscased_names() {
        for name in [
            "Mars/Olympus",
            "europe/berlin",
            "",
            "Europe/",
            "Berlin",
            " UTC",
            "GMT+1",
        ] {
            assert!(!is_iana_timezone(name), "{name:?}");
        }
    }
}
