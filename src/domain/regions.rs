//! The regions (states, provinces, territories) of the countries whose addresses must name one: code and
//! English name, as ISO 3166-2 and the national postal services write them (the same keys as Google's
//! libaddressinput metadata). `region` must then be one of them, by code or by name (docs/address-formats.md).

/// (code, name) of each country's regions, sorted by code for binary search.
const US: &[(&str, &str)] = &[
    ("AA", "Armed Forces (AA)"),
    ("AE", "Armed Forces (AE)"),
    ("AK", "Alaska"),
    ("AL", "Alabama"),
    ("AP", "Armed Forces (AP)"),
    ("AR", "Arkansas"),
    ("AS", "American Samoa"),
    ("AZ", "Arizona"),
    ("CA", "California"),
    ("CO", "Colorado"),
    ("CT", "Connecticut"),
    ("DC", "District of Columbia"),
    ("DE", "Delaware"),
    ("FL", "Florida"),
    ("FM", "Federated States of Micronesia"),
    ("GA", "Georgia"),
    ("GU", "Guam"),
    ("HI", "Hawaii"),
    ("IA", "Iowa"),
    ("ID", "Idaho"),
    ("IL", "Illinois"),
    ("IN", "Indiana"),
    ("KS", "Kansas"),
    ("KY", "Kentucky"),
    ("LA", "Louisiana"),
    ("MA", "Massachusetts"),
    ("MD", "Maryland"),
    ("ME", "Maine"),
    ("MH", "Marshall Islands"),
    ("MI", "Michigan"),
    ("MN", "Minnesota"),
    ("MO", "Missouri"),
    ("MP", "Northern Mariana Islands"),
    ("MS", "Mississippi"),
    ("MT", "Montana"),
    ("NC", "North Carolina"),
    ("ND", "North Dakota"),
    ("NE", "Nebraska"),
    ("NH", "New Hampshire"),
    ("NJ", "New Jersey"),
    ("NM", "New Mexico"),
    ("NV", "Nevada"),
    ("NY", "New York"),
    ("OH", "Ohio"),
    ("OK", "Oklahoma"),
    ("OR", "Oregon"),
    ("PA", "Pennsylvania"),
    ("PR", "Puerto Rico"),
    ("PW", "Palau"),
    ("RI", "Rhode Island"),
    ("SC", "South Carolina"),
    ("SD", "South Dakota"),
    ("TN", "Tennessee"),
    ("TX", "Texas"),
    ("UT", "Utah"),
    ("VA", "Virginia"),
    ("VI", "Virgin Islands"),
    ("VT", "Vermont"),
    ("WA", "Washington"),
    ("WI", "Wisconsin"),
    ("WV", "West Virginia"),
    ("WY", "Wyoming"),
];

const CA: &[(&str, &str)] = &[
    ("AB", "Alberta"),
    ("BC", "British Columbia"),
    ("MB", "Manitoba"),
    ("NB", "New Brunswick"),
    ("NL", "Newfoundland and Labrador"),
    ("NS", "Nova Scotia"),
    ("NT", "Northwest Territories"),
    ("NU", "Nunavut"),
    ("ON", "Ontario"),
    ("PE", "Prince Edward Island"),
    ("QC", "Quebec"),
    ("SK", "Saskatchewan"),
    ("YT", "Yukon"),
];

const AU: &[(&str, &str)] = &[
    ("ACT", "Australian Capital Territory"),
    ("NSW", "New South Wales"),
    ("NT", "Northern Territory"),
    ("QLD", "Queensland"),
    ("SA", "South Australia"),
    ("TAS", "Tasmania"),
    ("VIC", "Victoria"),
    ("WA", "Western Australia"),
];

const BR: &[(&str, &str)] = &[
    ("AC", "Acre"),
    ("AL", "Alagoas"),
    ("AM", "Amazonas"),
    ("AP", "Amapá"),
    ("BA", "Bahia"),
    ("CE", "Ceará"),
    ("DF", "Distrito Federal"),
    ("ES", "Espírito Santo"),
    ("GO", "Goiás"),
    ("MA", "Maranhão"),
    ("MG", "Minas Gerais"),
    ("MS", "Mato Grosso do Sul"),
    ("MT", "Mato Grosso"),
    ("PA", "Pará"),
    ("PB", "Paraíba"),
    ("PE", "Pernambuco"),
    ("PI", "Piauí"),
    ("PR", "Paraná"),
    ("RJ", "Rio de Janeiro"),
    ("RN", "Rio Grande do Norte"),
    ("RO", "Rondônia"),
    ("RR", "Roraima"),
    ("RS", "Rio Grande do Sul"),
    ("SC", "Santa Catarina"),
    ("SE", "Sergipe"),
    ("SP", "São Paulo"),
    ("TO", "Tocantins"),
];

/// Countries with a region list, sorted.
const LISTS: &[(&str, &[(&str, &str)])] = &[("AU", AU), ("BR", BR), ("CA", CA), ("US", US)];

/// The regions of `country` as (code, name), when the service has a list for it.
pub fn regions(country: &str) -> Option<&'static [(&'static str, &'static str)]> {
    LISTS
        .binary_search_by(|(code, _)| (*code).cmp(country))
        .ok()
        .map(|index| LISTS[index].1)
}

/// Whether `region` names one of `country`'s regions, by code or by name, in any case and without the white
/// space around it. `None` when the service has no list for the country: any region is accepted there.
pub fn is_region(country: &str, region: &str) -> Option<bool> {
    let region = region.trim();
    regions(country).map(|list| {
        list.iter().any(|(code, name)| {
            code.eq_ignore_ascii_case(region) || name.to_lowercase() == region.to_lowercase()
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::country::is_country_code;

    #[test]
    fn lists_are_sorted_unique_and_complete() {
        assert!(LISTS.windows(2).all(|w| w[0].0 < w[1].0));
        for (country, list) in LISTS {
            assert!(is_country_code(country), "{country}");
            assert!(list.windows(2).all(|w| w[0].0 < w[1].0), "{country}");
        }
        // 50 states, DC, 5 territories, 3 freely associated states, 3 armed forces codes.
        assert_eq!(US.len(), 62);
        assert_eq!((CA.len(), AU.len(), BR.len()), (13, 8, 27));
    }

    #[test]
    fn a_region_is_named_by_code_or_name_in_any_case() {
        for region in ["CA", "ca", " California ", "CALIFORNIA"] {
            assert_eq!(is_region("US", region), Some(true), "{region:?}");
        }
        assert_eq!(is_region("BR", "são paulo"), Some(true));
        assert_eq!(is_region("AU", "nsw"), Some(true));
        for region in ["", "Calif.", "XX", "Ontario"] {
            assert_eq!(is_region("US", region), Some(false), "{region:?}");
        }
        assert_eq!(is_region("DE", "Bayern"), None);
    }
}
