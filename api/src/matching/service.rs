//! Matching needs against the catalogue: the services whose types address the needs,
//! each with the facts that score it and the asked needs it addresses, read in one
//! statement whatever the size of the catalogue, then scored and ranked by
//! [`super::domain`].

use super::domain::{self, Exclusion, Facts, Nearness, Part, Weights};
use crate::error::{AppError, AppResult};
use crate::protocol::service::{in_force_on, signed_by};
use crate::taxonomy::service::{check_codes, service_types_of};
use crate::territory::domain::IstatCode;
use crate::validation::Validator;
use chrono::NaiveDate;
use entity::enums::{DeliveryMode, ServiceStatus, SignatoryStatus, Taxonomy, TerritoryKind};
use entity::{
    location, protocol, protocol_scope, service, service_area, service_at_location, service_term,
    signatory, term, territory, territory_member,
};
use sea_orm::sea_query::{Expr, ExprTrait, Query, SelectStatement};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, FromQueryResult, QueryFilter, QueryResult,
    QuerySelect, QueryTrait,
};
use uuid::Uuid;

/// Most needs, languages or target groups in one request.
pub const MAX_CODES: usize = 30;
/// Most candidates (and most excluded services) one answer lists.
pub const MAX_RESULTS: usize = 100;

/// What to match: the service types to look for (each with the needs it addresses)
/// and what is known of the person, never who they are.
#[derive(Clone, Debug)]
pub struct Request {
    /// The asked NEED codes, each with the SERVICE_TYPE term ids that address it.
    pub needs: Vec<(String, Vec<Uuid>)>,
    /// The person's municipality (a territory of kind MUNICIPALITY).
    pub municipality: territory::Model,
    /// LANGUAGE codes the person speaks.
    pub languages: Vec<String>,
    /// TARGET_GROUP codes the person belongs to.
    pub target_groups: Vec<String>,
    /// The person's age.
    pub age: Option<i32>,
    /// The organization that would send the referral.
    pub sender: Option<Uuid>,
    /// Only services of organizations that signed this protocol.
    pub within_protocol: Option<Uuid>,
    /// The day protocols are checked on.
    pub today: NaiveDate,
}

/// What matching reads of a service: what it scores and orders by (the service
/// itself is loaded for the few shown, by id).
#[derive(Clone, Debug)]
pub struct Matched {
    /// Its id.
    pub id: Uuid,
    /// The provider.
    pub organization_id: Uuid,
    /// Its folded name (the order of ties and of excluded services).
    pub search_name: String,
    /// Status.
    pub status: ServiceStatus,
    /// Minimum age.
    pub minimum_age: Option<i32>,
    /// Maximum age.
    pub maximum_age: Option<i32>,
    /// Open places.
    pub open_places: Option<i32>,
    /// Typical wait in days.
    pub typical_wait_days: Option<i32>,
    /// Delivery mode.
    pub delivery_mode: DeliveryMode,
}

/// The columns of [`Matched`].
const MATCHED_COLUMNS: [service::Column; 9] = [
    service::Column::Id,
    service::Column::OrganizationId,
    service::Column::SearchName,
    service::Column::Status,
    service::Column::MinimumAge,
    service::Column::MaximumAge,
    service::Column::OpenPlaces,
    service::Column::TypicalWaitDays,
    service::Column::DeliveryMode,
];

/// A service scored for the request.
#[derive(Clone, Debug)]
pub struct Ranked {
    /// The service.
    pub service: Matched,
    /// The asked needs its types address.
    pub addresses: Vec<String>,
    /// Its score, from 0 to 1 (weighted mean of `parts`).
    pub score: f64,
    /// The components of the score.
    pub parts: Vec<Part>,
    /// The gates it fails (none for a candidate).
    pub exclusions: Vec<Exclusion>,
}

/// The answer: candidates best first, and the services of the right types that a gate
/// excludes.
#[derive(Clone, Debug, Default)]
pub struct Matches {
    /// Candidates, best first (score, then shorter typical wait, then name).
    pub candidates: Vec<Ranked>,
    /// Excluded services, by name.
    pub excluded: Vec<Ranked>,
}

/// A service row with the facts computed by the database.
struct Row {
    service: Matched,
    /// For each asked need (in [`Request::needs`] order): its types address it.
    needs: Vec<bool>,
    covers: bool,
    lists_languages: bool,
    speaks_listed: bool,
    restricted: bool,
    targets: bool,
    site: i32,
    protocol: bool,
}

impl FromQueryResult for Row {
    fn from_query_result(res: &QueryResult, pre: &str) -> Result<Self, DbErr> {
        let flag = |name: &str| -> Result<bool, DbErr> { Ok(res.try_get::<i32>(pre, name)? != 0) };
        let mut needs = Vec::new();
        while let Ok(flag) = res.try_get::<i32>(pre, &format!("m_need_{}", needs.len())) {
            needs.push(flag != 0);
        }
        Ok(Self {
            service: Matched {
                id: res.try_get(pre, "id")?,
                organization_id: res.try_get(pre, "organization_id")?,
                search_name: res.try_get(pre, "search_name")?,
                status: res.try_get(pre, "status")?,
                minimum_age: res.try_get(pre, "minimum_age")?,
                maximum_age: res.try_get(pre, "maximum_age")?,
                open_places: res.try_get(pre, "open_places")?,
                typical_wait_days: res.try_get(pre, "typical_wait_days")?,
                delivery_mode: res.try_get(pre, "delivery_mode")?,
            },
            needs,
            covers: flag("m_covers")?,
            lists_languages: flag("m_lists_languages")?,
            speaks_listed: flag("m_speaks")?,
            restricted: flag("m_restricted")?,
            targets: flag("m_targets")?,
            site: res.try_get::<i32>(pre, "m_site")?,
            protocol: flag("m_protocol")?,
        })
    }
}

/// `CASE WHEN EXISTS (select) THEN 1 ELSE 0 END`: an integer on both engines.
fn exists(select: SelectStatement) -> Expr {
    Expr::case(Expr::exists(select), 1).finally(0).into()
}

/// The terms of `taxonomy` a service has (optionally only those with `codes`).
fn has_terms(taxonomy: Taxonomy, codes: Option<&[String]>) -> SelectStatement {
    let mut select = Query::select();
    select
        .expr(Expr::val(1))
        .from(service_term::Entity)
        .inner_join(
            term::Entity,
            Expr::col((term::Entity, term::Column::Id))
                .equals((service_term::Entity, service_term::Column::TermId)),
        )
        .and_where(
            Expr::col((service_term::Entity, service_term::Column::ServiceId))
                .equals((service::Entity, service::Column::Id)),
        )
        .and_where(Expr::col((term::Entity, term::Column::Taxonomy)).eq(taxonomy));
    if let Some(codes) = codes {
        select
            .and_where(Expr::col((term::Entity, term::Column::Code)).is_in(codes.iter().cloned()));
    }
    select
}

/// A site of the service in one of the municipalities `within` selects.
fn has_site(within: Expr) -> SelectStatement {
    service_at_location::Entity::find()
        .select_only()
        .inner_join(location::Entity)
        .into_query()
        .expr(Expr::val(1))
        .and_where(
            Expr::col((
                service_at_location::Entity,
                service_at_location::Column::ServiceId,
            ))
            .equals((service::Entity, service::Column::Id)),
        )
        .and_where(within)
        .to_owned()
}

/// Matches `request` against the catalogue and ranks what it finds.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn run(
    db: &impl ConnectionTrait,
    weights: &Weights,
    request: &Request,
) -> AppResult<Matches> {
    let types: Vec<Uuid> = request
        .needs
        .iter()
        .flat_map(|(_, types)| types.iter().copied())
        .collect();
    if types.is_empty() {
        return Ok(Matches::default());
    }
    let municipality = request.municipality.id;
    let covering = crate::territory::service::covering_rows(db, municipality).await?;
    let zones: Vec<Uuid> = covering
        .iter()
        .filter(|t| t.kind == TerritoryKind::Zone)
        .map(|t| t.id)
        .collect();
    let covering: Vec<Uuid> = covering.iter().map(|t| t.id).collect();
    let of_types = Query::select()
        .column(service_term::Column::ServiceId)
        .from(service_term::Entity)
        .and_where(service_term::Column::TermId.is_in(types))
        .to_owned();
    let covers = Query::select()
        .expr(Expr::val(1))
        .from(service_area::Entity)
        .and_where(
            Expr::col((service_area::Entity, service_area::Column::ServiceId))
                .equals((service::Entity, service::Column::Id)),
        )
        .and_where(service_area::Column::MunicipalityId.eq(municipality))
        .to_owned();
    let location_municipality = || Expr::col((location::Entity, location::Column::MunicipalityId));
    let in_zone = Query::select()
        .column(territory_member::Column::MunicipalityId)
        .from(territory_member::Entity)
        .and_where(territory_member::Column::GroupingId.is_in(zones))
        .to_owned();
    let in_province = Query::select()
        .column(territory::Column::Id)
        .from(territory::Entity)
        .and_where(territory::Column::ParentId.eq(request.municipality.parent_id))
        .to_owned();
    let site = Expr::case(
        Expr::exists(has_site(location_municipality().eq(municipality))),
        1,
    )
    .case(
        Expr::exists(has_site(location_municipality().in_subquery(in_zone))),
        2,
    )
    .case(
        Expr::exists(has_site(location_municipality().in_subquery(in_province))),
        3,
    )
    .finally(4);
    let protocol = match request.sender {
        None => Expr::val(0),
        Some(sender) => {
            let in_scope = Query::select()
                .column(protocol_scope::Column::ProtocolId)
                .from(protocol_scope::Entity)
                .and_where(protocol_scope::Column::TerritoryId.is_in(covering))
                .to_owned();
            // The organizations that share a protocol in force with the sender over
            // the municipality: one uncorrelated subquery, read once per statement.
            let shared = Query::select()
                .column(protocol::Column::Id)
                .from(protocol::Entity)
                .cond_where(in_force_on(request.today))
                .and_where(protocol::Column::Id.in_subquery(in_scope))
                .and_where(protocol::Column::Id.in_subquery(signed_by(sender)))
                .to_owned();
            let partners = Query::select()
                .column(signatory::Column::OrganizationId)
                .from(signatory::Entity)
                .and_where(signatory::Column::ProtocolId.in_subquery(shared))
                .and_where(signatory::Column::Status.eq(SignatoryStatus::Signed))
                .to_owned();
            Expr::case(
                Expr::col((service::Entity, service::Column::OrganizationId)).in_subquery(partners),
                1,
            )
            .finally(0)
            .into()
        }
    };
    let mut select = service::Entity::find()
        .select_only()
        .columns(MATCHED_COLUMNS)
        .filter(service::Column::Id.in_subquery(of_types))
        .expr_as(exists(covers), "m_covers")
        .expr_as(
            exists(has_terms(Taxonomy::Language, None)),
            "m_lists_languages",
        )
        .expr_as(
            exists(has_terms(Taxonomy::Language, Some(&request.languages))),
            "m_speaks",
        )
        .expr_as(
            exists(has_terms(Taxonomy::TargetGroup, None)),
            "m_restricted",
        )
        .expr_as(
            exists(has_terms(
                Taxonomy::TargetGroup,
                Some(&request.target_groups),
            )),
            "m_targets",
        )
        .expr_as(site, "m_site")
        .expr_as(protocol, "m_protocol");
    for (i, (_, types)) in request.needs.iter().enumerate() {
        let addresses = Query::select()
            .expr(Expr::val(1))
            .from(service_term::Entity)
            .and_where(
                Expr::col((service_term::Entity, service_term::Column::ServiceId))
                    .equals((service::Entity, service::Column::Id)),
            )
            .and_where(service_term::Column::TermId.is_in(types.iter().copied()))
            .to_owned();
        select = select.expr_as(exists(addresses), format!("m_need_{i}"));
    }
    if let Some(protocol) = request.within_protocol {
        let signed = Query::select()
            .column(signatory::Column::OrganizationId)
            .from(signatory::Entity)
            .and_where(signatory::Column::ProtocolId.eq(protocol))
            .and_where(signatory::Column::Status.eq(SignatoryStatus::Signed))
            .to_owned();
        select = select.filter(service::Column::OrganizationId.in_subquery(signed));
    }
    let rows: Vec<Row> = select.into_model::<Row>().all(db).await?;
    if rows
        .iter()
        .any(|row| row.needs.len() != request.needs.len())
    {
        return Err(AppError::internal_message(
            "matching: a need column was not read".to_owned(),
        ));
    }
    let mut matches = Matches::default();
    for row in rows {
        let needs: Vec<String> = request
            .needs
            .iter()
            .zip(&row.needs)
            .filter(|(_, addressed)| **addressed)
            .map(|((need, _), _)| need.clone())
            .collect();
        let facts = facts(request, &row, needs.len());
        let parts = domain::parts(&facts, weights);
        let ranked = Ranked {
            score: domain::score(&parts),
            exclusions: domain::exclusions(&facts),
            parts,
            addresses: needs,
            service: row.service,
        };
        if ranked.exclusions.is_empty() {
            matches.candidates.push(ranked);
        } else {
            matches.excluded.push(ranked);
        }
    }
    matches.candidates.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| wait(a).cmp(&wait(b)))
            .then_with(|| a.service.search_name.cmp(&b.service.search_name))
            .then_with(|| a.service.id.cmp(&b.service.id))
    });
    matches.excluded.sort_by(|a, b| {
        a.service
            .search_name
            .cmp(&b.service.search_name)
            .then_with(|| a.service.id.cmp(&b.service.id))
    });
    Ok(matches)
}

/// Typical wait for ordering ties: unknown last.
fn wait(ranked: &Ranked) -> i32 {
    ranked.service.typical_wait_days.unwrap_or(i32::MAX)
}

fn facts(request: &Request, row: &Row, addressed: usize) -> Facts {
    let service = &row.service;
    // A service that lists no language speaks Italian.
    let speaks = if row.lists_languages {
        row.speaks_listed
    } else {
        request.languages.iter().any(|l| l == "it")
    };
    let nearness = if service.delivery_mode == DeliveryMode::Remote {
        Nearness::Remote
    } else {
        match row.site {
            1 => Nearness::Municipality,
            2 => Nearness::Zone,
            3 => Nearness::Province,
            _ => Nearness::Far,
        }
    };
    Facts {
        active: service.status == ServiceStatus::Active,
        covers_area: row.covers,
        needs_addressed: addressed,
        needs_asked: request.needs.len(),
        languages_asked: !request.languages.is_empty(),
        speaks,
        nearness,
        hybrid: service.delivery_mode == DeliveryMode::Hybrid,
        typical_wait_days: service.typical_wait_days,
        open_places: service.open_places,
        protocol: request.sender.map(|_| row.protocol),
        age: request.age,
        minimum_age: service.minimum_age,
        maximum_age: service.maximum_age,
        groups_asked: !request.target_groups.is_empty(),
        restricted: row.restricted,
        targets: row.targets,
    }
}

/// What a caller asks `matchServices` for, as given.
#[derive(Clone, Debug, Default)]
pub struct Asked {
    /// NEED codes.
    pub needs: Vec<String>,
    /// ISTAT code of the municipality.
    pub municipality: String,
    /// LANGUAGE codes.
    pub languages: Vec<String>,
    /// TARGET_GROUP codes.
    pub target_groups: Vec<String>,
    /// Age in years.
    pub age: Option<i32>,
    /// The would-be sender.
    pub sender: Option<Uuid>,
}

fn codes(values: &[String], field: &str, upper: bool) -> AppResult<Vec<String>> {
    if values.len() > MAX_CODES {
        return Err(AppError::BadUserInput(format!(
            "{field}: at most {MAX_CODES} codes"
        )));
    }
    let mut out: Vec<String> = values
        .iter()
        .map(|c| {
            let c = c.trim();
            if upper {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            }
        })
        .filter(|c| !c.is_empty())
        .collect();
    out.sort();
    out.dedup();
    Ok(out)
}

/// Checks what a caller asks (codes known to their taxonomies, the municipality by
/// ISTAT code, an age from 0 to 120, a sender that exists) and builds the request: the
/// service types each need maps to. A problem is BAD_USER_INPUT naming the field.
pub async fn request_for(
    db: &impl ConnectionTrait,
    asked: Asked,
    today: NaiveDate,
) -> AppResult<Request> {
    let needs = codes(&asked.needs, "needs", true)?;
    if needs.is_empty() {
        return Err(AppError::BadUserInput(
            "needs: name at least one need".to_owned(),
        ));
    }
    let languages = codes(&asked.languages, "languages", false)?;
    let target_groups = codes(&asked.target_groups, "targetGroups", true)?;
    if asked.age.is_some_and(|age| !(0..=120).contains(&age)) {
        return Err(AppError::BadUserInput(
            "age: from 0 to 120 years".to_owned(),
        ));
    }
    let mut v = Validator::default();
    let need_terms = check_codes(db, &mut v, "needs", Taxonomy::Need, &needs).await?;
    check_codes(db, &mut v, "languages", Taxonomy::Language, &languages).await?;
    check_codes(
        db,
        &mut v,
        "targetGroups",
        Taxonomy::TargetGroup,
        &target_groups,
    )
    .await?;
    if let Some(problem) = v.finish().into_iter().next() {
        return Err(AppError::BadUserInput(format!(
            "{}: {}",
            problem.field.last().map_or("input", String::as_str),
            problem.message
        )));
    }
    let code = IstatCode::parse(&asked.municipality)?;
    let municipality = crate::territory::service::municipality_by_code(db, &code)
        .await?
        .ok_or_else(|| AppError::BadUserInput("municipality: no such municipality".to_owned()))?;
    if let Some(sender) = asked.sender
        && entity::organization::Entity::find_by_id(sender)
            .one(db)
            .await?
            .is_none()
    {
        return Err(AppError::BadUserInput(
            "sender: no such organization".to_owned(),
        ));
    }
    let ids: Vec<Uuid> = need_terms.iter().map(|t| t.id).collect();
    let by_need = service_types_of(db, &ids).await?;
    let needs = need_terms
        .iter()
        .map(|need| {
            let types = by_need.get(&need.id).into_iter().flatten();
            (need.code.clone(), types.map(|t| t.id).collect())
        })
        .collect();
    Ok(Request {
        needs,
        municipality,
        languages,
        target_groups,
        age: asked.age,
        sender: asked.sender,
        within_protocol: None,
        today,
    })
}
