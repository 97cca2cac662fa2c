//! When a consent (or another legal basis) covers sharing a person's data with an
//! organization.

use crate::error::AppResult;
use chrono::{DateTime, Utc};
use entity::enums::SignatoryStatus;
use entity::{consent, consent_recipient, signatory};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

/// The newest consent of `person` that is valid at `at` for sharing with `recipient`:
/// granted, not expired, not withdrawn, and naming the recipient among its
/// organizations or covering a protocol the recipient has signed.
pub async fn valid_consent_for(
    db: &impl ConnectionTrait,
    person: Uuid,
    recipient: Uuid,
    at: DateTime<Utc>,
) -> AppResult<Option<consent::Model>> {
    let names_recipient = Query::select()
        .column(consent_recipient::Column::ConsentId)
        .from(consent_recipient::Entity)
        .and_where(Expr::col(consent_recipient::Column::OrganizationId).eq(recipient))
        .to_owned();
    let signed_by_recipient = Query::select()
        .column(signatory::Column::ProtocolId)
        .from(signatory::Entity)
        .and_where(Expr::col(signatory::Column::OrganizationId).eq(recipient))
        .and_where(Expr::col(signatory::Column::Status).eq(SignatoryStatus::Signed))
        .to_owned();
    Ok(consent::Entity::find()
        .filter(consent::Column::PersonId.eq(person))
        .filter(consent::Column::WithdrawnAt.is_null())
        .filter(consent::Column::GrantedAt.lte(at))
        .filter(
            Condition::any()
                .add(consent::Column::ExpiresAt.is_null())
                .add(consent::Column::ExpiresAt.gt(at)),
        )
        .filter(
            Condition::any()
                .add(consent::Column::Id.in_subquery(names_recipient))
                .add(consent::Column::ProtocolId.in_subquery(signed_by_recipient)),
        )
        .order_by_desc(consent::Column::GrantedAt)
        .one(db)
        .await?)
}
