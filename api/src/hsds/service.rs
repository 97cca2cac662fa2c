//! Reading the HSDS export: the public directory (services of the active catalogue,
//! every organization and site, the catalogue's taxonomies), a page at a time, each
//! page's relations loaded in batches (a fixed number of statements whatever the page
//! size), and the tombstones of what left the directory for `modified_after` readers.
//!
//! A list asked with `modified_after` holds the objects modified at or after that time
//! and, after them, a tombstone for each object of its type that left the directory
//! since then and is still out of it: the object's id with the fields HSDS requires
//! and one `metadata` record saying `deleted` or `hidden` and when. Live objects come
//! first in id order, then tombstones in id order; `total_items` counts both.

use super::domain::{self, PageRequest, derived_id, link_id};
use super::types::Taxonomy as HsdsTaxonomy;
use super::types::*;
use crate::error::{AppError, AppResult};
use crate::graphql::relay::NodeKind;
use crate::sync::service::LISTED_STATUSES;
use chrono::{DateTime, Utc};
use entity::enums::Taxonomy;
use entity::{
    accessibility, accreditation, contact, cost_option, funding, location, organization, phone,
    required_document, schedule, service, service_area, service_at_location, service_contact,
    service_term, term, territory, tombstone,
};
use sea_orm::sea_query::{Expr, ExprTrait, Query, SelectStatement};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Select,
};
use std::collections::{HashMap, HashSet};
use std::hash::Hash;
use uuid::Uuid;

/// Who updates the records of this export (`metadata.updated_by`).
const UPDATED_BY: &str = "MeLT";

/// Groups `rows` by `key`.
fn group<K: Eq + Hash, V>(rows: Vec<V>, key: impl Fn(&V) -> K) -> HashMap<K, Vec<V>> {
    let mut out: HashMap<K, Vec<V>> = HashMap::new();
    for row in rows {
        out.entry(key(&row)).or_default().push(row);
    }
    out
}

/// The distinct values of `ids`.
fn distinct(ids: impl IntoIterator<Item = Uuid>) -> Vec<Uuid> {
    let set: HashSet<Uuid> = ids.into_iter().collect();
    set.into_iter().collect()
}

/// The services of the public directory: those of the active catalogue.
fn public_services() -> Condition {
    Condition::all().add(service::Column::Status.is_in(LISTED_STATUSES))
}

/// Ids of the services of the public directory.
fn public_service_ids() -> SelectStatement {
    Query::select()
        .column(service::Column::Id)
        .from(service::Entity)
        .and_where(service::Column::Status.is_in(LISTED_STATUSES))
        .to_owned()
}

/// Ids of every row of `table` (organizations and sites are all public).
fn all_ids<E: EntityTrait>(entity: E, id: E::Column) -> SelectStatement {
    Query::select().column(id).from(entity).to_owned()
}

/// An object that left the public directory: its id, when and why.
#[derive(Clone, Debug)]
pub struct Gone {
    /// The object.
    pub id: Uuid,
    /// When it left (the latest time, if it left more than once).
    pub removed_at: DateTime<Utc>,
    /// The stored reason (`DELETED`, `HIDDEN`).
    pub reason: String,
}

impl Gone {
    /// The HSDS record of the removal.
    fn metadata(&self, resource_type: &'static str) -> Vec<Metadata> {
        vec![Metadata {
            id: derived_id("tombstone", &[self.id]),
            resource_id: self.id,
            resource_type,
            last_action_date: domain::time(self.removed_at),
            last_action_type: domain::last_action(&self.reason),
            field_name: "",
            previous_value: "",
            replacement_value: "",
            updated_by: UPDATED_BY,
        }]
    }
}

/// The public tombstones about subjects of `kind` removed at or after `since` whose
/// subject is not among `live` (it came back since).
fn gone_select(
    kind: NodeKind,
    since: DateTime<Utc>,
    live: SelectStatement,
) -> Select<tombstone::Entity> {
    tombstone::Entity::find()
        .filter(tombstone::Column::SubjectType.eq(kind.as_str()))
        .filter(tombstone::Column::OrganizationId.is_null())
        .filter(tombstone::Column::RemovedAt.gte(since))
        .filter(tombstone::Column::SubjectId.not_in_subquery(live))
}

/// One page of a list: its live rows, then tombstones, and the total of both.
struct Merged<M> {
    live: Vec<M>,
    gone: Vec<Gone>,
    total: u64,
}

/// Reads the page `request` asks of `live` (ordered by `id`), followed, for a
/// `modified_after` reader, by the tombstones of `kind` whose subject is not in
/// `live_ids`.
async fn merged<E>(
    db: &impl ConnectionTrait,
    live: Select<E>,
    id: E::Column,
    kind: NodeKind,
    live_ids: SelectStatement,
    request: &PageRequest,
) -> AppResult<Merged<E::Model>>
where
    E: EntityTrait,
    E::Model: Sync,
{
    let offset = request.offset()?;
    let limit = request.per_page;
    let live_total = live.clone().count(db).await?;
    let rows = if offset < live_total {
        live.order_by_asc(id)
            .offset(offset)
            .limit(limit)
            .all(db)
            .await?
    } else {
        Vec::new()
    };
    let Some(since) = request.modified_after else {
        return Ok(Merged {
            live: rows,
            gone: Vec::new(),
            total: live_total,
        });
    };
    let gone_total: Option<i64> = gone_select(kind, since, live_ids.clone())
        .select_only()
        .column_as(
            Expr::col(tombstone::Column::SubjectId).count_distinct(),
            "n",
        )
        .into_tuple()
        .one(db)
        .await?;
    let gone_total = u64::try_from(gone_total.unwrap_or(0)).unwrap_or(0);
    let room = limit.saturating_sub(rows.len() as u64);
    let mut gone = Vec::new();
    if room > 0 && gone_total > 0 {
        let rows: Vec<(Uuid, DateTime<Utc>, String)> = gone_select(kind, since, live_ids)
            .select_only()
            .column(tombstone::Column::SubjectId)
            .column_as(Expr::col(tombstone::Column::RemovedAt).max(), "removed_at")
            .column_as(Expr::col(tombstone::Column::Reason).max(), "reason")
            .group_by(tombstone::Column::SubjectId)
            .order_by_asc(tombstone::Column::SubjectId)
            .offset(offset.saturating_sub(live_total))
            .limit(room)
            .into_tuple()
            .all(db)
            .await?;
        gone = rows
            .into_iter()
            .map(|(id, removed_at, reason)| Gone {
                id,
                removed_at,
                reason,
            })
            .collect();
    }
    Ok(Merged {
        live: rows,
        gone,
        total: live_total + gone_total,
    })
}

// ---------------------------------------------------------------------------------
// Lists
// ---------------------------------------------------------------------------------

/// A page of the services of the public directory.
#[tracing::instrument(level = "debug", skip(db))]
pub async fn services(
    db: &impl ConnectionTrait,
    request: &PageRequest,
) -> AppResult<Page<Service>> {
    let mut select = service::Entity::find().filter(public_services());
    if let Some(since) = request.modified_after {
        select = select.filter(service::Column::UpdatedAt.gte(since));
    }
    let page = merged(
        db,
        select,
        service::Column::Id,
        NodeKind::Service,
        public_service_ids(),
        request,
    )
    .await?;
    let mut contents = assemble_services(db, page.live).await?;
    contents.extend(service_tombstones(db, page.gone).await?);
    Ok(Page::new(
        contents,
        request.page,
        request.per_page,
        page.total,
    ))
}

/// A service of the public directory, fully nested.
pub async fn service(db: &impl ConnectionTrait, id: Uuid) -> AppResult<Service> {
    let row = service::Entity::find_by_id(id)
        .filter(public_services())
        .one(db)
        .await?
        .ok_or(AppError::NotFound("service"))?;
    let mut out = assemble_services(db, vec![row]).await?;
    out.pop().ok_or(AppError::NotFound("service"))
}

/// A page of the organizations.
#[tracing::instrument(level = "debug", skip(db))]
pub async fn organizations(
    db: &impl ConnectionTrait,
    request: &PageRequest,
) -> AppResult<Page<Organization>> {
    let mut select = organization::Entity::find();
    if let Some(since) = request.modified_after {
        select = select.filter(organization::Column::UpdatedAt.gte(since));
    }
    let live_ids = all_ids(organization::Entity, organization::Column::Id);
    let page = merged(
        db,
        select,
        organization::Column::Id,
        NodeKind::Organization,
        live_ids,
        request,
    )
    .await?;
    let mut contents = assemble_organizations(db, page.live).await?;
    contents.extend(page.gone.iter().map(|gone| Organization {
        id: gone.id,
        name: String::new(),
        description: String::new(),
        email: None,
        website: None,
        tax_id: None,
        legal_status: None,
        funding: Vec::new(),
        contacts: Vec::new(),
        phones: Vec::new(),
        locations: Vec::new(),
        organization_identifiers: Vec::new(),
        metadata: gone.metadata("organization"),
    }));
    Ok(Page::new(
        contents,
        request.page,
        request.per_page,
        page.total,
    ))
}

/// An organization, with its sites, contacts, phones and funding.
pub async fn organization(db: &impl ConnectionTrait, id: Uuid) -> AppResult<Organization> {
    let row = organization::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound("organization"))?;
    let mut out = assemble_organizations(db, vec![row]).await?;
    out.pop().ok_or(AppError::NotFound("organization"))
}

/// A page of the sites.
#[tracing::instrument(level = "debug", skip(db))]
pub async fn locations(
    db: &impl ConnectionTrait,
    request: &PageRequest,
) -> AppResult<Page<Location>> {
    let mut select = location::Entity::find();
    if let Some(since) = request.modified_after {
        select = select.filter(location::Column::UpdatedAt.gte(since));
    }
    let live_ids = all_ids(location::Entity, location::Column::Id);
    let page = merged(
        db,
        select,
        location::Column::Id,
        NodeKind::Location,
        live_ids,
        request,
    )
    .await?;
    let mut contents = assemble_locations(db, page.live).await?;
    contents.extend(page.gone.iter().map(|gone| Location {
        id: gone.id,
        location_type: "physical",
        organization_id: None,
        name: String::new(),
        latitude: None,
        longitude: None,
        external_identifier: None,
        external_identifier_type: None,
        addresses: Vec::new(),
        accessibility: Vec::new(),
        phones: Vec::new(),
        metadata: gone.metadata("location"),
    }));
    Ok(Page::new(
        contents,
        request.page,
        request.per_page,
        page.total,
    ))
}

/// A site, with its address, accessibility and phones.
pub async fn location(db: &impl ConnectionTrait, id: Uuid) -> AppResult<Location> {
    let row = location::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound("location"))?;
    let mut out = assemble_locations(db, vec![row]).await?;
    out.pop().ok_or(AppError::NotFound("location"))
}

/// The links of the public services to their sites.
fn public_links() -> Select<service_at_location::Entity> {
    service_at_location::Entity::find()
        .filter(service_at_location::Column::ServiceId.in_subquery(public_service_ids()))
}

/// A page of the links of public services to sites, in id order; with
/// `modified_after`, those made at or after it (a link has no other change: a link
/// that went away went with its service or site, whose tombstone says so).
#[tracing::instrument(level = "debug", skip(db))]
pub async fn service_at_locations(
    db: &impl ConnectionTrait,
    request: &PageRequest,
) -> AppResult<Page<ServiceAtLocation>> {
    let mut select = public_links();
    if let Some(since) = request.modified_after {
        select = select.filter(service_at_location::Column::CreatedAt.gte(since));
    }
    let total = select.clone().count(db).await?;
    let rows = select
        .order_by_asc(service_at_location::Column::Id)
        .offset(request.offset()?)
        .limit(request.per_page)
        .all(db)
        .await?;
    let contents = assemble_links(db, rows).await?;
    Ok(Page::new(contents, request.page, request.per_page, total))
}

/// A link of a public service to a site, by its id.
pub async fn service_at_location(
    db: &impl ConnectionTrait,
    id: Uuid,
) -> AppResult<ServiceAtLocation> {
    let row = public_links()
        .filter(service_at_location::Column::Id.eq(id))
        .one(db)
        .await?
        .ok_or(AppError::NotFound("service_at_location"))?;
    let mut out = assemble_links(db, vec![row]).await?;
    out.pop().ok_or(AppError::NotFound("service_at_location"))
}

/// The published taxonomies, each with the time of its latest term change.
async fn taxonomy_rows(db: &impl ConnectionTrait) -> AppResult<Vec<(Taxonomy, DateTime<Utc>)>> {
    let rows: Vec<(Taxonomy, DateTime<Utc>)> = term::Entity::find()
        .select_only()
        .column(term::Column::Taxonomy)
        .column_as(Expr::col(term::Column::UpdatedAt).max(), "latest")
        .filter(term::Column::Taxonomy.is_in(domain::TAXONOMIES))
        .group_by(term::Column::Taxonomy)
        .into_tuple()
        .all(db)
        .await?;
    let mut rows = rows;
    rows.sort_by_key(|(taxonomy, _)| domain::taxonomy_id(*taxonomy));
    Ok(rows)
}

fn taxonomy_object(taxonomy: Taxonomy, latest: DateTime<Utc>) -> HsdsTaxonomy {
    let (name, description) = domain::taxonomy_text(taxonomy);
    HsdsTaxonomy {
        id: domain::taxonomy_id(taxonomy),
        name,
        description,
        version: Some(domain::time(latest)),
    }
}

/// A page of the published taxonomies (in id order); with `modified_after`, those
/// with a term changed at or after it.
pub async fn taxonomies(
    db: &impl ConnectionTrait,
    request: &PageRequest,
) -> AppResult<Page<HsdsTaxonomy>> {
    let rows: Vec<_> = taxonomy_rows(db)
        .await?
        .into_iter()
        .filter(|(_, latest)| request.modified_after.is_none_or(|since| *latest >= since))
        .collect();
    let total = rows.len() as u64;
    let offset = usize::try_from(request.offset()?).unwrap_or(usize::MAX);
    let per_page = usize::try_from(request.per_page).unwrap_or(usize::MAX);
    let contents = rows
        .into_iter()
        .skip(offset)
        .take(per_page)
        .map(|(taxonomy, latest)| taxonomy_object(taxonomy, latest))
        .collect();
    Ok(Page::new(contents, request.page, request.per_page, total))
}

/// A published taxonomy by its id.
pub async fn taxonomy(db: &impl ConnectionTrait, id: Uuid) -> AppResult<HsdsTaxonomy> {
    taxonomy_rows(db)
        .await?
        .into_iter()
        .find(|(taxonomy, _)| domain::taxonomy_id(*taxonomy) == id)
        .map(|(taxonomy, latest)| taxonomy_object(taxonomy, latest))
        .ok_or(AppError::NotFound("taxonomy"))
}

fn term_object(row: term::Model) -> TaxonomyTerm {
    TaxonomyTerm {
        id: row.id,
        code: row.code,
        name: row.label_it,
        description: row.description.unwrap_or(row.label_en),
        parent_id: row.parent_id,
        taxonomy: row.taxonomy.as_str(),
        language: "it",
        taxonomy_id: domain::taxonomy_id(row.taxonomy),
    }
}

/// A page of the terms of the published taxonomies.
pub async fn taxonomy_terms(
    db: &impl ConnectionTrait,
    request: &PageRequest,
) -> AppResult<Page<TaxonomyTerm>> {
    let mut select = term::Entity::find().filter(term::Column::Taxonomy.is_in(domain::TAXONOMIES));
    if let Some(since) = request.modified_after {
        select = select.filter(term::Column::UpdatedAt.gte(since));
    }
    let total = select.clone().count(db).await?;
    let rows = select
        .order_by_asc(term::Column::Id)
        .offset(request.offset()?)
        .limit(request.per_page)
        .all(db)
        .await?;
    let contents = rows.into_iter().map(term_object).collect();
    Ok(Page::new(contents, request.page, request.per_page, total))
}

/// A term of a published taxonomy.
pub async fn taxonomy_term(db: &impl ConnectionTrait, id: Uuid) -> AppResult<TaxonomyTerm> {
    term::Entity::find_by_id(id)
        .filter(term::Column::Taxonomy.is_in(domain::TAXONOMIES))
        .one(db)
        .await?
        .map(term_object)
        .ok_or(AppError::NotFound("taxonomy_term"))
}

// ---------------------------------------------------------------------------------
// Objects
// ---------------------------------------------------------------------------------

fn phone_object(row: phone::Model) -> Phone {
    Phone {
        id: row.id,
        organization_id: row.organization_id,
        service_id: row.service_id,
        location_id: row.location_id,
        contact_id: row.contact_id,
        number: row.number,
        extension: row.extension,
        r#type: row.phone_type,
        description: row.description,
    }
}

/// The phone kept in an older single-valued column, as an HSDS phone.
fn column_phone(kind: &str, owner: Uuid, number: Option<&String>) -> Option<Phone> {
    let number = number.filter(|n| !n.trim().is_empty())?;
    Some(Phone {
        id: derived_id(kind, &[owner]),
        organization_id: None,
        service_id: None,
        location_id: None,
        contact_id: None,
        number: number.clone(),
        extension: None,
        r#type: "voice".to_owned(),
        description: None,
    })
}

/// An organization's own fields and identifiers (no lists read from other tables).
fn organization_fields(row: &organization::Model) -> Organization {
    let mut identifiers = Vec::new();
    for (scheme, kind, value) in [
        (Some("IT-CF"), "Codice fiscale", &row.codice_fiscale),
        (None, "Partita IVA", &row.partita_iva),
        (None, "Codice IPA", &row.ipa_code),
        (None, "Numero RUNTS", &row.runts_number),
    ] {
        if let Some(value) = value.as_ref().filter(|v| !v.is_empty()) {
            identifiers.push(OrganizationIdentifier {
                id: derived_id(kind, &[row.id]),
                organization_id: row.id,
                identifier_scheme: scheme,
                identifier_type: kind,
                identifier: value.clone(),
            });
        }
    }
    Organization {
        id: row.id,
        name: row.name.clone(),
        description: row
            .description
            .clone()
            .filter(|d| !d.trim().is_empty())
            .unwrap_or_else(|| row.name.clone()),
        email: row.email.clone(),
        website: row.website.clone(),
        tax_id: row.codice_fiscale.clone(),
        legal_status: Some(format!(
            "{} / {}",
            serde_plain(&row.sector),
            serde_plain(&row.kind)
        )),
        funding: Vec::new(),
        contacts: Vec::new(),
        phones: Vec::new(),
        locations: Vec::new(),
        organization_identifiers: identifiers,
        metadata: Vec::new(),
    }
}

/// The stored name of a text enum.
fn serde_plain(value: &impl serde::Serialize) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(text)) => text,
        _ => String::new(),
    }
}

/// Contacts with their phones (the older column's and the phone rows).
async fn contacts_with_phones(
    db: &impl ConnectionTrait,
    rows: Vec<contact::Model>,
) -> AppResult<Vec<Contact>> {
    let ids = distinct(rows.iter().map(|c| c.id));
    let mut phones = group(
        phone::Entity::find()
            .filter(phone::Column::ContactId.is_in(ids))
            .order_by_asc(phone::Column::Id)
            .all(db)
            .await?,
        |p| p.contact_id,
    );
    Ok(rows
        .into_iter()
        .map(|row| {
            let mut list: Vec<Phone> = column_phone("contact.phone", row.id, row.phone.as_ref())
                .map(|p| Phone {
                    contact_id: Some(row.id),
                    ..p
                })
                .into_iter()
                .collect();
            list.extend(
                phones
                    .remove(&Some(row.id))
                    .unwrap_or_default()
                    .into_iter()
                    .map(phone_object),
            );
            Contact {
                id: row.id,
                organization_id: Some(row.organization_id),
                service_id: None,
                name: Some(row.name),
                title: row.title,
                department: row.department,
                email: row.email,
                phones: list,
            }
        })
        .collect())
}

/// Services with every relation, in the order given.
async fn assemble_services(
    db: &impl ConnectionTrait,
    rows: Vec<service::Model>,
) -> AppResult<Vec<Service>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids = distinct(rows.iter().map(|s| s.id));
    let providers: HashMap<Uuid, organization::Model> = organization::Entity::find()
        .filter(organization::Column::Id.is_in(distinct(rows.iter().map(|s| s.organization_id))))
        .all(db)
        .await?
        .into_iter()
        .map(|o| (o.id, o))
        .collect();
    let mut phones = group(
        phone::Entity::find()
            .filter(phone::Column::ServiceId.is_in(ids.clone()))
            .order_by_asc(phone::Column::Id)
            .all(db)
            .await?,
        |p| p.service_id,
    );
    let mut schedules = group(
        schedule::Entity::find()
            .filter(schedule::Column::ServiceId.is_in(ids.clone()))
            .order_by_asc(schedule::Column::Weekday)
            .order_by_asc(schedule::Column::OpensAt)
            .all(db)
            .await?,
        |s| s.service_id,
    );
    let areas = service_area::Entity::find()
        .filter(service_area::Column::ServiceId.is_in(ids.clone()))
        .all(db)
        .await?;
    let places: HashMap<Uuid, territory::Model> = territory::Entity::find()
        .filter(territory::Column::Id.is_in(distinct(areas.iter().map(|a| a.municipality_id))))
        .all(db)
        .await?
        .into_iter()
        .map(|t| (t.id, t))
        .collect();
    let mut areas = group(areas, |a| a.service_id);
    let mut links = group(
        service_at_location::Entity::find()
            .filter(service_at_location::Column::ServiceId.is_in(ids.clone()))
            .order_by_asc(service_at_location::Column::LocationId)
            .all(db)
            .await?,
        |l| l.service_id,
    );
    let tagged = service_term::Entity::find()
        .find_also_related(term::Entity)
        .filter(service_term::Column::ServiceId.is_in(ids.clone()))
        .order_by_asc(service_term::Column::TermId)
        .all(db)
        .await?;
    let mut tagged = group(tagged, |(link, _)| link.service_id);
    let mut funding = group(
        funding::Entity::find()
            .filter(funding::Column::ServiceId.is_in(ids.clone()))
            .order_by_asc(funding::Column::Id)
            .all(db)
            .await?,
        |f| f.service_id,
    );
    let mut costs = group(
        cost_option::Entity::find()
            .filter(cost_option::Column::ServiceId.is_in(ids.clone()))
            .order_by_asc(cost_option::Column::Id)
            .all(db)
            .await?,
        |c| c.service_id,
    );
    let mut documents = group(
        required_document::Entity::find()
            .filter(required_document::Column::ServiceId.is_in(ids.clone()))
            .order_by_asc(required_document::Column::Id)
            .all(db)
            .await?,
        |d| d.service_id,
    );
    let mut accreditations = group(
        accreditation::Entity::find()
            .filter(accreditation::Column::ServiceId.is_in(ids.clone()))
            .order_by_asc(accreditation::Column::Id)
            .all(db)
            .await?,
        |a| a.service_id,
    );
    let contact_links = service_contact::Entity::find()
        .filter(service_contact::Column::ServiceId.is_in(ids.clone()))
        .all(db)
        .await?;
    let contact_rows = contact::Entity::find()
        .filter(contact::Column::Id.is_in(distinct(contact_links.iter().map(|l| l.contact_id))))
        .order_by_asc(contact::Column::Id)
        .all(db)
        .await?;
    let contacts: HashMap<Uuid, Contact> = contacts_with_phones(db, contact_rows)
        .await?
        .into_iter()
        .map(|c| (c.id, c))
        .collect();
    let mut contact_links = group(contact_links, |l| l.service_id);

    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let id = row.id;
        let mut service_schedules = schedules.remove(&id).unwrap_or_default();
        let service_links = links.remove(&id).unwrap_or_default();
        let mut at_locations = Vec::with_capacity(service_links.len());
        for link in service_links {
            let (here, rest): (Vec<_>, Vec<_>) = service_schedules
                .into_iter()
                .partition(|s| s.location_id == Some(link.location_id));
            service_schedules = rest;
            at_locations.push(ServiceAtLocation {
                id: link.id.unwrap_or_else(|| link_id(id, link.location_id)),
                service_id: id,
                location_id: link.location_id,
                schedules: here.into_iter().map(schedule_object).collect(),
                location: None,
            });
        }
        let mut attributes = Vec::new();
        let mut languages = Vec::new();
        for (_, term) in tagged.remove(&id).unwrap_or_default() {
            let Some(term) = term else { continue };
            if term.taxonomy == Taxonomy::Language {
                languages.push(Language {
                    id: derived_id("language", &[id, term.id]),
                    service_id: id,
                    name: term.label_it.clone(),
                    code: term.code.clone(),
                });
                continue;
            }
            attributes.push(Attribute {
                id: derived_id("attribute", &[id, term.id]),
                link_id: id,
                taxonomy_term_id: term.id,
                link_type: domain::link_type(term.taxonomy),
                link_entity: "service",
                taxonomy_term: Some(term_object(term)),
            });
        }
        let mut service_funding: Vec<Funding> = row
            .funding
            .as_ref()
            .filter(|f| !f.trim().is_empty())
            .map(|source| Funding {
                id: derived_id("service.funding", &[id]),
                organization_id: None,
                service_id: Some(id),
                source: source.clone(),
            })
            .into_iter()
            .collect();
        service_funding.extend(
            funding
                .remove(&Some(id))
                .unwrap_or_default()
                .into_iter()
                .map(funding_object),
        );
        let accredited: Vec<String> = accreditations
            .remove(&id)
            .unwrap_or_default()
            .into_iter()
            .map(|a| a.name)
            .collect();
        let mut service_areas: Vec<ServiceArea> = areas
            .remove(&id)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|a| {
                let place = places.get(&a.municipality_id)?;
                Some(ServiceArea {
                    id: derived_id("service_area", &[id, a.municipality_id]),
                    service_id: id,
                    name: place.name.clone(),
                    extent: place.code.clone(),
                    extent_type: "ISTAT",
                })
            })
            .collect();
        service_areas.sort_by(|a, b| a.extent.cmp(&b.extent));
        out.push(Service {
            id,
            organization_id: Some(row.organization_id),
            name: row.name,
            alternate_name: row.alternate_name,
            description: Some(row.description),
            url: row.url,
            email: row.email,
            status: domain::status(row.status),
            application_process: row.application_process,
            fees_description: row.fees_description,
            wait_time: row
                .typical_wait_days
                .map(|days| format!("{days} giorni (attesa tipica)")),
            accreditations: (!accredited.is_empty()).then(|| accredited.join("; ")),
            eligibility_description: row.eligibility_description,
            minimum_age: row.minimum_age,
            maximum_age: row.maximum_age,
            last_modified: Some(domain::time(row.updated_at)),
            phones: phones
                .remove(&Some(id))
                .unwrap_or_default()
                .into_iter()
                .map(phone_object)
                .collect(),
            schedules: service_schedules.into_iter().map(schedule_object).collect(),
            service_areas,
            service_at_locations: at_locations,
            languages,
            organization: providers
                .get(&row.organization_id)
                .map(|o| Box::new(organization_fields(o))),
            funding: service_funding,
            cost_options: costs
                .remove(&id)
                .unwrap_or_default()
                .into_iter()
                .map(cost_object)
                .collect(),
            required_documents: documents
                .remove(&id)
                .unwrap_or_default()
                .into_iter()
                .map(|d| RequiredDocument {
                    id: d.id,
                    service_id: d.service_id,
                    document: d.document,
                    uri: d.uri,
                })
                .collect(),
            contacts: contact_links
                .remove(&id)
                .unwrap_or_default()
                .into_iter()
                .filter_map(|l| contacts.get(&l.contact_id).cloned())
                .map(|c| Contact {
                    service_id: Some(id),
                    ..c
                })
                .collect(),
            attributes,
            metadata: Vec::new(),
        });
    }
    Ok(out)
}

/// Tombstones of services: the name and HSDS status of a service hidden from the
/// directory (its row is still there), `defunct` for one that is gone.
async fn service_tombstones(db: &impl ConnectionTrait, gone: Vec<Gone>) -> AppResult<Vec<Service>> {
    if gone.is_empty() {
        return Ok(Vec::new());
    }
    let rows: HashMap<Uuid, service::Model> = service::Entity::find()
        .filter(service::Column::Id.is_in(gone.iter().map(|g| g.id).collect::<Vec<_>>()))
        .all(db)
        .await?
        .into_iter()
        .map(|s| (s.id, s))
        .collect();
    Ok(gone
        .into_iter()
        .map(|g| {
            let row = rows.get(&g.id);
            Service {
                id: g.id,
                organization_id: row.map(|r| r.organization_id),
                name: row.map(|r| r.name.clone()).unwrap_or_default(),
                alternate_name: None,
                description: None,
                url: None,
                email: None,
                status: row.map_or("defunct", |r| domain::status(r.status)),
                application_process: None,
                fees_description: None,
                wait_time: None,
                accreditations: None,
                eligibility_description: None,
                minimum_age: None,
                maximum_age: None,
                last_modified: row.map(|r| domain::time(r.updated_at)),
                phones: Vec::new(),
                schedules: Vec::new(),
                service_areas: Vec::new(),
                service_at_locations: Vec::new(),
                languages: Vec::new(),
                organization: None,
                funding: Vec::new(),
                cost_options: Vec::new(),
                required_documents: Vec::new(),
                contacts: Vec::new(),
                attributes: Vec::new(),
                metadata: g.metadata("service"),
            }
        })
        .collect())
}

fn schedule_object(row: schedule::Model) -> Schedule {
    Schedule {
        id: row.id,
        service_id: Some(row.service_id),
        location_id: row.location_id,
        freq: "WEEKLY",
        byday: domain::byday(row.weekday),
        opens_at: row.opens_at,
        closes_at: row.closes_at,
        notes: row.note,
    }
}

fn funding_object(row: funding::Model) -> Funding {
    Funding {
        id: row.id,
        organization_id: row.organization_id,
        service_id: row.service_id,
        source: row.source,
    }
}

fn cost_object(row: cost_option::Model) -> CostOption {
    CostOption {
        id: row.id,
        service_id: row.service_id,
        valid_from: row.valid_from.map(|d| d.to_string()),
        valid_to: row.valid_to.map(|d| d.to_string()),
        option: row.option,
        currency: row.currency,
        amount: row.amount,
        amount_description: row.amount_description,
    }
}

/// Sites with their address (municipality and province), accessibility and phones.
async fn assemble_locations(
    db: &impl ConnectionTrait,
    rows: Vec<location::Model>,
) -> AppResult<Vec<Location>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids = distinct(rows.iter().map(|l| l.id));
    let municipalities: HashMap<Uuid, territory::Model> = territory::Entity::find()
        .filter(territory::Column::Id.is_in(distinct(rows.iter().map(|l| l.municipality_id))))
        .all(db)
        .await?
        .into_iter()
        .map(|t| (t.id, t))
        .collect();
    let provinces: HashMap<Uuid, territory::Model> = territory::Entity::find()
        .filter(territory::Column::Id.is_in(distinct(
            municipalities.values().filter_map(|m| m.parent_id),
        )))
        .all(db)
        .await?
        .into_iter()
        .map(|t| (t.id, t))
        .collect();
    let mut phones = group(
        phone::Entity::find()
            .filter(phone::Column::LocationId.is_in(ids.clone()))
            .order_by_asc(phone::Column::Id)
            .all(db)
            .await?,
        |p| p.location_id,
    );
    let mut access = group(
        accessibility::Entity::find()
            .filter(accessibility::Column::LocationId.is_in(ids))
            .order_by_asc(accessibility::Column::Id)
            .all(db)
            .await?,
        |a| a.location_id,
    );
    Ok(rows
        .into_iter()
        .map(|row| {
            let municipality = municipalities.get(&row.municipality_id);
            let province = municipality
                .and_then(|m| m.parent_id)
                .and_then(|p| provinces.get(&p));
            Location {
                id: row.id,
                location_type: "physical",
                organization_id: Some(row.organization_id),
                name: row.name,
                latitude: row.latitude,
                longitude: row.longitude,
                external_identifier: municipality.map(|m| m.code.clone()),
                external_identifier_type: municipality.map(|_| "ISTAT"),
                addresses: vec![Address {
                    id: derived_id("address", &[row.id]),
                    location_id: row.id,
                    address_1: row.address,
                    city: municipality.map(|m| m.name.clone()).unwrap_or_default(),
                    region: Some("Toscana".to_owned()),
                    state_province: province
                        .map(|p| p.abbreviation.clone().unwrap_or_else(|| p.name.clone()))
                        .unwrap_or_default(),
                    postal_code: row.postal_code.unwrap_or_default(),
                    country: "IT",
                    address_type: "physical",
                }],
                accessibility: access
                    .remove(&row.id)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|a| Accessibility {
                        id: a.id,
                        location_id: a.location_id,
                        description: a.description,
                        details: a.details,
                        url: a.url,
                    })
                    .collect(),
                phones: phones
                    .remove(&Some(row.id))
                    .unwrap_or_default()
                    .into_iter()
                    .map(phone_object)
                    .collect(),
                metadata: Vec::new(),
            }
        })
        .collect())
}

/// Organizations with their sites, contacts, phones and funding.
async fn assemble_organizations(
    db: &impl ConnectionTrait,
    rows: Vec<organization::Model>,
) -> AppResult<Vec<Organization>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids = distinct(rows.iter().map(|o| o.id));
    let mut phones = group(
        phone::Entity::find()
            .filter(phone::Column::OrganizationId.is_in(ids.clone()))
            .order_by_asc(phone::Column::Id)
            .all(db)
            .await?,
        |p| p.organization_id,
    );
    let contact_rows = contact::Entity::find()
        .filter(contact::Column::OrganizationId.is_in(ids.clone()))
        .order_by_asc(contact::Column::Id)
        .all(db)
        .await?;
    let mut contacts = group(contacts_with_phones(db, contact_rows).await?, |c| {
        c.organization_id
    });
    let site_rows = location::Entity::find()
        .filter(location::Column::OrganizationId.is_in(ids.clone()))
        .order_by_asc(location::Column::Id)
        .all(db)
        .await?;
    let mut sites = group(assemble_locations(db, site_rows).await?, |l| {
        l.organization_id
    });
    let mut funding = group(
        funding::Entity::find()
            .filter(funding::Column::OrganizationId.is_in(ids))
            .order_by_asc(funding::Column::Id)
            .all(db)
            .await?,
        |f| f.organization_id,
    );
    Ok(rows
        .into_iter()
        .map(|row| {
            let mut out = organization_fields(&row);
            let key = Some(row.id);
            out.phones = column_phone("organization.phone", row.id, row.phone.as_ref())
                .map(|p| Phone {
                    organization_id: key,
                    ..p
                })
                .into_iter()
                .chain(
                    phones
                        .remove(&key)
                        .unwrap_or_default()
                        .into_iter()
                        .map(phone_object),
                )
                .collect();
            out.contacts = contacts.remove(&key).unwrap_or_default();
            out.locations = sites.remove(&key).unwrap_or_default();
            out.funding = funding
                .remove(&key)
                .unwrap_or_default()
                .into_iter()
                .map(funding_object)
                .collect();
            out
        })
        .collect())
}

/// Links with their schedules and their site.
async fn assemble_links(
    db: &impl ConnectionTrait,
    rows: Vec<service_at_location::Model>,
) -> AppResult<Vec<ServiceAtLocation>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let site_rows = location::Entity::find()
        .filter(location::Column::Id.is_in(distinct(rows.iter().map(|l| l.location_id))))
        .all(db)
        .await?;
    let sites: HashMap<Uuid, Location> = assemble_locations(db, site_rows)
        .await?
        .into_iter()
        .map(|l| (l.id, l))
        .collect();
    let mut schedules = group(
        schedule::Entity::find()
            .filter(schedule::Column::ServiceId.is_in(distinct(rows.iter().map(|l| l.service_id))))
            .filter(
                schedule::Column::LocationId.is_in(distinct(rows.iter().map(|l| l.location_id))),
            )
            .order_by_asc(schedule::Column::Weekday)
            .order_by_asc(schedule::Column::OpensAt)
            .all(db)
            .await?,
        |s| (s.service_id, s.location_id),
    );
    Ok(rows
        .into_iter()
        .map(|row| ServiceAtLocation {
            id: row
                .id
                .unwrap_or_else(|| link_id(row.service_id, row.location_id)),
            service_id: row.service_id,
            location_id: row.location_id,
            schedules: schedules
                .remove(&(row.service_id, Some(row.location_id)))
                .unwrap_or_default()
                .into_iter()
                .map(schedule_object)
                .collect(),
            location: sites.get(&row.location_id).cloned().map(Box::new),
        })
        .collect())
}
