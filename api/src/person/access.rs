//! Who is involved with a person: the organization that registered them, those that
//! registered them again, and the senders and receivers of their referrals. Only they
//! may read the person's data — in lists, nested fields and `node(id:)` alike.

use crate::error::AppResult;
use entity::{person, person_link, referral};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter};
use uuid::Uuid;

/// Condition on `person` rows: the person is involved with `organization`.
pub fn involved_with(organization: Uuid) -> Condition {
    let linked = Query::select()
        .column(person_link::Column::PersonId)
        .from(person_link::Entity)
        .and_where(Expr::col(person_link::Column::OrganizationId).eq(organization))
        .to_owned();
    let referred = Query::select()
        .column(referral::Column::PersonId)
        .from(referral::Entity)
        .cond_where(
            Condition::any()
                .add(Expr::col(referral::Column::SenderOrganizationId).eq(organization))
                .add(Expr::col(referral::Column::ReceiverOrganizationId).eq(organization)),
        )
        .to_owned();
    Condition::any()
        .add(person::Column::RegisteredByOrganizationId.eq(organization))
        .add(person::Column::Id.in_subquery(linked))
        .add(person::Column::Id.in_subquery(referred))
}

/// True when `organization` is involved with the person.
pub async fn is_involved(
    db: &impl ConnectionTrait,
    person: Uuid,
    organization: Uuid,
) -> AppResult<bool> {
    let count = person::Entity::find()
        .filter(person::Column::Id.eq(person))
        .filter(involved_with(organization))
        .count(db)
        .await?;
    Ok(count > 0)
}

/// Reads of personal fields made while serving one request, written to the access log
/// in one statement when the request ends (see [`crate::http`]).
#[derive(Default)]
pub struct AccessCollector(std::sync::Mutex<Vec<entity::person_access::ActiveModel>>);

impl AccessCollector {
    /// Remembers one read.
    pub fn push(&self, entry: entity::person_access::ActiveModel) {
        if let Ok(mut entries) = self.0.lock() {
            entries.push(entry);
        }
    }

    /// Writes every remembered read in one INSERT.
    pub async fn flush(&self, db: &impl ConnectionTrait) -> AppResult<()> {
        let entries = match self.0.lock() {
            Ok(mut entries) => std::mem::take(&mut *entries),
            Err(_) => return Ok(()),
        };
        if entries.is_empty() {
            return Ok(());
        }
        for chunk in entries.chunks(500) {
            entity::person_access::Entity::insert_many(chunk.to_vec())
                .exec(db)
                .await?;
        }
        Ok(())
    }
}
