//! GraphQL types of taxonomies.

use crate::context::ContextExt;
use crate::error::GqlResult;
use crate::graphql::enums::Taxonomy;
use crate::graphql::relay::{NodeKind, to_global_id};
use crate::loaders::{ServiceTypesOfNeed, TermById};
use async_graphql::{Context, Enum, ID, Object};
use entity::term;

/// A language labels can be shown in.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum LabelLanguage {
    /// Italian.
    #[default]
    It,
    /// English.
    En,
}

/// A term of a taxonomy: a service type, a target group, a need or a language.
#[derive(Clone, Debug)]
pub struct Term(pub term::Model);

impl From<term::Model> for Term {
    fn from(model: term::Model) -> Self {
        Self(model)
    }
}

/// A term of a taxonomy: a service type, a target group, a need or a language.
#[Object]
impl Term {
    /// Global ID.
    pub async fn id(&self) -> ID {
        to_global_id(NodeKind::Term, self.0.id)
    }
    /// Version of this record for optimistic concurrency: pass it as `expectedVersion`
    /// when changing the record.
    async fn row_version(&self) -> i32 {
        self.0.row_version
    }
    /// The taxonomy of the term.
    async fn taxonomy(&self) -> Taxonomy {
        self.0.taxonomy.into()
    }
    /// Stable code (e.g. `JOB_ORIENTATION`, or an ISO 639-1 code for languages).
    async fn code(&self) -> &str {
        &self.0.code
    }
    /// Label in the requested language (Italian by default).
    async fn label(
        &self,
        #[graphql(default, desc = "The language of the label (by default Italian).")]
        language: LabelLanguage,
    ) -> &str {
        match language {
            LabelLanguage::It => &self.0.label_it,
            LabelLanguage::En => &self.0.label_en,
        }
    }
    /// Longer description.
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }
    /// The term's text in one language: the `language` asked for, else the first
    /// of the request's `Accept-Language` languages it has a text in, else the original
    /// Italian; each text says which language it is in.
    async fn localized(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "ISO 639-1 code of the language wanted (e.g. `ar`); by default the languages of the request's `Accept-Language` header. Italian, the original, serves where the language has no text."
        )]
        language: Option<String>,
    ) -> GqlResult<crate::translation::types::LocalizedTerm> {
        let localization =
            crate::translation::types::Localization::load(ctx, self.0.id, language.as_deref())
                .await?;
        Ok(crate::translation::types::LocalizedTerm(
            self.0.clone(),
            localization,
        ))
    }
    /// The translations of the term's text, one per language, by language code
    /// (the original Italian text is the term's own fields).
    async fn translations(
        &self,
        ctx: &Context<'_>,
    ) -> GqlResult<Vec<crate::translation::types::Translation>> {
        crate::translation::types::translations_of(ctx, self.0.id).await
    }
    /// For a NEED: the service types that address it (matching follows them from a
    /// need to services), by code; empty for other terms.
    async fn service_types(&self, ctx: &Context<'_>) -> GqlResult<Vec<Term>> {
        if self.0.taxonomy != entity::enums::Taxonomy::Need {
            return Ok(Vec::new());
        }
        let found = ctx
            .loaders()?
            .0
            .load_one(ServiceTypesOfNeed(self.0.id))
            .await?;
        Ok(found.unwrap_or_default().into_iter().map(Term).collect())
    }
    /// Broader term, if any.
    async fn parent(&self, ctx: &Context<'_>) -> GqlResult<Option<Term>> {
        let Some(parent) = self.0.parent_id else {
            return Ok(None);
        };
        ctx.loaders()?.one(TermById(parent)).await
    }
}

crate::connection!(TermConnection, TermEdge, Term, "taxonomy terms");
