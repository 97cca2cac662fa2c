//! Territory mutations: the regional administration's zones and hub areas.

use super::service::{self, GroupingChanges, NewGrouping};
use super::types::Territory;
use crate::error::GqlResult;
use crate::graphql::enums::TerritoryKind;
use crate::graphql::mutation::{mutate, payload};
use crate::graphql::relay::{NodeKind, expect_id};
use crate::graphql::scalars::Date;
use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object};

/// A new zone or hub area: a named set of municipalities with validity dates.
#[derive(InputObject)]
pub struct CreateTerritoryGroupingInput {
    /// ZONE or HUB_AREA (other kinds are refused).
    pub kind: TerritoryKind,
    /// Code, unique among groupings of the kind: 1–32 letters, digits, `_` or `-`
    /// (e.g. `ZONA_PISANA`).
    pub code: String,
    /// Name (1–200 characters).
    pub name: String,
    /// First day of validity.
    pub valid_from: Option<Date>,
    /// Last day of validity; not before `validFrom`.
    pub valid_to: Option<Date>,
    /// ISTAT codes of the member municipalities (at least one).
    pub municipality_istat_codes: Vec<String>,
}

/// Changes to a zone or hub area. Omitted fields stay as they are.
#[derive(InputObject)]
pub struct UpdateTerritoryGroupingInput {
    /// The grouping.
    pub id: ID,
    /// The `rowVersion` you read; a stale one is refused with CONFLICT.
    pub expected_version: i32,
    /// New name (1–200 characters).
    pub name: Option<String>,
    /// New first day of validity.
    pub valid_from: Option<Date>,
    /// New last day of validity; null clears it (valid with no end).
    pub valid_to: MaybeUndefined<Date>,
    /// ISTAT codes of the member municipalities, replacing the current members.
    pub municipality_istat_codes: Option<Vec<String>>,
}

payload! {
    CreateTerritoryGroupingPayload("createTerritoryGrouping") {
        territory: Territory, "The new grouping"
    }
    UpdateTerritoryGroupingPayload("updateTerritoryGrouping") {
        territory: Territory, "The grouping after the change"
    }
}

/// Territory mutations.
#[derive(Default)]
pub struct TerritoryMutations;

#[Object]
impl TerritoryMutations {
    /// Creates a zone (zona-distretto) or hub area under the region. REGIONAL_ADMIN only.
    async fn create_territory_grouping(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: see the input type.")] input: CreateTerritoryGroupingInput,
    ) -> GqlResult<CreateTerritoryGroupingPayload> {
        let new = NewGrouping {
            kind: input.kind.into(),
            code: input.code,
            name: input.name,
            valid_from: input.valid_from.map(|d| d.0),
            valid_to: input.valid_to.map(|d| d.0),
            municipality_istat_codes: input.municipality_istat_codes,
        };
        mutate(ctx, async |db, actor| {
            service::create_grouping(db, actor, new).await
        })
        .await
    }

    /// Changes a zone or hub area: name, validity dates, and (when given) its
    /// municipalities. REGIONAL_ADMIN only.
    async fn update_territory_grouping(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: see the input type.")] input: UpdateTerritoryGroupingInput,
    ) -> GqlResult<UpdateTerritoryGroupingPayload> {
        let id = expect_id(&input.id, NodeKind::Territory)?;
        let valid_to = match input.valid_to {
            MaybeUndefined::Undefined => None,
            MaybeUndefined::Null => Some(None),
            MaybeUndefined::Value(d) => Some(Some(d.0)),
        };
        let changes = GroupingChanges {
            name: input.name,
            valid_from: input.valid_from.map(|d| d.0),
            valid_to,
            municipality_istat_codes: input.municipality_istat_codes,
        };
        let expected = input.expected_version;
        mutate(ctx, async |db, actor| {
            service::update_grouping(db, actor, id, expected, changes).await
        })
        .await
    }
}
