//! Creating a referral (a DRAFT from the caller's organization), with idempotent
//! retries, and re-routing one that ended without help.

use super::lifecycle::{self};
use super::service::{
    Details, EventActor, MAX_IDEMPOTENCY_KEY, MAX_REASON, acting_organization, append_event,
    audit_change, get_visible,
};
use crate::audit::service::Actor;
use crate::auth::viewer::ViewerKind;
use crate::concurrency;
use crate::crypto::DataProtection;
use crate::error::{AppError, AppResult};
use crate::taxonomy::service::check_codes;
use crate::validation::{Checked, FieldErrorCode, Validator};
use chrono::Utc;
use entity::enums::{Priority, ReferralChannel, ReferralStatus, Taxonomy};
use entity::{consent, referral, service};
use sea_orm::ActiveValue::Set;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::transition::status_name;

/// A new referral.
#[derive(Clone, Debug)]
pub struct NewReferral {
    /// The person referred.
    pub person: Uuid,
    /// The service referred to; its provider receives the referral.
    pub receiver_service: Uuid,
    /// NEED term codes.
    pub needs: Vec<String>,
    /// Why the person is referred.
    pub reason: String,
    /// Priority.
    pub priority: Priority,
    /// The consent it relies on, if already known.
    pub consent: Option<Uuid>,
    /// How it came in; defaults from the caller (OPERATOR for people, PARTNER_SYSTEM
    /// for machine clients).
    pub channel: Option<ReferralChannel>,
    /// Key that makes retries safe: the same key from the same organization returns
    /// the first referral.
    pub idempotency_key: Option<String>,
    /// The individual plan action the referral starts.
    pub plan_action: Option<Uuid>,
}

fn request_hash(input: &NewReferral, needs: &[String], rerouted_from: Option<Uuid>) -> String {
    let mut normal = serde_json::json!({
        "person": input.person,
        "service": input.receiver_service,
        "needs": needs,
        "reason": input.reason.trim(),
        "priority": input.priority,
        "consent": input.consent,
        "channel": input.channel,
        "reroutedFrom": rerouted_from,
    });
    // Added only when given, so that digests stored before plans existed still match.
    if let Some(action) = input.plan_action {
        normal["planAction"] = serde_json::json!(action);
    }
    let digest = Sha256::digest(normal.to_string().as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Creates a DRAFT referral from the caller's organization.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn create(
    db: &impl ConnectionTrait,
    protection: &DataProtection,
    actor: &Actor,
    input: NewReferral,
) -> AppResult<Checked<referral::Model>> {
    let sender = acting_organization(&actor.viewer)?;
    insert(db, protection, actor, sender, input, Origin::Caller).await
}

/// Creates a DRAFT referral on behalf of a routing rule: channel AUTOMATED_RULE, the
/// rule named, from the caller's organization (the one whose assessment fired it).
#[tracing::instrument(level = "debug", skip_all, fields(%rule))]
pub async fn create_by_rule(
    db: &impl ConnectionTrait,
    protection: &DataProtection,
    actor: &Actor,
    rule: Uuid,
    input: NewReferral,
) -> AppResult<Checked<referral::Model>> {
    let sender = acting_organization(&actor.viewer)?;
    insert(db, protection, actor, sender, input, Origin::Rule(rule)).await
}

/// Where a new referral comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Origin {
    /// The caller, through `createReferral`.
    Caller,
    /// Re-routing the referral.
    Reroute(Uuid),
    /// A routing rule.
    Rule(Uuid),
}

impl Origin {
    fn rerouted_from(self) -> Option<Uuid> {
        match self {
            Origin::Reroute(from) => Some(from),
            _ => None,
        }
    }
}

async fn insert(
    db: &impl ConnectionTrait,
    protection: &DataProtection,
    actor: &Actor,
    sender: Uuid,
    input: NewReferral,
    origin: Origin,
) -> AppResult<Checked<referral::Model>> {
    let rerouted_from = origin.rerouted_from();
    let mut v = Validator::default();
    let mut needs: Vec<String> = input
        .needs
        .iter()
        .map(|n| n.trim().to_ascii_uppercase())
        .filter(|n| !n.is_empty())
        .collect();
    needs.sort();
    needs.dedup();
    let key = v.optional_text(
        "idempotencyKey",
        input.idempotency_key.as_deref(),
        MAX_IDEMPOTENCY_KEY,
    );
    let hash = request_hash(&input, &needs, rerouted_from);
    if let Some(key) = &key {
        let existing = referral::Entity::find()
            .filter(referral::Column::SenderOrganizationId.eq(sender))
            .filter(referral::Column::IdempotencyKey.eq(key.clone()))
            .one(db)
            .await?;
        if let Some(existing) = existing {
            return if existing.request_hash.as_deref() == Some(hash.as_str()) {
                Ok(Ok(existing))
            } else {
                Err(AppError::Conflict(
                    "this idempotency key was already used for a different referral".to_owned(),
                ))
            };
        }
    }
    let reason = v.text("reason", &input.reason, MAX_REASON);
    let is_client = actor.viewer.kind == ViewerKind::Client;
    let channel = match (input.channel, is_client) {
        _ if matches!(origin, Origin::Rule(_)) => ReferralChannel::AutomatedRule,
        (None, false) => ReferralChannel::Operator,
        (None, true) => ReferralChannel::PartnerSystem,
        (Some(ReferralChannel::PartnerSystem), false) | (Some(ReferralChannel::Operator), true) => {
            v.add(
                "channel",
                FieldErrorCode::Invalid,
                "people refer through OPERATOR, partner systems through PARTNER_SYSTEM",
            );
            ReferralChannel::Operator
        }
        (Some(ReferralChannel::AutomatedRule), _) => {
            v.add(
                "channel",
                FieldErrorCode::Invalid,
                "AUTOMATED_RULE referrals are created by routing rules only",
            );
            ReferralChannel::Operator
        }
        (Some(channel), _) => channel,
    };
    // A referral is sent from the sender's own record of the person.
    if crate::privacy::access::access_of(db, input.person, sender).await?
        != Some(crate::privacy::access::Access::Owner)
    {
        v.add(
            "person",
            FieldErrorCode::NotFound,
            "no such person among your organization's records",
        );
    }
    let service = service::Entity::find_by_id(input.receiver_service);
    let service = v.found(db, "receiverService", service).await?;
    if let (Some(action), Some(service)) = (input.plan_action, &service) {
        crate::plan::service::check_referral_start(
            db,
            &mut v,
            action,
            input.person,
            service.id,
            sender,
        )
        .await?;
    }
    if needs.is_empty() {
        v.add("needs", FieldErrorCode::Required, "name at least one need");
    } else {
        check_codes(db, &mut v, "needs", Taxonomy::Need, &needs).await?;
    }
    if let Some(consent) = input.consent {
        let found = consent::Entity::find_by_id(consent)
            .filter(consent::Column::PersonId.eq(input.person))
            .count(db)
            .await?;
        if found == 0 {
            v.add(
                "consent",
                FieldErrorCode::NotFound,
                "no such consent of the person",
            );
        }
    }
    let Some(service) = service else {
        return Ok(Err(v.finish()));
    };
    if !v.is_ok() {
        return Ok(Err(v.finish()));
    }
    let now = Utc::now();
    let row = referral::ActiveModel {
        id: Set(Uuid::now_v7()),
        person_id: Set(input.person),
        sender_organization_id: Set(sender),
        sender_operator: Set(actor.viewer.subject.clone()),
        receiver_service_id: Set(service.id),
        receiver_organization_id: Set(service.organization_id),
        protocol_id: Set(None),
        needs: Set(needs.join(" ")),
        reason: Set(protection.encrypt_text(&reason)?),
        priority: Set(input.priority),
        due_at: Set(None),
        consent_id: Set(input.consent),
        channel: Set(channel),
        rerouted_from_id: Set(rerouted_from),
        routing_rule_id: Set(match origin {
            Origin::Rule(rule) => Some(rule),
            _ => None,
        }),
        status: Set(ReferralStatus::Draft),
        outcome: Set(None),
        sent_at: Set(None),
        receiver_access_until: Set(None),
        waitlisted: Set(false),
        holds_place: Set(false),
        idempotency_key: Set(key),
        request_hash: Set(Some(hash)),
        row_version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await
    .map_err(|error| match error.sql_err() {
        // A concurrent request with the same key won the race: retrying returns its
        // referral (or CONFLICT if the payloads differ).
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => AppError::Conflict(
            "a request with this idempotency key was processed concurrently; retry it".to_owned(),
        ),
        _ => AppError::from(error),
    })?;
    crate::plan::service::link_referral(db, input.plan_action, rerouted_from, &row).await?;
    let action = if rerouted_from.is_some() {
        "REROUTE"
    } else {
        "CREATE"
    };
    append_event(
        db,
        &EventActor::of(&actor.viewer),
        &row,
        action,
        None,
        ReferralStatus::Draft,
        &Details::default(),
    )
    .await?;
    let operation = if rerouted_from.is_some() {
        "rerouteReferral"
    } else {
        "createReferral"
    };
    audit_change(db, actor, operation, None, &row).await?;
    Ok(Ok(row))
}

/// A referral that ended without help, to send to another service.
#[derive(Clone, Debug)]
pub struct Reroute {
    /// The referral that ended.
    pub id: Uuid,
    /// The `rowVersion` the caller read of it.
    pub expected_version: i32,
    /// The service to refer the person to now.
    pub receiver_service: Uuid,
    /// Why; the original reason when omitted.
    pub reason: Option<String>,
    /// Makes retries safe.
    pub idempotency_key: Option<String>,
}

/// Re-routes a referral that ended without help (REJECTED, EXPIRED, FAILED, CANCELLED)
/// to another service: a new DRAFT linked to it. Sender only.
#[tracing::instrument(level = "debug", skip(db, protection, actor, reroute), fields(referral = %reroute.id))]
pub async fn reroute(
    db: &impl ConnectionTrait,
    protection: &DataProtection,
    actor: &Actor,
    reroute: Reroute,
) -> AppResult<Checked<referral::Model>> {
    let Reroute {
        id,
        expected_version,
        receiver_service,
        reason,
        idempotency_key,
    } = reroute;
    let original = get_visible(db, &actor.viewer, id).await?;
    let org = acting_organization(&actor.viewer)?;
    if org != original.sender_organization_id {
        return Err(AppError::Forbidden(
            "only the sender may re-route a referral".to_owned(),
        ));
    }
    let earlier = referral::Entity::find()
        .filter(referral::Column::ReroutedFromId.eq(original.id))
        .one(db)
        .await?;
    // A retry of the re-route that made `earlier` (same key) answers as `insert` does
    // for any retry: the same referral, or CONFLICT when the values differ.
    let retry = earlier.as_ref().is_some_and(|earlier| {
        idempotency_key.is_some() && earlier.idempotency_key == idempotency_key
    });
    if !retry {
        concurrency::check_expected(Some(expected_version), original.row_version)?;
    }
    if earlier.is_some() && !retry {
        let mut v = Validator::default();
        v.add(
            "id",
            FieldErrorCode::AlreadyRerouted,
            "this referral was already re-routed once (see its `reroutedTo`); re-route that one if it also ends without help",
        );
        return Ok(Err(v.finish()));
    }
    if !lifecycle::can_reroute(original.status) {
        let mut v = Validator::default();
        v.add(
            "id",
            FieldErrorCode::InvalidState,
            format!(
                "cannot re-route a referral in state {}",
                status_name(original.status)
            ),
        );
        return Ok(Err(v.finish()));
    }
    let input = NewReferral {
        person: original.person_id,
        receiver_service,
        needs: original
            .needs
            .split_whitespace()
            .map(str::to_owned)
            .collect(),
        reason: match reason.filter(|r| !r.trim().is_empty()) {
            Some(reason) => reason,
            None => protection.decrypt_text(&original.reason)?,
        },
        priority: original.priority,
        consent: original.consent_id,
        channel: None,
        idempotency_key,
        plan_action: None,
    };
    let created = insert(
        db,
        protection,
        actor,
        org,
        input,
        Origin::Reroute(original.id),
    )
    .await?;
    if created.is_ok() && !retry {
        // The original changes too (it now has a re-route): two concurrent re-routes
        // both read its version, and the second to write it gets CONFLICT (and its
        // draft is rolled back with it).
        let row: referral::ActiveModel = original.clone().into();
        concurrency::update::<referral::Entity, _>(db, row, &original, None).await?;
    }
    Ok(created)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::viewer::{Role, Viewer, ViewerKind};
    use crate::person::service::{PersonData, register};
    use entity::enums::ServiceStatus;
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

    #[tokio::test]
    async fn a_retry_with_the_same_key_returns_the_first_referral_and_other_values_conflict() {
        let db = crate::db::memory_with_demo().await;
        let protection = DataProtection::new(
            &format!("k1={}", crate::crypto::random_key()),
            None,
            &crate::crypto::random_key(),
        )
        .expect("keys");
        let sender = crate::db::organization_like(&db, "impiego di Pisa").await;
        let actor = Actor {
            viewer: Viewer {
                kind: ViewerKind::User,
                subject: "operator-pisa".to_owned(),
                organization: Some(sender),
                roles: vec![Role::Operator],
                scopes: Vec::new(),
                name: None,
            },
            request_id: None,
        };
        let data = PersonData {
            given_name: Some("Mario".to_owned()),
            family_name: Some("Rossi".to_owned()),
            ..PersonData::default()
        };
        let person = register(&db, &protection, &actor, sender, "RSSMRA80A01H501U", data)
            .await
            .expect("register")
            .expect("a valid person")
            .person
            .id;
        let service = entity::service::Entity::find()
            .filter(entity::service::Column::Status.eq(ServiceStatus::Active))
            .filter(entity::service::Column::OrganizationId.ne(sender))
            .one(&db)
            .await
            .expect("query")
            .expect("an active service of another organization");
        let new = |reason: &str| NewReferral {
            person,
            receiver_service: service.id,
            needs: vec!["EMPLOYMENT".to_owned()],
            reason: reason.to_owned(),
            priority: Priority::Normal,
            consent: None,
            channel: None,
            idempotency_key: Some("retry-1".to_owned()),
            plan_action: None,
        };
        let first = create(&db, &protection, &actor, new("Cerca lavoro"))
            .await
            .expect("create")
            .expect("a valid referral");
        let again = create(&db, &protection, &actor, new("Cerca lavoro"))
            .await
            .expect("retry")
            .expect("the same referral");
        assert_eq!(again.id, first.id);
        assert_eq!(referral::Entity::find().count(&db).await.expect("count"), 1);
        let other = create(&db, &protection, &actor, new("Cerca casa")).await;
        assert!(matches!(other, Err(AppError::Conflict(_))), "{other:?}");
        assert_eq!(referral::Entity::find().count(&db).await.expect("count"), 1);
    }
}
