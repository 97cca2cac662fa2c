//! GraphQL types of translated text: [`LocalizedText`] (a text and its language), a
//! stored [`Translation`], and the localized views of services, organizations, sites
//! and terms (`localized(language:)`).

use super::domain::{Chosen, Field, LanguageCode, choose};
use crate::context::{ContextExt, RequestMeta};
use crate::error::{AppError, GqlResult};
use crate::graphql::scalars::Timestamp;
use crate::loaders::TranslationsOf;
use async_graphql::{Context, Object, SimpleObject};
use entity::{location, organization, service, term, translation};
use uuid::Uuid;

/// A text and the language it is in.
#[derive(SimpleObject, Clone, Debug)]
pub struct LocalizedText {
    /// The text.
    pub text: String,
    /// ISO 639-1 code of the language of the text (`it` where the original Italian text
    /// is shown, because it was asked for or because there is no translation in the
    /// languages asked for).
    pub language: String,
}

impl From<Chosen> for LocalizedText {
    fn from(chosen: Chosen) -> Self {
        Self {
            text: chosen.text,
            language: chosen.language.as_str().to_owned(),
        }
    }
}

/// The text of an object in one language other than Italian, as its editors stored it.
/// A field the object does not have, or that is not translated, is null.
#[derive(Clone, Debug)]
pub struct Translation(pub translation::Model);

impl From<translation::Model> for Translation {
    fn from(model: translation::Model) -> Self {
        Self(model)
    }
}

/// The text of an object in one language other than Italian, as its editors stored it.
/// A field the object does not have, or that is not translated, is null.
#[Object]
impl Translation {
    /// ISO 639-1 code of the language (e.g. `ar`).
    async fn language(&self) -> &str {
        &self.0.language
    }
    /// The name (a term's label).
    async fn name(&self) -> Option<&str> {
        self.0.name.as_deref()
    }
    /// Another name (services).
    async fn alternate_name(&self) -> Option<&str> {
        self.0.alternate_name.as_deref()
    }
    /// The description.
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }
    /// Who may use the service, in words (services).
    async fn eligibility_description(&self) -> Option<&str> {
        self.0.eligibility_description.as_deref()
    }
    /// Fees, in words (services).
    async fn fees_description(&self) -> Option<&str> {
        self.0.fees_description.as_deref()
    }
    /// How to apply (services).
    async fn application_process(&self) -> Option<&str> {
        self.0.application_process.as_deref()
    }
    /// Version of this translation for optimistic concurrency: pass it as
    /// `expectedVersion` to `setTranslation` or `removeTranslation`.
    async fn row_version(&self) -> i32 {
        self.0.row_version
    }
    /// When the translation was last changed.
    async fn updated_at(&self) -> Timestamp {
        Timestamp(self.0.updated_at)
    }
}

/// The languages a caller prefers, most preferred first (Italian follows them all):
/// the `language` argument when given, else those of the request's `Accept-Language`
/// header. A malformed argument is BAD_USER_INPUT.
pub fn preferred_languages(
    ctx: &Context<'_>,
    argument: Option<&str>,
) -> GqlResult<Vec<LanguageCode>> {
    if let Some(raw) = argument {
        let code = LanguageCode::parse(raw).ok_or_else(|| {
            AppError::BadUserInput(format!(
                "`{}` is not an ISO 639-1 language code (two letters, e.g. ar, ro, uk)",
                raw.chars().take(16).collect::<String>()
            ))
        })?;
        return Ok(vec![code]);
    }
    Ok(ctx
        .data_opt::<RequestMeta>()
        .map(|meta| meta.accept_language.clone())
        .unwrap_or_default())
}

/// The languages asked for and the object's stored translations, loaded in one batch
/// with those of every other object of the same level.
#[derive(Clone, Debug)]
pub struct Localization {
    languages: Vec<LanguageCode>,
    translations: Vec<translation::Model>,
}

impl Localization {
    /// The localization of the object `id` for the caller.
    pub async fn load(ctx: &Context<'_>, id: Uuid, argument: Option<&str>) -> GqlResult<Self> {
        let languages = preferred_languages(ctx, argument)?;
        let translations = ctx.loaders()?.all(TranslationsOf(id)).await?;
        Ok(Self {
            languages,
            translations,
        })
    }

    fn text(
        &self,
        field: Field,
        italian: Option<&str>,
        builtin: Option<(LanguageCode, &str)>,
    ) -> Option<LocalizedText> {
        choose(&self.languages, field, italian, builtin, &self.translations)
            .map(LocalizedText::from)
    }

    /// The text of a field the object always has.
    fn required(&self, field: Field, italian: &str) -> LocalizedText {
        self.text(field, Some(italian), None)
            .unwrap_or_else(|| LocalizedText {
                text: italian.to_owned(),
                language: LanguageCode::ITALIAN.as_str().to_owned(),
            })
    }
}

/// The stored translations of the object `id`, by language code.
pub async fn translations_of(ctx: &Context<'_>, id: Uuid) -> GqlResult<Vec<Translation>> {
    ctx.loaders()?.all(TranslationsOf(id)).await
}

/// A service's text in the language asked for, each text with its language.
pub struct LocalizedService(pub service::Model, pub Localization);

/// A service's text in the language asked for (`localized(language:)`): each field in
/// the first language asked for that it has, else in the original Italian, with the
/// language it is in.
#[Object]
impl LocalizedService {
    /// Name of the service.
    async fn name(&self) -> LocalizedText {
        self.1.required(Field::Name, &self.0.name)
    }
    /// Another name the service is known by.
    async fn alternate_name(&self) -> Option<LocalizedText> {
        let italian = self.0.alternate_name.as_deref();
        self.1.text(Field::AlternateName, italian, None)
    }
    /// What the service offers.
    async fn description(&self) -> LocalizedText {
        self.1.required(Field::Description, &self.0.description)
    }
    /// Who may use the service, in words.
    async fn eligibility_description(&self) -> Option<LocalizedText> {
        let italian = self.0.eligibility_description.as_deref();
        self.1.text(Field::EligibilityDescription, italian, None)
    }
    /// Fees, in words.
    async fn fees_description(&self) -> Option<LocalizedText> {
        let italian = self.0.fees_description.as_deref();
        self.1.text(Field::FeesDescription, italian, None)
    }
    /// How to apply.
    async fn application_process(&self) -> Option<LocalizedText> {
        let italian = self.0.application_process.as_deref();
        self.1.text(Field::ApplicationProcess, italian, None)
    }
}

/// An organization's text in the language asked for, each text with its language.
pub struct LocalizedOrganization(pub organization::Model, pub Localization);

/// An organization's text in the language asked for (`localized(language:)`): each
/// field in the first language asked for that it has, else in the original Italian,
/// with the language it is in.
#[Object]
impl LocalizedOrganization {
    /// Name of the organization.
    async fn name(&self) -> LocalizedText {
        self.1.required(Field::Name, &self.0.name)
    }
    /// What the organization does.
    async fn description(&self) -> Option<LocalizedText> {
        let italian = self.0.description.as_deref();
        self.1.text(Field::Description, italian, None)
    }
}

/// A site's text in the language asked for, each text with its language.
pub struct LocalizedLocation(pub location::Model, pub Localization);

/// A site's text in the language asked for (`localized(language:)`): its name in the
/// first language asked for that it has, else in the original Italian, with the
/// language it is in.
#[Object]
impl LocalizedLocation {
    /// Name of the site.
    async fn name(&self) -> LocalizedText {
        self.1.required(Field::Name, &self.0.name)
    }
}

/// A taxonomy term's text in the language asked for, each text with its language.
pub struct LocalizedTerm(pub term::Model, pub Localization);

/// A taxonomy term's text in the language asked for (`localized(language:)`): each
/// field in the first language asked for that it has, else in the original Italian,
/// with the language it is in. Every term has an English label of its own (`labelEn`
/// when created), used for English unless an English translation replaces it.
#[Object]
impl LocalizedTerm {
    /// Label of the term.
    async fn label(&self) -> LocalizedText {
        let english = Some((LanguageCode::ENGLISH, self.0.label_en.as_str()));
        self.1
            .text(Field::Name, Some(&self.0.label_it), english)
            .unwrap_or_else(|| self.1.required(Field::Name, &self.0.label_it))
    }
    /// Longer description.
    async fn description(&self) -> Option<LocalizedText> {
        let italian = self.0.description.as_deref();
        self.1.text(Field::Description, italian, None)
    }
}
