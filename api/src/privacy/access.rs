//! Who sees a person: the one rule, in one place.
//!
//! - Each organization's record of a person is its own: the organization that
//!   registered it (its **owner**) sees and changes all of it. Records of the same
//!   codice fiscale are linked only through the keyed hash, never shown across
//!   organizations.
//! - The **receiver** of a referral sees the referral, its events and the shared fields
//!   of the sender's record ([`Access::shares`]) from the moment it is SENT, while it
//!   is open and until `receiver_access_until` after it ended. A DRAFT (and a draft
//!   cancelled unsent) exists only for its sender.
//! - Everyone else sees nothing, and an id it may not see reads exactly like an unknown
//!   one (NOT_FOUND).

use crate::error::AppResult;
use chrono::{DateTime, Utc};
use entity::{person, referral};
use sea_orm::sea_query::{Query, UnionType};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect,
};
use uuid::Uuid;

/// How long a referral's receiver keeps reading it and its person after it ended
/// (the setting `receiver_access_days`; schema data).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReceiverAccess(pub chrono::Duration);

impl ReceiverAccess {
    /// The period of `days` days.
    pub fn days(days: u32) -> Self {
        Self(chrono::Duration::days(i64::from(days)))
    }
}

/// How much of a person an organization sees.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Access {
    /// Its own record: every field, consents, changes, export, erasure.
    Owner,
    /// The receiver of a sent referral: the fields the sender shares, read only.
    Receiver,
}

/// A personal value of a person record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    /// The codice fiscale.
    CodiceFiscale,
    /// Given and family names.
    Names,
    /// Email, phone, address and the preferred channel.
    Contacts,
    /// Date of birth.
    BirthDate,
    /// Gender.
    Gender,
    /// Citizenship.
    Citizenship,
    /// Municipality of residence.
    Residence,
    /// Languages spoken.
    Languages,
    /// The person's consents.
    Consents,
    /// The organization's needs assessments of the person.
    Assessments,
}

impl Access {
    /// True when this access includes `field`. A referral's receiver gets what it needs
    /// to take the person in charge: names, codice fiscale, contacts, languages,
    /// residence municipality and birth date; never gender, citizenship, consents or
    /// needs assessments (a referral carries the needs it is about).
    pub fn shares(self, field: Field) -> bool {
        match self {
            Self::Owner => true,
            Self::Receiver => !matches!(
                field,
                Field::Gender | Field::Citizenship | Field::Consents | Field::Assessments
            ),
        }
    }
}

/// Condition on `referral` rows: received by `organization` and readable by it at
/// `now` (sent, and open or within its access period).
fn received_and_readable(organization: Uuid, now: DateTime<Utc>) -> Condition {
    Condition::all()
        .add(referral::Column::ReceiverOrganizationId.eq(organization))
        .add(referral::Column::SentAt.is_not_null())
        .add(
            Condition::any()
                .add(referral::Column::ReceiverAccessUntil.is_null())
                .add(referral::Column::ReceiverAccessUntil.gt(now)),
        )
}

/// Condition on `referral` rows: `organization` may read the referral at `now`.
pub fn referral_readable(organization: Uuid, now: DateTime<Utc>) -> Condition {
    Condition::any()
        .add(referral::Column::SenderOrganizationId.eq(organization))
        .add(received_and_readable(organization, now))
}

/// Condition on `referral` rows of `organization`'s inbox: what it may read as the
/// receiver at `now`.
pub fn inbox(organization: Uuid, now: DateTime<Utc>) -> Condition {
    received_and_readable(organization, now)
}

/// True when `organization` may read the referral `row` at `now` (the same rule as
/// [`referral_readable`], on a loaded row).
pub fn can_read_referral(organization: Uuid, row: &referral::Model, now: DateTime<Utc>) -> bool {
    row.sender_organization_id == organization
        || (row.receiver_organization_id == organization
            && row.sent_at.is_some()
            && row.receiver_access_until.is_none_or(|until| until > now))
}

/// Condition on `person` rows: `organization` sees the person at `now`.
///
/// Written as one set of ids (its own records, united with the people of the
/// referrals it may read) rather than an OR of the two, so that each side is read by
/// its own index instead of a scan of every person.
pub fn person_visible(organization: Uuid, now: DateTime<Utc>) -> Condition {
    let received = Query::select()
        .column(referral::Column::PersonId)
        .from(referral::Entity)
        .cond_where(received_and_readable(organization, now))
        .to_owned();
    let visible = Query::select()
        .column(person::Column::Id)
        .from(person::Entity)
        .and_where(person::Column::RegisteredByOrganizationId.eq(organization))
        .union(UnionType::Distinct, received)
        .to_owned();
    Condition::all().add(person::Column::Id.in_subquery(visible))
}

/// How `organization` sees each of `persons` at `now` (absent: not at all), in two
/// statements whatever the number of persons.
pub async fn access_to(
    db: &impl ConnectionTrait,
    persons: &[Uuid],
    organization: Uuid,
    now: DateTime<Utc>,
) -> Result<Vec<(Uuid, Access)>, DbErr> {
    if persons.is_empty() {
        return Ok(Vec::new());
    }
    let owned: Vec<Uuid> = person::Entity::find()
        .select_only()
        .column(person::Column::Id)
        .filter(person::Column::Id.is_in(persons.iter().copied()))
        .filter(person::Column::RegisteredByOrganizationId.eq(organization))
        .into_tuple()
        .all(db)
        .await?;
    let received: Vec<Uuid> = referral::Entity::find()
        .select_only()
        .column(referral::Column::PersonId)
        .distinct()
        .filter(referral::Column::PersonId.is_in(persons.iter().copied()))
        .filter(received_and_readable(organization, now))
        .into_tuple()
        .all(db)
        .await?;
    let mut out: Vec<(Uuid, Access)> = owned.iter().map(|id| (*id, Access::Owner)).collect();
    out.extend(
        received
            .into_iter()
            .filter(|id| !owned.contains(id))
            .map(|id| (id, Access::Receiver)),
    );
    Ok(out)
}

/// How `organization` sees one person now.
pub async fn access_of(
    db: &impl ConnectionTrait,
    person: Uuid,
    organization: Uuid,
) -> AppResult<Option<Access>> {
    Ok(access_to(db, &[person], organization, Utc::now())
        .await?
        .into_iter()
        .map(|(_, access)| access)
        .next())
}
