//! `referralStatistics`, `capacityStatistics` and `coverageGaps`: regional aggregates
//! with k-anonymity, for REGIONAL_ADMIN (and everyone when `MELT_STATISTICS_PUBLIC`).

use super::domain::{Granularity, PeriodRange};
use super::service::{self, DECLINERS, DURATIONS, Layout, MAX_ROWS, SENT_STATES, Tally};
use super::types::{
    CapacityStatistics, CapacityStatisticsInput, CapacityStatisticsRow, CoverageGap,
    CoverageGapsInput, DeclinedByStatistic, DurationStatistic, OutcomeStatistic,
    ReferralStatistics, ReferralStatisticsInput, ReferralStatisticsRow, RejectionReasonStatistic,
    StatisticsCount, StatisticsPeriod, StatisticsRate, StatisticsTerritoryLevel, StatusStatistic,
};
use crate::context::ContextExt;
use crate::error::{AppError, GqlResult};
use crate::graphql::relay::{NodeKind, expect_opt_id};
use crate::taxonomy::types::Term;
use crate::territory::types::Territory;
use async_graphql::{Context, Object};
use entity::enums::{OrganizationKind, Outcome};
use entity::territory;
use sea_orm::{ActiveEnum, ColumnTrait, EntityTrait, Iterable, QueryFilter};

fn count(value: u64, suppressed: bool) -> StatisticsCount {
    StatisticsCount {
        count: (!suppressed).then(|| i32::try_from(value).unwrap_or(i32::MAX)),
        suppressed,
    }
}

fn rate(part: u64, part_hidden: bool, total: u64, total_hidden: bool) -> StatisticsRate {
    let suppressed = part_hidden || total_hidden;
    StatisticsRate {
        value: (!suppressed && total > 0).then(|| part as f64 / total as f64),
        suppressed,
    }
}

fn kind(stored: Option<&String>) -> Option<crate::graphql::enums::OrganizationKind> {
    stored
        .and_then(|s| OrganizationKind::try_from_value(s).ok())
        .map(Into::into)
}

/// Statistics queries.
#[derive(Default)]
pub struct StatisticsQueries;

#[Object]
impl StatisticsQueries {
    /// Referrals sent in each period (by the month they were sent, UTC), territory
    /// (the person's municipality of residence when sent) and, as asked, service type,
    /// sender kind and receiver kind: counts by state, acceptances, rejections by
    /// reason and by who declined, outcomes, rates, and median and 90th-percentile
    /// times to receipt, acceptance and completion. Every count of people from 1 to
    /// k − 1 (`MELT_STATISTICS_K`, at least 5) is null with `suppressed: true`, and so
    /// is the next smallest count of any line (a row's states, a row's reasons, a
    /// dimension's values) that would otherwise give it away by subtraction; the
    /// README explains the rule. REGIONAL_ADMIN, or anyone when
    /// `MELT_STATISTICS_PUBLIC=true`. A bad or too long range (over 60 months), or an
    /// answer over 5,000 rows, is BAD_USER_INPUT.
    async fn referral_statistics(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "The months to count, the period length, the territory level and further dimensions."
        )]
        input: ReferralStatisticsInput,
    ) -> GqlResult<ReferralStatistics> {
        let settings = ctx.settings()?;
        service::may_read(ctx.viewer()?, settings.statistics_public)?;
        let k = u64::from(settings.statistics_k);
        let granularity = match input.period {
            StatisticsPeriod::Month => Granularity::Month,
            StatisticsPeriod::Quarter => Granularity::Quarter,
        };
        let range = PeriodRange::new(&input.from, &input.to, granularity)?;
        let mut dimensions = input.group_by.clone();
        dimensions.sort();
        dimensions.dedup();
        if dimensions.len() != input.group_by.len() {
            return Err(
                AppError::BadUserInput("groupBy names a dimension twice".to_owned()).into(),
            );
        }
        let txn = service::snapshot(ctx.db()?).await?;
        let db = &txn;
        let (from, to) = range.whole_quarters();
        let tallies =
            service::referral_tallies(db, &range, from, to, input.territory_level, &dimensions)
                .await?;
        let asked = tallies
            .keys()
            .filter(|key| range.contains(key.period))
            .count();
        if asked > MAX_ROWS {
            return Err(AppError::BadUserInput(format!(
                "the answer would have {asked} rows, more than {MAX_ROWS}: ask for fewer months, a coarser territory level or fewer dimensions"
            ))
            .into());
        }
        let (region, territories) = service::territories(db, input.territory_level).await?;
        let types = service::service_types(db).await?;
        txn.commit().await?;
        let rows: Vec<(&service::Key, &Tally)> = tallies.iter().collect();
        let layout = Layout::of(tallies.values());
        let hidden = service::suppress_table(&rows, &layout, granularity, k);
        let width = layout.width();
        let mut out = Vec::with_capacity(asked);
        for (index, (key, tally)) in rows.iter().enumerate() {
            if !range.contains(key.period) {
                continue;
            }
            let hidden = &hidden[index * width..(index + 1) * width];
            let territory = match key.territory {
                None => region.clone(),
                Some(id) => territories
                    .get(&id)
                    .cloned()
                    .ok_or_else(|| AppError::internal_message(format!("territory {id} missing")))?,
            };
            let total_hidden = hidden[Layout::TOTAL];
            let state_hidden = |i: usize| hidden[Layout::state(i)];
            let duration = |slot: usize, count_hidden: bool| {
                let stats = tally.durations[slot];
                let reached = stats.map(|(n, _, _)| n).unwrap_or_default();
                let suppressed = total_hidden || count_hidden || (reached > 0 && reached < k);
                DurationStatistic {
                    median_hours: stats
                        .filter(|_| !suppressed)
                        .map(|(_, m, _)| i32::try_from(m).unwrap_or(i32::MAX)),
                    p90_hours: stats
                        .filter(|_| !suppressed)
                        .map(|(_, _, p)| i32::try_from(p).unwrap_or(i32::MAX)),
                    suppressed,
                }
            };
            out.push(ReferralStatisticsRow {
                period: range.label(key.period),
                territory: Territory(territory),
                service_type: key
                    .service_type
                    .and_then(|id| types.get(&id).cloned())
                    .map(Term),
                sender_kind: kind(key.sender.as_ref()),
                receiver_kind: kind(key.receiver.as_ref()),
                referrals: count(tally.total, total_hidden),
                by_status: SENT_STATES
                    .iter()
                    .enumerate()
                    .map(|(i, status)| StatusStatistic {
                        status: (*status).into(),
                        count: count(tally.states[i], state_hidden(i)),
                    })
                    .collect(),
                accepted: count(tally.accepted, hidden[Layout::ACCEPTED]),
                rejections_by_reason: layout
                    .reasons
                    .iter()
                    .enumerate()
                    .map(|(i, reason)| RejectionReasonStatistic {
                        reason: reason.clone(),
                        count: count(
                            tally.reasons.get(reason).copied().unwrap_or_default(),
                            hidden[Layout::reason(i)],
                        ),
                    })
                    .collect(),
                rejections_by_declined_by: DECLINERS
                    .iter()
                    .enumerate()
                    .map(|(i, who)| DeclinedByStatistic {
                        declined_by: (*who).into(),
                        count: count(tally.declined[i], hidden[Layout::declined(i)]),
                    })
                    .collect(),
                outcomes: Outcome::iter()
                    .enumerate()
                    .map(|(i, outcome)| OutcomeStatistic {
                        outcome: outcome.into(),
                        count: count(tally.outcomes[i], hidden[Layout::outcome(i)]),
                    })
                    .collect(),
                acceptance_rate: rate(
                    tally.accepted,
                    hidden[Layout::ACCEPTED],
                    tally.total,
                    total_hidden,
                ),
                rejection_rate: rate(tally.states[3], state_hidden(3), tally.total, total_hidden),
                expiry_rate: rate(tally.states[9], state_hidden(9), tally.total, total_hidden),
                completion_rate: rate(tally.states[6], state_hidden(6), tally.total, total_hidden),
                time_to_receipt: duration(0, false),
                time_to_acceptance: duration(1, hidden[Layout::ACCEPTED]),
                time_to_completion: duration(2, state_hidden(6)),
            });
        }
        debug_assert_eq!(DURATIONS.len(), 3);
        out.sort_by(|a, b| {
            (
                &a.period,
                &a.territory.0.name,
                a.service_type.as_ref().map(|t| &t.0.code),
            )
                .cmp(&(
                    &b.period,
                    &b.territory.0.name,
                    b.service_type.as_ref().map(|t| &t.0.code),
                ))
        });
        Ok(ReferralStatistics {
            k: i32::try_from(k).unwrap_or(i32::MAX),
            period: input.period,
            territory_level: input.territory_level,
            group_by: dimensions,
            rows: out,
        })
    }

    /// Active services by service type and territory (a service counts in every
    /// territory its area touches): how many, how many count their places, how many
    /// are full, their open places, and the people on their waiting lists (a count of
    /// people: suppressed under k with its complements, as in `referralStatistics`).
    /// Same callers as `referralStatistics`.
    async fn capacity_statistics(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The territory level to group by (default: the whole region).")]
        input: Option<CapacityStatisticsInput>,
    ) -> GqlResult<CapacityStatistics> {
        let settings = ctx.settings()?;
        service::may_read(ctx.viewer()?, settings.statistics_public)?;
        let k = u64::from(settings.statistics_k);
        let level = input
            .map(|i| i.territory_level)
            .unwrap_or(StatisticsTerritoryLevel::Region);
        let db = ctx.db()?;
        let cells = service::capacity(db, level).await?;
        let (region, territories) = service::territories(db, level).await?;
        let types = service::service_types(db).await?;
        let waitlists: Vec<_> = cells.iter().map(|(key, c)| (*key, c.waitlisted)).collect();
        let hidden = service::suppress_capacity(&waitlists, k);
        let mut rows = Vec::with_capacity(cells.len());
        for (index, ((territory, service_type), cell)) in cells.into_iter().enumerate() {
            let territory = match territory {
                None => Some(region.clone()),
                Some(id) => territories.get(&id).cloned(),
            };
            let (Some(territory), Some(service_type)) =
                (territory, types.get(&service_type).cloned())
            else {
                continue;
            };
            let small = |v: i64| i32::try_from(v).unwrap_or(i32::MAX);
            rows.push(CapacityStatisticsRow {
                territory: Territory(territory),
                service_type: Term(service_type),
                active_services: small(cell.services),
                services_counting_places: small(cell.counting),
                services_full: small(cell.full),
                open_places: small(cell.open_places),
                waitlisted: count(
                    u64::try_from(cell.waitlisted).unwrap_or_default(),
                    hidden[index],
                ),
            });
        }
        rows.sort_by(|a, b| {
            (&a.territory.0.name, &a.service_type.0.code)
                .cmp(&(&b.territory.0.name, &b.service_type.0.code))
        });
        Ok(CapacityStatistics {
            k: i32::try_from(k).unwrap_or(i32::MAX),
            territory_level: level,
            rows,
        })
    }

    /// Municipalities that no ACTIVE service of a type covers (its service area does
    /// not include them), by service type code then ISTAT code. Counts no people, so
    /// nothing is suppressed. Same callers as `referralStatistics`; an unknown type
    /// code or territory is BAD_USER_INPUT.
    async fn coverage_gaps(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "Which service types and which territory to look at (default: every type, the whole region)."
        )]
        input: Option<CoverageGapsInput>,
    ) -> GqlResult<Vec<CoverageGap>> {
        let settings = ctx.settings()?;
        service::may_read(ctx.viewer()?, settings.statistics_public)?;
        let db = ctx.db()?;
        let types = service::service_types(db).await?;
        let input = input.unwrap_or(CoverageGapsInput {
            service_types: None,
            territory: None,
        });
        let codes = input.service_types.unwrap_or_default();
        if codes.len() > 100 {
            return Err(
                AppError::BadUserInput("serviceTypes: at most 100 codes".to_owned()).into(),
            );
        }
        let mut wanted = Vec::with_capacity(codes.len());
        for code in &codes {
            let found = types
                .values()
                .find(|t| t.code.eq_ignore_ascii_case(code.trim()))
                .ok_or_else(|| {
                    AppError::BadUserInput(format!(
                        "serviceTypes: {:?} is not a SERVICE_TYPE code",
                        code.chars().take(64).collect::<String>()
                    ))
                })?;
            wanted.push(found.id);
        }
        let within = match expect_opt_id(input.territory.as_ref(), NodeKind::Territory)? {
            None => None,
            Some(id) => Some(
                territory::Entity::find_by_id(id)
                    .one(db)
                    .await?
                    .ok_or_else(|| {
                        AppError::BadUserInput("territory: no such territory".to_owned())
                    })?,
            ),
        };
        let gaps = service::coverage_gaps(db, &wanted, within.as_ref()).await?;
        let municipalities: std::collections::HashMap<uuid::Uuid, territory::Model> =
            territory::Entity::find()
                .filter(territory::Column::Kind.eq(entity::enums::TerritoryKind::Municipality))
                .all(db)
                .await?
                .into_iter()
                .map(|t| (t.id, t))
                .collect();
        Ok(gaps
            .into_iter()
            .filter_map(|(service_type, municipality)| {
                Some(CoverageGap {
                    service_type: Term(types.get(&service_type)?.clone()),
                    municipality: Territory(municipalities.get(&municipality)?.clone()),
                })
            })
            .collect())
    }
}
