//! Protocol queries, and the changes of the protocol lifecycle and its signatories.

use crate::audit::service::{self as audit, Actor, Change};
use crate::auth::policy;
use crate::auth::viewer::{Role, ViewerKind};
use crate::concurrency;
use crate::error::{AppError, AppResult};
use crate::pagination::{self, Cursor, Page, Sort, SortKey, Window};
use crate::validation::{Checked, FieldErrorCode, Validator};
use chrono::{NaiveDate, Utc};
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
}

fn sort() -> Sort<protocol::Entity> {
    Sort::by(
        protocol::Column::SearchName,
        protocol::Column::Id,
        false,
        |row: &protocol::Model| Cursor::new(SortKey::Text(row.search_name.clone()), row.id),
    )
}

/// Lists protocols ordered by title.
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
        let pattern = pagination::like_contains(&migration::text::fold(search));
        select = select.filter(
            Expr::col(protocol::Column::SearchName).like(LikeExpr::new(pattern).escape('\\')),
        );
    }
    pagination::list(db, select, &sort(), window, with_total).await
}

// ---------------------------------------------------------------------------------
// Changes: the protocol lifecycle and its signatories
// ---------------------------------------------------------------------------------

/// Longest title of a protocol.
const TITLE_MAX: usize = 500;
/// Longest description of a protocol.
const DESCRIPTION_MAX: usize = 4000;
/// Longest reason of a termination or withdrawal.
const REASON_MAX: usize = 1000;
/// Longest name or title of a signer.
const SIGNER_MAX: usize = 200;
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

/// A signature of a protocol by an organization's legal representative.
#[derive(Clone, Debug, Default)]
pub struct Signature {
    /// Name of the legal representative.
    pub signed_by_name: String,
    /// Title of the legal representative.
    pub signed_by_title: String,
    /// SHA-256 of the document signed.
    pub document_sha256: String,
}

/// Validated values of a protocol.
struct Fields {
    title: String,
    description: Option<String>,
    valid_from: Option<NaiveDate>,
    valid_to: Option<NaiveDate>,
    document_url: Option<String>,
    document_sha256: Option<String>,
    response_time_days: i32,
    scope: Vec<Uuid>,
}

/// The stored name of a status, e.g. `OPEN_FOR_SIGNATURE`.
fn status_name<E: sea_orm::ActiveEnum<Value = String>>(status: E) -> String {
    status.to_value()
}

/// True for 64 hexadecimal digits.
fn is_sha256(value: &str) -> bool {
    value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit())
}

/// An optional SHA-256 in hex, stored lower-case; blank means none.
fn optional_sha256(v: &mut Validator, field: &str, value: Option<&str>) -> Option<String> {
    let value = value.map(str::trim).filter(|s| !s.is_empty())?;
    if !is_sha256(value) {
        v.add(
            field,
            FieldErrorCode::Invalid,
            "is not a SHA-256 (64 hexadecimal digits)",
        );
    }
    Some(value.to_ascii_lowercase())
}

/// The JSON of `row` with one more member, for the audit log.
fn annotated<T: serde::Serialize>(
    row: &T,
    key: &str,
    value: serde_json::Value,
) -> AppResult<serde_json::Value> {
    let mut json = serde_json::to_value(row).map_err(AppError::internal)?;
    if let Some(members) = json.as_object_mut() {
        members.insert(key.to_owned(), value);
    }
    Ok(json)
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

/// Validates the values of a protocol.
async fn check_fields(
    db: &impl ConnectionTrait,
    v: &mut Validator,
    input: &NewProtocol,
) -> AppResult<Fields> {
    let title = v.name("title", &input.title, TITLE_MAX);
    let description = v.optional_text("description", input.description.as_deref(), DESCRIPTION_MAX);
    v.ordered(
        "validTo",
        input.valid_from,
        input.valid_to,
        "must not be before validFrom",
    );
    let document_url = v.url("documentUrl", input.document_url.as_deref());
    let document_sha256 = optional_sha256(v, "documentSha256", input.document_sha256.as_deref());
    v.range(
        "responseTimeDays",
        Some(input.response_time_days),
        RESPONSE_DAYS.0,
        RESPONSE_DAYS.1,
    );
    let scope = check_scope(db, v, &input.scope).await?;
    Ok(Fields {
        title,
        description,
        valid_from: input.valid_from,
        valid_to: input.valid_to,
        document_url,
        document_sha256,
        response_time_days: input.response_time_days,
        scope,
    })
}

/// Loads a protocol or fails with NOT_FOUND.
pub async fn get(db: &impl ConnectionTrait, id: Uuid) -> AppResult<protocol::Model> {
    protocol::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound("protocol"))
}

/// Loads a signatory or fails with NOT_FOUND.
pub async fn get_signatory(db: &impl ConnectionTrait, id: Uuid) -> AppResult<signatory::Model> {
    signatory::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound("signatory"))
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
    fields: &Fields,
    version: i32,
    supersedes: Option<Uuid>,
) -> AppResult<protocol::Model> {
    let now = Utc::now();
    let id = Uuid::now_v7();
    let created = protocol::ActiveModel {
        id: Set(id),
        title: Set(fields.title.clone()),
        search_name: Set(migration::text::fold(&fields.title)),
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

/// Records the creation of a protocol, with its scope.
async fn audit_created(
    db: &impl ConnectionTrait,
    actor: &Actor,
    operation: &str,
    created: &protocol::Model,
    scope: &[Uuid],
) -> AppResult<()> {
    let after = annotated(created, "scope", serde_json::json!(scope))?;
    audit::record(
        db,
        actor,
        Change {
            operation,
            object_type: "Protocol",
            object_id: created.id,
            before: None::<&protocol::Model>,
            after: Some(&after),
        },
    )
    .await
}

/// Creates a DRAFT protocol, version 1, inviting `lead` as its promoter. Regional
/// administrators only.
pub async fn create(
    db: &impl ConnectionTrait,
    actor: &Actor,
    input: NewProtocol,
) -> AppResult<Checked<protocol::Model>> {
    policy::require_regional_admin(&actor.viewer)?;
    let mut v = Validator::default();
    let fields = check_fields(db, &mut v, &input).await?;
    if let Some(lead) = input.lead
        && organization::Entity::find_by_id(lead)
            .one(db)
            .await?
            .is_none()
    {
        v.add("lead", FieldErrorCode::NotFound, "no such organization");
    }
    if !v.is_ok() {
        return Ok(Err(v.finish()));
    }
    let created = insert_protocol(db, &fields, 1, None).await?;
    audit_created(db, actor, "createProtocol", &created, &fields.scope).await?;
    if let Some(lead) = input.lead {
        let invited = insert_signatory(db, created.id, lead, SignatoryRole::Promoter).await?;
        audit_signatory(db, actor, "createProtocol", invited.id, None, &invited).await?;
    }
    Ok(Ok(created))
}

/// Creates a new DRAFT version amending protocol `id`: version + 1, superseding it,
/// with its values and scope unless changed; signatories are not copied. Regional
/// administrators only; a protocol already amended cannot be amended again.
pub async fn create_version(
    db: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
    expected_version: Option<i32>,
    amendment: Amendment,
) -> AppResult<Checked<protocol::Model>> {
    let old = get(db, id).await?;
    policy::require_regional_admin(&actor.viewer)?;
    concurrency::check_expected(expected_version, old.row_version)?;
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
    audit_created(db, actor, "createProtocolVersion", &created, &fields.scope).await?;
    Ok(Ok(created))
}

/// Saves `row` over `before`, bumping its row version; CONFLICT if it moved on.
async fn save_protocol(
    db: &impl ConnectionTrait,
    mut row: protocol::ActiveModel,
    before: &protocol::Model,
) -> AppResult<protocol::Model> {
    row.row_version = Set(before.row_version + 1);
    row.updated_at = Set(Utc::now());
    concurrency::update::<protocol::Entity, _>(db, row, before, None).await
}

/// Moves a protocol to `status` and records it, with an optional reason.
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
    let after = save_protocol(db, row, before).await?;
    let recorded = match reason {
        Some(reason) => annotated(&after, "reason", serde_json::json!(reason))?,
        None => serde_json::to_value(&after).map_err(AppError::internal)?,
    };
    audit::record(
        db,
        actor,
        Change {
            operation,
            object_type: "Protocol",
            object_id: after.id,
            before: Some(before),
            after: Some(&recorded),
        },
    )
    .await?;
    Ok(after)
}

/// Loads a protocol for a lifecycle change by a regional administrator and checks the
/// expected version; the user error when its status is not one of `from`.
async fn load_for_transition(
    db: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
    expected_version: i32,
    from: &[ProtocolStatus],
    v: &mut Validator,
) -> AppResult<protocol::Model> {
    let before = get(db, id).await?;
    policy::require_regional_admin(&actor.viewer)?;
    concurrency::check_expected(Some(expected_version), before.row_version)?;
    if !from.contains(&before.status) {
        let allowed: Vec<String> = from.iter().map(|s| status_name(*s)).collect();
        v.add(
            "id",
            FieldErrorCode::InvalidState,
            format!(
                "the protocol is {}; this is possible only when it is {}",
                status_name(before.status),
                allowed.join(" or ")
            ),
        );
    }
    Ok(before)
}

/// Opens a DRAFT protocol for signature. Regional administrators only.
pub async fn open_for_signature(
    db: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
    expected_version: i32,
) -> AppResult<Checked<protocol::Model>> {
    let mut v = Validator::default();
    let before = load_for_transition(
        db,
        actor,
        id,
        expected_version,
        &[ProtocolStatus::Draft],
        &mut v,
    )
    .await?;
    if !v.is_ok() {
        return Ok(Err(v.finish()));
    }
    let after = set_status(
        db,
        actor,
        "openProtocolForSignature",
        &before,
        ProtocolStatus::OpenForSignature,
        None,
    )
    .await?;
    Ok(Ok(after))
}

/// Puts a protocol OPEN_FOR_SIGNATURE in force; it needs at least one signature. The
/// versions it amends that are in force are terminated. Regional administrators only.
pub async fn put_in_force(
    db: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
    expected_version: i32,
) -> AppResult<Checked<protocol::Model>> {
    let mut v = Validator::default();
    let before = load_for_transition(
        db,
        actor,
        id,
        expected_version,
        &[ProtocolStatus::OpenForSignature],
        &mut v,
    )
    .await?;
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
    let after = set_status(
        db,
        actor,
        "putProtocolInForce",
        &before,
        ProtocolStatus::InForce,
        None,
    )
    .await?;
    let reason = format!("superseded by version {}", after.version);
    let mut seen = HashSet::new();
    let mut previous = after.supersedes_id;
    while let Some(previous_id) = previous
        && seen.insert(previous_id)
    {
        let old = get(db, previous_id).await?;
        if old.status == ProtocolStatus::InForce {
            set_status(
                db,
                actor,
                "putProtocolInForce",
                &old,
                ProtocolStatus::Terminated,
                Some(&reason),
            )
            .await?;
        }
        previous = old.supersedes_id;
    }
    Ok(Ok(after))
}

/// Terminates a protocol IN_FORCE or OPEN_FOR_SIGNATURE, for a reason. Regional
/// administrators only.
pub async fn terminate(
    db: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
    expected_version: i32,
    reason: &str,
) -> AppResult<Checked<protocol::Model>> {
    let mut v = Validator::default();
    let before = load_for_transition(
        db,
        actor,
        id,
        expected_version,
        &[ProtocolStatus::InForce, ProtocolStatus::OpenForSignature],
        &mut v,
    )
    .await?;
    let reason = v.text("reason", reason, REASON_MAX);
    if !v.is_ok() {
        return Ok(Err(v.finish()));
    }
    let after = set_status(
        db,
        actor,
        "terminateProtocol",
        &before,
        ProtocolStatus::Terminated,
        Some(&reason),
    )
    .await?;
    Ok(Ok(after))
}

/// Inserts an INVITED signatory.
async fn insert_signatory(
    db: &impl ConnectionTrait,
    protocol_id: Uuid,
    organization_id: Uuid,
    role: SignatoryRole,
) -> AppResult<signatory::Model> {
    let now = Utc::now();
    Ok(signatory::ActiveModel {
        id: Set(Uuid::now_v7()),
        protocol_id: Set(protocol_id),
        organization_id: Set(organization_id),
        role: Set(role),
        status: Set(SignatoryStatus::Invited),
        invited_at: Set(Some(now)),
        signed_at: Set(None),
        signed_by_name: Set(None),
        signed_by_title: Set(None),
        withdrawn_at: Set(None),
        row_version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?)
}

/// Records a change of signatory `id`.
async fn audit_signatory<A: serde::Serialize>(
    db: &impl ConnectionTrait,
    actor: &Actor,
    operation: &str,
    id: Uuid,
    before: Option<&signatory::Model>,
    after: &A,
) -> AppResult<()> {
    audit::record(
        db,
        actor,
        Change {
            operation,
            object_type: "Signatory",
            object_id: id,
            before,
            after: Some(after),
        },
    )
    .await
}

/// Saves `row` over `before`, bumping its row version; CONFLICT if it moved on.
async fn save_signatory(
    db: &impl ConnectionTrait,
    mut row: signatory::ActiveModel,
    before: &signatory::Model,
) -> AppResult<signatory::Model> {
    row.row_version = Set(before.row_version + 1);
    row.updated_at = Set(Utc::now());
    concurrency::update::<signatory::Entity, _>(db, row, before, None).await
}

/// Regional administrators, or an administrator of one of the protocol's promoters.
async fn require_admin_or_lead(
    db: &impl ConnectionTrait,
    actor: &Actor,
    protocol_id: Uuid,
) -> AppResult<()> {
    let viewer = &actor.viewer;
    if policy::require_regional_admin(viewer).is_ok() {
        return Ok(());
    }
    if viewer.kind == ViewerKind::User && viewer.has_role(Role::OrgAdmin) {
        let leads = signatory::Entity::find()
            .filter(signatory::Column::ProtocolId.eq(protocol_id))
            .filter(signatory::Column::Role.eq(SignatoryRole::Promoter))
            .filter(signatory::Column::Status.ne(SignatoryStatus::Withdrawn))
            .all(db)
            .await?;
        if leads
            .iter()
            .any(|lead| policy::require_org_admin(viewer, lead.organization_id).is_ok())
        {
            return Ok(());
        }
    }
    Err(policy::deny(
        viewer,
        "only the regional administration or an administrator of the protocol's lead organization may invite signatories",
    ))
}

/// Invites an organization to a protocol DRAFT or OPEN_FOR_SIGNATURE; an organization
/// that withdrew is invited again. Regional administrators, or an administrator of the
/// protocol's lead (promoter) organization.
pub async fn invite(
    db: &impl ConnectionTrait,
    actor: &Actor,
    protocol_id: Uuid,
    organization_id: Uuid,
    role: SignatoryRole,
) -> AppResult<Checked<signatory::Model>> {
    let protocol = get(db, protocol_id).await?;
    require_admin_or_lead(db, actor, protocol_id).await?;
    let mut v = Validator::default();
    if !matches!(
        protocol.status,
        ProtocolStatus::Draft | ProtocolStatus::OpenForSignature
    ) {
        v.add(
            "protocol",
            FieldErrorCode::InvalidState,
            format!(
                "the protocol is {}; organizations may be invited only while it is DRAFT or OPEN_FOR_SIGNATURE",
                status_name(protocol.status)
            ),
        );
    }
    if organization::Entity::find_by_id(organization_id)
        .one(db)
        .await?
        .is_none()
    {
        v.add(
            "organization",
            FieldErrorCode::NotFound,
            "no such organization",
        );
    }
    let existing = signatory::Entity::find()
        .filter(signatory::Column::ProtocolId.eq(protocol_id))
        .filter(signatory::Column::OrganizationId.eq(organization_id))
        .one(db)
        .await?;
    if let Some(existing) = &existing
        && existing.status != SignatoryStatus::Withdrawn
    {
        v.add(
            "organization",
            FieldErrorCode::Taken,
            format!(
                "the organization is already {} in this protocol",
                status_name(existing.status)
            ),
        );
    }
    if !v.is_ok() {
        return Ok(Err(v.finish()));
    }
    let after = match existing {
        Some(before) => {
            let mut row: signatory::ActiveModel = before.clone().into();
            row.role = Set(role);
            row.status = Set(SignatoryStatus::Invited);
            row.invited_at = Set(Some(Utc::now()));
            row.signed_at = Set(None);
            row.signed_by_name = Set(None);
            row.signed_by_title = Set(None);
            row.withdrawn_at = Set(None);
            let after = save_signatory(db, row, &before).await?;
            audit_signatory(
                db,
                actor,
                "inviteSignatory",
                after.id,
                Some(&before),
                &after,
            )
            .await?;
            after
        }
        None => {
            let after = insert_signatory(db, protocol_id, organization_id, role).await?;
            audit_signatory(db, actor, "inviteSignatory", after.id, None, &after).await?;
            after
        }
    };
    Ok(Ok(after))
}

/// Signs an invitation, on behalf of the invited organization: its administrators
/// only. The protocol must be OPEN_FOR_SIGNATURE or IN_FORCE and, when it has a
/// document, the signed document must be that one.
pub async fn sign(
    db: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
    expected_version: i32,
    signature: Signature,
) -> AppResult<Checked<signatory::Model>> {
    let before = get_signatory(db, id).await?;
    policy::require_org_admin(&actor.viewer, before.organization_id)?;
    concurrency::check_expected(Some(expected_version), before.row_version)?;
    let protocol = get(db, before.protocol_id).await?;
    let mut v = Validator::default();
    if before.status != SignatoryStatus::Invited {
        v.add(
            "signatory",
            FieldErrorCode::InvalidState,
            format!(
                "the adherence is {}; only an invitation (INVITED) can be signed",
                status_name(before.status)
            ),
        );
    }
    if !matches!(
        protocol.status,
        ProtocolStatus::OpenForSignature | ProtocolStatus::InForce
    ) {
        v.add(
            "signatory",
            FieldErrorCode::InvalidState,
            format!(
                "the protocol is {}; it can be signed only while OPEN_FOR_SIGNATURE or IN_FORCE",
                status_name(protocol.status)
            ),
        );
    }
    let name = v.name("signedByName", &signature.signed_by_name, SIGNER_MAX);
    let title = v.name("signedByTitle", &signature.signed_by_title, SIGNER_MAX);
    let document = signature.document_sha256.trim().to_ascii_lowercase();
    if document.is_empty() {
        v.add(
            "documentSha256",
            FieldErrorCode::Required,
            "must not be blank",
        );
    } else if !is_sha256(&document) {
        v.add(
            "documentSha256",
            FieldErrorCode::Invalid,
            "is not a SHA-256 (64 hexadecimal digits)",
        );
    } else if let Some(published) = &protocol.document_sha256
        && !published.eq_ignore_ascii_case(&document)
    {
        v.add(
            "documentSha256",
            FieldErrorCode::Invalid,
            "signed a different document: the SHA-256 is not the protocol document's",
        );
    }
    if !v.is_ok() {
        return Ok(Err(v.finish()));
    }
    let mut row: signatory::ActiveModel = before.clone().into();
    row.status = Set(SignatoryStatus::Signed);
    row.signed_at = Set(Some(Utc::now()));
    row.signed_by_name = Set(Some(name));
    row.signed_by_title = Set(Some(title));
    let after = save_signatory(db, row, &before).await?;
    let recorded = annotated(&after, "documentSha256", serde_json::json!(document))?;
    audit_signatory(
        db,
        actor,
        "signProtocol",
        after.id,
        Some(&before),
        &recorded,
    )
    .await?;
    Ok(Ok(after))
}

/// Withdraws an organization's adherence (INVITED or SIGNED), for a reason: an
/// administrator of that organization or a regional administrator.
pub async fn withdraw(
    db: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
    expected_version: i32,
    reason: &str,
) -> AppResult<Checked<signatory::Model>> {
    let before = get_signatory(db, id).await?;
    if policy::require_regional_admin(&actor.viewer).is_err() {
        policy::require_org_admin(&actor.viewer, before.organization_id)?;
    }
    concurrency::check_expected(Some(expected_version), before.row_version)?;
    let mut v = Validator::default();
    if !matches!(
        before.status,
        SignatoryStatus::Invited | SignatoryStatus::Signed
    ) {
        v.add(
            "signatory",
            FieldErrorCode::InvalidState,
            format!(
                "the adherence is {}; only an INVITED or SIGNED one can be withdrawn",
                status_name(before.status)
            ),
        );
    }
    let reason = v.text("reason", reason, REASON_MAX);
    if !v.is_ok() {
        return Ok(Err(v.finish()));
    }
    let mut row: signatory::ActiveModel = before.clone().into();
    row.status = Set(SignatoryStatus::Withdrawn);
    row.withdrawn_at = Set(Some(Utc::now()));
    let after = save_signatory(db, row, &before).await?;
    let recorded = annotated(&after, "reason", serde_json::json!(reason))?;
    audit_signatory(
        db,
        actor,
        "withdrawSignatory",
        after.id,
        Some(&before),
        &recorded,
    )
    .await?;
    Ok(Ok(after))
}
