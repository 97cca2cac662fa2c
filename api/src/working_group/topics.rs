//! Topics suggested to a working group from the needs that emerge in its territory:
//! for each NEED term, the people who had it recorded in an assessment and the people
//! referred for it in the last months, and the municipalities no active service of a
//! type addressing it covers.
//!
//! Computed by the database in one statement of `GROUP BY`s for every group of a page
//! ([`NeedTalliesOf`]; its size does not depend on the data's): only counts per group
//! and need reach the application, which withholds those
//! from 1 to k − 1 (`MELT_STATISTICS_K`, the threshold of the regional statistics)
//! and orders the needs without looking at the values it withheld.

use crate::error::{AppError, AppResult};
use crate::loaders::{DbLoader, LoadResult};
use crate::statistics::domain;
use async_graphql::dataloader::Loader;
use chrono::{Months, NaiveDate};
use sea_orm::{ConnectionTrait, DbErr, QueryResult, Value};
use std::cmp::Reverse;
use std::collections::HashMap;
use std::sync::Arc;
use uuid::Uuid;

/// Fewest and most months `suggestedTopics` looks back.
pub const MONTHS: std::ops::RangeInclusive<i32> = 1..=60;

/// How many months `suggestedTopics` looks back unless told.
pub const DEFAULT_MONTHS: i32 = 12;

/// The first day counted when looking back `months` months from `today`;
/// BAD_USER_INPUT outside [`MONTHS`].
pub fn window_start(months: i32, today: NaiveDate) -> AppResult<NaiveDate> {
    let out_of_range = || {
        AppError::BadUserInput(format!(
            "months must be between {} and {}, not {months}",
            MONTHS.start(),
            MONTHS.end()
        ))
    };
    if !MONTHS.contains(&months) {
        return Err(out_of_range());
    }
    let months = u32::try_from(months).map_err(|_| out_of_range())?;
    today
        .checked_sub_months(Months::new(months))
        .ok_or_else(out_of_range)
}

/// What the database counts for one NEED term in a territory.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NeedTally {
    /// The NEED term.
    pub need: Uuid,
    /// Its code.
    pub code: String,
    /// Distinct people assessed with the need.
    pub assessed: u64,
    /// Distinct people with a sent referral naming the need.
    pub referred: u64,
    /// Municipalities of the territory no active service addressing the need covers.
    pub uncovered: u64,
    /// Municipalities of the territory.
    pub municipalities: u64,
    /// A topic of one of the group's meetings (not cancelled) names the need.
    pub on_agenda: bool,
}

/// A need worth a topic, its counts of people withheld when under k.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Suggestion {
    /// The NEED term.
    pub need: Uuid,
    /// Its code.
    pub code: String,
    /// People assessed; `None` when withheld.
    pub assessed: Option<u64>,
    /// People referred; `None` when withheld.
    pub referred: Option<u64>,
    /// Uncovered municipalities.
    pub uncovered: u64,
    /// Municipalities of the territory.
    pub municipalities: u64,
    /// Already on an agenda of the group.
    pub on_agenda: bool,
}

impl Suggestion {
    /// True when a count is withheld.
    pub fn suppressed(&self) -> (bool, bool) {
        (self.assessed.is_none(), self.referred.is_none())
    }
}

/// The needs worth a topic: those with people counted (published or withheld) or with
/// uncovered municipalities. Counts from 1 to `k` − 1 are withheld. Ordered by the
/// published counts (withheld ones as 0: people assessed, then referred), then
/// uncovered municipalities, all descending, then code, so that the order says
/// nothing of a withheld value.
pub fn suggest(tallies: Vec<NeedTally>, k: u64) -> Vec<Suggestion> {
    let values: Vec<u64> = tallies
        .iter()
        .flat_map(|t| [t.assessed, t.referred])
        .collect();
    // The counts of different needs add up to no published total (a person has several
    // needs), so there is no line to protect: each small count is withheld alone.
    let hidden = domain::suppress(&values, &[], k);
    let mut out: Vec<Suggestion> = tallies
        .into_iter()
        .enumerate()
        .map(|(i, t)| Suggestion {
            assessed: (!hidden[2 * i]).then_some(t.assessed),
            referred: (!hidden[2 * i + 1]).then_some(t.referred),
            need: t.need,
            code: t.code,
            uncovered: t.uncovered,
            municipalities: t.municipalities,
            on_agenda: t.on_agenda,
        })
        .filter(|s| s.assessed != Some(0) || s.referred != Some(0) || s.uncovered > 0)
        .collect();
    out.sort_by(|a, b| {
        let key = |s: &Suggestion| {
            (
                Reverse(s.assessed.unwrap_or_default()),
                Reverse(s.referred.unwrap_or_default()),
                Reverse(s.uncovered),
            )
        };
        key(a).cmp(&key(b)).then_with(|| a.code.cmp(&b.code))
    });
    out
}

/// Distinct people among the rows of `person p`: by the hash of the codice fiscale
/// when there is one (two organizations' records of one person count once), by the
/// record otherwise.
const PEOPLE: &str = "CAST(COUNT(DISTINCT p.codice_fiscale_hash) \
     + COUNT(DISTINCT CASE WHEN p.codice_fiscale_hash IS NULL THEN p.id END) AS BIGINT)";

/// The tally of every NEED term for each working group of `groups`, over its
/// territory (the municipalities of its zone or hub area, every one for the region:
/// the territories a group may have): people living there now (erased people
/// left out) assessed with the need from `since` to `today`, people with a referral
/// naming it sent from `since`, the territory's municipalities no ACTIVE service of a
/// SERVICE_TYPE linked to the need covers. One statement for all the groups (a page
/// of groups costs what one group does); a group that does not exist is absent.
pub async fn need_tallies(
    db: &impl ConnectionTrait,
    groups: &[Uuid],
    since: NaiveDate,
    today: NaiveDate,
) -> Result<HashMap<Uuid, Vec<NeedTally>>, DbErr> {
    if groups.is_empty() {
        return Ok(HashMap::new());
    }
    let mut values: Vec<Value> = groups.iter().map(|&g| g.into()).collect();
    let sent_from = since.and_time(chrono::NaiveTime::MIN).and_utc();
    values.extend([since.into(), today.into(), sent_from.into()]);
    let placeholders = vec!["?"; groups.len()].join(", ");
    // A referral names its needs as codes separated by spaces; a code is matched
    // whole, with `_` (a LIKE wildcard, allowed in codes) escaped.
    let sql = format!(
        "WITH gs AS (SELECT wg.id AS g, t.id AS t, t.kind AS kind \
           FROM working_group wg JOIN territory t ON t.id = wg.territory_id \
           WHERE wg.id IN ({placeholders})), \
         mu AS (SELECT gs.g AS g, m.id AS id FROM gs JOIN territory m \
           ON m.kind = 'MUNICIPALITY' AND gs.kind = 'REGION' \
           UNION ALL SELECT gs.g, tm.municipality_id FROM gs \
           JOIN territory_member tm ON tm.grouping_id = gs.t \
           WHERE gs.kind IN ('ZONE', 'HUB_AREA')), \
         assessed AS (SELECT mu.g AS g, an.need_code AS code, {PEOPLE} AS people \
           FROM assessed_need an \
           JOIN needs_assessment na ON na.id = an.assessment_id \
           JOIN person p ON p.id = na.person_id \
           JOIN mu ON mu.id = p.residence_municipality_id \
           WHERE na.assessed_on >= ? AND na.assessed_on <= ? AND p.erased_at IS NULL \
           GROUP BY mu.g, an.need_code), \
         referred AS (SELECT mu.g AS g, n.code AS code, {PEOPLE} AS people \
           FROM referral r \
           JOIN person p ON p.id = r.person_id \
           JOIN mu ON mu.id = p.residence_municipality_id \
           JOIN term n ON n.taxonomy = 'NEED' \
           AND ' ' || r.needs || ' ' LIKE '% ' || REPLACE(n.code, '_', '\\_') || ' %' ESCAPE '\\' \
           WHERE r.sent_at >= ? AND r.status <> 'DRAFT' AND p.erased_at IS NULL \
           GROUP BY mu.g, n.code), \
         uncovered AS (SELECT mu.g AS g, n.id AS need, CAST(COUNT(*) AS BIGINT) AS c \
           FROM term n CROSS JOIN mu \
           WHERE n.taxonomy = 'NEED' AND NOT EXISTS (SELECT 1 FROM need_service_type nst \
             JOIN service_term st ON st.term_id = nst.service_type_term_id \
             JOIN service s ON s.id = st.service_id AND s.status = 'ACTIVE' \
             JOIN service_area sa ON sa.service_id = s.id \
             WHERE nst.need_term_id = n.id AND sa.municipality_id = mu.id) \
           GROUP BY mu.g, n.id), \
         sizes AS (SELECT mu.g AS g, CAST(COUNT(*) AS BIGINT) AS c FROM mu GROUP BY mu.g), \
         agenda AS (SELECT DISTINCT m.working_group_id AS g, mt.need_code AS code \
           FROM meeting_topic mt JOIN meeting m ON m.id = mt.meeting_id \
           JOIN gs ON gs.g = m.working_group_id \
           WHERE m.status <> 'CANCELLED' AND mt.need_code IS NOT NULL) \
         SELECT gs.g AS g, n.id AS need, n.code AS code, \
           CAST(COALESCE(a.people, 0) AS BIGINT) AS assessed, \
           CAST(COALESCE(r.people, 0) AS BIGINT) AS referred, \
           CAST(COALESCE(u.c, 0) AS BIGINT) AS uncovered, \
           CAST(COALESCE(z.c, 0) AS BIGINT) AS municipalities, \
           CAST(CASE WHEN ag.code IS NULL THEN 0 ELSE 1 END AS BIGINT) AS on_agenda \
         FROM gs CROSS JOIN term n \
         LEFT JOIN assessed a ON a.g = gs.g AND a.code = n.code \
         LEFT JOIN referred r ON r.g = gs.g AND r.code = n.code \
         LEFT JOIN uncovered u ON u.g = gs.g AND u.need = n.id \
         LEFT JOIN sizes z ON z.g = gs.g \
         LEFT JOIN agenda ag ON ag.g = gs.g AND ag.code = n.code \
         WHERE n.taxonomy = 'NEED' \
         ORDER BY gs.g, n.code"
    );
    let mut tallies: HashMap<Uuid, Vec<NeedTally>> = HashMap::new();
    for row in crate::db::query_all(db, &sql, values).await? {
        let group: Uuid = row.try_get("", "g")?;
        tallies.entry(group).or_default().push(tally(&row)?);
    }
    Ok(tallies)
}

/// The need tallies of a working group over a window (`suggestedTopics`), loaded for
/// every group of a level at once: one statement per window asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NeedTalliesOf {
    /// The working group.
    pub group: Uuid,
    /// The first day counted.
    pub since: NaiveDate,
    /// The last day counted.
    pub today: NaiveDate,
}

impl Loader<NeedTalliesOf> for DbLoader {
    type Value = Vec<NeedTally>;
    type Error = Arc<DbErr>;

    async fn load(&self, keys: &[NeedTalliesOf]) -> LoadResult<NeedTalliesOf, Vec<NeedTally>> {
        let mut windows: HashMap<(NaiveDate, NaiveDate), Vec<Uuid>> = HashMap::new();
        for key in keys {
            windows
                .entry((key.since, key.today))
                .or_default()
                .push(key.group);
        }
        let mut found = HashMap::new();
        for ((since, today), groups) in windows {
            for (group, tallies) in need_tallies(self.db(), &groups, since, today).await? {
                found.insert(
                    NeedTalliesOf {
                        group,
                        since,
                        today,
                    },
                    tallies,
                );
            }
        }
        Ok(found)
    }
}

fn tally(row: &QueryResult) -> Result<NeedTally, DbErr> {
    let count = |column: &str| -> Result<u64, DbErr> {
        let value: i64 = row.try_get("", column)?;
        Ok(u64::try_from(value).unwrap_or_default())
    };
    Ok(NeedTally {
        need: row.try_get("", "need")?,
        code: row.try_get("", "code")?,
        assessed: count("assessed")?,
        referred: count("referred")?,
        uncovered: count("uncovered")?,
        municipalities: count("municipalities")?,
        on_agenda: count("on_agenda")? > 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tally(code: &str, assessed: u64, referred: u64, uncovered: u64) -> NeedTally {
        NeedTally {
            need: Uuid::now_v7(),
            code: code.to_owned(),
            assessed,
            referred,
            uncovered,
            municipalities: 10,
            on_agenda: false,
        }
    }

    fn listed(suggestions: &[Suggestion]) -> Vec<(&str, Option<u64>, Option<u64>, u64)> {
        suggestions
            .iter()
            .map(|s| (s.code.as_str(), s.assessed, s.referred, s.uncovered))
            .collect()
    }

    #[test]
    fn counts_from_one_to_k_minus_one_are_withheld_and_zeros_published() {
        let out = suggest(
            vec![
                tally("A", 5, 4, 0),
                tally("B", 1, 0, 0),
                tally("C", 0, 0, 0),
                tally("D", 0, 0, 3),
            ],
            5,
        );
        assert_eq!(
            listed(&out),
            vec![
                ("A", Some(5), None, 0),
                ("D", Some(0), Some(0), 3),
                ("B", None, Some(0), 0),
            ]
        );
        assert_eq!(out[0].suppressed(), (false, true));
    }

    #[test]
    fn the_order_does_not_depend_on_withheld_counts() {
        let order = |b: u64, c: u64| {
            let out = suggest(
                vec![
                    tally("A", 7, 0, 0),
                    tally("B", b, 0, 2),
                    tally("C", c, 0, 2),
                ],
                5,
            );
            out.into_iter().map(|s| s.code).collect::<Vec<_>>()
        };
        let first = order(1, 4);
        assert_eq!(first, ["A", "B", "C"]);
        assert_eq!(order(4, 1), first);
        assert_eq!(order(0, 0), first);
    }

    #[test]
    fn needs_are_ordered_by_people_assessed_then_referred_then_uncovered_then_code() {
        let out = suggest(
            vec![
                tally("LANGUAGE", 6, 0, 9),
                tally("EMPLOYMENT", 6, 8, 0),
                tally("HOUSING", 9, 0, 0),
                tally("LEGAL", 0, 0, 9),
                tally("HEALTH", 0, 0, 9),
                tally("INCOME", 0, 0, 1),
            ],
            5,
        );
        let codes: Vec<&str> = out.iter().map(|s| s.code.as_str()).collect();
        assert_eq!(
            codes,
            [
                "HOUSING",
                "EMPLOYMENT",
                "LANGUAGE",
                "HEALTH",
                "LEGAL",
                "INCOME"
            ]
        );
    }

    #[test]
    fn months_outside_one_to_sixty_are_refused() {
        let today = NaiveDate::from_ymd_opt(2026, 3, 31).expect("a date");
        for bad in [0, -1, 61, i32::MAX] {
            let error = window_start(bad, today).expect_err("refused");
            assert_eq!(error.code(), "BAD_USER_INPUT", "{bad}");
            assert!(error.to_string().contains("between 1 and 60"), "{error}");
        }
        assert_eq!(
            window_start(1, today).ok(),
            NaiveDate::from_ymd_opt(2026, 2, 28)
        );
        assert_eq!(
            window_start(60, today).ok(),
            NaiveDate::from_ymd_opt(2021, 3, 31)
        );
    }
}
