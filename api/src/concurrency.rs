//! Reading rows by id and optimistic concurrency: every versioned row carries
//! `row_version`; a change states the version it read and is refused with CONFLICT when
//! the row moved on.
//!
//! The tables are described by traits ([`Record`], [`Versioned`]) over their SeaORM
//! entities, so that one generic [`get`] and one generic [`update`] serve every area.

use crate::error::{AppError, AppResult};
use entity::{
    api_client, consent, contact, individual_plan, location, meeting, meeting_action,
    needs_assessment, organization, person, plan_action, protocol, referral, routing_rule, service,
    signatory, term, territory, translation, webhook_endpoint, working_group,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
};
use uuid::Uuid;

/// A table whose rows have a UUID `id`.
pub trait Record: EntityTrait {
    /// What a missing row is called in NOT_FOUND (`service not found`).
    const NAME: &'static str;
    /// Its GraphQL type, as the audit log names it (`Service`).
    const OBJECT_TYPE: &'static str;
    /// The `id` column.
    fn id_column() -> Self::Column;
}

/// A table whose rows carry `row_version` and `updated_at`.
pub trait Versioned: Record {
    /// The `row_version` column.
    fn version_column() -> Self::Column;
    /// The `updated_at` column.
    fn updated_at_column() -> Self::Column;
    /// The id and version of a row that was read.
    fn id_and_version(model: &Self::Model) -> (Uuid, i32);
}

macro_rules! versioned {
    ($($table:ident => $name:literal, $object_type:literal;)+) => {$(
        impl Record for $table::Entity {
            const NAME: &'static str = $name;
            const OBJECT_TYPE: &'static str = $object_type;
            fn id_column() -> Self::Column {
                $table::Column::Id
            }
        }

        impl Versioned for $table::Entity {
            fn version_column() -> Self::Column {
                $table::Column::RowVersion
            }
            fn updated_at_column() -> Self::Column {
                $table::Column::UpdatedAt
            }
            fn id_and_version(model: &$table::Model) -> (Uuid, i32) {
                (model.id, model.row_version)
            }
        }
    )+};
}

versioned! {
    api_client => "API client", "ApiClient";
    consent => "consent", "Consent";
    contact => "contact", "Contact";
    individual_plan => "individual plan", "IndividualPlan";
    location => "location", "Location";
    meeting => "meeting", "Meeting";
    meeting_action => "meeting action", "MeetingAction";
    needs_assessment => "needs assessment", "NeedsAssessment";
    organization => "organization", "Organization";
    person => "person", "Person";
    plan_action => "plan action", "PlanAction";
    protocol => "protocol", "Protocol";
    referral => "referral", "Referral";
    routing_rule => "routing rule", "RoutingRule";
    service => "service", "Service";
    signatory => "signatory", "Signatory";
    term => "term", "Term";
    territory => "territory", "Territory";
    translation => "translation", "Translation";
    webhook_endpoint => "webhook endpoint", "WebhookEndpoint";
    working_group => "working group", "WorkingGroup";
}

/// The row with `id`; NOT_FOUND when there is none.
pub async fn get<E: Record>(db: &impl ConnectionTrait, id: Uuid) -> AppResult<E::Model> {
    E::find()
        .filter(E::id_column().eq(id))
        .one(db)
        .await?
        .ok_or(AppError::NotFound(E::NAME))
}

/// Fails with CONFLICT when the caller expected another version than the stored one.
pub fn check_expected(expected: Option<i32>, stored: i32) -> AppResult<()> {
    match expected {
        Some(expected) if expected != stored => Err(AppError::Conflict(format!(
            "the object changed: expected version {expected}, it is at version {stored}; read it again"
        ))),
        _ => Ok(()),
    }
}

/// Fails with CONFLICT when a guarded `UPDATE ... WHERE row_version = ?` touched no row:
/// someone else changed it between our read and our write.
pub fn check_updated(rows_affected: u64) -> AppResult<()> {
    if rows_affected == 0 {
        Err(AppError::Conflict(
            "the object was changed concurrently; read it again".to_owned(),
        ))
    } else {
        Ok(())
    }
}

/// Writes `row` only where the row read as `before` still has its version, bumping
/// `row_version` and stamping `updated_at`; CONFLICT when the caller expected another
/// version or someone changed the row in between. Returns the row as stored.
pub async fn update<E, C>(
    db: &C,
    mut row: E::ActiveModel,
    before: &E::Model,
    expected: Option<i32>,
) -> AppResult<E::Model>
where
    E: Versioned,
    E::Model: IntoActiveModel<E::ActiveModel>,
    E::ActiveModel: ActiveModelTrait<Entity = E> + Send,
    C: ConnectionTrait,
{
    let (id, stored) = E::id_and_version(before);
    check_expected(expected, stored)?;
    row.set(E::version_column(), (stored + 1).into());
    row.set(E::updated_at_column(), chrono::Utc::now().into());
    let result = E::update_many()
        .set(row)
        .filter(E::id_column().eq(id))
        .filter(E::version_column().eq(stored))
        .exec(db)
        .await?;
    check_updated(result.rows_affected)?;
    get::<E>(db, id).await
}

/// Stamps `updated_at` of the row `id` without a new version: a part shown with it
/// changed (a protocol's signatories, an organization's contacts or successions), so
/// that readers of "changed since" see it again, while an edit of the row itself from
/// the version read before stays valid.
pub async fn touch<E: Versioned>(db: &impl ConnectionTrait, id: Uuid) -> AppResult<()> {
    E::update_many()
        .col_expr(
            E::updated_at_column(),
            sea_orm::sea_query::Expr::value(chrono::Utc::now()),
        )
        .filter(E::id_column().eq(id))
        .exec(db)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stale_expected_version_is_a_conflict() {
        assert!(check_expected(None, 3).is_ok());
        assert!(check_expected(Some(3), 3).is_ok());
        assert!(matches!(
            check_expected(Some(2), 3),
            Err(AppError::Conflict(_))
        ));
        assert!(matches!(check_updated(0), Err(AppError::Conflict(_))));
        assert!(check_updated(1).is_ok());
    }

    #[tokio::test]
    async fn an_update_from_a_stale_read_is_a_conflict_and_changes_nothing() {
        use sea_orm::ActiveValue::Set;
        let db = crate::db::memory_with_demo().await;
        let before = service::Entity::find().one(&db).await.unwrap().unwrap();
        let mut row: service::ActiveModel = before.clone().into();
        row.name = Set("Renamed".to_owned());
        let after =
            update::<service::Entity, _>(&db, row.clone(), &before, Some(before.row_version))
                .await
                .unwrap();
        assert_eq!(after.row_version, before.row_version + 1);
        assert_eq!(after.name, "Renamed");
        // A second write from the same (now stale) read is refused.
        let mut stale: service::ActiveModel = before.clone().into();
        stale.name = Set("Lost".to_owned());
        let refused = update::<service::Entity, _>(&db, stale, &before, None).await;
        assert!(matches!(refused, Err(AppError::Conflict(_))));
        assert_eq!(
            get::<service::Entity>(&db, before.id).await.unwrap().name,
            "Renamed"
        );
        assert!(matches!(
            get::<service::Entity>(&db, Uuid::nil()).await,
            Err(AppError::NotFound("service"))
        ));
    }
}
