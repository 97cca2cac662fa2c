//! Input validation of mutations: problems are collected per field and returned as
//! `userErrors`, never as GraphQL errors.

/// Kinds of problems with a mutation's input.
// Named `UserErrorCode` in the schema.
#[derive(
    async_graphql::Enum, Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize,
)]
#[graphql(name = "UserErrorCode")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
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
    /// The value must be unique and is already taken.
    Taken,
    /// The object's state does not allow this change.
    InvalidState,
    /// Sending a referral: no protocol in force binds the sender and the receiver.
    NoProtocolInForce,
    /// Sending a referral: the receiver is invited to a protocol in force with the
    /// sender but has not signed it.
    ReceiverNotSigned,
    /// Sending a referral: the person's municipality is outside the scope of every
    /// protocol in force both organizations signed.
    OutsideProtocolScope,
    /// Sending a referral: no valid consent (or other legal basis) covers sharing the
    /// person's data with the receiver.
    NoValidConsent,
    /// Sending a referral: the service is not ACTIVE.
    ServiceNotActive,
    /// Sending a referral: the service's area does not cover the person's
    /// municipality.
    OutsideServiceArea,
    /// Sending a referral: the person's municipality of residence is unknown.
    ResidenceUnknown,
    /// Sending a referral: the person's age is outside the service's age range.
    OutsideAgeRange,
    /// Sending a referral: the service is reserved to target groups the person does
    /// not belong to (by the sender's latest needs assessment of the person).
    OutsideTargetGroups,
    /// Sending a referral: the service has no open place and the sender did not accept
    /// the waiting list; accepting a referral: the service has no open place.
    NoOpenPlaces,
    /// Re-routing: the referral was already re-routed once (re-route the new one if it
    /// also ends without help).
    AlreadyRerouted,
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

/// Longest search text, in characters: longer ones are refused with `BAD_USER_INPUT`
/// (a search is a few words; a long one only makes the `LIKE` pattern expensive).
pub const MAX_SEARCH_CHARS: usize = 200;

/// Bidi embedding, override and isolate controls (U+202A–U+202E, U+2066–U+2069): they
/// reorder how the text around them is shown, so a name holding one can pass for
/// another. Refused in names.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Characters of Unicode category Cf (format: zero-width spaces and joiners, bidi
/// marks and controls, the BOM, tags, ...).
pub fn is_format(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{0600}'..='\u{0605}' | '\u{061C}' | '\u{06DD}' | '\u{070F}'
        | '\u{0890}'..='\u{0891}' | '\u{08E2}' | '\u{180E}' | '\u{200B}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{206F}'
        | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}' | '\u{110BD}' | '\u{110CD}'
        | '\u{13430}'..='\u{1343F}' | '\u{1BCA0}'..='\u{1BCA3}' | '\u{1D173}'..='\u{1D17A}'
        | '\u{E0001}' | '\u{E0020}'..='\u{E007F}')
}

/// True for a character that shows nothing by itself: whitespace, controls, format
/// characters (Cf), and the other default-ignorable or blank-looking characters
/// (combining grapheme joiner, variation selectors, Hangul fillers, braille blank, ...).
pub fn is_invisible(c: char) -> bool {
    c.is_whitespace()
        || c.is_control()
        || is_format(c)
        || matches!(c,
            '\u{034F}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
            | '\u{180B}'..='\u{180F}' | '\u{2800}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}'
            | '\u{FFA0}' | '\u{E0100}'..='\u{E01EF}')
}

/// True for 64 hexadecimal digits (a SHA-256 in hex).
pub fn is_sha256(value: &str) -> bool {
    value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A search text: trimmed, blank is no search; control characters and texts longer
/// than [`MAX_SEARCH_CHARS`] are refused with `BAD_USER_INPUT`.
pub fn search(value: Option<String>) -> crate::error::AppResult<Option<String>> {
    let Some(value) = value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if value.chars().any(crate::input_guard::is_forbidden_control) {
        return Err(crate::error::AppError::BadUserInput(
            "search must not contain control characters".to_owned(),
        ));
    }
    if value.chars().nth(MAX_SEARCH_CHARS).is_some() {
        return Err(crate::error::AppError::BadUserInput(format!(
            "search must be at most {MAX_SEARCH_CHARS} characters"
        )));
    }
    Ok(Some(value))
}

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

    /// Records TAKEN on `field` when `existing` finds a row (a code that must be unique).
    pub async fn unique<E: sea_orm::EntityTrait>(
        &mut self,
        db: &impl sea_orm::ConnectionTrait,
        field: &str,
        existing: sea_orm::Select<E>,
        message: &str,
    ) -> crate::error::AppResult<()> {
        if existing.one(db).await?.is_some() {
            self.add(field, FieldErrorCode::Taken, message);
        }
        Ok(())
    }

    /// The row `reference` (if given) finds; none recorded as NOT_FOUND on `field`
    /// ("no such territory", after the table): an identifier in the input that must
    /// name an existing row.
    pub async fn found<E: sea_orm::EntityTrait>(
        &mut self,
        db: &impl sea_orm::ConnectionTrait,
        field: &str,
        reference: impl Into<Option<sea_orm::Select<E>>>,
    ) -> crate::error::AppResult<Option<E::Model>> {
        let Some(select) = reference.into() else {
            return Ok(None);
        };
        let row = select.one(db).await?;
        if row.is_none() {
            let table = sea_orm::EntityName::table_name(&E::default()).replace('_', " ");
            self.add(field, FieldErrorCode::NotFound, format!("no such {table}"));
        }
        Ok(row)
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

    /// Records what is wrong with a trimmed, non-blank text, if anything: control
    /// characters (tab and newlines aside), no visible character, over `max` characters.
    /// Returns whether it was fine.
    fn check_text(&mut self, field: &str, value: &str, max: usize) -> bool {
        let errors = self.errors.len();
        if value.chars().any(crate::input_guard::is_forbidden_control) {
            self.add(
                field,
                FieldErrorCode::Invalid,
                "must not contain control characters",
            );
        } else if value.chars().all(is_invisible) {
            self.add(
                field,
                FieldErrorCode::Invalid,
                "must contain a visible character",
            );
        } else if value.chars().count() > max {
            self.add(
                field,
                FieldErrorCode::TooLong,
                format!("must be at most {max} characters"),
            );
        }
        self.errors.len() == errors
    }

    /// A required name (or title, label, code): a single line of text with a visible
    /// character, no bidi embedding/override/isolate controls, at most `max` characters.
    pub fn name(&mut self, field: &str, value: &str, max: usize) -> String {
        let errors = self.errors.len();
        let value = self.text(field, value, max);
        if self.errors.len() == errors {
            self.check_single_line(field, &value);
        }
        value
    }

    /// A required code: a name of at most `max` characters made only of ASCII letters,
    /// digits, `_` and `-`.
    pub fn code(&mut self, field: &str, value: &str, max: usize) -> String {
        let code = self.name(field, value, max);
        if !code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            self.add(
                field,
                FieldErrorCode::Invalid,
                "may contain only letters, digits, `_` and `-`",
            );
        }
        code
    }

    /// An optional name: blank becomes None, otherwise the rules of [`Self::name`].
    pub fn optional_name(
        &mut self,
        field: &str,
        value: Option<&str>,
        max: usize,
    ) -> Option<String> {
        let errors = self.errors.len();
        let value = self.optional_text(field, value, max)?;
        if self.errors.len() == errors {
            self.check_single_line(field, &value);
        }
        Some(value)
    }

    fn check_single_line(&mut self, field: &str, value: &str) {
        if value.contains(['\t', '\n', '\r']) {
            self.add(field, FieldErrorCode::Invalid, "must be a single line");
        } else if value.chars().any(is_bidi_control) {
            self.add(
                field,
                FieldErrorCode::Invalid,
                "must not contain bidi embedding, override or isolate characters",
            );
        }
    }

    /// A required text: trimmed, non-empty, with a visible character, no control
    /// characters but tab and newlines, at most `max` characters.
    pub fn text(&mut self, field: &str, value: &str, max: usize) -> String {
        let value = value.trim();
        if value.is_empty() {
            self.add(field, FieldErrorCode::Required, "must not be blank");
        } else {
            self.check_text(field, value, max);
        }
        value.to_owned()
    }

    /// An optional text: blank becomes None; otherwise the rules of [`Self::text`].
    pub fn optional_text(
        &mut self,
        field: &str,
        value: Option<&str>,
        max: usize,
    ) -> Option<String> {
        let value = value.map(str::trim).filter(|v| !v.is_empty())?;
        self.check_text(field, value, max);
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

    /// An optional SHA-256 in hex (64 hexadecimal digits), returned lower-case; blank
    /// means none.
    pub fn optional_sha256(&mut self, field: &str, value: Option<&str>) -> Option<String> {
        let value = value.map(str::trim).filter(|s| !s.is_empty())?;
        if !is_sha256(value) {
            self.add(
                field,
                FieldErrorCode::Invalid,
                "is not a SHA-256 (64 hexadecimal digits)",
            );
        }
        Some(value.to_ascii_lowercase())
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
    fn names_made_only_of_invisible_characters_are_refused() {
        for hidden in [
            "\u{200B}\u{200C}\u{200D}",
            "\u{202E}\u{2066}",
            "\u{FEFF}\u{2060}",
            "\u{3164}\u{2800}",
        ] {
            let mut v = Validator::default();
            v.name("name", hidden, 300);
            let errors = v.finish();
            assert_eq!(errors.len(), 1, "{hidden:?}");
            assert_eq!(errors[0].code, FieldErrorCode::Invalid, "{hidden:?}");
        }
    }

    #[test]
    fn names_refuse_controls_newlines_and_bidi_overrides() {
        for bad in [
            "Caritas\u{0}",
            "\u{1b}[31mCaritas\u{1b}[0m",
            "Caritas\ndi Pisa",
            "Caritas \u{202E}asiP",
        ] {
            let mut v = Validator::default();
            v.name("name", bad, 300);
            assert_eq!(v.finish().len(), 1, "{bad:?}");
        }
        let mut v = Validator::default();
        assert_eq!(
            v.name("name", " Caffè \u{200D}Sociale ", 300),
            "Caffè \u{200D}Sociale"
        );
        assert_eq!(v.text("reason", "riga 1\nriga 2", 300), "riga 1\nriga 2");
        assert!(v.is_ok());
    }

    #[test]
    fn optional_texts_refuse_invisible_values_and_controls() {
        let mut v = Validator::default();
        v.optional_text("description", Some("\u{200B}"), 10);
        v.optional_text("description", Some("a\u{7}b"), 10);
        v.optional_name("title", Some("a\u{2067}b"), 10);
        assert_eq!(v.finish().len(), 3);
    }

    #[test]
    fn searches_are_capped() {
        assert_eq!(search(Some("  ".into())).ok(), Some(None));
        assert_eq!(
            search(Some(" Pisa ".into())).ok(),
            Some(Some("Pisa".into()))
        );
        assert!(search(Some("x".repeat(MAX_SEARCH_CHARS + 1))).is_err());
        assert!(search(Some("a\u{0}".into())).is_err());
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

    #[test]
    fn codes_take_only_letters_digits_underscores_and_dashes() {
        let mut v = Validator::default();
        assert_eq!(v.code("code", " EMPLOYMENT_2-a ", 64), "EMPLOYMENT_2-a");
        assert!(v.is_ok());
        v.code("code", "with space", 64);
        v.code("other", "città", 64);
        v.code("long", "A".repeat(33).as_str(), 32);
        let errors = v.finish();
        let codes: Vec<_> = errors
            .iter()
            .map(|e| (e.field[1].as_str(), e.code))
            .collect();
        assert_eq!(
            codes,
            vec![
                ("code", FieldErrorCode::Invalid),
                ("other", FieldErrorCode::Invalid),
                ("long", FieldErrorCode::TooLong),
            ]
        );
    }

    #[tokio::test]
    async fn a_reference_to_no_row_is_not_found_and_an_absent_one_is_not_checked() {
        use sea_orm::{EntityTrait, QuerySelect};
        let db = crate::db::memory_with_demo().await;
        let existing = entity::territory::Entity::find()
            .limit(1)
            .one(&db)
            .await
            .expect("query")
            .expect("a territory");
        let mut v = Validator::default();
        let territory = |id| entity::territory::Entity::find_by_id(id);
        let found = v.found(&db, "found", territory(existing.id)).await;
        assert_eq!(found.expect("query").map(|t| t.id), Some(existing.id));
        v.found(&db, "absent", None::<uuid::Uuid>.map(territory))
            .await
            .expect("query");
        v.found(&db, "missing", territory(uuid::Uuid::new_v4()))
            .await
            .expect("query");
        let errors = v.finish();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].field, vec!["input", "missing"]);
        assert_eq!(errors[0].code, FieldErrorCode::NotFound);
        assert_eq!(errors[0].message, "no such territory");
    }
}
