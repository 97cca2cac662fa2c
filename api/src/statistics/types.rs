//! GraphQL types of the regional statistics.

use crate::graphql::enums::OrganizationKind;
use crate::referral::types::{DeclinedBy, Outcome, ReferralStatus};
use crate::taxonomy::types::Term;
use crate::territory::types::Territory;
use async_graphql::{Enum, InputObject, SimpleObject};

/// Length of the periods statistics are grouped by.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum StatisticsPeriod {
    /// Calendar months (UTC), labelled `YYYY-MM`.
    #[default]
    Month,
    /// Calendar quarters (UTC), labelled `YYYY-Qn`.
    Quarter,
}

/// The territories statistics are grouped by: the whole region, or each territory of
/// one level. Referrals belong to the person's municipality of residence when the
/// referral was sent; services to every municipality of their service area.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum StatisticsTerritoryLevel {
    /// One row for the whole region.
    #[default]
    Region,
    /// Each hub area of the regional split valid today.
    HubArea,
    /// Each zone (zona-distretto) valid today.
    Zone,
    /// Each province.
    Province,
}

/// A dimension referral statistics can be grouped by, besides period and territory.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ReferralStatisticsDimension {
    /// The receiving service's type (a service of several types counts under each).
    ServiceType,
    /// The sending organization's kind when the referral was sent.
    SenderKind,
    /// The receiving organization's kind when the referral was sent.
    ReceiverKind,
}

/// What `referralStatistics` counts and how it groups it.
#[derive(InputObject)]
pub struct ReferralStatisticsInput {
    /// First month, `YYYY-MM` (UTC), inclusive: referrals sent from its first day.
    pub from: String,
    /// Last month, `YYYY-MM` (UTC), inclusive. At most 60 months from `from`; for
    /// QUARTER, `from` and `to` must bound whole quarters.
    pub to: String,
    /// Group by months (default) or quarters.
    #[graphql(default)]
    pub period: StatisticsPeriod,
    /// Group by territories of this level (default: the whole region).
    #[graphql(default)]
    pub territory_level: StatisticsTerritoryLevel,
    /// Further dimensions to group by (default: none), each at most once.
    #[graphql(default)]
    pub group_by: Vec<ReferralStatisticsDimension>,
}

/// What `capacityStatistics` groups by.
#[derive(InputObject)]
pub struct CapacityStatisticsInput {
    /// Group by territories of this level (default: the whole region).
    #[graphql(default)]
    pub territory_level: StatisticsTerritoryLevel,
}

/// Which coverage gaps to list.
#[derive(InputObject)]
pub struct CoverageGapsInput {
    /// Only these service types (SERVICE_TYPE codes); default: every type.
    pub service_types: Option<Vec<String>>,
    /// Only municipalities of this territory (global ID of the region, a province, a
    /// zone, a hub area or a municipality); default: the whole region.
    pub territory: Option<async_graphql::ID>,
}

/// A count of people (referrals, waiting people): null and `suppressed` when it, or
/// a cell that would give it away by subtraction, is under the threshold k.
#[derive(SimpleObject, Clone, Copy, Debug, PartialEq, Eq)]
pub struct StatisticsCount {
    /// The count; null when suppressed.
    pub count: Option<i32>,
    /// True when the count is withheld (k-anonymity).
    pub suppressed: bool,
}

/// A share of a row's referrals, from 0 to 1: null and `suppressed` when either of the
/// counts it divides is.
#[derive(SimpleObject, Clone, Copy, Debug, PartialEq)]
pub struct StatisticsRate {
    /// The share; null when suppressed.
    pub value: Option<f64>,
    /// True when the share is withheld (k-anonymity).
    pub suppressed: bool,
}

/// Median and 90th percentile (nearest rank) of a time, in whole hours (rounded
/// down), over the referrals of a row that reached that step: null and `suppressed`
/// when fewer than k did, or when the count they stand for is suppressed.
#[derive(SimpleObject, Clone, Copy, Debug, PartialEq)]
pub struct DurationStatistic {
    /// Median, in hours; null when suppressed or when no referral reached the step.
    pub median_hours: Option<i32>,
    /// 90th percentile, in hours; null when suppressed or when none reached the step.
    pub p90_hours: Option<i32>,
    /// True when withheld (k-anonymity).
    pub suppressed: bool,
}

/// Referrals of a row now in one state.
#[derive(SimpleObject, Clone, Debug)]
pub struct StatusStatistic {
    /// The state.
    pub status: ReferralStatus,
    /// How many.
    pub count: StatisticsCount,
}

/// Rejected referrals of a row with one coded reason.
#[derive(SimpleObject, Clone, Debug)]
pub struct RejectionReasonStatistic {
    /// The REJECTION_REASON code.
    pub reason: String,
    /// How many.
    pub count: StatisticsCount,
}

/// Rejected referrals of a row declined by one side.
#[derive(SimpleObject, Clone, Debug)]
pub struct DeclinedByStatistic {
    /// Who declined.
    pub declined_by: DeclinedBy,
    /// How many.
    pub count: StatisticsCount,
}

/// Completed referrals of a row with one outcome.
#[derive(SimpleObject, Clone, Debug)]
pub struct OutcomeStatistic {
    /// The outcome.
    pub outcome: Outcome,
    /// How many.
    pub count: StatisticsCount,
}

/// One cell of the referral statistics: the referrals sent in a period, in a
/// territory and, when grouped so, to a service type, by a sender kind, to a receiver
/// kind. Rows without referrals are left out.
#[derive(SimpleObject, Clone)]
pub struct ReferralStatisticsRow {
    /// The period: `YYYY-MM` or `YYYY-Qn`.
    pub period: String,
    /// The territory (the region when grouped by REGION).
    pub territory: Territory,
    /// The receiving service's type, when grouped by SERVICE_TYPE.
    pub service_type: Option<Term>,
    /// The sender's kind, when grouped by SENDER_KIND.
    pub sender_kind: Option<OrganizationKind>,
    /// The receiver's kind, when grouped by RECEIVER_KIND.
    pub receiver_kind: Option<OrganizationKind>,
    /// Referrals sent.
    pub referrals: StatisticsCount,
    /// By the state they are in now (every state after DRAFT, zeros included).
    pub by_status: Vec<StatusStatistic>,
    /// Referrals accepted at some point (whatever came after).
    pub accepted: StatisticsCount,
    /// Rejected referrals by coded reason (reasons seen in the table).
    pub rejections_by_reason: Vec<RejectionReasonStatistic>,
    /// Rejected referrals by who declined.
    pub rejections_by_declined_by: Vec<DeclinedByStatistic>,
    /// Completed referrals by outcome.
    pub outcomes: Vec<OutcomeStatistic>,
    /// Accepted at some point ÷ sent.
    pub acceptance_rate: StatisticsRate,
    /// Now REJECTED ÷ sent.
    pub rejection_rate: StatisticsRate,
    /// Now EXPIRED ÷ sent.
    pub expiry_rate: StatisticsRate,
    /// Now COMPLETED ÷ sent.
    pub completion_rate: StatisticsRate,
    /// From sending to the receiver's first answer (received, accepted or rejected).
    pub time_to_receipt: DurationStatistic,
    /// From sending to acceptance.
    pub time_to_acceptance: DurationStatistic,
    /// From sending to completion.
    pub time_to_completion: DurationStatistic,
}

/// Referral statistics: one row per non-empty cell, cells under k suppressed with
/// their complements.
#[derive(SimpleObject, Clone)]
pub struct ReferralStatistics {
    /// The threshold: no published count of people is between 1 and k − 1.
    pub k: i32,
    /// The periods' length.
    pub period: StatisticsPeriod,
    /// The territories' level.
    pub territory_level: StatisticsTerritoryLevel,
    /// The further dimensions.
    pub group_by: Vec<ReferralStatisticsDimension>,
    /// The cells, by period, territory name, service type code, sender and receiver kind.
    pub rows: Vec<ReferralStatisticsRow>,
}

/// Active services of one type in one territory, their open places and waiting lists.
#[derive(SimpleObject, Clone)]
pub struct CapacityStatisticsRow {
    /// The territory (the region when grouped by REGION).
    pub territory: Territory,
    /// The service type.
    pub service_type: Term,
    /// Active services of the type whose area covers part of the territory.
    pub active_services: i32,
    /// Those that count their places (`openPlaces` set).
    pub services_counting_places: i32,
    /// Those with no open place left.
    pub services_full: i32,
    /// Open places, summed over the services that count them.
    pub open_places: i32,
    /// People on the services' waiting lists, summed (suppressed under k).
    pub waitlisted: StatisticsCount,
}

/// Open places and waiting lists of active services by service type and territory.
/// A service covering several territories counts in each.
#[derive(SimpleObject, Clone)]
pub struct CapacityStatistics {
    /// The threshold of the waiting-list counts.
    pub k: i32,
    /// The territories' level.
    pub territory_level: StatisticsTerritoryLevel,
    /// The cells, by territory name and service type code.
    pub rows: Vec<CapacityStatisticsRow>,
}

/// A municipality no active service of a type covers.
#[derive(SimpleObject, Clone)]
pub struct CoverageGap {
    /// The service type missing.
    pub service_type: Term,
    /// The municipality.
    pub municipality: Territory,
}
