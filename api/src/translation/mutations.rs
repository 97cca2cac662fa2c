//! Translation mutations: `setTranslation` and `removeTranslation`.

use super::domain::SubjectKind;
use super::service::{self, Subject, Texts};
use super::types::Translation;
use crate::error::{AppError, GqlResult};
use crate::graphql::mutation::{Payload, mutate, payload};
use crate::graphql::payload::UserError;
use crate::graphql::relay::from_global_id;
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};

/// The texts of an object in one language other than Italian. Omitted texts stay as
/// they are; an empty string removes a text's translation (the Italian one then
/// shows). Services translate every text; organizations and terms `name` (a term's
/// label) and `description`; sites `name`. Each text has the limits of the original:
/// names one line of at most 300 characters (200 for a term's label), other texts at
/// most 4000 (10000 for a service's description), no control characters.
#[derive(InputObject)]
pub struct SetTranslationInput {
    /// The service, organization, site or taxonomy term translated.
    pub id: ID,
    /// ISO 639-1 code of the language (e.g. `ar`, `sq`, `ro`, `uk`, `zh`); not `it`,
    /// the language of the original text.
    pub language: String,
    /// The `rowVersion` of the object's translation in this language, as you read it
    /// in `translations`; omit it to add a language the object has no translation in
    /// yet. A stale or missing one is refused with CONFLICT.
    pub expected_version: Option<i32>,
    /// The name (a term's label).
    pub name: Option<String>,
    /// Another name the service is known by.
    pub alternate_name: Option<String>,
    /// The description.
    pub description: Option<String>,
    /// Who may use the service, in words.
    pub eligibility_description: Option<String>,
    /// Fees, in words.
    pub fees_description: Option<String>,
    /// How to apply.
    pub application_process: Option<String>,
}

/// The translation of an object in one language, to remove.
#[derive(InputObject)]
pub struct RemoveTranslationInput {
    /// The service, organization, site or taxonomy term translated.
    pub id: ID,
    /// ISO 639-1 code of the language of the translation.
    pub language: String,
    /// The `rowVersion` of the translation you read; a stale one is refused with
    /// CONFLICT.
    pub expected_version: i32,
}

payload! {
    SetTranslationPayload("setTranslation") {
        translation: Translation, "The translation after the change"
    }
}

/// Result of `removeTranslation`.
#[derive(SimpleObject)]
pub struct RemoveTranslationPayload {
    /// ISO 639-1 code of the language removed; null when there are user errors.
    pub removed_language: Option<String>,
    /// Problems with the input (NOT_FOUND when the object has no translation in the
    /// language); nothing was changed when there are any.
    pub user_errors: Vec<UserError>,
}

impl Payload for RemoveTranslationPayload {
    type Object = String;
    fn from_parts(object: Option<String>, user_errors: Vec<UserError>) -> Self {
        Self {
            removed_language: object,
            user_errors,
        }
    }
}

/// The object a global ID names, when its text can be translated.
fn subject(id: &ID) -> GqlResult<Subject> {
    let (kind, row) = from_global_id(id)?;
    let kind = SubjectKind::of(kind).ok_or_else(|| {
        AppError::BadUserInput(format!(
            "`{}` is the ID of a {}: only services, organizations, sites and terms are translated",
            id.as_str(),
            kind.as_str()
        ))
    })?;
    Ok(Subject { kind, id: row })
}

/// Translation mutations.
#[derive(Default)]
pub struct TranslationMutations;

#[Object]
impl TranslationMutations {
    /// Adds or changes the texts of a service, organization, site or taxonomy term in
    /// one language other than Italian. Allowed to whoever may change the object: a
    /// service's provider (ORG_ADMIN, or a machine client with `services:write`); an
    /// organization (ORG_ADMIN, or `organization:write`) or REGIONAL_ADMIN; a site's
    /// organization (ORG_ADMIN, or `organization:write`); terms: REGIONAL_ADMIN.
    async fn set_translation(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: see the input type.")] input: SetTranslationInput,
    ) -> GqlResult<SetTranslationPayload> {
        let subject = subject(&input.id)?;
        let texts = Texts {
            name: input.name,
            alternate_name: input.alternate_name,
            description: input.description,
            eligibility_description: input.eligibility_description,
            fees_description: input.fees_description,
            application_process: input.application_process,
        };
        let (language, expected) = (input.language, input.expected_version);
        mutate(ctx, async |db, actor| {
            service::set_translation(db, actor, subject, &language, expected, texts).await
        })
        .await
    }

    /// Removes the texts of an object in one language (the Italian ones then show).
    /// Allowed to whoever may change its translations (see `setTranslation`).
    async fn remove_translation(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: see the input type.")] input: RemoveTranslationInput,
    ) -> GqlResult<RemoveTranslationPayload> {
        let subject = subject(&input.id)?;
        let (language, expected) = (input.language, input.expected_version);
        mutate(ctx, async |db, actor| {
            let removed =
                service::remove_translation(db, actor, subject, &language, expected).await?;
            Ok(removed.map(|code| code.as_str().to_owned()))
        })
        .await
    }
}
