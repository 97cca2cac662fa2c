//! GraphQL types of matching: candidates with their explained scores, and the services
//! a gate excludes.

use super::domain::{Component, Exclusion, Part};
use super::service::{Matches, Ranked};
use crate::catalogue::types::Service;
use crate::context::ContextExt;
use crate::error::GqlResult;
use crate::loaders::ServiceById;
use crate::validation::FieldErrorCode;
use async_graphql::{ComplexObject, Context, Enum, SimpleObject};
use uuid::Uuid;

/// A component of a match score.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatchComponent {
    /// The share of the asked needs the service's types address.
    Need,
    /// The service's area covers the municipality.
    Area,
    /// The service speaks one of the person's languages (a service that lists none
    /// speaks Italian).
    Language,
    /// Nearness of the service's sites: in the municipality 1, in its zone 2/3, in its
    /// province 1/3, farther 0; delivered remotely 1, HYBRID at least 1/2.
    Distance,
    /// Typical wait: 1 at no wait, falling to 0 at `match_wait_horizon_days`; unknown
    /// 1/2.
    Wait,
    /// Open places: some 1, none 0, not counted 1/2.
    Capacity,
    /// A protocol in force binds the sender and the provider over the municipality.
    Protocol,
    /// A service for one of the person's target groups 1, open to everyone (or groups
    /// not given) 1/2.
    Eligibility,
}

impl From<Component> for MatchComponent {
    fn from(value: Component) -> Self {
        match value {
            Component::Need => Self::Need,
            Component::Area => Self::Area,
            Component::Language => Self::Language,
            Component::Distance => Self::Distance,
            Component::Wait => Self::Wait,
            Component::Capacity => Self::Capacity,
            Component::Protocol => Self::Protocol,
            Component::Eligibility => Self::Eligibility,
        }
    }
}

/// One component of a score: its value times its weight is its share of the score.
#[derive(SimpleObject, Clone, Debug)]
pub struct ScoreComponent {
    /// The component.
    pub component: MatchComponent,
    /// Its value, from 0 (worst) to 1 (best).
    pub value: f64,
    /// Its weight (setting `match_weight_<component>`).
    pub weight: f64,
    /// What it adds to the score: value × weight ÷ the sum of the weights.
    pub contribution: f64,
    /// Why it has this value.
    pub explanation: String,
}

fn components(parts: Vec<Part>) -> Vec<ScoreComponent> {
    let total: f64 = parts.iter().map(|p| p.weight).sum();
    parts
        .into_iter()
        .map(|p| ScoreComponent {
            component: p.component.into(),
            value: p.value,
            weight: p.weight,
            contribution: if total > 0.0 {
                p.value * p.weight / total
            } else {
                0.0
            },
            explanation: p.explanation,
        })
        .collect()
}

/// A candidate service, with its score explained.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(complex)]
pub struct ServiceMatch {
    /// Its place in the ranking, from 1.
    pub rank: i32,
    #[graphql(skip)]
    pub service_id: Uuid,
    /// The score, from 0 to 1: the weighted mean of the components.
    pub score: f64,
    /// The asked needs its types address.
    pub addresses: Vec<String>,
    /// The components of the score.
    pub components: Vec<ScoreComponent>,
}

/// Why a service is excluded, with the code `sendReferral` would refuse it with.
#[derive(SimpleObject, Clone, Debug)]
pub struct MatchExclusion {
    /// The gate.
    pub code: FieldErrorCode,
    /// Why, for people.
    pub message: String,
}

impl From<Exclusion> for MatchExclusion {
    fn from(value: Exclusion) -> Self {
        Self {
            code: value.code,
            message: value.message,
        }
    }
}

#[ComplexObject]
impl ServiceMatch {
    /// The service (loaded for the whole answer in one statement; null only if it was
    /// deleted meanwhile).
    async fn service(&self, ctx: &Context<'_>) -> GqlResult<Option<Service>> {
        ctx.loaders()?.one(ServiceById(self.service_id)).await
    }
}

/// A service of the right type that a gate excludes.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(complex)]
pub struct ExcludedService {
    #[graphql(skip)]
    pub service_id: Uuid,
    /// Every gate it fails.
    pub reasons: Vec<MatchExclusion>,
}

#[ComplexObject]
impl ExcludedService {
    /// The service (null only if it was deleted meanwhile).
    async fn service(&self, ctx: &Context<'_>) -> GqlResult<Option<Service>> {
        ctx.loaders()?.one(ServiceById(self.service_id)).await
    }
}

/// The services that meet the needs, best first, and those a gate excludes.
#[derive(SimpleObject, Clone, Debug)]
pub struct ServiceMatches {
    /// The best candidates, best first (at most `first`).
    pub candidates: Vec<ServiceMatch>,
    /// How many candidates there are in all.
    pub candidate_count: u64,
    /// Services of the right types excluded by a gate, by name (at most `first`).
    pub excluded: Vec<ExcludedService>,
    /// How many services are excluded in all.
    pub excluded_count: u64,
}

impl ServiceMatches {
    /// The first `first` candidates and excluded services of `matches`.
    pub fn new(matches: Matches, first: usize) -> Self {
        let candidate_count = matches.candidates.len() as u64;
        let excluded_count = matches.excluded.len() as u64;
        Self {
            candidates: matches
                .candidates
                .into_iter()
                .take(first)
                .zip(1..)
                .map(|(ranked, rank)| candidate(ranked, rank))
                .collect(),
            candidate_count,
            excluded: matches
                .excluded
                .into_iter()
                .take(first)
                .map(|ranked| ExcludedService {
                    service_id: ranked.service.id,
                    reasons: ranked.exclusions.into_iter().map(Into::into).collect(),
                })
                .collect(),
            excluded_count,
        }
    }
}

fn candidate(ranked: Ranked, rank: i32) -> ServiceMatch {
    ServiceMatch {
        rank,
        score: ranked.score,
        addresses: ranked.addresses,
        components: components(ranked.parts),
        service_id: ranked.service.id,
    }
}
