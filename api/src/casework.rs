//! Work that spans people and referrals, above both areas so that neither service
//! imports the other: withdrawing a consent cancels the person's draft referrals, and
//! retention erases people whose referrals all ended long ago. (Sending a referral
//! checks consent through the shared rule in [`crate::privacy::consent`].)

use crate::audit::service::Actor;
use crate::error::{AppError, AppResult};
use crate::person::{consent, protection};
use crate::referral::{lifecycle, transition};
use crate::validation::Checked;
use chrono::{DateTime, Utc};
use entity::enums::ReferralStatus;
use entity::{person, referral};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, Iterable, QueryFilter};
use uuid::Uuid;

/// Withdraws a consent of the caller's organization's own record and cancels the
/// person's draft referrals in the same transaction (they could no longer be sent).
/// Returns the consent and how many drafts were cancelled.
#[tracing::instrument(level = "debug", skip(db, actor))]
pub async fn withdraw_consent(
    db: &impl ConnectionTrait,
    actor: &Actor,
    id: Uuid,
    expected_version: i32,
) -> AppResult<Checked<(entity::consent::Model, u64)>> {
    let consent = match consent::withdraw(db, actor, id, expected_version).await? {
        Ok(consent) => consent,
        Err(errors) => return Ok(Err(errors)),
    };
    let cancelled =
        transition::cancel_drafts_of_person(db, actor, consent.person_id, "CONSENT_WITHDRAWN")
            .await?;
    Ok(Ok((consent, cancelled)))
}

/// Retention: erases every person not yet erased who has referrals, all of them in a
/// final state and none changed in the last `months` months. Returns how many.
#[tracing::instrument(level = "debug", skip(db))]
pub async fn erase_retained(
    db: &impl ConnectionTrait,
    months: u32,
    now: DateTime<Utc>,
) -> AppResult<u64> {
    let cutoff = now
        .checked_sub_months(chrono::Months::new(months))
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("retention period out of range")))?;
    let open: Vec<ReferralStatus> = ReferralStatus::iter()
        .filter(|s| !lifecycle::is_final(*s))
        .collect();
    let with_referrals = Query::select()
        .column(referral::Column::PersonId)
        .from(referral::Entity)
        .to_owned();
    let kept = Query::select()
        .column(referral::Column::PersonId)
        .from(referral::Entity)
        .cond_where(
            sea_orm::Condition::any()
                .add(Expr::col(referral::Column::Status).is_in(open))
                .add(Expr::col(referral::Column::UpdatedAt).gte(cutoff)),
        )
        .to_owned();
    let rows = person::Entity::find()
        .filter(person::Column::ErasedAt.is_null())
        .filter(person::Column::Id.in_subquery(with_referrals))
        .filter(person::Column::Id.not_in_subquery(kept))
        .all(db)
        .await?;
    let actor = protection::system_actor();
    let mut erased = 0;
    for row in rows {
        if protection::erase_row(db, &actor, row, "erasePerson").await? {
            erased += 1;
        }
    }
    Ok(erased)
}
