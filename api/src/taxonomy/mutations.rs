//! Taxonomy mutations: the regional administration's terms.

use super::service::{self, NewTerm, TermChanges};
use super::types::Term;
use crate::error::GqlResult;
use crate::graphql::actor;
use crate::graphql::enums::Taxonomy;
use crate::graphql::payload::{UserError, split};
use crate::graphql::relay::{NodeKind, expect_id};
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use sea_orm::{DatabaseConnection, TransactionTrait};

/// A new term of a taxonomy.
#[derive(InputObject)]
pub struct CreateTermInput {
    /// The taxonomy the term belongs to.
    pub taxonomy: Taxonomy,
    /// Stable code, unique within the taxonomy: 1–64 letters, digits, `_` or `-`.
    pub code: String,
    /// Italian label (1–200 characters).
    pub label_it: String,
    /// English label (1–200 characters).
    pub label_en: String,
    /// Longer description.
    pub description: Option<String>,
    /// Broader term, of the same taxonomy.
    pub parent: Option<ID>,
}

/// Result of `createTerm`.
#[derive(SimpleObject)]
pub struct CreateTermPayload {
    /// The new term; null when there are user errors.
    pub term: Option<Term>,
    /// Problems with the input; nothing was changed when there are any.
    pub user_errors: Vec<UserError>,
}

/// Changes to a term. Omitted fields stay as they are.
#[derive(InputObject)]
pub struct UpdateTermInput {
    /// The term.
    pub id: ID,
    /// The `rowVersion` you read; a stale one is refused with CONFLICT.
    pub expected_version: Option<i32>,
    /// New Italian label (1–200 characters).
    pub label_it: Option<String>,
    /// New English label (1–200 characters).
    pub label_en: Option<String>,
    /// New description; an empty string clears it.
    pub description: Option<String>,
}

/// Result of `updateTerm`.
#[derive(SimpleObject)]
pub struct UpdateTermPayload {
    /// The term after the change; null when there are user errors.
    pub term: Option<Term>,
    /// Problems with the input; nothing was changed when there are any.
    pub user_errors: Vec<UserError>,
}

/// Taxonomy mutations.
#[derive(Default)]
pub struct TaxonomyMutations;

#[Object]
impl TaxonomyMutations {
    /// Adds a term to a taxonomy (service types, target groups, needs, languages).
    /// REGIONAL_ADMIN only.
    async fn create_term(
        &self,
        ctx: &Context<'_>,
        input: CreateTermInput,
    ) -> GqlResult<CreateTermPayload> {
        let parent = input
            .parent
            .map(|id| expect_id(&id, NodeKind::Term))
            .transpose()?;
        let new = NewTerm {
            taxonomy: input.taxonomy.into(),
            code: input.code,
            label_it: input.label_it,
            label_en: input.label_en,
            description: input.description,
            parent,
        };
        let db = ctx.data_unchecked::<DatabaseConnection>();
        let txn = db.begin().await?;
        let result = service::create_term(&txn, &actor(ctx), new).await?;
        txn.commit().await?;
        let (term, user_errors) = split(result);
        Ok(CreateTermPayload { term, user_errors })
    }

    /// Changes the labels or description of a term. REGIONAL_ADMIN only.
    async fn update_term(
        &self,
        ctx: &Context<'_>,
        input: UpdateTermInput,
    ) -> GqlResult<UpdateTermPayload> {
        let id = expect_id(&input.id, NodeKind::Term)?;
        let changes = TermChanges {
            label_it: input.label_it,
            label_en: input.label_en,
            description: input.description,
        };
        let db = ctx.data_unchecked::<DatabaseConnection>();
        let txn = db.begin().await?;
        let result =
            service::update_term(&txn, &actor(ctx), id, input.expected_version, changes).await?;
        txn.commit().await?;
        let (term, user_errors) = split(result);
        Ok(UpdateTermPayload { term, user_errors })
    }
}
