//! Taxonomy mutations: the regional administration's terms.

use super::service::{self, NewTerm, TermChanges};
use super::types::Term;
use crate::error::GqlResult;
use crate::graphql::enums::Taxonomy;
use crate::graphql::mutation::{mutate, payload};
use crate::graphql::relay::expect_opt_id;
use crate::graphql::relay::{NodeKind, expect_id, expect_key};
use async_graphql::{Context, ID, InputObject, Object};

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

/// Changes to a term. Omitted fields stay as they are.
#[derive(InputObject)]
pub struct UpdateTermInput {
    /// The term.
    pub id: ID,
    /// The `rowVersion` you read; a stale one is refused with CONFLICT.
    pub expected_version: i32,
    /// New Italian label (1–200 characters).
    pub label_it: Option<String>,
    /// New English label (1–200 characters).
    pub label_en: Option<String>,
    /// New description; an empty string clears it.
    pub description: Option<String>,
}

/// The service types that address a need.
#[derive(InputObject)]
pub struct SetNeedServiceTypesInput {
    /// The NEED term. Give `id` (or, until 0.3, the deprecated `need`).
    pub id: Option<ID>,
    /// The NEED term.
    #[graphql(deprecation = "Use `id`. Removed in 0.3.")]
    pub need: Option<ID>,
    /// The need's `rowVersion` you read; a stale one is refused with CONFLICT.
    pub expected_version: i32,
    /// SERVICE_TYPE codes, replacing the old ones (at most 50; none to clear).
    pub service_types: Vec<String>,
}

payload! {
    CreateTermPayload("createTerm") { term: Term, "The new term" }
    UpdateTermPayload("updateTerm") { term: Term, "The term after the change" }
    SetNeedServiceTypesPayload("setNeedServiceTypes") { term: Term, "The need after the change" }
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
        #[graphql(desc = "What to do: see the input type.")] input: CreateTermInput,
    ) -> GqlResult<CreateTermPayload> {
        let parent = expect_opt_id(input.parent.as_ref(), NodeKind::Term)?;
        let new = NewTerm {
            taxonomy: input.taxonomy.into(),
            code: input.code,
            label_it: input.label_it,
            label_en: input.label_en,
            description: input.description,
            parent,
        };
        mutate(ctx, async |db, actor| {
            service::create_term(db, actor, new).await
        })
        .await
    }

    /// Changes the labels or description of a term. REGIONAL_ADMIN only.
    async fn update_term(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: see the input type.")] input: UpdateTermInput,
    ) -> GqlResult<UpdateTermPayload> {
        let id = expect_id(&input.id, NodeKind::Term)?;
        let changes = TermChanges {
            label_it: input.label_it,
            label_en: input.label_en,
            description: input.description,
        };
        let expected = input.expected_version;
        mutate(ctx, async |db, actor| {
            service::update_term(db, actor, id, expected, changes).await
        })
        .await
    }

    /// Sets the service types that address a need (matching follows them from a need
    /// to the services that can meet it). REGIONAL_ADMIN only.
    async fn set_need_service_types(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: see the input type.")] input: SetNeedServiceTypesInput,
    ) -> GqlResult<SetNeedServiceTypesPayload> {
        let need = expect_key(
            input.id.as_ref(),
            input.need.as_ref(),
            "need",
            NodeKind::Term,
        )?;
        let expected = input.expected_version;
        let codes = input.service_types;
        mutate(ctx, async |db, actor| {
            service::set_need_service_types(db, actor, need, expected, codes).await
        })
        .await
    }
}
