//! The gates of sending a referral: every condition under which a referral from one
//! organization's record of a person may go to a service, checked at `sendReferral`
//! whatever the channel and answered in advance by `referralReadiness`.

use super::service::acting_organization;
use crate::audit::service::Actor;
use crate::error::{AppError, AppResult};
use crate::matching::domain::{outside_age_range, outside_target_groups};
use crate::protocol::service::{in_force_on, signed_by};
use crate::validation::FieldErrorCode;
use chrono::{DateTime, NaiveDate, Utc};
use entity::enums::{ServiceStatus, SignatoryStatus, Taxonomy};
use entity::{
    consent, person, protocol, protocol_scope, service, service_area, service_term, signatory, term,
};
use sea_orm::sea_query::Query;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

/// One gate that refuses a referral: the code a front end shows and the explanation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The gate.
    pub code: FieldErrorCode,
    /// Why, for people.
    pub message: String,
}

impl Refusal {
    fn new(code: FieldErrorCode, message: &str) -> Self {
        Self {
            code,
            message: message.to_owned(),
        }
    }
}

/// What the gates say about sending a person to a service now.
#[derive(Clone, Debug, Default)]
pub struct Gates {
    /// Every gate that refuses, in the order they are checked (none: ready to send).
    pub refusals: Vec<Refusal>,
    /// The consent that covers sharing with the receiver.
    pub consent: Option<consent::Model>,
    /// The protocol that would be the legal basis (in force, signed by both, its scope
    /// covering the person's municipality).
    pub protocol: Option<protocol::Model>,
    /// The service has no open place: the referral waits for one.
    pub waitlisted: bool,
}

/// The would-be referral: who sends whom where.
pub struct Sending<'a> {
    /// The sending organization.
    pub sender: Uuid,
    /// The receiving service.
    pub service: &'a service::Model,
    /// The sender's record of the person.
    pub person: &'a person::Model,
    /// The sender accepts a place on the waiting list when the service has none open.
    pub accept_waitlist: bool,
}

/// Whole years from `birth` to `today`.
pub fn age_on(birth: NaiveDate, today: NaiveDate) -> i32 {
    today
        .years_since(birth)
        .and_then(|years| i32::try_from(years).ok())
        .unwrap_or(0)
}

/// Checks every gate of `sending` at `now`: the service is ACTIVE; its area covers
/// the person's municipality (which must be known); the person's age is within the
/// service's range (when both are known); the service has an open place or the sender
/// accepts the waiting list; a valid consent covers the receiver; a protocol in force
/// both organizations signed covers the person's municipality.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn check(
    db: &impl ConnectionTrait,
    sending: &Sending<'_>,
    now: DateTime<Utc>,
) -> AppResult<Gates> {
    let Sending {
        sender,
        service,
        person,
        accept_waitlist,
    } = *sending;
    let mut gates = Gates::default();
    let mut refuse = |code, message: &str| gates.refusals.push(Refusal::new(code, message));
    if service.status != ServiceStatus::Active {
        refuse(
            FieldErrorCode::ServiceNotActive,
            "the service is not ACTIVE",
        );
    }
    let municipality = person.residence_municipality_id;
    match municipality {
        None => refuse(
            FieldErrorCode::ResidenceUnknown,
            "the person's residence municipality is unknown: no service area or protocol can cover it",
        ),
        Some(municipality) => {
            let in_area = service_area::Entity::find()
                .filter(service_area::Column::ServiceId.eq(service.id))
                .filter(service_area::Column::MunicipalityId.eq(municipality))
                .count(db)
                .await?;
            if in_area == 0 {
                refuse(
                    FieldErrorCode::OutsideServiceArea,
                    "the service's area does not cover the person's municipality",
                );
            }
        }
    }
    let today = now.date_naive();
    // The age range is checked against the birth date where the record has one.
    if let Some(birth) = person.birth_date {
        let age = age_on(birth, today);
        if outside_age_range(age, service.minimum_age, service.maximum_age) {
            refuse(
                FieldErrorCode::OutsideAgeRange,
                "the person's age is outside the service's age range",
            );
        }
    }
    // Target groups are checked against the latest assessment that names some.
    let person_groups = crate::person::assessment::latest_target_groups(db, person.id).await?;
    if !person_groups.is_empty() {
        let service_groups = service_target_groups(db, service.id).await?;
        if outside_target_groups(&service_groups, &person_groups) {
            refuse(
                FieldErrorCode::OutsideTargetGroups,
                "the service is reserved to target groups the person does not belong to",
            );
        }
    }
    let full = service.open_places.is_some_and(|places| places <= 0);
    if full && !accept_waitlist {
        refuse(
            FieldErrorCode::NoOpenPlaces,
            "the service has no open place: send with `acceptWaitlist: true` to wait for one",
        );
    }
    let receiver = service.organization_id;
    gates.waitlisted = full && accept_waitlist;
    gates.consent =
        crate::privacy::consent::valid_consent_for(db, person.id, receiver, now).await?;
    if gates.consent.is_none() {
        gates.refusals.push(Refusal::new(
            FieldErrorCode::NoValidConsent,
            "no valid consent (or other legal basis) covers sharing the person's data with the receiver",
        ));
    }
    let Some(municipality) = municipality else {
        // Without a municipality no protocol's scope can be checked: refused above.
        return Ok(gates);
    };
    gates.protocol = shared_protocol(db, sender, receiver, municipality, today).await?;
    if gates.protocol.is_none() {
        gates
            .refusals
            .push(why_no_protocol(db, sender, receiver, today).await?);
    }
    Ok(gates)
}

/// The TARGET_GROUP codes a service is reserved to (none: open to everyone).
async fn service_target_groups(db: &impl ConnectionTrait, service: Uuid) -> AppResult<Vec<String>> {
    Ok(service_term::Entity::find()
        .select_only()
        .column(term::Column::Code)
        .inner_join(term::Entity)
        .filter(service_term::Column::ServiceId.eq(service))
        .filter(term::Column::Taxonomy.eq(Taxonomy::TargetGroup))
        .into_tuple()
        .all(db)
        .await?)
}

/// Why no protocol covers the referral: the protocols in force the sender signed, and
/// where the receiver stands in them.
async fn why_no_protocol(
    db: &impl ConnectionTrait,
    sender: Uuid,
    receiver: Uuid,
    today: NaiveDate,
) -> AppResult<Refusal> {
    let in_force = protocols_in_force_signed_by(db, sender, today).await?;
    let receiver = signatory::Entity::find()
        .filter(signatory::Column::OrganizationId.eq(receiver))
        .filter(signatory::Column::ProtocolId.is_in(in_force))
        .all(db)
        .await?;
    Ok(if receiver.is_empty() {
        Refusal::new(
            FieldErrorCode::NoProtocolInForce,
            "no protocol in force binds the sender and the receiver",
        )
    } else if receiver.iter().all(|s| s.status != SignatoryStatus::Signed) {
        Refusal::new(
            FieldErrorCode::ReceiverNotSigned,
            "the receiver is invited to a protocol in force with the sender but has not signed it",
        )
    } else {
        Refusal::new(
            FieldErrorCode::OutsideProtocolScope,
            "the person's municipality is outside the scope of every protocol in force both organizations signed",
        )
    })
}

/// The gates of sending the caller's record of `person` to `service` now, without
/// sending anything. NOT_FOUND when the service does not exist or the caller's
/// organization holds no record of the person.
#[tracing::instrument(level = "debug", skip(db, actor))]
pub async fn readiness(
    db: &impl ConnectionTrait,
    actor: &Actor,
    service: Uuid,
    person: Uuid,
    accept_waitlist: bool,
) -> AppResult<Gates> {
    let sender = acting_organization(&actor.viewer)?;
    if crate::privacy::access::access_of(db, person, sender).await?
        != Some(crate::privacy::access::Access::Owner)
    {
        return Err(AppError::NotFound("person"));
    }
    let person = person::Entity::find_by_id(person)
        .one(db)
        .await?
        .ok_or(AppError::NotFound("person"))?;
    let service = service::Entity::find_by_id(service)
        .one(db)
        .await?
        .ok_or(AppError::NotFound("service"))?;
    let sending = Sending {
        sender,
        service: &service,
        person: &person,
        accept_waitlist,
    };
    check(db, &sending, Utc::now()).await
}

/// The protocol in force, signed by both organizations, whose scope covers the
/// municipality: the legal basis of sending a referral between them.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn shared_protocol(
    db: &impl ConnectionTrait,
    sender: Uuid,
    receiver: Uuid,
    municipality: Uuid,
    today: NaiveDate,
) -> AppResult<Option<protocol::Model>> {
    let covering = crate::territory::service::covering(db, municipality).await?;
    if covering.is_empty() {
        return Ok(None);
    }
    let in_scope = Query::select()
        .column(protocol_scope::Column::ProtocolId)
        .from(protocol_scope::Entity)
        .and_where(protocol_scope::Column::TerritoryId.is_in(covering))
        .to_owned();
    Ok(protocol::Entity::find()
        .filter(in_force_on(today))
        .filter(protocol::Column::Id.in_subquery(in_scope))
        .filter(protocol::Column::Id.in_subquery(signed_by(sender)))
        .filter(protocol::Column::Id.in_subquery(signed_by(receiver)))
        .order_by_asc(protocol::Column::ResponseTimeDays)
        .order_by_asc(protocol::Column::Id)
        .one(db)
        .await?)
}

/// Ids of the protocols in force on `today` that `organization` has signed.
async fn protocols_in_force_signed_by(
    db: &impl ConnectionTrait,
    organization: Uuid,
    today: NaiveDate,
) -> AppResult<Vec<Uuid>> {
    Ok(protocol::Entity::find()
        .select_only()
        .column(protocol::Column::Id)
        .filter(in_force_on(today))
        .filter(protocol::Column::Id.in_subquery(signed_by(organization)))
        .into_tuple()
        .all(db)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("a date")
    }

    #[test]
    fn an_age_counts_whole_years_and_turns_on_the_birthday() {
        assert_eq!(age_on(date(2000, 6, 15), date(2026, 6, 14)), 25);
        assert_eq!(age_on(date(2000, 6, 15), date(2026, 6, 15)), 26);
        assert_eq!(age_on(date(2008, 2, 29), date(2026, 2, 28)), 17);
        assert_eq!(age_on(date(2008, 2, 29), date(2026, 3, 1)), 18);
    }

    async fn municipality(db: &impl ConnectionTrait, istat: &str) -> Uuid {
        let code = crate::territory::domain::IstatCode::parse(istat).expect("ISTAT code");
        crate::territory::service::municipality_by_code(db, &code)
            .await
            .expect("query")
            .expect("municipality")
            .id
    }

    #[tokio::test]
    async fn the_shared_protocol_needs_both_signatures_a_covered_municipality_and_a_date_in_force()
    {
        let db = crate::db::memory_with_demo().await;
        let (pisa_centre, caritas, arci_prato) = (
            crate::db::organization_like(&db, "impiego di Pisa").await,
            crate::db::organization_like(&db, "Caritas diocesana di Pisa").await,
            crate::db::organization_like(&db, "ARCI Comitato territoriale di Prato").await,
        );
        let pisa = municipality(&db, "050026").await;
        let today = Utc::now().date_naive();
        let found = shared_protocol(&db, pisa_centre, caritas, pisa, today)
            .await
            .expect("query");
        assert!(found.is_some(), "both signed a protocol in force over Pisa");
        // Invited is not signed.
        let invited = shared_protocol(&db, pisa_centre, arci_prato, pisa, today)
            .await
            .expect("query");
        assert!(invited.is_none());
        // Before any protocol was in force.
        let before = shared_protocol(&db, pisa_centre, caritas, pisa, date(1990, 1, 1))
            .await
            .expect("query");
        assert!(before.is_none());
    }
}
