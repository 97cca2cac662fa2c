//! Routing rules: set by the regional administration (region-wide) or by a protocol's
//! lead organization (within the protocol), versioned and audited.

use crate::audit::service::{self as audit, Actor, Change};
use crate::auth::policy;
use crate::concurrency;
use crate::error::AppResult;
use crate::pagination::{self, Cursor, Page, Sort, SortKey, Window};
use crate::taxonomy::service::check_codes;
use crate::validation::{Checked, FieldErrorCode, Validator};
use chrono::{NaiveDate, Utc};
use entity::enums::{RoutingMode, Severity, Taxonomy};
use entity::{protocol, routing_rule, territory};
use sea_orm::ActiveValue::Set;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

/// Longest rule name.
pub const MAX_NAME: usize = 200;
/// Most service types of one rule.
pub const MAX_SERVICE_TYPES: usize = 20;
/// Most draft referrals one rule proposes at once.
pub const MAX_PROPOSALS: i32 = 10;
/// Priorities range from -1,000 to 1,000 (higher first).
pub const MAX_PRIORITY: i32 = 1000;

/// What a rule says (to create or to replace).
#[derive(Clone, Debug)]
pub struct RuleData {
    /// Name, for people.
    pub name: String,
    /// The protocol it belongs to (None: region-wide).
    pub protocol: Option<Uuid>,
    /// The NEED code it answers.
    pub need: String,
    /// The least severity that fires it.
    pub min_severity: Severity,
    /// SERVICE_TYPE codes of the services it proposes.
    pub service_types: Vec<String>,
    /// Only for people living in this territory.
    pub territory: Option<Uuid>,
    /// Only for people in this TARGET_GROUP.
    pub target_group: Option<String>,
    /// Only for people at least this old.
    pub min_age: Option<i32>,
    /// Only for people at most this old.
    pub max_age: Option<i32>,
    /// Propose drafts or send the best match.
    pub mode: RoutingMode,
    /// How many drafts it proposes (1 to 10).
    pub max_proposals: i32,
    /// Higher first, when several rules answer the same need.
    pub priority: i32,
    /// First day in force.
    pub valid_from: Option<NaiveDate>,
    /// Last day in force.
    pub valid_to: Option<NaiveDate>,
}

/// Regional administrators for region-wide rules; for a protocol's rules also an
/// administrator of its lead (promoter) organization.
async fn require_rule_admin(
    db: &impl ConnectionTrait,
    actor: &Actor,
    protocol: Option<Uuid>,
) -> AppResult<()> {
    match protocol {
        None => policy::require_regional_admin(&actor.viewer),
        Some(protocol) => {
            crate::protocol::signatory::require_admin_or_lead(db, actor, protocol).await
        }
    }
}

/// The rule's fields, checked.
async fn check(
    db: &impl ConnectionTrait,
    v: &mut Validator,
    data: RuleData,
) -> AppResult<RuleData> {
    let name = v.text("name", &data.name, MAX_NAME);
    let need = data.need.trim().to_ascii_uppercase();
    if need.is_empty() {
        v.add("need", FieldErrorCode::Required, "name the need");
    } else {
        check_codes(db, v, "need", Taxonomy::Need, std::slice::from_ref(&need)).await?;
    }
    let mut types: Vec<String> = data
        .service_types
        .iter()
        .map(|t| t.trim().to_ascii_uppercase())
        .filter(|t| !t.is_empty())
        .collect();
    types.sort();
    types.dedup();
    if types.is_empty() {
        v.add(
            "serviceTypes",
            FieldErrorCode::Required,
            "name at least one service type",
        );
    } else if types.len() > MAX_SERVICE_TYPES {
        v.add(
            "serviceTypes",
            FieldErrorCode::OutOfRange,
            format!("at most {MAX_SERVICE_TYPES} service types"),
        );
    } else {
        check_codes(db, v, "serviceTypes", Taxonomy::ServiceType, &types).await?;
    }
    let target_group = data
        .target_group
        .map(|g| g.trim().to_ascii_uppercase())
        .filter(|g| !g.is_empty());
    if let Some(group) = &target_group {
        check_codes(
            db,
            v,
            "targetGroup",
            Taxonomy::TargetGroup,
            std::slice::from_ref(group),
        )
        .await?;
    }
    for (field, age) in [("minAge", data.min_age), ("maxAge", data.max_age)] {
        if age.is_some_and(|age| !(0..=120).contains(&age)) {
            v.add(field, FieldErrorCode::OutOfRange, "from 0 to 120 years");
        }
    }
    if let (Some(min), Some(max)) = (data.min_age, data.max_age)
        && min > max
    {
        v.add(
            "maxAge",
            FieldErrorCode::OutOfRange,
            "must not be below minAge",
        );
    }
    if !(1..=MAX_PROPOSALS).contains(&data.max_proposals) {
        v.add(
            "maxProposals",
            FieldErrorCode::OutOfRange,
            format!("from 1 to {MAX_PROPOSALS}"),
        );
    }
    if !(-MAX_PRIORITY..=MAX_PRIORITY).contains(&data.priority) {
        v.add(
            "priority",
            FieldErrorCode::OutOfRange,
            format!("from -{MAX_PRIORITY} to {MAX_PRIORITY}"),
        );
    }
    if let (Some(from), Some(to)) = (data.valid_from, data.valid_to)
        && from > to
    {
        v.add(
            "validTo",
            FieldErrorCode::OutOfRange,
            "must not be before validFrom",
        );
    }
    v.found(
        db,
        "territory",
        data.territory.map(territory::Entity::find_by_id),
    )
    .await?;
    v.found(
        db,
        "protocol",
        data.protocol.map(protocol::Entity::find_by_id),
    )
    .await?;
    Ok(RuleData {
        name,
        need,
        service_types: types,
        target_group,
        ..data
    })
}

fn apply(row: &mut routing_rule::ActiveModel, data: RuleData) {
    row.name = Set(data.name);
    row.protocol_id = Set(data.protocol);
    row.need_code = Set(data.need);
    row.min_severity = Set(data.min_severity);
    row.service_types = Set(data.service_types.join(" "));
    row.territory_id = Set(data.territory);
    row.target_group = Set(data.target_group);
    row.min_age = Set(data.min_age);
    row.max_age = Set(data.max_age);
    row.mode = Set(data.mode);
    row.max_proposals = Set(data.max_proposals);
    row.priority = Set(data.priority);
    row.valid_from = Set(data.valid_from);
    row.valid_to = Set(data.valid_to);
}

/// Creates a routing rule.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn create(
    db: &impl ConnectionTrait,
    actor: &Actor,
    data: RuleData,
) -> AppResult<Checked<routing_rule::Model>> {
    require_rule_admin(db, actor, data.protocol).await?;
    let mut v = Validator::default();
    let data = check(db, &mut v, data).await?;
    if !v.is_ok() {
        return Ok(Err(v.finish()));
    }
    let now = Utc::now();
    let mut row = routing_rule::ActiveModel {
        id: Set(Uuid::now_v7()),
        row_version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    apply(&mut row, data);
    let row = row.insert(db).await?;
    audit::record(
        db,
        actor,
        Change::<(), _> {
            operation: "createRoutingRule",
            object_type: "RoutingRule",
            object_id: row.id,
            before: None,
            after: Some(&row),
        },
    )
    .await?;
    Ok(Ok(row))
}

/// Replaces a routing rule (its decisions so far stay as they were). CONFLICT when
/// `expected_version` is stale; a protocol's lead may neither take a rule out of its
/// protocol nor change another protocol's.
#[tracing::instrument(level = "debug", skip_all, fields(%id))]
pub async fn update(
    db: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
    expected_version: i32,
    data: RuleData,
) -> AppResult<Checked<routing_rule::Model>> {
    let before = concurrency::get::<routing_rule::Entity>(db, id).await?;
    require_rule_admin(db, actor, before.protocol_id).await?;
    if data.protocol != before.protocol_id {
        require_rule_admin(db, actor, data.protocol).await?;
    }
    concurrency::check_expected(Some(expected_version), before.row_version)?;
    let mut v = Validator::default();
    let data = check(db, &mut v, data).await?;
    if !v.is_ok() {
        return Ok(Err(v.finish()));
    }
    let mut row: routing_rule::ActiveModel = before.clone().into();
    apply(&mut row, data);
    let after =
        concurrency::update::<routing_rule::Entity, _>(db, row, &before, Some(expected_version))
            .await?;
    audit::record(
        db,
        actor,
        Change {
            operation: "updateRoutingRule",
            object_type: "RoutingRule",
            object_id: after.id,
            before: Some(&before),
            after: Some(&after),
        },
    )
    .await?;
    Ok(Ok(after))
}

/// Filter of the rules list.
#[derive(Clone, Debug, Default)]
pub struct RuleQuery {
    /// Only rules answering this NEED code.
    pub need: Option<String>,
    /// Only this protocol's rules.
    pub protocol: Option<Uuid>,
    /// Only region-wide rules (`true`) or only protocols' rules (`false`).
    pub region_wide: Option<bool>,
}

fn sort() -> Sort<routing_rule::Entity> {
    Sort::by(
        routing_rule::Column::Name,
        routing_rule::Column::Id,
        false,
        |row: &routing_rule::Model| Cursor::new(SortKey::Text(row.name.clone()), row.id),
    )
}

/// Lists rules by name.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn list(
    db: &impl ConnectionTrait,
    query: &RuleQuery,
    window: &Window,
    with_total: bool,
) -> AppResult<(Page<routing_rule::Model>, u64)> {
    let mut select = routing_rule::Entity::find();
    if let Some(need) = &query.need {
        select = select.filter(routing_rule::Column::NeedCode.eq(need.trim().to_ascii_uppercase()));
    }
    if let Some(protocol) = query.protocol {
        select = select.filter(routing_rule::Column::ProtocolId.eq(protocol));
    }
    match query.region_wide {
        Some(true) => select = select.filter(routing_rule::Column::ProtocolId.is_null()),
        Some(false) => select = select.filter(routing_rule::Column::ProtocolId.is_not_null()),
        None => {}
    }
    pagination::list(db, select, &sort(), window, with_total).await
}

/// Rules valid on `today` that answer one of `needs` and apply to `organization`'s
/// assessments: region-wide ones, and those of protocols in force it has signed;
/// highest priority first.
pub async fn applicable(
    db: &impl ConnectionTrait,
    organization: Uuid,
    needs: &[String],
    today: NaiveDate,
) -> AppResult<Vec<routing_rule::Model>> {
    use crate::protocol::service::{in_force_on, signed_by};
    use sea_orm::sea_query::Query;
    use sea_orm::{Condition, QueryOrder};
    let protocols = Query::select()
        .column(protocol::Column::Id)
        .from(protocol::Entity)
        .cond_where(in_force_on(today))
        .and_where(protocol::Column::Id.in_subquery(signed_by(organization)))
        .to_owned();
    Ok(routing_rule::Entity::find()
        .filter(routing_rule::Column::NeedCode.is_in(needs.iter().cloned()))
        .filter(
            Condition::any()
                .add(routing_rule::Column::ValidFrom.is_null())
                .add(routing_rule::Column::ValidFrom.lte(today)),
        )
        .filter(
            Condition::any()
                .add(routing_rule::Column::ValidTo.is_null())
                .add(routing_rule::Column::ValidTo.gte(today)),
        )
        .filter(
            Condition::any()
                .add(routing_rule::Column::ProtocolId.is_null())
                .add(routing_rule::Column::ProtocolId.in_subquery(protocols)),
        )
        .order_by_desc(routing_rule::Column::Priority)
        .order_by_asc(routing_rule::Column::Id)
        .all(db)
        .await?)
}
