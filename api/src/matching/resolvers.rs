//! The `matchServices` query.

use super::domain::Weights;
use super::service::{self, Asked, MAX_RESULTS};
use super::types::ServiceMatches;
use crate::context::ContextExt;
use crate::error::{AppError, GqlResult};
use crate::graphql::relay::{NodeKind, expect_opt_id};
use async_graphql::{Context, ID, InputObject, Object};
use chrono::Utc;

/// What to match: needs and what is known of the person, never who they are.
#[derive(InputObject)]
pub struct MatchServicesInput {
    /// NEED codes (at least one, at most 30).
    pub needs: Vec<String>,
    /// ISTAT code of the person's municipality of residence (six digits). Give it
    /// (or, until 0.3, the deprecated `municipality`).
    pub municipality_istat_code: Option<String>,
    /// ISTAT code of the person's municipality of residence.
    #[graphql(deprecation = "Use `municipalityIstatCode`. Removed in 0.3.")]
    pub municipality: Option<String>,
    /// ISO 639-1 codes of the languages the person speaks (LANGUAGE terms).
    pub languages: Option<Vec<String>>,
    /// TARGET_GROUP codes the person belongs to: services reserved to other groups are
    /// excluded.
    pub target_groups: Option<Vec<String>>,
    /// The person's age in years: services whose age range leaves it out are excluded.
    pub age: Option<i32>,
    /// The organization that would send the referral (default: the caller's): scores
    /// the protocols in force between it and each provider.
    pub sender: Option<ID>,
}

/// Matching queries.
#[derive(Default)]
pub struct MatchingQueries;

#[Object]
impl MatchingQueries {
    /// The services whose types address the needs (through each need's service types),
    /// ranked by a score whose every component is explained, and the services of those
    /// types a gate excludes (not ACTIVE, area, age range, target groups) with the
    /// reasons. Needs no personal data: a front end may call it before the person is
    /// registered. Weights are settings (`match_weight_*`). Anyone may call it.
    #[graphql(complexity = "crate::graphql::connection::page_cost(first, None, child_complexity)")]
    async fn match_services(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to do: see the input type.")] input: MatchServicesInput,
        #[graphql(desc = "Most candidates (and excluded services) listed: 1 to 100.")]
        first: Option<i32>,
    ) -> GqlResult<ServiceMatches> {
        let first = match first {
            None => 10,
            Some(n) if (1..=MAX_RESULTS as i32).contains(&n) => n as usize,
            Some(_) => {
                return Err(AppError::BadUserInput(format!(
                    "first must be from 1 to {MAX_RESULTS}"
                ))
                .into());
            }
        };
        let sender = match expect_opt_id(input.sender.as_ref(), NodeKind::Organization)? {
            Some(sender) => Some(sender),
            None => ctx.viewer()?.organization,
        };
        let weights =
            Weights::from_settings(ctx.settings()?).map_err(AppError::internal_message)?;
        let db = ctx.db()?;
        let asked = Asked {
            needs: input.needs,
            municipality: match (input.municipality_istat_code, input.municipality) {
                (Some(code), _) | (None, Some(code)) => code,
                (None, None) => {
                    return Err(AppError::BadUserInput(
                        "`municipalityIstatCode` is required".to_owned(),
                    )
                    .into());
                }
            },
            languages: input.languages.unwrap_or_default(),
            target_groups: input.target_groups.unwrap_or_default(),
            age: input.age,
            sender,
        };
        let today = Utc::now().date_naive();
        let request = service::request_for(db, asked, today).await?;
        let matches = service::run(db, &weights, &request).await?;
        Ok(ServiceMatches::new(matches, first))
    }
}
