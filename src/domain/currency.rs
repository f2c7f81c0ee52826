//! ISO 4217 alphabetic currency codes that are currently active (list one).

/// Active codes, sorted for binary search, including fund and special codes (XAU, XDR, XXX, ...).
/// Based on ISO 4217 list one as of mid-2025: HRK, SLL and ZWL are withdrawn, ZWG is in, and
/// XCG replaced ANG on 2025-03-31.
const CURRENCY_CODES: &[&str] = &[
    "AED", "AFN", "ALL", "AMD", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT", "BGN",
    "BHD", "BIF", "BMD", "BND", "BOB", "BOV", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD",
    "CDF", "CHE", "CHF", "CHW", "CLF", "CLP", "CNY", "COP", "COU", "CRC", "CUC", "CUP", "CVE",
    "CZK", "DJF", "DKK", "DOP", "DZD", "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL",
    "GHS", "GIP", "GMD", "GNF", "GTQ", "GYD", "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR",
    "IQD", "IRR", "ISK", "JMD", "JOD", "JPY", "KES", "KGS", "KHR", "KMF", "KPW", "KRW", "KWD",
    "KYD", "KZT", "LAK", "LBP", "LKR", "LRD", "LSL", "LYD", "MAD", "MDL", "MGA", "MKD", "MMK",
    "MNT", "MOP", "MRU", "MUR", "MVR", "MWK", "MXN", "MXV", "MYR", "MZN", "NAD", "NGN", "NIO",
    "NOK", "NPR", "NZD", "OMR", "PAB", "PEN", "PGK", "PHP", "PKR", "PLN", "PYG", "QAR", "RON",
    "RSD", "RUB", "RWF", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD", "SHP", "SLE", "SOS", "SRD",
    "SSP", "STN", "SVC", "SYP", "SZL", "THB", "TJS", "TMT", "TND", "TOP", "TRY", "TTD", "TWD",
    "TZS", "UAH", "UGX", "USD", "USN", "UYI", "UYU", "UYW", "UZS", "VED", "VES", "VND", "VUV",
    "WST", "XAF", "XAG", "XAU", "XBA", "XBB", "XBC", "XBD", "XCD", "XCG", "XDR", "XOF", "XPD",
    "XPF", "XPT", "XSU", "XTS", "XUA", "XXX", "YER", "ZAR", "ZMW", "ZWG",
];

/// Every active code, sorted.
pub fn all() -> &'static [&'static str] {
    CURRENCY_CODES
}

/// True when `code` is an active ISO 4217 alphabetic code, written in upper case ("EUR", not "eur").
pub fn is_currency_code(code: &str) -> bool {
    CURRENCY_CODES.binary_search(&code).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_is_sorted_and_unique() {
        assert!(CURRENCY_CODES.windows(2).all(|w| w[0] < w[1]));
        assert!(CURRENCY_CODES.iter().all(|c| c.len() == 3));
    }

    #[test]
    fn accepts_active_codes() {
        for code in [
            "EUR", "USD", "JPY", "CHF", "GBP", "CNY", "ZWG", "XCG", "SLE",
        ] {
            assert!(is_currency_code(code), "{code}");
        }
    }

    #[test]
    fn rejects_lowercase_unknown_and_withdrawn() {
        for code in [
            "eur", "Eur", "XYZ", "EU", "EURO", "", "DEM", "HRK", "ZWL", " USD",
        ] {
            assert!(!is_currency_code(code), "{code:?}");
        }
    }
}
