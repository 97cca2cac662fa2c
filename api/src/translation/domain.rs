//! Languages and translated text: the [`LanguageCode`] of a translation (ISO 639-1,
//! checked against the standard's list), the caller's preferred languages from an
//! `Accept-Language` header ([`accept_language`]), and which text of an object each
//! field shows in those languages ([`choose`]).
//!
//! Italian is the language of the original text, which every object has: it is the
//! fallback at the end of every preference, and is never stored as a translation.

use crate::graphql::relay::NodeKind;

/// An ISO 639-1 language code (two lower-case letters) that the standard lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LanguageCode(&'static str);

impl LanguageCode {
    /// Italian, the language of the original text and the fallback.
    pub const ITALIAN: Self = Self("it");
    /// English (taxonomy terms carry an English label of their own).
    pub const ENGLISH: Self = Self("en");

    /// Parses a code, ignoring case and surrounding blanks; `None` unless ISO 639-1
    /// lists it (`ar`, `sq`, `ro`, `zh`, `uk`, `ur`, `bn`, ...).
    pub fn parse(raw: &str) -> Option<Self> {
        let code = raw.trim().to_ascii_lowercase();
        isolang::Language::from_639_1(&code)
            .and_then(|language| language.to_639_1())
            .map(Self)
    }

    /// The code, e.g. `ar`.
    pub fn as_str(self) -> &'static str {
        self.0
    }
}

impl std::fmt::Display for LanguageCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

/// Most language ranges of an `Accept-Language` header that are looked at; the rest is
/// ignored (a browser sends a handful).
pub const MAX_ACCEPT_LANGUAGE_RANGES: usize = 32;

/// The languages an `Accept-Language` header (RFC 9110 §12.5.4) prefers, most preferred
/// first: each range's primary subtag (`ar-EG` → `ar`), ordered by weight (ties keep
/// the header's order), each language once at its highest weight. Ranges weighted
/// `q=0` (not acceptable), with a malformed weight, or whose primary subtag is not an
/// ISO 639-1 code are left out. The wildcard `*` accepts any language: the original
/// Italian text then serves, so nothing after it matters and the list ends there.
pub fn accept_language(header: &str) -> Vec<LanguageCode> {
    let mut ranges: Vec<(u16, Option<LanguageCode>)> = Vec::new();
    for item in header.split(',').take(MAX_ACCEPT_LANGUAGE_RANGES) {
        let mut parts = item.split(';');
        let range = parts.next().unwrap_or_default().trim();
        let mut weight = Some(1000);
        for parameter in parts {
            let parameter = parameter.trim();
            if let Some(value) = parameter
                .strip_prefix("q=")
                .or_else(|| parameter.strip_prefix("Q="))
            {
                weight = qvalue(value.trim());
            }
        }
        let Some(weight) = weight.filter(|w| *w > 0) else {
            continue;
        };
        if range == "*" {
            ranges.push((weight, None));
            continue;
        }
        let primary = range.split(['-', '_']).next().unwrap_or_default();
        if let Some(code) = LanguageCode::parse(primary).filter(|_| primary.len() == 2) {
            ranges.push((weight, Some(code)));
        }
    }
    // A stable sort: equal weights keep the order of the header.
    ranges.sort_by_key(|range| std::cmp::Reverse(range.0));
    let mut languages = Vec::new();
    for (_, range) in ranges {
        match range {
            None => break,
            Some(code) if !languages.contains(&code) => languages.push(code),
            Some(_) => {}
        }
    }
    languages
}

/// A `qvalue` in thousandths: `0`, `0.5`, `0.125`, `1`, `1.000`; `None` when malformed.
fn qvalue(raw: &str) -> Option<u16> {
    let (whole, fraction) = raw.split_once('.').unwrap_or((raw, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths = format!("{fraction:0<3}").parse::<u16>().ok()?;
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// The kinds of objects whose text can be translated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SubjectKind {
    /// A service of the catalogue.
    Service,
    /// An organization.
    Organization,
    /// A site of an organization.
    Location,
    /// A taxonomy term.
    Term,
}

impl SubjectKind {
    /// The kind of the object a global ID names, if its text can be translated.
    pub fn of(kind: NodeKind) -> Option<Self> {
        match kind {
            NodeKind::Service => Some(Self::Service),
            NodeKind::Organization => Some(Self::Organization),
            NodeKind::Location => Some(Self::Location),
            NodeKind::Term => Some(Self::Term),
            _ => None,
        }
    }

    /// Its node kind.
    pub fn node_kind(self) -> NodeKind {
        match self {
            Self::Service => NodeKind::Service,
            Self::Organization => NodeKind::Organization,
            Self::Location => NodeKind::Location,
            Self::Term => NodeKind::Term,
        }
    }

    /// The GraphQL type name, as `translation.subject_type` stores it.
    pub fn as_str(self) -> &'static str {
        self.node_kind().as_str()
    }

    /// The fields of this kind that can be translated.
    pub fn fields(self) -> &'static [Field] {
        match self {
            Self::Service => &[
                Field::Name,
                Field::AlternateName,
                Field::Description,
                Field::EligibilityDescription,
                Field::FeesDescription,
                Field::ApplicationProcess,
            ],
            Self::Organization | Self::Term => &[Field::Name, Field::Description],
            Self::Location => &[Field::Name],
        }
    }
}

/// A translatable field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    /// Name (a term's label).
    Name,
    /// Another name (services).
    AlternateName,
    /// Description.
    Description,
    /// Who may use a service.
    EligibilityDescription,
    /// Fees of a service.
    FeesDescription,
    /// How to apply to a service.
    ApplicationProcess,
}

impl Field {
    /// Its name in the mutation's input.
    pub fn input_name(self) -> &'static str {
        match self {
            Self::Name => "name",
            Self::AlternateName => "alternateName",
            Self::Description => "description",
            Self::EligibilityDescription => "eligibilityDescription",
            Self::FeesDescription => "feesDescription",
            Self::ApplicationProcess => "applicationProcess",
        }
    }

    /// Whether the text is one line (names), or may have several (descriptions).
    pub fn single_line(self) -> bool {
        matches!(self, Self::Name | Self::AlternateName)
    }

    /// Longest text accepted, in characters: the limit of the original field.
    pub fn max_chars(self, kind: SubjectKind) -> usize {
        match (self, kind) {
            (Self::Name, SubjectKind::Term) => 200,
            (Self::Name | Self::AlternateName, _) => 300,
            (Self::Description, SubjectKind::Service) => 10_000,
            _ => 4000,
        }
    }

    /// The value of this field in a stored translation.
    pub fn of(self, row: &entity::translation::Model) -> Option<&str> {
        match self {
            Self::Name => row.name.as_deref(),
            Self::AlternateName => row.alternate_name.as_deref(),
            Self::Description => row.description.as_deref(),
            Self::EligibilityDescription => row.eligibility_description.as_deref(),
            Self::FeesDescription => row.fees_description.as_deref(),
            Self::ApplicationProcess => row.application_process.as_deref(),
        }
    }
}

/// A text and the language it is in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chosen {
    /// The text.
    pub text: String,
    /// Its language.
    pub language: LanguageCode,
}

/// The text a field shows to a caller preferring `languages` (most preferred first):
/// the first of them the field has a text in — the original (`italian`) for Italian,
/// `builtin` for a language the object carries itself (a term's English label), a
/// stored translation otherwise — and the original Italian text when none has one.
/// `None` only when the field has no text at all in any language looked at.
pub fn choose(
    languages: &[LanguageCode],
    field: Field,
    italian: Option<&str>,
    builtin: Option<(LanguageCode, &str)>,
    translations: &[entity::translation::Model],
) -> Option<Chosen> {
    let found = |language: LanguageCode| -> Option<&str> {
        if language == LanguageCode::ITALIAN {
            return italian;
        }
        translations
            .iter()
            .find(|row| row.language == language.as_str())
            .and_then(|row| field.of(row))
            .or_else(|| {
                builtin
                    .filter(|(l, _)| *l == language)
                    .map(|(_, text)| text)
            })
    };
    languages
        .iter()
        .chain(std::iter::once(&LanguageCode::ITALIAN))
        .find_map(|language| {
            found(*language).map(|text| Chosen {
                text: text.to_owned(),
                language: *language,
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(languages: &[LanguageCode]) -> Vec<&'static str> {
        languages.iter().map(|l| l.as_str()).collect()
    }

    #[test]
    fn language_codes_are_the_iso_639_1_list() {
        for code in [
            "ar", "sq", "ro", "zh", "uk", "en", "fr", "es", "ur", "bn", "it",
        ] {
            assert_eq!(
                LanguageCode::parse(code).map(LanguageCode::as_str),
                Some(code)
            );
        }
        assert_eq!(
            LanguageCode::parse(" AR ").map(LanguageCode::as_str),
            Some("ar")
        );
        for bad in ["", "a", "xx", "qq", "ara", "ar-EG", "a\u{0}", "e n", "ع"] {
            assert!(LanguageCode::parse(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn accept_language_orders_by_weight_and_keeps_the_primary_subtag() {
        let header = "ro;q=0.4, ar-EG, en-GB;q=0.8, uk;q=0.8";
        assert_eq!(codes(&accept_language(header)), ["ar", "en", "uk", "ro"]);
        assert_eq!(codes(&accept_language("zh-Hant-TW")), ["zh"]);
        assert_eq!(codes(&accept_language("")), Vec::<&str>::new());
    }

    #[test]
    fn accept_language_drops_refused_malformed_and_unknown_ranges() {
        let header = "fr;q=0, xx, klingon, ar;q=2, ro;q=0.5555, bn;q=abc, ur;q=0.001, de;Q=0.7";
        assert_eq!(codes(&accept_language(header)), ["de", "ur"]);
        // A language listed twice keeps its highest weight.
        assert_eq!(codes(&accept_language("en;q=0.1, ar, en")), ["ar", "en"]);
    }

    #[test]
    fn accept_language_stops_at_the_wildcard() {
        assert_eq!(codes(&accept_language("uk, *;q=0.5, ar;q=0.1")), ["uk"]);
        assert_eq!(codes(&accept_language("*")), Vec::<&str>::new());
    }

    #[test]
    fn accept_language_looks_at_a_bounded_number_of_ranges() {
        let header = format!("{}ar", "xx, ".repeat(MAX_ACCEPT_LANGUAGE_RANGES));
        assert!(accept_language(&header).is_empty());
    }

    fn translation(language: &str, name: Option<&str>) -> entity::translation::Model {
        let now = chrono::Utc::now();
        entity::translation::Model {
            id: uuid::Uuid::now_v7(),
            subject_type: "Service".to_owned(),
            subject_id: uuid::Uuid::nil(),
            language: language.to_owned(),
            name: name.map(str::to_owned),
            alternate_name: None,
            description: None,
            eligibility_description: None,
            fees_description: None,
            application_process: None,
            row_version: 1,
            created_at: now,
            updated_at: now,
        }
    }

    #[test]
    fn a_field_shows_the_first_preferred_language_it_has_else_italian() {
        let stored = [translation("ar", Some("خدمة")), translation("ro", None)];
        let lang = |c: &str| LanguageCode::parse(c).unwrap_or(LanguageCode::ITALIAN);
        let pick = |prefs: &[LanguageCode]| {
            choose(prefs, Field::Name, Some("Servizio"), None, &stored)
                .map(|c| (c.text, c.language.as_str()))
        };
        assert_eq!(pick(&[lang("ar")]), Some(("خدمة".into(), "ar")));
        assert_eq!(pick(&[lang("ro"), lang("ar")]), Some(("خدمة".into(), "ar")));
        assert_eq!(pick(&[lang("uk")]), Some(("Servizio".into(), "it")));
        assert_eq!(
            pick(&[lang("it"), lang("ar")]),
            Some(("Servizio".into(), "it"))
        );
        assert_eq!(pick(&[]), Some(("Servizio".into(), "it")));
        let english = Some((LanguageCode::ENGLISH, "Service"));
        let chosen = choose(
            &[lang("en")],
            Field::Name,
            Some("Servizio"),
            english,
            &stored,
        );
        assert_eq!(chosen.map(|c| c.language.as_str()), Some("en"));
        assert_eq!(
            choose(&[lang("uk")], Field::Description, None, None, &stored),
            None
        );
    }

    #[test]
    fn each_kind_translates_its_own_text_fields() {
        assert_eq!(SubjectKind::Service.fields().len(), 6);
        assert_eq!(SubjectKind::Location.fields(), &[Field::Name]);
        assert_eq!(SubjectKind::of(NodeKind::Person), None);
        assert_eq!(Field::Name.max_chars(SubjectKind::Term), 200);
        assert_eq!(Field::Description.max_chars(SubjectKind::Service), 10_000);
    }
}
