//! Territory identifiers parsed at the boundary.

use crate::error::{AppError, AppResult};

/// The ISTAT code of a municipality: six digits (province code + progressive number).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IstatCode(String);

impl IstatCode {
    /// Parses a six-digit ISTAT municipality code.
    pub fn parse(raw: &str) -> AppResult<Self> {
        let code = raw.trim();
        if code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(code.to_owned()))
        } else {
            Err(AppError::BadUserInput(format!(
                "`{raw}` is not an ISTAT municipality code (six digits, e.g. 050026)"
            )))
        }
    }

    /// The code as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn six_digits_are_an_istat_code() {
        assert_eq!(
            IstatCode::parse(" 050026 ").map(|c| c.0).ok(),
            Some("050026".into())
        );
    }

    #[test]
    fn anything_else_is_refused() {
        for bad in ["", "50026", "0500260", "05002a", "A496"] {
            assert!(IstatCode::parse(bad).is_err(), "{bad}");
        }
    }
}
