//! Values of a person's record checked at the boundary (no personal value is ever put
//! in an error message).

use serde::{Deserialize, Serialize};

/// How to reach a person; stored encrypted as one JSON value.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contacts {
    /// Email address.
    pub email: Option<String>,
    /// Phone number.
    pub phone: Option<String>,
    /// Postal address.
    pub address: Option<String>,
}

impl Contacts {
    /// True when no contact is given.
    pub fn is_empty(&self) -> bool {
        self.email.is_none() && self.phone.is_none() && self.address.is_none()
    }
}

/// The normalised form of a personal codice fiscale (trimmed, upper-case), or None when
/// it is not 16 characters with a right check character.
pub fn personal_codice_fiscale(raw: &str) -> Option<String> {
    let code = raw.trim().to_ascii_uppercase();
    if code.len() != 16 {
        return None;
    }
    crate::organization::domain::CodiceFiscale::parse(&code)
        .ok()
        .map(|cf| cf.as_str().to_owned())
}

/// True for an ISO 3166-1 alpha-2 code: two upper-case ASCII letters.
pub fn is_country_code(code: &str) -> bool {
    code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase())
}

/// True for an ISO 639-1 code: two lower-case ASCII letters.
pub fn is_language_code(code: &str) -> bool {
    code.len() == 2 && code.bytes().all(|b| b.is_ascii_lowercase())
}

/// The names of the personal (encrypted) fields, as logged in the access log.
pub const PERSONAL_FIELDS: [&str; 4] = ["codiceFiscale", "givenName", "familyName", "contacts"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_sixteen_character_codes_with_a_right_check_character_pass() {
        assert_eq!(
            personal_codice_fiscale(" rssmra85t10a562s ").as_deref(),
            Some("RSSMRA85T10A562S")
        );
        assert!(personal_codice_fiscale("RSSMRA85T10A562T").is_none());
        assert!(personal_codice_fiscale("01386030488").is_none());
    }

    #[test]
    fn country_and_language_codes_are_checked() {
        assert!(is_country_code("IT"));
        assert!(!is_country_code("it"));
        assert!(!is_country_code("ITA"));
        assert!(is_language_code("ar"));
        assert!(!is_language_code("AR"));
    }
}
