//! Input validation of mutations: problems are collected per field and returned as
//! `userErrors`, never as GraphQL errors.

/// Kinds of input problems.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldErrorCode {
    /// A required value is missing or blank.
    Required,
    /// The value is malformed (bad check digit, not an email, not a URL, ...).
    Invalid,
    /// The text is too long.
    TooLong,
    /// A number or date is out of range, or two values are out of order.
    OutOfRange,
    /// A referenced object does not exist.
    NotFound,
    /// The value must be unique and is taken.
    Taken,
    /// The object is in a state that does not allow the change.
    InvalidState,
    /// Sending: no protocol in force binds the sender and the receiver.
    NoProtocolInForce,
    /// Sending: the receiver is invited to a protocol in force but has not signed it.
    ReceiverNotSigned,
    /// Sending: the person's municipality is outside every shared protocol's scope.
    OutsideProtocolScope,
    /// Sending: no valid consent covers sharing with the receiver.
    NoValidConsent,
    /// Sending: the service is not ACTIVE.
    ServiceNotActive,
    /// Sending: the service's area does not cover the person's municipality.
    OutsideServiceArea,
    /// Sending: the person's municipality of residence is unknown.
    ResidenceUnknown,
}

/// A problem with one input field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// Path of the field within the mutation's `input`, e.g. `["input", "email"]`.
    pub field: Vec<String>,
    /// What is wrong.
    pub code: FieldErrorCode,
    /// Explanation for people.
    pub message: String,
}

/// Either the result or the problems found in the input.
pub type Checked<T> = Result<T, Vec<FieldError>>;

/// Collects field errors.
#[derive(Debug, Default)]
pub struct Validator {
    errors: Vec<FieldError>,
}

fn path(field: &str) -> Vec<String> {
    std::iter::once("input")
        .chain(field.split('.'))
        .map(str::to_owned)
        .collect()
}

impl Validator {
    /// Records a problem on `field` (dotted path below `input`).
    pub fn add(&mut self, field: &str, code: FieldErrorCode, message: impl Into<String>) {
        self.errors.push(FieldError {
            field: path(field),
            code,
            message: message.into(),
        });
    }

    /// True when no problem was recorded.
    pub fn is_ok(&self) -> bool {
        self.errors.is_empty()
    }

    /// The problems recorded.
    pub fn finish(self) -> Vec<FieldError> {
        self.errors
    }

    /// Ok(value) when no problem was recorded.
    pub fn into_result<T>(self, value: T) -> Checked<T> {
        if self.errors.is_empty() {
            Ok(value)
        } else {
            Err(self.errors)
        }
    }

    /// A required text: trimmed, non-empty, at most `max` characters.
    pub fn text(&mut self, field: &str, value: &str, max: usize) -> String {
        let value = value.trim();
        if value.is_empty() {
            self.add(field, FieldErrorCode::Required, "must not be blank");
        } else if value.chars().count() > max {
            self.add(
                field,
                FieldErrorCode::TooLong,
                format!("must be at most {max} characters"),
            );
        }
        value.to_owned()
    }

    /// An optional text: blank becomes None; at most `max` characters.
    pub fn optional_text(
        &mut self,
        field: &str,
        value: Option<&str>,
        max: usize,
    ) -> Option<String> {
        let value = value.map(str::trim).filter(|v| !v.is_empty())?;
        if value.chars().count() > max {
            self.add(
                field,
                FieldErrorCode::TooLong,
                format!("must be at most {max} characters"),
            );
        }
        Some(value.to_owned())
    }

    /// An optional email address.
    pub fn email(&mut self, field: &str, value: Option<&str>) -> Option<String> {
        let value = self.optional_text(field, value, 254)?;
        let valid = value.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !value.chars().any(char::is_whitespace)
                && value.matches('@').count() == 1
        });
        if !valid {
            self.add(field, FieldErrorCode::Invalid, "is not an email address");
        }
        Some(value)
    }

    /// An optional http(s) URL.
    pub fn url(&mut self, field: &str, value: Option<&str>) -> Option<String> {
        let value = self.optional_text(field, value, 500)?;
        let valid = reqwest::Url::parse(&value)
            .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some());
        if !valid {
            self.add(field, FieldErrorCode::Invalid, "is not an http(s) URL");
        }
        Some(value)
    }

    /// An optional number within `min..=max`.
    pub fn range(&mut self, field: &str, value: Option<i32>, min: i32, max: i32) -> Option<i32> {
        if let Some(v) = value
            && !(min..=max).contains(&v)
        {
            self.add(
                field,
                FieldErrorCode::OutOfRange,
                format!("must be between {min} and {max}"),
            );
        }
        value
    }

    /// Checks that `low <= high` when both are given.
    pub fn ordered<T: PartialOrd>(
        &mut self,
        field: &str,
        low: Option<T>,
        high: Option<T>,
        message: &str,
    ) {
        if let (Some(low), Some(high)) = (low, high)
            && low > high
        {
            self.add(field, FieldErrorCode::OutOfRange, message);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_and_long_texts_are_reported_with_their_path() {
        let mut v = Validator::default();
        v.text("name", "   ", 10);
        v.text("address.street", "x".repeat(11).as_str(), 10);
        let errors = v.finish();
        assert_eq!(errors[0].field, vec!["input", "name"]);
        assert_eq!(errors[0].code, FieldErrorCode::Required);
        assert_eq!(errors[1].field, vec!["input", "address", "street"]);
        assert_eq!(errors[1].code, FieldErrorCode::TooLong);
    }

    #[test]
    fn emails_and_urls_are_checked() {
        let mut v = Validator::default();
        assert_eq!(v.email("email", Some(" a@b.it ")), Some("a@b.it".into()));
        assert!(v.is_ok());
        v.email("email", Some("not an email"));
        v.url("website", Some("ftp://x.it"));
        v.url("website", Some("https://www.regione.toscana.it"));
        assert_eq!(v.finish().len(), 2);
    }

    #[test]
    fn ranges_and_order_are_checked() {
        let mut v = Validator::default();
        v.range("minimumAge", Some(-1), 0, 120);
        v.ordered("maximumAge", Some(30), Some(18), "maximum below minimum");
        v.ordered("maximumAge", Some(18), Some(30), "fine");
        assert_eq!(v.finish().len(), 2);
    }
}
