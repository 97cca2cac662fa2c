//! Protocols: the list and its filter, and the lifecycle of a protocol (create, amend,
//! open for signature, put in force, terminate) by the regional administration. Its
//! signatories are in [`super::signatory`].

use crate::audit::service::{self as audit, Actor, log_with};
use crate::auth::policy;
use crate::concurrency;
use crate::error::{AppError, AppResult};
use crate::pagination::{self, Cursor, Page, Sort, SortKey, Window};
use crate::validation::{Checked, FieldErrorCode, Validator};
use chrono::{DateTime, NaiveDate, Utc};
use entity::enums::{ProtocolStatus, SignatoryRole, SignatoryStatus};
use entity::{organization, protocol, protocol_scope, signatory, territory};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, ExprTrait, LikeExpr, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
};
use std::collections::HashSet;
use uuid::Uuid;

/// What to list.
#[derive(Clone, Debug, Default)]
pub struct ProtocolQuery {
    /// Only these statuses.
    pub statuses: Vec<ProtocolStatus>,
    /// Only protocols this organization is a signatory of (any signatory status).
    pub organization: Option<Uuid>,
    /// With `organization`: only where its signatory has this status.
    pub signatory_status: Option<entity::enums::SignatoryStatus>,
    /// Only protocols whose scope covers this municipality.
    pub covers_municipality: Option<Uuid>,
    /// Title contains this text (case and accents ignored).
    pub search: Option<String>,
    /// Only changed at or after this time.
    pub updated_since: Option<DateTime<Utc>>,
    /// By last change instead of by title.
    pub by_last_change: bool,
    /// The order reversed.
    pub descending: bool,
}

/// Condition on `protocol` rows: in force on `today`.
pub fn in_force_on(today: NaiveDate) -> sea_orm::Condition {
    sea_orm::Condition::all()
        .add(protocol::Column::Status.eq(ProtocolStatus::InForce))
        .add(
            sea_orm::Condition::any()
                .add(protocol::Column::ValidFrom.is_null())
                .add(protocol::Column::ValidFrom.lte(today)),
        )
        .add(
            sea_orm::Condition::any()
                .add(protocol::Column::ValidTo.is_null())
                .add(protocol::Column::ValidTo.gte(today)),
        )
}

/// Ids of the protocols `organization` has signed (a subquery).
pub fn signed_by(
    organization: impl Into<sea_orm::sea_query::SimpleExpr>,
) -> sea_orm::sea_query::SelectStatement {
    Query::select()
        .column(signatory::Column::ProtocolId)
        .from(signatory::Entity)
        .and_where(
            Expr::col((signatory::Entity, signatory::Column::OrganizationId)).eq(organization),
        )
        .and_where(signatory::Column::Status.eq(SignatoryStatus::Signed))
        .to_owned()
}

fn sort(by_last_change: bool, descending: bool) -> Sort<protocol::Entity> {
    if by_last_change {
        return Sort::by(
            protocol::Column::UpdatedAt,
            protocol::Column::Id,
            descending,
            |row: &protocol::Model| Cursor::new(SortKey::Time(row.updated_at), row.id),
        );
    }
    Sort::by(
        protocol::Column::SearchName,
        protocol::Column::Id,
        descending,
        |row: &protocol::Model| Cursor::new(SortKey::Text(row.search_name.clone()), row.id),
    )
}

/// Lists protocols ordered by title or by last change.
#[tracing::instrument(level = "debug", skip_all, fields(with_total))]
pub async fn list(
    db: &impl ConnectionTrait,
    query: &ProtocolQuery,
    window: &Window,
    with_total: bool,
) -> AppResult<(Page<protocol::Model>, u64)> {
    let mut select = protocol::Entity::find();
    if !query.statuses.is_empty() {
        select = select.filter(protocol::Column::Status.is_in(query.statuses.clone()));
    }
    if let Some(organization) = query.organization {
        let mut signatories = Query::select()
            .column(signatory::Column::ProtocolId)
            .from(signatory::Entity)
            .and_where(signatory::Column::OrganizationId.eq(organization))
            .to_owned();
        if let Some(status) = query.signatory_status {
            signatories.and_where(signatory::Column::Status.eq(status));
        }
        select = select.filter(protocol::Column::Id.in_subquery(signatories));
    } else if query.signatory_status.is_some() {
        return Err(AppError::BadUserInput(
            "`signatoryStatus` needs `organization`".to_owned(),
        ));
    }
    if let Some(municipality) = query.covers_municipality {
        let covering = crate::territory::service::covering(db, municipality).await?;
        select = select.filter(
            protocol::Column::Id.in_subquery(
                Query::select()
                    .column(protocol_scope::Column::ProtocolId)
                    .from(protocol_scope::Entity)
                    .and_where(protocol_scope::Column::TerritoryId.is_in(covering))
                    .to_owned(),
            ),
        );
    }
    if let Some(search) = &query.search {
        let pattern = pagination::like_contains(&melt_text::fold(search));
        select = select.filter(
            Expr::col(protocol::Column::SearchName).like(LikeExpr::new(pattern).escape('\\')),
        );
    }
    if let Some(since) = query.updated_since {
        select = select.filter(protocol::Column::UpdatedAt.gte(since));
    }
    let sort = sort(query.by_last_change, query.descending);
    pagination::list(db, select, &sort, window, with_total).await
}

/// Longest title of a protocol.
const TITLE_MAX: usize = 500;
/// Longest description of a protocol.
const DESCRIPTION_MAX: usize = 4000;
/// Longest reason of a termination or withdrawal.
pub(super) const REASON_MAX: usize = 1000;
/// Fewest and most working days a protocol may commit its signatories to.
const RESPONSE_DAYS: (i32, i32) = (1, 90);

/// Values of a new protocol, as given by the caller.
#[derive(Clone, Debug, Default)]
pub struct NewProtocol {
    /// Title (required).
    pub title: String,
    /// Summary; blank means none.
    pub description: Option<String>,
    /// First day of validity.
    pub valid_from: Option<NaiveDate>,
    /// Last day of validity.
    pub valid_to: Option<NaiveDate>,
    /// Where the document is published (http or https); blank means none.
    pub document_url: Option<String>,
    /// SHA-256 of the document, hex; blank means none.
    pub document_sha256: Option<String>,
    /// Working days within which a signatory answers a referral.
    pub response_time_days: i32,
    /// Territories covered (at least one).
    pub scope: Vec<Uuid>,
    /// Organization invited as promoter (lead).
    pub lead: Option<Uuid>,
}

/// What a new version changes. Omitted values are copied from the amended version; an
/// empty text clears an optional one.
#[derive(Clone, Debug, Default)]
pub struct Amendment {
    /// New title.
    pub title: Option<String>,
    /// New summary.
    pub description: Option<String>,
    /// New first day of validity.
    pub valid_from: Option<NaiveDate>,
    /// New last day of validity.
    pub valid_to: Option<NaiveDate>,
    /// New document URL.
    pub document_url: Option<String>,
    /// New document SHA-256.
    pub document_sha256: Option<String>,
    /// New response time.
    pub response_time_days: Option<i32>,
    /// New territorial scope.
    pub scope: Option<Vec<Uuid>>,
}

/// The stored name of a status, e.g. `OPEN_FOR_SIGNATURE`.
pub(super) fn status_name<E: sea_orm::ActiveEnum<Value = String>>(status: E) -> String {
    status.to_value()
}

/// Adds an INVALID_STATE error on `field` unless `status` is one of `allowed`: "`what`
/// is `STATUS`; `rule`".
pub(super) fn require_status<S>(
    v: &mut Validator,
    field: &str,
    (what, status): (&str, S),
    allowed: &[S],
    rule: &str,
) where
    S: sea_orm::ActiveEnum<Value = String> + PartialEq,
{
    if !allowed.contains(&status) {
        let message = format!("{what} is {}; {rule}", status_name(status));
        v.add(field, FieldErrorCode::InvalidState, message);
    }
}

/// Checks that every territory of the scope exists; drops repetitions.
async fn check_scope(
    db: &impl ConnectionTrait,
    v: &mut Validator,
    scope: &[Uuid],
) -> AppResult<Vec<Uuid>> {
    if scope.is_empty() {
        v.add(
            "scope",
            FieldErrorCode::Required,
            "must name at least one territory",
        );
        return Ok(Vec::new());
    }
    let found: HashSet<Uuid> = territory::Entity::find()
        .filter(territory::Column::Id.is_in(scope.iter().copied()))
        .all(db)
        .await?
        .into_iter()
        .map(|t| t.id)
        .collect();
    let mut seen = HashSet::new();
    let mut unique = Vec::new();
    for (i, id) in scope.iter().enumerate() {
        if !found.contains(id) {
            v.add(
                &format!("scope.{i}"),
                FieldErrorCode::NotFound,
                "no such territory",
            );
        } else if seen.insert(*id) {
            unique.push(*id);
        }
    }
    Ok(unique)
}

/// Validates the values of a protocol; returns them trimmed, with the scope without
/// repetitions.
async fn check_fields(
    db: &impl ConnectionTrait,
    v: &mut Validator,
    input: &NewProtocol,
) -> AppResult<NewProtocol> {
    let title = v.name("title", &input.title, TITLE_MAX);
    let description = v.optional_text("description", input.description.as_deref(), DESCRIPTION_MAX);
    v.ordered(
        "validTo",
        input.valid_from,
        input.valid_to,
        "must not be before validFrom",
    );
    let document_url = v.url("documentUrl", input.document_url.as_deref());
    let document_sha256 = v.optional_sha256("documentSha256", input.document_sha256.as_deref());
    v.range(
        "responseTimeDays",
        Some(input.response_time_days),
        RESPONSE_DAYS.0,
        RESPONSE_DAYS.1,
    );
    let scope = check_scope(db, v, &input.scope).await?;
    Ok(NewProtocol {
        title,
        description,
        valid_from: input.valid_from,
        valid_to: input.valid_to,
        document_url,
        document_sha256,
        response_time_days: input.response_time_days,
        scope,
        lead: input.lead,
    })
}

/// Territories a protocol covers.
async fn scope_of(db: &impl ConnectionTrait, id: Uuid) -> AppResult<Vec<Uuid>> {
    Ok(protocol_scope::Entity::find()
        .filter(protocol_scope::Column::ProtocolId.eq(id))
        .all(db)
        .await?
        .into_iter()
        .map(|s| s.territory_id)
        .collect())
}

/// Inserts a DRAFT protocol with its scope.
async fn insert_protocol(
    db: &impl ConnectionTrait,
    fields: &NewProtocol,
    version: i32,
    supersedes: Option<Uuid>,
) -> AppResult<protocol::Model> {
    let now = Utc::now();
    let id = Uuid::now_v7();
    let created = protocol::ActiveModel {
        id: Set(id),
        title: Set(fields.title.clone()),
        search_name: Set(melt_text::fold(&fields.title)),
        version: Set(version),
        description: Set(fields.description.clone()),
        valid_from: Set(fields.valid_from),
        valid_to: Set(fields.valid_to),
        document_url: Set(fields.document_url.clone()),
        document_sha256: Set(fields.document_sha256.clone()),
        response_time_days: Set(fields.response_time_days),
        status: Set(ProtocolStatus::Draft),
        supersedes_id: Set(supersedes),
        row_version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?;
    for territory_id in &fields.scope {
        protocol_scope::ActiveModel {
            protocol_id: Set(id),
            territory_id: Set(*territory_id),
            created_at: Set(now),
        }
        .insert(db)
        .await?;
    }
    Ok(created)
}

/// Creates a DRAFT protocol, version 1, inviting `lead` as its promoter. Regional
/// administrators only.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn create(
    db: &impl ConnectionTrait,
    actor: &Actor,
    input: NewProtocol,
) -> AppResult<Checked<protocol::Model>> {
    policy::require_regional_admin(&actor.viewer)?;
    let mut v = Validator::default();
    let fields = check_fields(db, &mut v, &input).await?;
    v.found(db, "lead", input.lead.map(organization::Entity::find_by_id))
        .await?;
    if !v.is_ok() {
        return Ok(Err(v.finish()));
    }
    let created = insert_protocol(db, &fields, 1, None).await?;
    let scope = ("scope", serde_json::json!(fields.scope));
    log_with::<protocol::Entity>(db, actor, "createProtocol", None, &created, scope).await?;
    if let Some(lead) = input.lead {
        let invited = insert_signatory(db, created.id, lead, SignatoryRole::Promoter).await?;
        audit::log::<signatory::Entity>(db, actor, "createProtocol", None, Some(&invited)).await?;
    }
    Ok(Ok(created))
}

/// Creates a new DRAFT version amending protocol `id`: version + 1, superseding it,
/// with its values and scope unless changed; signatories are not copied. Regional
/// administrators only; a protocol already amended cannot be amended again.
#[tracing::instrument(level = "debug", skip(db, actor, amendment))]
pub async fn create_version(
    db: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
    expected_version: i32,
    amendment: Amendment,
) -> AppResult<Checked<protocol::Model>> {
    let old = load_for_region(db, actor, id, expected_version).await?;
    let mut v = Validator::default();
    let newer = protocol::Entity::find()
        .filter(protocol::Column::SupersedesId.eq(id))
        .one(db)
        .await?;
    if let Some(newer) = newer {
        v.add(
            "protocol",
            FieldErrorCode::InvalidState,
            format!(
                "version {} already amends this protocol: amend that one",
                newer.version
            ),
        );
        return Ok(Err(v.finish()));
    }
    let scope = match amendment.scope {
        Some(scope) => scope,
        None => scope_of(db, id).await?,
    };
    let merged = NewProtocol {
        title: amendment.title.unwrap_or_else(|| old.title.clone()),
        description: amendment.description.or_else(|| old.description.clone()),
        valid_from: amendment.valid_from.or(old.valid_from),
        valid_to: amendment.valid_to.or(old.valid_to),
        document_url: amendment.document_url.or_else(|| old.document_url.clone()),
        document_sha256: amendment
            .document_sha256
            .or_else(|| old.document_sha256.clone()),
        response_time_days: amendment
            .response_time_days
            .unwrap_or(old.response_time_days),
        scope,
        lead: None,
    };
    let fields = check_fields(db, &mut v, &merged).await?;
    if !v.is_ok() {
        return Ok(Err(v.finish()));
    }
    let created = insert_protocol(db, &fields, old.version + 1, Some(old.id)).await?;
    let scope = ("scope", serde_json::json!(fields.scope));
    log_with::<protocol::Entity>(db, actor, "createProtocolVersion", None, &created, scope).await?;
    Ok(Ok(created))
}

/// Moves a protocol to `status` and records it, with an optional reason. The caller
/// checked the version it read; the write is still refused if the row moved on since.
async fn set_status(
    db: &impl ConnectionTrait,
    actor: &Actor,
    operation: &str,
    before: &protocol::Model,
    status: ProtocolStatus,
    reason: Option<&str>,
) -> AppResult<protocol::Model> {
    let mut row: protocol::ActiveModel = before.clone().into();
    row.status = Set(status);
    let after = concurrency::update::<protocol::Entity, _>(db, row, before, None).await?;
    match reason {
        Some(reason) => {
            let reason = ("reason", serde_json::json!(reason));
            log_with::<protocol::Entity>(db, actor, operation, Some(before), &after, reason).await
        }
        None => {
            audit::log::<protocol::Entity>(db, actor, operation, Some(before), Some(&after)).await
        }
    }?;
    let event = match status {
        ProtocolStatus::OpenForSignature => "protocol.opened",
        ProtocolStatus::InForce => "protocol.in_force",
        _ => "protocol.terminated",
    };
    crate::events::service::public(
        db,
        event,
        crate::graphql::relay::NodeKind::Protocol,
        after.id,
    )
    .await?;
    Ok(after)
}

/// Loads a protocol for a change by a regional administrator, at the version read.
async fn load_for_region(
    db: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
    expected_version: i32,
) -> AppResult<protocol::Model> {
    let protocol = concurrency::get::<protocol::Entity>(db, id).await?;
    policy::require_regional_admin(&actor.viewer)?;
    concurrency::check_expected(Some(expected_version), protocol.row_version)?;
    Ok(protocol)
}

/// Loads a protocol for a lifecycle change by a regional administrator, at the version
/// read; the validator holds the user error when its status is not one of `from`.
async fn load_for_transition(
    db: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
    expected_version: i32,
    from: &[ProtocolStatus],
) -> AppResult<(protocol::Model, Validator)> {
    let before = load_for_region(db, actor, id, expected_version).await?;
    let mut v = Validator::default();
    let allowed: Vec<String> = from.iter().map(|s| status_name(*s)).collect();
    let rule = format!("this is possible only when it is {}", allowed.join(" or "));
    require_status(&mut v, "id", ("the protocol", before.status), from, &rule);
    Ok((before, v))
}

/// Opens a DRAFT protocol for signature. Regional administrators only.
#[tracing::instrument(level = "debug", skip(db, actor))]
pub async fn open_for_signature(
    db: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
    expected_version: i32,
) -> AppResult<Checked<protocol::Model>> {
    let from = [ProtocolStatus::Draft];
    let (before, v) = load_for_transition(db, actor, id, expected_version, &from).await?;
    if !v.is_ok() {
        return Ok(Err(v.finish()));
    }
    let to = ProtocolStatus::OpenForSignature;
    let after = set_status(db, actor, "openProtocolForSignature", &before, to, None).await?;
    Ok(Ok(after))
}

/// Puts a protocol OPEN_FOR_SIGNATURE in force; it needs at least one signature. The
/// versions it amends that are in force are terminated. Regional administrators only.
#[tracing::instrument(level = "debug", skip(db, actor))]
pub async fn put_in_force(
    db: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
    expected_version: i32,
) -> AppResult<Checked<protocol::Model>> {
    let from = [ProtocolStatus::OpenForSignature];
    let (before, mut v) = load_for_transition(db, actor, id, expected_version, &from).await?;
    if !v.is_ok() {
        return Ok(Err(v.finish()));
    }
    let signed = signatory::Entity::find()
        .filter(signatory::Column::ProtocolId.eq(id))
        .filter(signatory::Column::Status.eq(SignatoryStatus::Signed))
        .count(db)
        .await?;
    if signed == 0 {
        v.add(
            "id",
            FieldErrorCode::InvalidState,
            "nobody has signed the protocol yet: it needs at least one signature",
        );
        return Ok(Err(v.finish()));
    }
    let operation = "putProtocolInForce";
    let after = set_status(db, actor, operation, &before, ProtocolStatus::InForce, None).await?;
    let reason = format!("superseded by version {}", after.version);
    let mut seen = HashSet::new();
    let mut previous = after.supersedes_id;
    while let Some(previous_id) = previous
        && seen.insert(previous_id)
    {
        let old = concurrency::get::<protocol::Entity>(db, previous_id).await?;
        if old.status == ProtocolStatus::InForce {
            let to = ProtocolStatus::Terminated;
            set_status(db, actor, operation, &old, to, Some(&reason)).await?;
        }
        previous = old.supersedes_id;
    }
    Ok(Ok(after))
}

/// Terminates a protocol IN_FORCE or OPEN_FOR_SIGNATURE, for a reason. Regional
/// administrators only.
#[tracing::instrument(level = "debug", skip(db, actor, reason))]
pub async fn terminate(
    db: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
    expected_version: i32,
    reason: &str,
) -> AppResult<Checked<protocol::Model>> {
    let from = [ProtocolStatus::InForce, ProtocolStatus::OpenForSignature];
    let (before, mut v) = load_for_transition(db, actor, id, expected_version, &from).await?;
    let reason = v.text("reason", reason, REASON_MAX);
    if !v.is_ok() {
        return Ok(Err(v.finish()));
    }
    let to = ProtocolStatus::Terminated;
    let after = set_status(db, actor, "terminateProtocol", &before, to, Some(&reason)).await?;
    Ok(Ok(after))
}

/// The values of an invitation as `role` at `now`: INVITED, neither signed nor withdrawn.
pub(super) fn invitation(role: SignatoryRole, now: DateTime<Utc>) -> signatory::ActiveModel {
    signatory::ActiveModel {
        role: Set(role),
        status: Set(SignatoryStatus::Invited),
        invited_at: Set(Some(now)),
        signed_at: Set(None),
        signed_by_name: Set(None),
        signed_by_title: Set(None),
        withdrawn_at: Set(None),
        ..Default::default()
    }
}

/// Inserts an INVITED signatory.
pub(super) async fn insert_signatory(
    db: &impl ConnectionTrait,
    protocol_id: Uuid,
    organization_id: Uuid,
    role: SignatoryRole,
) -> AppResult<signatory::Model> {
    let now = Utc::now();
    let row = signatory::ActiveModel {
        id: Set(Uuid::now_v7()),
        protocol_id: Set(protocol_id),
        organization_id: Set(organization_id),
        row_version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
        ..invitation(role, now)
    };
    Ok(row.insert(db).await?)
}
