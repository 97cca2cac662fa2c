//! The statistics' fact row of a referral (`referral_fact`), kept in the transaction
//! of each transition: written when the referral is sent (with the person's
//! municipality and the organizations' kinds at that moment), then updated with its
//! state, rejection reason, outcome and the minutes to receipt, acceptance and
//! completion. Drafts have none. Codes and times only, never personal values.

use super::lifecycle::Details;
use crate::error::AppResult;
use chrono::{DateTime, Datelike, Utc};
use entity::enums::ReferralStatus;
use entity::{referral, referral_fact};
use sea_orm::sea_query::{Expr, Func};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

/// The month index of a time: `year * 12 + month - 1` (UTC).
pub fn month_index(at: DateTime<Utc>) -> i32 {
    at.year() * 12 + at.month0() as i32
}

/// Whole minutes from `from` to `to` (0 when `to` is earlier), capped to `i32`.
pub fn minutes_between(from: DateTime<Utc>, to: DateTime<Utc>) -> i32 {
    i32::try_from((to - from).num_minutes().max(0)).unwrap_or(i32::MAX)
}

/// The column's value if it has one, else `minutes`: the first time counts.
fn first_time(column: referral_fact::Column, minutes: i32) -> Expr {
    Func::coalesce([Expr::col(column), Expr::val(minutes)]).into()
}

/// Records the step `from` → `to` of `referral` at `now` in its fact row.
pub(crate) async fn record(
    db: &impl ConnectionTrait,
    referral: &referral::Model,
    from: Option<ReferralStatus>,
    to: ReferralStatus,
    details: &Details,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let Some(sent_at) = referral.sent_at else {
        return Ok(());
    };
    if from == Some(ReferralStatus::Draft) && to == ReferralStatus::Sent {
        let backend = db.get_database_backend();
        db.execute_raw(crate::db::statement(
            backend,
            "INSERT INTO referral_fact (referral_id, sent_month, municipality_id, province_id, \
             service_id, sender_kind, receiver_kind, status, accepted) \
             SELECT r.id, ?, p.residence_municipality_id, mu.parent_id, r.receiver_service_id, \
             so.kind, ro.kind, ?, ? \
             FROM referral r \
             JOIN person p ON p.id = r.person_id \
             JOIN territory mu ON mu.id = p.residence_municipality_id \
             JOIN organization so ON so.id = r.sender_organization_id \
             JOIN organization ro ON ro.id = r.receiver_organization_id \
             WHERE r.id = ?",
            vec![
                month_index(sent_at).into(),
                sea_orm::ActiveEnum::to_value(&to).into(),
                false.into(),
                referral.id.into(),
            ],
        ))
        .await?;
        return Ok(());
    }
    let minutes = minutes_between(sent_at, now);
    let mut update =
        referral_fact::Entity::update_many().col_expr(referral_fact::Column::Status, Expr::val(to));
    if matches!(
        to,
        ReferralStatus::Received | ReferralStatus::Accepted | ReferralStatus::Rejected
    ) {
        update = update.col_expr(
            referral_fact::Column::ReceiptMinutes,
            first_time(referral_fact::Column::ReceiptMinutes, minutes),
        );
    }
    match to {
        ReferralStatus::Accepted => {
            update = update
                .col_expr(referral_fact::Column::Accepted, Expr::val(true))
                .col_expr(
                    referral_fact::Column::AcceptanceMinutes,
                    first_time(referral_fact::Column::AcceptanceMinutes, minutes),
                );
        }
        ReferralStatus::Rejected => {
            update = update
                .col_expr(
                    referral_fact::Column::RejectionReason,
                    Expr::val(details.reason_code.clone()),
                )
                .col_expr(
                    referral_fact::Column::DeclinedBy,
                    Expr::val(details.declined_by),
                );
        }
        ReferralStatus::Completed => {
            update = update
                .col_expr(referral_fact::Column::CompletionMinutes, Expr::val(minutes))
                .col_expr(referral_fact::Column::Outcome, Expr::val(details.outcome));
        }
        _ => {}
    }
    update
        .filter(referral_fact::Column::ReferralId.eq(referral.id))
        .exec(db)
        .await?;
    Ok(())
}
