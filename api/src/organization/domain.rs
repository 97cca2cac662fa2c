//! Identifiers of organizations, validated with their check digits.

use crate::error::{AppError, AppResult};

/// Check digit of the 11-digit numeric code shared by the partita IVA and the codice
/// fiscale of legal persons (Luhn variant over the first ten digits).
fn numeric_check_digit(digits: &[u8]) -> u8 {
    let sum: u32 = digits
        .iter()
        .take(10)
        .enumerate()
        .map(|(i, d)| {
            let d = u32::from(*d);
            if i % 2 == 0 {
                d
            } else {
                let doubled = d * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            }
        })
        .sum();
    u8::try_from((10 - sum % 10) % 10).unwrap_or(0)
}

fn eleven_digits(raw: &str, what: &str) -> AppResult<String> {
    let code = raw.trim();
    let digits: Vec<u8> = code.bytes().map(|b| b.wrapping_sub(b'0')).collect();
    if digits.len() != 11 || digits.iter().any(|d| *d > 9) {
        return Err(AppError::BadUserInput(format!(
            "{what} `{raw}` must be 11 digits"
        )));
    }
    if numeric_check_digit(&digits) != digits[10] {
        return Err(AppError::BadUserInput(format!(
            "{what} `{raw}` has a wrong check digit"
        )));
    }
    Ok(code.to_owned())
}

/// An Italian VAT number (partita IVA): 11 digits, the last a check digit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitaIva(String);

impl PartitaIva {
    /// Parses and checks a partita IVA.
    pub fn parse(raw: &str) -> AppResult<Self> {
        eleven_digits(raw, "partita IVA").map(Self)
    }
    /// The number.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Odd-position values of the codice fiscale check character (positions 1, 3, ...).
const ODD: [u32; 36] = [
    1, 0, 5, 7, 9, 13, 15, 17, 19, 21, // 0-9
    1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24,
    23, // A-Z
];

fn char_index(c: u8) -> Option<usize> {
    match c {
        b'0'..=b'9' => Some(usize::from(c - b'0')),
        b'A'..=b'Z' => Some(usize::from(c - b'A') + 10),
        _ => None,
    }
}

/// Check character of a 16-character codice fiscale of a natural person.
fn personal_check_char(code: &[u8]) -> Option<u8> {
    let mut sum = 0u32;
    for (i, c) in code.iter().take(15).enumerate() {
        let idx = char_index(*c)?;
        sum += if i % 2 == 0 {
            ODD[idx]
        } else if idx < 10 {
            u32::try_from(idx).ok()?
        } else {
            u32::try_from(idx - 10).ok()?
        };
    }
    u8::try_from(sum % 26).ok().map(|r| b'A' + r)
}

/// A codice fiscale: 11 digits for legal persons, 16 characters for natural persons;
/// the check digit or character is verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodiceFiscale(String);

impl CodiceFiscale {
    /// Parses and checks a codice fiscale (upper-cased, spaces trimmed).
    pub fn parse(raw: &str) -> AppResult<Self> {
        let code = raw.trim().to_ascii_uppercase();
        match code.len() {
            11 => eleven_digits(&code, "codice fiscale").map(Self),
            16 => {
                let bytes = code.as_bytes();
                let shape_ok = bytes.iter().all(|b| b.is_ascii_alphanumeric());
                if shape_ok && personal_check_char(bytes) == Some(bytes[15]) {
                    Ok(Self(code))
                } else {
                    Err(AppError::BadUserInput(format!(
                        "codice fiscale `{raw}` has a wrong check character"
                    )))
                }
            }
            _ => Err(AppError::BadUserInput(format!(
                "codice fiscale `{raw}` must be 11 digits or 16 characters"
            ))),
        }
    }
    /// The code.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_valid_partita_iva_passes() {
        // Regione Toscana.
        assert!(PartitaIva::parse("01386030488").is_ok());
    }

    #[test]
    fn a_wrong_check_digit_is_refused() {
        assert!(PartitaIva::parse("01386030487").is_err());
        assert!(PartitaIva::parse("0138603048").is_err());
        assert!(PartitaIva::parse("0138603048x").is_err());
    }

    #[test]
    fn a_personal_codice_fiscale_is_checked() {
        // The well-known specimen code of the Agenzia delle Entrate.
        assert!(CodiceFiscale::parse("RSSMRA85T10A562S").is_ok());
        assert!(CodiceFiscale::parse("rssmra85t10a562s").is_ok());
        assert!(CodiceFiscale::parse("RSSMRA85T10A562T").is_err());
    }

    #[test]
    fn a_numeric_codice_fiscale_is_checked() {
        assert!(CodiceFiscale::parse("01386030488").is_ok());
        assert!(CodiceFiscale::parse("01386030480").is_err());
        assert!(CodiceFiscale::parse("ABC").is_err());
    }
}
