//! Evaluating an assessment against the routing rules, in the transaction that records
//! it: for each assessed need the applicable rule of highest priority fires once,
//! matches the catalogue, and proposes draft referrals or sends one; its decision is
//! stored.

use super::domain::{at_least, priority_of};
use crate::audit::service::Actor;
use crate::error::AppResult;
use crate::matching::domain::Weights;
use crate::matching::service::{Matches, Ranked, Request};
use crate::person::assessment::Assessment;
use crate::referral::create::{NewReferral, create_by_rule};
use crate::referral::gates::age_on;
use crate::referral::lifecycle::{Action, is_final};
use crate::referral::service::{Details, Privacy};
use crate::validation::{FieldError, FieldErrorCode};
use chrono::{NaiveDate, Utc};
use entity::enums::{ReferralStatus, RoutingMode, RoutingOutcome, Taxonomy};
use entity::{assessed_need, person, referral, routing_decision, routing_rule, term, territory};
use sea_orm::ActiveValue::Set;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Most considered services a decision keeps (candidates and excluded each).
pub const MAX_CONSIDERED: usize = 50;

/// A service a rule considered, as the decision keeps it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Considered {
    /// The service.
    pub service: Uuid,
    /// Its score.
    pub score: f64,
    /// Its rank among the candidates (None: excluded).
    pub rank: Option<u32>,
    /// A referral was created to it.
    pub chosen: bool,
    /// The gates that exclude it.
    pub excluded: Vec<FieldErrorCode>,
}

/// What evaluating needs besides the database: the caller, the data protection of
/// referrals and the matching weights.
#[derive(Clone, Copy)]
pub struct Evaluation<'a> {
    /// Who recorded the assessment (the referrals' sender).
    pub actor: &'a Actor,
    /// Encryption and receiver access of referrals.
    pub privacy: Privacy<'a>,
    /// Matching weights.
    pub weights: &'a Weights,
}

/// What is known of the person for the rules' conditions and for matching.
struct Person {
    row: person::Model,
    covering: Vec<Uuid>,
    municipality: Option<territory::Model>,
    target_groups: Vec<String>,
    age: Option<i32>,
}

/// The rule's conditions on the person: territory, target group, age range. A
/// condition on something the record does not know (no residence, no birth date) does
/// not hold.
fn conditions_hold(rule: &routing_rule::Model, person: &Person) -> bool {
    let territory = rule
        .territory_id
        .is_none_or(|t| person.covering.contains(&t));
    let group = rule
        .target_group
        .as_ref()
        .is_none_or(|g| person.target_groups.contains(g));
    let ages = rule.min_age.is_none() && rule.max_age.is_none();
    let age = ages
        || person.age.is_some_and(|age| {
            !crate::matching::domain::outside_age_range(age, rule.min_age, rule.max_age)
        });
    territory && group && age
}

/// Evaluates `assessment` against the rules and returns the decisions taken.
#[tracing::instrument(level = "debug", skip_all, fields(assessment = %assessment.row.id))]
pub async fn evaluate(
    db: &impl ConnectionTrait,
    run: Evaluation<'_>,
    assessment: &Assessment,
) -> AppResult<Vec<routing_decision::Model>> {
    let today = Utc::now().date_naive();
    let codes: Vec<String> = assessment
        .needs
        .iter()
        .map(|n| n.need_code.clone())
        .collect();
    let rules =
        super::service::applicable(db, assessment.row.organization_id, &codes, today).await?;
    if rules.is_empty() {
        return Ok(Vec::new());
    }
    let person = person_of(db, assessment, today).await?;
    let mut decisions = Vec::new();
    for need in &assessment.needs {
        let fired = rules.iter().find(|rule| {
            rule.need_code == need.need_code
                && at_least(need.severity, rule.min_severity)
                && conditions_hold(rule, &person)
        });
        if let Some(rule) = fired {
            decisions.push(fire(db, run, assessment, &person, rule, need, today).await?);
        }
    }
    Ok(decisions)
}

async fn person_of(
    db: &impl ConnectionTrait,
    assessment: &Assessment,
    today: NaiveDate,
) -> AppResult<Person> {
    let row = crate::concurrency::get::<person::Entity>(db, assessment.row.person_id).await?;
    let (covering, municipality) = match row.residence_municipality_id {
        None => (Vec::new(), None),
        Some(m) => {
            let rows = crate::territory::service::covering_rows(db, m).await?;
            let ids = rows.iter().map(|t| t.id).collect();
            (ids, rows.into_iter().next())
        }
    };
    Ok(Person {
        age: row.birth_date.map(|birth| age_on(birth, today)),
        target_groups: assessment
            .row
            .target_groups
            .split_whitespace()
            .map(str::to_owned)
            .collect(),
        row,
        covering,
        municipality,
    })
}

/// What came of one rule firing, before it is stored.
struct Outcome {
    outcome: RoutingOutcome,
    reason: Option<String>,
    referrals: Vec<Uuid>,
    /// The services the referrals created now went to.
    chosen: Vec<Uuid>,
}

fn reason_of(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(|e| format!("{}: {}", code_name(e.code), e.message))
        .collect::<Vec<_>>()
        .join("; ")
}

fn code_name(code: FieldErrorCode) -> String {
    serde_json::to_value(code)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

async fn fire(
    db: &impl ConnectionTrait,
    run: Evaluation<'_>,
    assessment: &Assessment,
    person: &Person,
    rule: &routing_rule::Model,
    need: &assessed_need::Model,
    today: NaiveDate,
) -> AppResult<routing_decision::Model> {
    let mut matches = Matches::default();
    let open: Vec<Uuid> = referral::Entity::find()
        .filter(referral::Column::PersonId.eq(person.row.id))
        .filter(referral::Column::RoutingRuleId.eq(rule.id))
        .all(db)
        .await?
        .into_iter()
        .filter(|r| !is_final(r.status))
        .map(|r| r.id)
        .collect();
    let outcome = if !open.is_empty() {
        Outcome {
            outcome: RoutingOutcome::AlreadyOpen,
            reason: Some(
                "a referral this rule created for the person is still open: nothing new is proposed"
                    .to_owned(),
            ),
            referrals: open,
            chosen: Vec::new(),
        }
    } else if let Some(municipality) = &person.municipality {
        let request = request(db, assessment, person, rule, municipality.clone(), today).await?;
        matches = crate::matching::service::run(db, run.weights, &request).await?;
        act(db, run, person, rule, need, &matches).await?
    } else {
        Outcome {
            outcome: RoutingOutcome::NoCandidate,
            reason: Some(
                "RESIDENCE_UNKNOWN: the person's residence municipality is unknown".to_owned(),
            ),
            referrals: Vec::new(),
            chosen: Vec::new(),
        }
    };
    let considered = considered(&matches, &outcome.chosen);
    let decision = routing_decision::ActiveModel {
        id: Set(Uuid::now_v7()),
        rule_id: Set(rule.id),
        assessment_id: Set(assessment.row.id),
        person_id: Set(person.row.id),
        organization_id: Set(assessment.row.organization_id),
        need_code: Set(need.need_code.clone()),
        mode: Set(rule.mode),
        outcome: Set(outcome.outcome),
        reason: Set(outcome.reason),
        considered: Set(
            serde_json::to_string(&considered).map_err(crate::error::AppError::internal)?
        ),
        referral_ids: Set(outcome
            .referrals
            .iter()
            .map(Uuid::to_string)
            .collect::<Vec<_>>()
            .join(" ")),
        decided_at: Set(Utc::now()),
    }
    .insert(db)
    .await?;
    crate::events::service::record(
        db,
        "routing_decision.made",
        (
            crate::graphql::relay::NodeKind::NeedsAssessment,
            assessment.row.id,
        ),
        crate::events::service::Audience::Organizations(vec![assessment.row.organization_id]),
    )
    .await?;
    Ok(decision)
}

/// The matching request of a rule for a person: the rule's service types, the
/// person's municipality, languages, target groups and age, within the rule's
/// protocol.
async fn request(
    db: &impl ConnectionTrait,
    assessment: &Assessment,
    person: &Person,
    rule: &routing_rule::Model,
    municipality: territory::Model,
    today: NaiveDate,
) -> AppResult<Request> {
    let codes: Vec<String> = rule
        .service_types
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    let types: Vec<Uuid> = term::Entity::find()
        .filter(term::Column::Taxonomy.eq(Taxonomy::ServiceType))
        .filter(term::Column::Code.is_in(codes))
        .all(db)
        .await?
        .into_iter()
        .map(|t| t.id)
        .collect();
    Ok(Request {
        needs: vec![(rule.need_code.clone(), types)],
        municipality,
        languages: person
            .row
            .languages
            .split_whitespace()
            .map(str::to_owned)
            .collect(),
        target_groups: person.target_groups.clone(),
        age: person.age,
        sender: Some(assessment.row.organization_id),
        within_protocol: rule.protocol_id,
        today,
    })
}

/// Creates the drafts (and sends the best one in SEND mode).
async fn act(
    db: &impl ConnectionTrait,
    run: Evaluation<'_>,
    person: &Person,
    rule: &routing_rule::Model,
    need: &assessed_need::Model,
    matches: &Matches,
) -> AppResult<Outcome> {
    let Some(best) = matches.candidates.first() else {
        return Ok(Outcome {
            outcome: RoutingOutcome::NoCandidate,
            reason: Some(format!(
                "no service of the rule's types is a candidate ({} excluded)",
                matches.excluded.len()
            )),
            referrals: Vec::new(),
            chosen: Vec::new(),
        });
    };
    let draft = |ranked: &Ranked| NewReferral {
        person: person.row.id,
        receiver_service: ranked.service.id,
        needs: vec![need.need_code.clone()],
        reason: format!(
            "Proposed by the routing rule \u{201c}{}\u{201d} for the need {} (score {:.2})",
            rule.name, need.need_code, ranked.score
        ),
        priority: priority_of(need.severity),
        consent: None,
        channel: None,
        idempotency_key: None,
        plan_action: None,
    };
    let mut referrals = Vec::new();
    let mut chosen = Vec::new();
    let mut reason = None;
    let mut outcome = RoutingOutcome::Proposed;
    if rule.mode == RoutingMode::Send {
        let created =
            create_by_rule(db, run.privacy.protection, run.actor, rule.id, draft(best)).await?;
        let created = match created {
            Ok(row) => row,
            Err(errors) => {
                return Ok(Outcome {
                    outcome: RoutingOutcome::NoCandidate,
                    reason: Some(reason_of(&errors)),
                    referrals: Vec::new(),
                    chosen: Vec::new(),
                });
            }
        };
        let sent = crate::referral::transition::transition(
            db,
            run.privacy,
            run.actor,
            created.id,
            created.row_version,
            Action::Send,
            Details::default(),
        )
        .await?;
        referrals.push(created.id);
        chosen.push(created.receiver_service_id);
        match sent {
            Ok(row) if row.status == ReferralStatus::Sent => {
                return Ok(Outcome {
                    outcome: RoutingOutcome::Sent,
                    reason: None,
                    referrals,
                    chosen,
                });
            }
            Ok(_) => {}
            Err(errors) => {
                outcome = RoutingOutcome::FellBackToPropose;
                reason = Some(reason_of(&errors));
            }
        }
    }
    let limit = usize::try_from(rule.max_proposals).unwrap_or(1).max(1);
    for ranked in matches.candidates.iter().take(limit).skip(referrals.len()) {
        let created = create_by_rule(
            db,
            run.privacy.protection,
            run.actor,
            rule.id,
            draft(ranked),
        )
        .await?;
        match created {
            Ok(row) => {
                referrals.push(row.id);
                chosen.push(row.receiver_service_id);
            }
            Err(errors) => {
                let why = reason_of(&errors);
                reason = Some(match reason {
                    None => why,
                    Some(before) => format!("{before}; {why}"),
                });
            }
        }
    }
    Ok(Outcome {
        outcome,
        reason,
        referrals,
        chosen,
    })
}

/// The services considered, as the decision keeps them: the first candidates and the
/// first excluded services; those a referral went to are `chosen`.
fn considered(matches: &Matches, chosen: &[Uuid]) -> Vec<Considered> {
    let candidates =
        matches
            .candidates
            .iter()
            .take(MAX_CONSIDERED)
            .zip(1..)
            .map(|(ranked, rank)| Considered {
                service: ranked.service.id,
                score: ranked.score,
                rank: Some(rank),
                chosen: chosen.contains(&ranked.service.id),
                excluded: Vec::new(),
            });
    let excluded = matches
        .excluded
        .iter()
        .take(MAX_CONSIDERED)
        .map(|ranked| Considered {
            service: ranked.service.id,
            score: ranked.score,
            rank: None,
            chosen: false,
            excluded: ranked.exclusions.iter().map(|e| e.code).collect(),
        });
    candidates.chain(excluded).collect()
}
