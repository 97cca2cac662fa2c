//! Territories: what they contain and are made of, and the regional administration's
//! zones and hub areas.

use super::domain::IstatCode;
use crate::audit::service::{self as audit, Actor, Change};
use crate::auth::policy;
use crate::concurrency::{self, Record};
use crate::error::{AppError, AppResult};
use crate::pagination::{self, Cursor, Page, Sort, SortKey, Window};
use crate::validation::{Checked, FieldErrorCode, Validator};
use chrono::{DateTime, NaiveDate, Utc};
use entity::enums::TerritoryKind;
use entity::{service_area, territory, territory_member};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{
    Alias, Expr, ExprTrait, JoinType, LikeExpr, Query, SelectStatement, UnionType,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, FromQueryResult,
    QueryFilter, QueryOrder, QueryResult, QuerySelect, QueryTrait,
};
use std::collections::{BTreeSet, HashMap, HashSet};
use uuid::Uuid;

/// What to list.
#[derive(Clone, Debug, Default)]
pub struct TerritoryQuery {
    /// Only these kinds.
    pub kinds: Vec<TerritoryKind>,
    /// Name contains this text (case and accents ignored).
    pub search: Option<String>,
    /// Only children of this territory.
    pub parent: Option<Uuid>,
    /// Only territories that contain this municipality (itself, its province, the
    /// region, and the groupings it belongs to).
    pub contains_municipality: Option<Uuid>,
}

fn sort() -> Sort<territory::Entity> {
    Sort::by(
        territory::Column::SearchName,
        territory::Column::Id,
        false,
        |row: &territory::Model| Cursor::new(SortKey::Text(row.search_name.clone()), row.id),
    )
}

/// Ids of every territory that contains `municipality`: itself, its province, the
/// region, and the zones and hub areas it belongs to.
#[tracing::instrument(level = "debug", skip(db))]
pub async fn covering(db: &impl ConnectionTrait, municipality: Uuid) -> AppResult<Vec<Uuid>> {
    Ok(covering_rows(db, municipality)
        .await?
        .iter()
        .map(|t| t.id)
        .collect())
}

/// Every territory that contains `municipality`, itself first (none when it is not
/// a territory): two statements.
pub async fn covering_rows(
    db: &impl ConnectionTrait,
    municipality: Uuid,
) -> AppResult<Vec<territory::Model>> {
    let Some(row) = territory::Entity::find_by_id(municipality).one(db).await? else {
        return Ok(Vec::new());
    };
    let ancestors = Query::select()
        .column(territory::Column::ParentId)
        .from(territory::Entity)
        .and_where(territory::Column::Id.eq(row.parent_id))
        .to_owned();
    let upper = territory::Entity::find()
        .filter(
            Condition::any()
                .add(territory::Column::Id.eq(row.parent_id))
                .add(territory::Column::Id.in_subquery(ancestors))
                .add(
                    territory::Column::Id.in_subquery(
                        Query::select()
                            .column(territory_member::Column::GroupingId)
                            .from(territory_member::Entity)
                            .and_where(territory_member::Column::MunicipalityId.eq(row.id))
                            .to_owned(),
                    ),
                ),
        )
        .all(db)
        .await?;
    let mut rows = vec![row];
    rows.extend(upper);
    Ok(rows)
}

/// Lists territories.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn list(
    db: &impl ConnectionTrait,
    query: &TerritoryQuery,
    window: &Window,
    with_total: bool,
) -> AppResult<(Page<territory::Model>, u64)> {
    let mut select = territory::Entity::find();
    if !query.kinds.is_empty() {
        select = select.filter(territory::Column::Kind.is_in(query.kinds.clone()));
    }
    if let Some(search) = &query.search {
        let pattern = pagination::like_contains(&melt_text::fold(search));
        select = select.filter(
            Expr::col(territory::Column::SearchName).like(LikeExpr::new(pattern).escape('\\')),
        );
    }
    if let Some(parent) = query.parent {
        select = select.filter(territory::Column::ParentId.eq(parent));
    }
    if let Some(municipality) = query.contains_municipality {
        select = select.filter(territory::Column::Id.is_in(covering(db, municipality).await?));
    }
    pagination::list(db, select, &sort(), window, with_total).await
}

/// Finds a municipality by ISTAT code.
#[tracing::instrument(level = "debug", skip(db))]
pub async fn municipality_by_code(
    db: &impl ConnectionTrait,
    code: &IstatCode,
) -> AppResult<Option<territory::Model>> {
    Ok(territory::Entity::find()
        .filter(territory::Column::Kind.eq(TerritoryKind::Municipality))
        .filter(territory::Column::Code.eq(code.as_str()))
        .one(db)
        .await?)
}

/// The ids of the municipalities `territory` is made of, as a sub-select for filters
/// (the same municipalities as [`municipalities_by_territory`]: a grouping's members, a
/// province's children, the region's grandchildren, a municipality itself; none for
/// an unknown id). A filter that embeds it costs no statement of its own, and its
/// text does not grow with the territory (the region has 273 municipalities).
pub fn municipality_ids_of(territory: Uuid) -> SelectStatement {
    let provinces_below = Query::select()
        .column(territory::Column::Id)
        .from(territory::Entity)
        .and_where(territory::Column::ParentId.eq(territory))
        .and_where(territory::Column::Kind.eq(TerritoryKind::Province))
        .to_owned();
    let below = Query::select()
        .column(territory::Column::Id)
        .from(territory::Entity)
        .and_where(territory::Column::Kind.eq(TerritoryKind::Municipality))
        .cond_where(
            Condition::any()
                .add(territory::Column::Id.eq(territory))
                .add(territory::Column::ParentId.eq(territory))
                .add(territory::Column::ParentId.in_subquery(provinces_below)),
        )
        .to_owned();
    Query::select()
        .column(territory_member::Column::MunicipalityId)
        .from(territory_member::Entity)
        .and_where(territory_member::Column::GroupingId.eq(territory))
        .union(UnionType::All, below)
        .to_owned()
}

/// The municipalities each of `territories` is made of, by ISTAT code: the members of a
/// grouping, the children of a province, the grandchildren of the region, and a
/// municipality itself. Three statements whatever the number of territories (the
/// loaders batch through here).
pub async fn municipalities_by_territory(
    db: &impl ConnectionTrait,
    territories: &[Uuid],
) -> Result<HashMap<Uuid, Vec<territory::Model>>, DbErr> {
    let wanted: HashSet<Uuid> = territories.iter().copied().collect();
    let mut map: HashMap<Uuid, Vec<territory::Model>> = HashMap::new();
    let members = territory_member::Entity::find()
        .find_also_related(territory::Entity)
        .filter(territory_member::Column::GroupingId.is_in(territories.iter().copied()))
        .order_by_asc(territory::Column::Code)
        .all(db)
        .await?;
    for (link, municipality) in members {
        if let Some(municipality) = municipality {
            map.entry(link.grouping_id).or_default().push(municipality);
        }
    }
    let provinces_below = Query::select()
        .column(territory::Column::Id)
        .from(territory::Entity)
        .and_where(territory::Column::ParentId.is_in(territories.iter().copied()))
        .and_where(territory::Column::Kind.eq(TerritoryKind::Province))
        .to_owned();
    let below = territory::Entity::find()
        .filter(territory::Column::Kind.eq(TerritoryKind::Municipality))
        .filter(
            Condition::any()
                .add(territory::Column::Id.is_in(territories.iter().copied()))
                .add(territory::Column::ParentId.is_in(territories.iter().copied()))
                .add(territory::Column::ParentId.in_subquery(provinces_below)),
        )
        .order_by_asc(territory::Column::Code)
        .all(db)
        .await?;
    let region_of_province: HashMap<Uuid, Uuid> = territory::Entity::find()
        .filter(territory::Column::Kind.eq(TerritoryKind::Province))
        .all(db)
        .await?
        .into_iter()
        .filter_map(|p| p.parent_id.map(|region| (p.id, region)))
        .collect();
    for municipality in below {
        let province = municipality.parent_id;
        let region = province.and_then(|p| region_of_province.get(&p).copied());
        let owners = [Some(municipality.id), province, region];
        for owner in owners.into_iter().flatten().filter(|o| wanted.contains(o)) {
            map.entry(owner).or_default().push(municipality.clone());
        }
    }
    Ok(map)
}

/// A zone or hub area with a service whose area reaches it.
struct GroupingOfService {
    service_id: Uuid,
    grouping: territory::Model,
}

/// Name of the service's id column beside the territory's in [`groupings_of_services`].
const SERVICE_ID: &str = "of_service_id";

impl FromQueryResult for GroupingOfService {
    fn from_query_result(row: &QueryResult, prefix: &str) -> Result<Self, DbErr> {
        Ok(Self {
            service_id: row.try_get(prefix, SERVICE_ID)?,
            grouping: territory::Model::from_query_result(row, prefix)?,
        })
    }
}

/// The zones and hub areas in force on `today` (validity dates included; open ends
/// always) that hold at least one municipality of each service's area, by code: one
/// statement whatever the number of services (the loaders batch through here).
pub async fn groupings_of_services(
    db: &impl ConnectionTrait,
    services: &[Uuid],
    today: NaiveDate,
) -> Result<HashMap<Uuid, Vec<territory::Model>>, DbErr> {
    let reached = Query::select()
        .distinct()
        .column((service_area::Entity, service_area::Column::ServiceId))
        .column((
            territory_member::Entity,
            territory_member::Column::GroupingId,
        ))
        .from(service_area::Entity)
        .inner_join(
            territory_member::Entity,
            Expr::col((
                territory_member::Entity,
                territory_member::Column::MunicipalityId,
            ))
            .equals((service_area::Entity, service_area::Column::MunicipalityId)),
        )
        .and_where(
            Expr::col((service_area::Entity, service_area::Column::ServiceId))
                .is_in(services.iter().copied()),
        )
        .to_owned();
    let reached_alias = Alias::new("reached");
    let mut select = territory::Entity::find()
        .filter(territory::Column::Kind.is_in([TerritoryKind::Zone, TerritoryKind::HubArea]))
        .filter(
            Condition::any()
                .add(territory::Column::ValidFrom.is_null())
                .add(territory::Column::ValidFrom.lte(today)),
        )
        .filter(
            Condition::any()
                .add(territory::Column::ValidTo.is_null())
                .add(territory::Column::ValidTo.gte(today)),
        );
    QueryTrait::query(&mut select).join_subquery(
        JoinType::InnerJoin,
        reached,
        reached_alias.clone(),
        Expr::col((reached_alias.clone(), territory_member::Column::GroupingId))
            .equals((territory::Entity, territory::Column::Id)),
    );
    let rows = select
        .column_as(
            Expr::col((reached_alias, service_area::Column::ServiceId)),
            SERVICE_ID,
        )
        .order_by_asc(territory::Column::Kind)
        .order_by_asc(territory::Column::Code)
        .into_model::<GroupingOfService>()
        .all(db)
        .await?;
    let mut map: HashMap<Uuid, Vec<territory::Model>> = HashMap::new();
    for row in rows {
        map.entry(row.service_id).or_default().push(row.grouping);
    }
    Ok(map)
}

// ---------------------------------------------------------------------------------
// Registry changes: zones and hub areas (regional administration only)
// ---------------------------------------------------------------------------------

/// A new grouping of municipalities (zone or hub area).
#[derive(Clone, Debug)]
pub struct NewGrouping {
    /// ZONE or HUB_AREA.
    pub kind: TerritoryKind,
    /// Code, unique among groupings of the kind.
    pub code: String,
    /// Name.
    pub name: String,
    /// First day of validity.
    pub valid_from: Option<NaiveDate>,
    /// Last day of validity.
    pub valid_to: Option<NaiveDate>,
    /// ISTAT codes of the member municipalities.
    pub municipality_istat_codes: Vec<String>,
}

/// Changes to a grouping; omitted fields stay as they are.
#[derive(Clone, Debug, Default)]
pub struct GroupingChanges {
    /// New name.
    pub name: Option<String>,
    /// New first day of validity.
    pub valid_from: Option<NaiveDate>,
    /// New last day of validity; `Some(None)` clears it.
    pub valid_to: Option<Option<NaiveDate>>,
    /// The new members, replacing the old ones.
    pub municipality_istat_codes: Option<Vec<String>>,
}

/// A grouping as recorded in the audit log: the row and its members.
#[derive(serde::Serialize)]
struct GroupingRecord {
    #[serde(flatten)]
    territory: territory::Model,
    municipality_istat_codes: Vec<String>,
}

impl GroupingRecord {
    /// The grouping with the ISTAT codes of its members, sorted.
    async fn of(db: &impl ConnectionTrait, territory: territory::Model) -> AppResult<Self> {
        let mut members = municipalities_by_territory(db, &[territory.id]).await?;
        let members = members.remove(&territory.id).unwrap_or_default();
        Ok(Self {
            territory,
            municipality_istat_codes: members.into_iter().map(|t| t.code).collect(),
        })
    }

    /// Records the change from `before` to this grouping in the audit log.
    async fn audit(
        &self,
        db: &impl ConnectionTrait,
        actor: &Actor,
        operation: &str,
        before: Option<&Self>,
    ) -> AppResult<()> {
        let change = Change {
            operation,
            object_type: territory::Entity::OBJECT_TYPE,
            object_id: self.territory.id,
            before,
            after: Some(self),
        };
        audit::record(db, actor, change).await
    }
}

fn is_grouping(kind: TerritoryKind) -> bool {
    matches!(kind, TerritoryKind::Zone | TerritoryKind::HubArea)
}

/// Checks the member list: not empty, every code well-formed and an existing
/// municipality. Returns the member ids (deduplicated).
async fn resolve_members(
    db: &impl ConnectionTrait,
    v: &mut Validator,
    codes: &[String],
) -> AppResult<BTreeSet<Uuid>> {
    let field = "municipalityIstatCodes";
    if codes.is_empty() {
        v.add(
            field,
            FieldErrorCode::Required,
            "a grouping needs at least one municipality",
        );
        return Ok(BTreeSet::new());
    }
    let mut parsed = Vec::with_capacity(codes.len());
    for (i, raw) in codes.iter().enumerate() {
        match IstatCode::parse(raw) {
            Ok(code) => parsed.push((i, code)),
            Err(e) => v.add(
                &format!("{field}.{i}"),
                FieldErrorCode::Invalid,
                e.to_string(),
            ),
        }
    }
    let wanted: Vec<String> = parsed.iter().map(|(_, c)| c.as_str().to_owned()).collect();
    let found: HashMap<String, Uuid> = if wanted.is_empty() {
        HashMap::new()
    } else {
        territory::Entity::find()
            .filter(territory::Column::Kind.eq(TerritoryKind::Municipality))
            .filter(territory::Column::Code.is_in(wanted))
            .all(db)
            .await?
            .into_iter()
            .map(|t| (t.code, t.id))
            .collect()
    };
    let mut ids = BTreeSet::new();
    for (i, code) in parsed {
        match found.get(code.as_str()) {
            Some(id) => {
                ids.insert(*id);
            }
            None => v.add(
                &format!("{field}.{i}"),
                FieldErrorCode::NotFound,
                format!("no municipality has the ISTAT code {}", code.as_str()),
            ),
        }
    }
    Ok(ids)
}

async fn insert_members(
    db: &impl ConnectionTrait,
    grouping: Uuid,
    members: &BTreeSet<Uuid>,
    now: DateTime<Utc>,
) -> AppResult<()> {
    if members.is_empty() {
        return Ok(());
    }
    let rows = members
        .iter()
        .map(|&municipality_id| territory_member::ActiveModel {
            grouping_id: Set(grouping),
            municipality_id: Set(municipality_id),
            created_at: Set(now),
        });
    territory_member::Entity::insert_many(rows).exec(db).await?;
    Ok(())
}

/// Creates a zone or hub area under the region. Regional administrators only.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn create_grouping(
    db: &impl ConnectionTrait,
    actor: &Actor,
    input: NewGrouping,
) -> AppResult<Checked<territory::Model>> {
    policy::require_regional_admin(&actor.viewer)?;
    let mut v = Validator::default();
    if !is_grouping(input.kind) {
        v.add(
            "kind",
            FieldErrorCode::Invalid,
            "a grouping is a ZONE or a HUB_AREA",
        );
    }
    let code = v.code("code", &input.code, 32);
    let name = v.name("name", &input.name, 200);
    v.ordered(
        "validTo",
        input.valid_from,
        input.valid_to,
        "must not be before validFrom",
    );
    let members = resolve_members(db, &mut v, &input.municipality_istat_codes).await?;
    if !code.is_empty() {
        let existing = territory::Entity::find()
            .filter(territory::Column::Kind.eq(input.kind))
            .filter(territory::Column::Code.eq(code.as_str()));
        v.unique(
            db,
            "code",
            existing,
            "another grouping of this kind has this code",
        )
        .await?;
    }
    if !v.is_ok() {
        return Ok(Err(v.finish()));
    }
    let region = territory::Entity::find()
        .filter(territory::Column::Kind.eq(TerritoryKind::Region))
        .one(db)
        .await?
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("no region territory")))?;
    let id = Uuid::now_v7();
    let now = Utc::now();
    let after = territory::ActiveModel {
        id: Set(id),
        kind: Set(input.kind),
        code: Set(code),
        search_name: Set(melt_text::fold(&name)),
        name: Set(name),
        parent_id: Set(Some(region.id)),
        cadastral_code: Set(None),
        abbreviation: Set(None),
        valid_from: Set(input.valid_from),
        valid_to: Set(input.valid_to),
        row_version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?;
    insert_members(db, id, &members, now).await?;
    let after = GroupingRecord::of(db, after).await?;
    after
        .audit(db, actor, "createTerritoryGrouping", None)
        .await?;
    Ok(Ok(after.territory))
}

/// Changes a zone or hub area: name, validity, and (when given) replaces its members.
/// Regional administrators only.
#[tracing::instrument(level = "debug", skip(db, actor, changes))]
pub async fn update_grouping(
    db: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
    expected_version: i32,
    changes: GroupingChanges,
) -> AppResult<Checked<territory::Model>> {
    let before = concurrency::get::<territory::Entity>(db, id).await?;
    policy::require_regional_admin(&actor.viewer)?;
    let mut v = Validator::default();
    if !is_grouping(before.kind) {
        v.add(
            "id",
            FieldErrorCode::InvalidState,
            "only zones and hub areas can be changed",
        );
    }
    let name = changes.name.map(|n| v.name("name", &n, 200));
    let valid_from = changes.valid_from.or(before.valid_from);
    let valid_to = changes.valid_to.unwrap_or(before.valid_to);
    let order_field = if changes.valid_to.is_some() {
        "validTo"
    } else {
        "validFrom"
    };
    v.ordered(
        order_field,
        valid_from,
        valid_to,
        "validFrom must not be after validTo",
    );
    let members = match &changes.municipality_istat_codes {
        Some(codes) => Some(resolve_members(db, &mut v, codes).await?),
        None => None,
    };
    if !v.is_ok() {
        return Ok(Err(v.finish()));
    }
    let before = GroupingRecord::of(db, before).await?;
    let mut row: territory::ActiveModel = before.territory.clone().into();
    if let Some(name) = name {
        row.search_name = Set(melt_text::fold(&name));
        row.name = Set(name);
    }
    row.valid_from = Set(valid_from);
    row.valid_to = Set(valid_to);
    let now = Utc::now();
    let after = concurrency::update::<territory::Entity, _>(
        db,
        row,
        &before.territory,
        Some(expected_version),
    )
    .await?;
    if let Some(members) = members {
        territory_member::Entity::delete_many()
            .filter(territory_member::Column::GroupingId.eq(id))
            .exec(db)
            .await?;
        insert_members(db, id, &members, now).await?;
    }
    let after = GroupingRecord::of(db, after).await?;
    after
        .audit(db, actor, "updateTerritoryGrouping", Some(&before))
        .await?;
    Ok(Ok(after.territory))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_service_of_pisa_is_in_the_zona_pisana_and_the_area_pisa_while_they_are_in_force() {
        let db = crate::db::memory_with_demo().await;
        let pisa = municipality_by_code(&db, &IstatCode::parse("050026").unwrap())
            .await
            .unwrap()
            .unwrap();
        let serving: Vec<Uuid> = service_area::Entity::find()
            .filter(service_area::Column::MunicipalityId.eq(pisa.id))
            .all(&db)
            .await
            .unwrap()
            .into_iter()
            .map(|link| link.service_id)
            .collect();
        assert!(!serving.is_empty(), "the demo network serves Pisa");
        let today = Utc::now().date_naive();
        let found = groupings_of_services(&db, &serving, today).await.unwrap();
        assert_eq!(
            found.len(),
            serving.len(),
            "every service is in some grouping"
        );
        for groupings in found.values() {
            let codes: Vec<&str> = groupings.iter().map(|t| t.code.as_str()).collect();
            assert!(codes.contains(&"ZONA_PISANA"), "{codes:?}");
            assert!(codes.contains(&"AREA_PISA"), "{codes:?}");
        }
        // Before the Zona pisana began, it is nobody's.
        let zone = territory::Entity::find()
            .filter(territory::Column::Code.eq("ZONA_PISANA"))
            .one(&db)
            .await
            .unwrap()
            .unwrap();
        let mut row: territory::ActiveModel = zone.into();
        row.valid_from = Set(Some(today + chrono::Days::new(1)));
        row.update(&db).await.unwrap();
        let found = groupings_of_services(&db, &serving, today).await.unwrap();
        assert!(found.values().flatten().all(|t| t.code != "ZONA_PISANA"));
        let tomorrow = today + chrono::Days::new(1);
        let found = groupings_of_services(&db, &serving, tomorrow)
            .await
            .unwrap();
        assert!(found.values().flatten().any(|t| t.code == "ZONA_PISANA"));
    }

    #[tokio::test]
    async fn a_territory_is_made_of_its_municipalities_whatever_its_kind() {
        let db = crate::db::memory_with_demo().await;
        let of_kind = async |kind: TerritoryKind| {
            let rows = territory::Entity::find().filter(territory::Column::Kind.eq(kind));
            rows.all(&db).await.unwrap()
        };
        let municipalities = of_kind(TerritoryKind::Municipality).await;
        let region = of_kind(TerritoryKind::Region).await.remove(0);
        let zone = of_kind(TerritoryKind::Zone).await.remove(0);
        let pisa = municipalities.iter().find(|m| m.code == "050026").unwrap();
        let province = pisa.parent_id.unwrap();
        let wanted = [region.id, province, zone.id, pisa.id];
        let found = municipalities_by_territory(&db, &wanted).await.unwrap();
        assert_eq!(found[&region.id].len(), municipalities.len());
        let in_province = municipalities
            .iter()
            .filter(|m| m.parent_id == Some(province));
        assert_eq!(found[&province].len(), in_province.count());
        assert_eq!(found[&pisa.id], vec![pisa.clone()]);
        let members = territory_member::Entity::find()
            .filter(territory_member::Column::GroupingId.eq(zone.id))
            .all(&db)
            .await
            .unwrap();
        assert_eq!(found[&zone.id].len(), members.len());
        assert!(found[&zone.id].is_sorted_by_key(|m| m.code.clone()));
        // The sub-select for filters names the same municipalities, and none for an
        // unknown territory.
        for territory in wanted.into_iter().chain([Uuid::now_v7()]) {
            let rows = db.query_all(&municipality_ids_of(territory)).await.unwrap();
            let ids: BTreeSet<Uuid> = rows
                .iter()
                .map(|row| row.try_get_by_index::<Uuid>(0).unwrap())
                .collect();
            let expected: BTreeSet<Uuid> = found
                .get(&territory)
                .map(|ms| ms.iter().map(|m| m.id).collect())
                .unwrap_or_default();
            assert_eq!(ids, expected, "{territory}");
        }
    }
}
