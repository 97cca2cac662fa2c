//! The demo network: a realistic but illustrative MeLT network for demonstrations,
//! front-end development and tests.
//!
//! It adds the organizations of the network (Regione Toscana, the three MeLT partners,
//! their operating partners, employment centres, third-sector bodies, health trusts)
//! with sites and contacts, three zones and the three hub areas of the regional split,
//! a catalogue of services covering the nine service types of the guidelines in every
//! hub area, the regional MeLT protocol in force with its signatories, a draft local
//! protocol and a working group of the Prato hub area with a meeting to come. The data lives in the `data` submodule as tables; this module turns it
//! into rows.
//!
//! **This is demo data**: the `data` submodule says what is real and what is invented. It relies
//! on the reference rows every install has (territories and taxonomy terms, loaded by
//! the migrations) and fails with [`DbErr::Custom`] if one it names is missing.

mod data;
mod translations;

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use entity::enums::{MeetingStatus, Taxonomy, TerritoryKind, WorkingGroupRole, WorkingGroupStatus};
use entity::{
    accessibility, accreditation, contact, cost_option, funding, location, meeting, meeting_topic,
    organization, organization_succession, phone, protocol, protocol_scope, required_document,
    schedule, service, service_area, service_at_location, service_contact, service_term, signatory,
    term, territory, territory_member, working_group, working_group_member,
};
use melt_text::fold;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait,
    QueryFilter,
};
use uuid::Uuid;

use crate::catalogue::domain::search_text;
use crate::organization::domain::{CodiceFiscale, PartitaIva};
use data::{Area, Scope, Ymd};

pub use data::{MELT_PROTOCOL_TITLE, REGION_CODICE_FISCALE};

/// Rows per multi-row `INSERT`, well under SQLite's and PostgreSQL's parameter limits.
const BATCH: usize = 200;

/// Loads the demo network once; returns false when it was already there.
///
/// The network counts as loaded when an organization with Regione Toscana's codice
/// fiscale ([`REGION_CODICE_FISCALE`]) exists. Zones and hub areas that already exist
/// (same kind and code) are reused as they are. The caller runs this in a transaction:
/// on error nothing should be kept.
pub async fn load_demo_network<C: ConnectionTrait>(db: &C) -> Result<bool, DbErr> {
    if already_loaded(db).await? {
        return Ok(false);
    }
    check_identifiers()?;
    let now = Utc::now();
    let places = Places::load(db).await?;
    let terms = Terms::load(db).await?;
    let groupings = load_groupings(db, &places, now).await?;
    let orgs = insert_organizations(db, &places, now).await?;
    insert_successions(db, &orgs, now).await?;
    insert_services(db, &places, &groupings, &terms, &orgs, now).await?;
    insert_details(db, &orgs, now).await?;
    insert_protocols(db, &places, &groupings, &orgs, now).await?;
    insert_translations(db, &terms, &orgs, now).await?;
    insert_working_groups(db, &places, &groupings, &orgs, now).await?;
    Ok(true)
}

/// Whether Regione Toscana (the promoter of the demo network) is already there.
async fn already_loaded<C: ConnectionTrait>(db: &C) -> Result<bool, DbErr> {
    let found = organization::Entity::find()
        .filter(organization::Column::CodiceFiscale.eq(REGION_CODICE_FISCALE))
        .one(db)
        .await?;
    Ok(found.is_some())
}

/// A [`DbErr::Custom`] naming the demo network.
fn seed_error(message: impl std::fmt::Display) -> DbErr {
    DbErr::Custom(format!("demo network: {message}"))
}

/// A date of the demo tables.
fn date((year, month, day): Ymd) -> Result<NaiveDate, DbErr> {
    NaiveDate::from_ymd_opt(year, month, day)
        .ok_or_else(|| seed_error(format!("invalid date {year}-{month:02}-{day:02}")))
}

/// An instant on a date of the demo tables (10:00 UTC, office hours in Tuscany).
fn instant(ymd: Ymd) -> Result<DateTime<Utc>, DbErr> {
    date(ymd)?
        .and_hms_opt(10, 0, 0)
        .map(|t| t.and_utc())
        .ok_or_else(|| seed_error("invalid time"))
}

/// Fails if an identifier in the organization table has an invalid check digit.
fn check_identifiers() -> Result<(), DbErr> {
    for org in data::ORGANIZATIONS {
        let checks = [
            org.codice_fiscale
                .map(|v| CodiceFiscale::parse(v).map(|_| ())),
            org.partita_iva.map(|v| PartitaIva::parse(v).map(|_| ())),
        ];
        for check in checks.into_iter().flatten() {
            check.map_err(|e| seed_error(format!("{} of {}", e, org.name)))?;
        }
    }
    Ok(())
}

/// Inserts rows in batches of [`BATCH`].
async fn insert_all<A, C>(db: &C, rows: Vec<A>) -> Result<(), DbErr>
where
    A: ActiveModelTrait + Send,
    C: ConnectionTrait,
{
    let mut rows = rows.into_iter();
    loop {
        let batch: Vec<A> = rows.by_ref().take(BATCH).collect();
        if batch.is_empty() {
            return Ok(());
        }
        <A::Entity as EntityTrait>::insert_many(batch)
            .exec_without_returning(db)
            .await?;
    }
}

// ---------------------------------------------------------------------------------
// Reference rows
// ---------------------------------------------------------------------------------

/// The region, provinces and municipalities loaded by the migrations.
struct Places {
    region: Uuid,
    /// Province id by ISTAT code.
    provinces: HashMap<String, Uuid>,
    /// Municipality id by name (names are unique in Tuscany).
    municipalities: HashMap<String, Uuid>,
    /// Municipality ids by province id.
    by_province: HashMap<Uuid, BTreeSet<Uuid>>,
}

impl Places {
    async fn load<C: ConnectionTrait>(db: &C) -> Result<Self, DbErr> {
        let rows = territory::Entity::find()
            .filter(territory::Column::Kind.is_in([
                TerritoryKind::Region,
                TerritoryKind::Province,
                TerritoryKind::Municipality,
            ]))
            .all(db)
            .await?;
        let mut region = None;
        let mut provinces = HashMap::new();
        let mut municipalities = HashMap::new();
        let mut by_province: HashMap<Uuid, BTreeSet<Uuid>> = HashMap::new();
        for row in rows {
            match row.kind {
                TerritoryKind::Region => region = Some(row.id),
                TerritoryKind::Province => {
                    provinces.insert(row.code, row.id);
                }
                _ => {
                    if let Some(parent) = row.parent_id {
                        by_province.entry(parent).or_default().insert(row.id);
                    }
                    municipalities.insert(row.name, row.id);
                }
            }
        }
        let region = region.ok_or_else(|| seed_error("the region territory is missing"))?;
        Ok(Self {
            region,
            provinces,
            municipalities,
            by_province,
        })
    }

    /// The id of a municipality, by its name in `tuscany-municipalities.csv`.
    fn municipality(&self, name: &str) -> Result<Uuid, DbErr> {
        self.municipalities
            .get(name)
            .copied()
            .ok_or_else(|| seed_error(format!("unknown municipality {name:?}")))
    }

    /// The ids of named municipalities.
    fn municipalities(&self, names: &[&str]) -> Result<BTreeSet<Uuid>, DbErr> {
        names.iter().map(|name| self.municipality(name)).collect()
    }

    /// The municipalities of a province, by its ISTAT code.
    fn province_members(&self, code: &str) -> Result<BTreeSet<Uuid>, DbErr> {
        let province = self
            .provinces
            .get(code)
            .ok_or_else(|| seed_error(format!("unknown province {code:?}")))?;
        Ok(self.by_province.get(province).cloned().unwrap_or_default())
    }
}

/// Taxonomy terms loaded by the migrations, by taxonomy and code.
struct Terms(HashMap<(Taxonomy, String), Uuid>);

impl Terms {
    async fn load<C: ConnectionTrait>(db: &C) -> Result<Self, DbErr> {
        let rows = term::Entity::find().all(db).await?;
        Ok(Self(
            rows.into_iter()
                .map(|t| ((t.taxonomy, t.code), t.id))
                .collect(),
        ))
    }

    fn get(&self, taxonomy: Taxonomy, code: &str) -> Result<Uuid, DbErr> {
        self.0
            .get(&(taxonomy, code.to_owned()))
            .copied()
            .ok_or_else(|| seed_error(format!("unknown {taxonomy:?} term {code:?}")))
    }
}

/// Inserts the demo translations ([`translations`]) of services (found by their
/// Italian name), taxonomy terms and organizations.
async fn insert_translations<C: ConnectionTrait>(
    db: &C,
    terms: &Terms,
    orgs: &Orgs,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    use entity::translation;
    let row = |kind: &str, subject: Uuid, texts: &translations::Texts| translation::ActiveModel {
        id: Set(Uuid::now_v7()),
        subject_type: Set(kind.to_owned()),
        subject_id: Set(subject),
        language: Set(texts.language.to_owned()),
        name: Set(texts.name.map(str::to_owned)),
        alternate_name: Set(None),
        description: Set(texts.description.map(str::to_owned)),
        eligibility_description: Set(texts.eligibility.map(str::to_owned)),
        fees_description: Set(texts.fees.map(str::to_owned)),
        application_process: Set(texts.application.map(str::to_owned)),
        row_version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
    };
    let mut rows = Vec::new();
    for (name, all) in translations::SERVICES {
        let found = service::Entity::find()
            .filter(service::Column::Name.eq(*name))
            .all(db)
            .await?;
        if found.is_empty() {
            return Err(seed_error(format!(
                "no service named {name:?} to translate"
            )));
        }
        for svc in found {
            rows.extend(all.iter().map(|texts| row("Service", svc.id, texts)));
        }
    }
    for (taxonomy, code, all) in translations::TERMS {
        let id = terms.get(*taxonomy, code)?;
        rows.extend(all.iter().map(|texts| row("Term", id, texts)));
    }
    for (key, all) in translations::ORGANIZATIONS {
        let id = orgs.id(key)?;
        rows.extend(all.iter().map(|texts| row("Organization", id, texts)));
    }
    insert_all(db, rows).await
}

// ---------------------------------------------------------------------------------
// Zones and hub areas
// ---------------------------------------------------------------------------------

/// A zone or hub area and its member municipalities.
struct Grouping {
    id: Uuid,
    members: BTreeSet<Uuid>,
}

/// Zones and hub areas by code.
struct Groupings(HashMap<&'static str, Grouping>);

impl Groupings {
    fn get(&self, code: &str) -> Result<&Grouping, DbErr> {
        self.0
            .get(code)
            .ok_or_else(|| seed_error(format!("unknown zone or hub area {code:?}")))
    }
}

/// Creates the zones, then the hub areas built from provinces and zones.
async fn load_groupings<C: ConnectionTrait>(
    db: &C,
    places: &Places,
    now: DateTime<Utc>,
) -> Result<Groupings, DbErr> {
    let mut groupings = Groupings(HashMap::new());
    for zone in data::ZONES {
        let members = places.municipalities(zone.municipalities)?;
        let grouping = ensure_grouping(
            db,
            places,
            TerritoryKind::Zone,
            zone.code,
            zone.name,
            members,
            now,
        )
        .await?;
        groupings.0.insert(zone.code, grouping);
    }
    for hub in data::HUB_AREAS {
        let mut members = BTreeSet::new();
        for province in hub.provinces {
            members.extend(places.province_members(province)?);
        }
        for zone in hub.minus_zones {
            for id in &groupings.get(zone)?.members {
                members.remove(id);
            }
        }
        for zone in hub.plus_zones {
            members.extend(groupings.get(zone)?.members.iter().copied());
        }
        let grouping = ensure_grouping(
            db,
            places,
            TerritoryKind::HubArea,
            hub.code,
            hub.name,
            members,
            now,
        )
        .await?;
        groupings.0.insert(hub.code, grouping);
    }
    Ok(groupings)
}

/// Returns the grouping with this kind and code, creating it with `members` if absent.
async fn ensure_grouping<C: ConnectionTrait>(
    db: &C,
    places: &Places,
    kind: TerritoryKind,
    code: &str,
    name: &str,
    members: BTreeSet<Uuid>,
    now: DateTime<Utc>,
) -> Result<Grouping, DbErr> {
    let existing = territory::Entity::find()
        .filter(territory::Column::Kind.eq(kind))
        .filter(territory::Column::Code.eq(code))
        .one(db)
        .await?;
    if let Some(existing) = existing {
        let members = territory_member::Entity::find()
            .filter(territory_member::Column::GroupingId.eq(existing.id))
            .all(db)
            .await?
            .into_iter()
            .map(|m| m.municipality_id)
            .collect();
        return Ok(Grouping {
            id: existing.id,
            members,
        });
    }
    let id = Uuid::now_v7();
    territory::ActiveModel {
        row_version: Set(1),
        id: Set(id),
        kind: Set(kind),
        code: Set(code.to_owned()),
        name: Set(name.to_owned()),
        search_name: Set(fold(name)),
        parent_id: Set(Some(places.region)),
        cadastral_code: Set(None),
        abbreviation: Set(None),
        valid_from: Set(Some(date(data::GROUPINGS_VALID_FROM)?)),
        valid_to: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?;
    let rows = members
        .iter()
        .map(|&municipality_id| territory_member::ActiveModel {
            grouping_id: Set(id),
            municipality_id: Set(municipality_id),
            created_at: Set(now),
        })
        .collect();
    insert_all(db, rows).await?;
    Ok(Grouping { id, members })
}

// ---------------------------------------------------------------------------------
// Organizations
// ---------------------------------------------------------------------------------

/// The ids of an inserted organization and of its sites, in table order.
struct OrgIds {
    id: Uuid,
    sites: Vec<Uuid>,
}

/// Inserted organizations by their key in [`data::ORGANIZATIONS`].
struct Orgs(HashMap<&'static str, OrgIds>);

impl Orgs {
    fn get(&self, key: &str) -> Result<&OrgIds, DbErr> {
        self.0
            .get(key)
            .ok_or_else(|| seed_error(format!("unknown organization key {key:?}")))
    }

    fn id(&self, key: &str) -> Result<Uuid, DbErr> {
        Ok(self.get(key)?.id)
    }

    /// The location id of an organization's site.
    fn site(&self, key: &str, index: usize) -> Result<Uuid, DbErr> {
        self.get(key)?
            .sites
            .get(index)
            .copied()
            .ok_or_else(|| seed_error(format!("organization {key} has no site #{index}")))
    }
}

/// Inserts the organizations with their sites and contacts.
async fn insert_organizations<C: ConnectionTrait>(
    db: &C,
    places: &Places,
    now: DateTime<Utc>,
) -> Result<Orgs, DbErr> {
    let mut orgs = Orgs(HashMap::new());
    let mut organizations = Vec::new();
    let mut locations = Vec::new();
    let mut contacts = Vec::new();
    for org in data::ORGANIZATIONS {
        let id = Uuid::now_v7();
        organizations.push(organization::ActiveModel {
            row_version: Set(1),
            id: Set(id),
            name: Set(org.name.to_owned()),
            search_name: Set(fold(org.name)),
            kind: Set(org.kind),
            sector: Set(org.sector),
            description: Set(Some(org.description.to_owned())),
            codice_fiscale: Set(org.codice_fiscale.map(str::to_owned)),
            partita_iva: Set(org.partita_iva.map(str::to_owned)),
            ipa_code: Set(org.ipa_code.map(str::to_owned)),
            runts_number: Set(None),
            website: Set(Some(org.website.to_owned())),
            email: Set(Some(org.email.to_owned())),
            phone: Set(Some(org.phone.to_owned())),
            dissolved_on: Set(org.dissolved_on.map(date).transpose()?),
            created_at: Set(now),
            updated_at: Set(now),
        });
        let mut sites = Vec::new();
        for site in org.sites {
            let location_id = Uuid::now_v7();
            sites.push(location_id);
            locations.push(location::ActiveModel {
                row_version: Set(1),
                id: Set(location_id),
                organization_id: Set(id),
                name: Set(site.name.to_owned()),
                address: Set(site.address.to_owned()),
                postal_code: Set(Some(site.postal_code.to_owned())),
                municipality_id: Set(places.municipality(site.municipality)?),
                latitude: Set(Some(site.latitude)),
                longitude: Set(Some(site.longitude)),
                created_at: Set(now),
                updated_at: Set(now),
            });
        }
        contacts.push(contact::ActiveModel {
            row_version: Set(1),
            id: Set(Uuid::now_v7()),
            organization_id: Set(id),
            name: Set(org.contact.name.to_owned()),
            title: Set(org.contact.title.map(str::to_owned)),
            department: Set(org.contact.department.map(str::to_owned)),
            email: Set(Some(org.contact.email.to_owned())),
            phone: Set(Some(org.contact.phone.to_owned())),
            created_at: Set(now),
            updated_at: Set(now),
        });
        if orgs.0.insert(org.key, OrgIds { id, sites }).is_some() {
            return Err(seed_error(format!(
                "duplicate organization key {}",
                org.key
            )));
        }
    }
    insert_all(db, organizations).await?;
    insert_all(db, locations).await?;
    insert_all(db, contacts).await?;
    Ok(orgs)
}

/// Records which organizations took over the duties of dissolved ones.
async fn insert_successions<C: ConnectionTrait>(
    db: &C,
    orgs: &Orgs,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let rows = data::SUCCESSIONS
        .iter()
        .map(|s| {
            Ok(organization_succession::ActiveModel {
                id: Set(Uuid::now_v7()),
                predecessor_id: Set(orgs.id(s.predecessor)?),
                successor_id: Set(orgs.id(s.successor)?),
                effective_on: Set(date(s.effective_on)?),
                note: Set(Some(s.note.to_owned())),
                created_at: Set(now),
                updated_at: Set(now),
            })
        })
        .collect::<Result<Vec<_>, DbErr>>()?;
    insert_all(db, rows).await
}

// ---------------------------------------------------------------------------------
// Services
// ---------------------------------------------------------------------------------

/// The municipalities a service area stands for.
fn area_members(
    area: &Area,
    places: &Places,
    groupings: &Groupings,
) -> Result<BTreeSet<Uuid>, DbErr> {
    match area {
        Area::Grouping(code) => Ok(groupings.get(code)?.members.clone()),
        Area::Province(code) => places.province_members(code),
        Area::Towns(names) => places.municipalities(names),
    }
}

/// The taxonomy terms a service is tagged with: its service type(s), target groups and
/// languages.
fn service_terms(svc: &data::Svc, terms: &Terms) -> Result<BTreeSet<Uuid>, DbErr> {
    let tagged = std::iter::once((Taxonomy::ServiceType, svc.service_type))
        .chain(svc.lep.iter().map(|&code| (Taxonomy::ServiceType, code)))
        .chain(
            svc.targets
                .iter()
                .map(|&code| (Taxonomy::TargetGroup, code)),
        )
        .chain(svc.languages.iter().map(|&code| (Taxonomy::Language, code)));
    tagged
        .map(|(taxonomy, code)| terms.get(taxonomy, code))
        .collect()
}

/// All the rows that make up the demo catalogue, in insertion order.
#[derive(Default)]
struct Catalogue {
    services: Vec<service::ActiveModel>,
    terms: Vec<service_term::ActiveModel>,
    areas: Vec<service_area::ActiveModel>,
    locations: Vec<service_at_location::ActiveModel>,
    schedules: Vec<schedule::ActiveModel>,
}

/// Inserts the services with their terms, areas, locations and schedules.
async fn insert_services<C: ConnectionTrait>(
    db: &C,
    places: &Places,
    groupings: &Groupings,
    terms: &Terms,
    orgs: &Orgs,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let mut catalogue = Catalogue::default();
    for svc in data::SERVICES {
        let provider = data::ORGANIZATIONS
            .iter()
            .find(|org| org.key == svc.provider)
            .ok_or_else(|| seed_error(format!("unknown provider {:?}", svc.provider)))?;
        let id = Uuid::now_v7();
        let location_id = orgs.site(svc.provider, svc.site)?;
        let (open_places, waitlist_length, typical_wait_days) = svc.capacity;
        catalogue.services.push(service::ActiveModel {
            row_version: Set(1),
            id: Set(id),
            organization_id: Set(orgs.id(svc.provider)?),
            name: Set(svc.name.to_owned()),
            search_name: Set(fold(svc.name)),
            search_text: Set(search_text(svc.name, svc.alternate_name, svc.description)),
            alternate_name: Set(svc.alternate_name.map(str::to_owned)),
            description: Set(svc.description.to_owned()),
            status: Set(svc.status),
            eligibility_description: Set(Some(svc.eligibility.to_owned())),
            minimum_age: Set(svc.min_age),
            maximum_age: Set(svc.max_age),
            fees_description: Set(Some(data::FEES.to_owned())),
            application_process: Set(Some(svc.application.to_owned())),
            url: Set(Some(provider.website.to_owned())),
            email: Set(Some(provider.email.to_owned())),
            delivery_mode: Set(svc.delivery),
            funding: Set(Some(svc.funding.to_owned())),
            open_places: Set(Some(open_places)),
            waitlist_length: Set(Some(waitlist_length)),
            typical_wait_days: Set(Some(typical_wait_days)),
            capacity_updated_at: Set(Some(now)),
            created_at: Set(now),
            updated_at: Set(now),
        });
        for term_id in service_terms(svc, terms)? {
            catalogue.terms.push(service_term::ActiveModel {
                service_id: Set(id),
                term_id: Set(term_id),
                created_at: Set(now),
            });
        }
        for municipality_id in area_members(&svc.area, places, groupings)? {
            catalogue.areas.push(service_area::ActiveModel {
                service_id: Set(id),
                municipality_id: Set(municipality_id),
                created_at: Set(now),
            });
        }
        catalogue.locations.push(service_at_location::ActiveModel {
            service_id: Set(id),
            location_id: Set(location_id),
            id: Set(Some(crate::hsds::domain::link_id(id, location_id))),
            created_at: Set(now),
        });
        for &(weekday, opens_at, closes_at) in svc.hours.slots {
            catalogue.schedules.push(schedule::ActiveModel {
                id: Set(Uuid::now_v7()),
                service_id: Set(id),
                location_id: Set(Some(location_id)),
                weekday: Set(weekday),
                opens_at: Set(opens_at.to_owned()),
                closes_at: Set(closes_at.to_owned()),
                note: Set(svc.hours.note.map(str::to_owned)),
                created_at: Set(now),
                updated_at: Set(now),
            });
        }
    }
    insert_all(db, catalogue.services).await?;
    insert_all(db, catalogue.terms).await?;
    insert_all(db, catalogue.areas).await?;
    insert_all(db, catalogue.locations).await?;
    insert_all(db, catalogue.schedules).await
}

/// Adds what the HSDS export shows beyond the catalogue's own fields: each site's
/// accessibility and switchboard phone, each service's required documents, cost
/// option, contact (the provider's contact point) and information phone, the
/// accreditation of employment centres' and training agencies' services, and the
/// funding of third-sector bodies (from their own funds). Illustrative, like the rest
/// of the demo network; the phone numbers are the organizations' own.
async fn insert_details<C: ConnectionTrait>(
    db: &C,
    orgs: &Orgs,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    use entity::enums::OrganizationKind;
    let org_ids: Vec<Uuid> = orgs.0.values().map(|o| o.id).collect();
    let organizations: HashMap<Uuid, organization::Model> = organization::Entity::find()
        .filter(organization::Column::Id.is_in(org_ids.clone()))
        .all(db)
        .await?
        .into_iter()
        .map(|o| (o.id, o))
        .collect();
    let mut contact_points: HashMap<Uuid, Uuid> = HashMap::new();
    for row in contact::Entity::find()
        .filter(contact::Column::OrganizationId.is_in(org_ids.clone()))
        .all(db)
        .await?
    {
        contact_points.entry(row.organization_id).or_insert(row.id);
    }
    let sites = location::Entity::find()
        .filter(location::Column::OrganizationId.is_in(org_ids.clone()))
        .all(db)
        .await?;
    let services = service::Entity::find()
        .filter(service::Column::OrganizationId.is_in(org_ids))
        .all(db)
        .await?;

    let mut phones = Vec::new();
    let mut access = Vec::new();
    for (index, site) in sites.iter().enumerate() {
        let (description, details) = if index % 3 == 2 {
            (
                "Ingresso con rampa; sportello al piano terra.",
                Some("Servizi igienici accessibili non disponibili: chiedere all'accoglienza."),
            )
        } else {
            (
                "Sede accessibile a persone con disabilità motoria: ingresso senza gradini e ascensore.",
                Some("Servizi igienici accessibili; parcheggio riservato nelle vicinanze."),
            )
        };
        access.push(accessibility::ActiveModel {
            id: Set(Uuid::now_v7()),
            location_id: Set(site.id),
            description: Set(description.to_owned()),
            details: Set(details.map(str::to_owned)),
            url: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        });
        if let Some(number) = organizations
            .get(&site.organization_id)
            .and_then(|o| o.phone.clone())
        {
            phones.push(phone::ActiveModel {
                id: Set(Uuid::now_v7()),
                organization_id: Set(None),
                service_id: Set(None),
                location_id: Set(Some(site.id)),
                contact_id: Set(None),
                number: Set(number),
                extension: Set(None),
                phone_type: Set("voice".to_owned()),
                description: Set(Some("Centralino della sede".to_owned())),
                created_at: Set(now),
                updated_at: Set(now),
            });
        }
    }
    let mut documents = Vec::new();
    let mut costs = Vec::new();
    let mut accreditations = Vec::new();
    let mut contacts = Vec::new();
    let mut funding_rows = Vec::new();
    for svc in &services {
        for document in [
            "Documento di identità in corso di validità",
            "Codice fiscale o tessera sanitaria",
        ] {
            documents.push(required_document::ActiveModel {
                id: Set(Uuid::now_v7()),
                service_id: Set(svc.id),
                document: Set(document.to_owned()),
                uri: Set(None),
                created_at: Set(now),
                updated_at: Set(now),
            });
        }
        costs.push(cost_option::ActiveModel {
            id: Set(Uuid::now_v7()),
            service_id: Set(svc.id),
            option: Set(Some("Per tutte le persone ammesse al servizio".to_owned())),
            currency: Set(Some("EUR".to_owned())),
            amount: Set(Some(0.0)),
            amount_description: Set(Some(data::FEES.to_owned())),
            valid_from: Set(None),
            valid_to: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        });
        let provider = organizations.get(&svc.organization_id);
        if provider.is_some_and(|p| {
            matches!(
                p.kind,
                OrganizationKind::EmploymentCentre | OrganizationKind::TrainingAgency
            )
        }) {
            accreditations.push(accreditation::ActiveModel {
                id: Set(Uuid::now_v7()),
                service_id: Set(svc.id),
                name: Set(
                    "Accreditamento regionale per i servizi al lavoro (Regione Toscana)".to_owned(),
                ),
                created_at: Set(now),
                updated_at: Set(now),
            });
        }
        if let Some(&contact_id) = contact_points.get(&svc.organization_id) {
            contacts.push(service_contact::ActiveModel {
                service_id: Set(svc.id),
                contact_id: Set(contact_id),
                created_at: Set(now),
            });
        }
        if let Some(number) = provider.and_then(|p| p.phone.clone()) {
            phones.push(phone::ActiveModel {
                id: Set(Uuid::now_v7()),
                organization_id: Set(None),
                service_id: Set(Some(svc.id)),
                location_id: Set(None),
                contact_id: Set(None),
                number: Set(number),
                extension: Set(None),
                phone_type: Set("voice".to_owned()),
                description: Set(Some("Informazioni sul servizio".to_owned())),
                created_at: Set(now),
                updated_at: Set(now),
            });
        }
    }
    for org in organizations.values() {
        if org.sector == entity::enums::Sector::ThirdSector {
            funding_rows.push(funding::ActiveModel {
                id: Set(Uuid::now_v7()),
                organization_id: Set(Some(org.id)),
                service_id: Set(None),
                source: Set("Fondi propri e donazioni".to_owned()),
                created_at: Set(now),
                updated_at: Set(now),
            });
        }
    }
    insert_all(db, phones).await?;
    insert_all(db, access).await?;
    insert_all(db, documents).await?;
    insert_all(db, costs).await?;
    insert_all(db, accreditations).await?;
    insert_all(db, contacts).await?;
    insert_all(db, funding_rows).await
}

// ---------------------------------------------------------------------------------
// Protocols
// ---------------------------------------------------------------------------------

/// Inserts the protocols with their scope and signatories.
async fn insert_protocols<C: ConnectionTrait>(
    db: &C,
    places: &Places,
    groupings: &Groupings,
    orgs: &Orgs,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let mut protocols = Vec::new();
    let mut scopes = Vec::new();
    let mut signatories = Vec::new();
    for p in data::PROTOCOLS {
        let id = Uuid::now_v7();
        protocols.push(protocol::ActiveModel {
            row_version: Set(1),
            id: Set(id),
            title: Set(p.title.to_owned()),
            search_name: Set(fold(p.title)),
            version: Set(p.version),
            description: Set(Some(p.description.to_owned())),
            valid_from: Set(p.valid_from.map(date).transpose()?),
            valid_to: Set(p.valid_to.map(date).transpose()?),
            document_url: Set(p.document_url.map(str::to_owned)),
            document_sha256: Set(p.document_sha256.map(str::to_owned)),
            response_time_days: Set(p.response_time_days),
            status: Set(p.status),
            supersedes_id: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        });
        let territory_id = match p.scope {
            Scope::Region => places.region,
            Scope::Grouping(code) => groupings.get(code)?.id,
        };
        scopes.push(protocol_scope::ActiveModel {
            protocol_id: Set(id),
            territory_id: Set(territory_id),
            created_at: Set(now),
        });
        for s in p.signatories {
            signatories.push(signatory::ActiveModel {
                row_version: Set(1),
                id: Set(Uuid::now_v7()),
                protocol_id: Set(id),
                organization_id: Set(orgs.id(s.org)?),
                role: Set(s.role),
                status: Set(s.status),
                invited_at: Set(Some(instant(s.invited_on)?)),
                signed_at: Set(s.signed_on.map(instant).transpose()?),
                signed_by_name: Set(s.signed_by.map(|(name, _)| name.to_owned())),
                signed_by_title: Set(s.signed_by.map(|(_, title)| title.to_owned())),
                withdrawn_at: Set(s.withdrawn_on.map(instant).transpose()?),
                created_at: Set(now),
                updated_at: Set(now),
            });
        }
    }
    insert_all(db, protocols).await?;
    insert_all(db, scopes).await?;
    insert_all(db, signatories).await
}

// ---------------------------------------------------------------------------------
// Working groups
// ---------------------------------------------------------------------------------

/// Inserts the working groups with their members and their planned meeting.
async fn insert_working_groups<C: ConnectionTrait>(
    db: &C,
    places: &Places,
    groupings: &Groupings,
    orgs: &Orgs,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let mut groups = Vec::new();
    let mut members = Vec::new();
    let mut meetings = Vec::new();
    let mut topics = Vec::new();
    for g in data::WORKING_GROUPS {
        let id = Uuid::now_v7();
        let lead = orgs.id(g.lead)?;
        groups.push(working_group::ActiveModel {
            id: Set(id),
            name: Set(g.name.to_owned()),
            search_name: Set(fold(g.name)),
            purpose: Set(Some(g.purpose.to_owned())),
            territory_id: Set(match g.territory {
                Scope::Region => places.region,
                Scope::Grouping(code) => groupings.get(code)?.id,
            }),
            lead_organization_id: Set(lead),
            status: Set(WorkingGroupStatus::Active),
            starts_on: Set(Some(date(g.starts_on)?)),
            ends_on: Set(None),
            row_version: Set(1),
            created_at: Set(now),
            updated_at: Set(now),
        });
        let roles = std::iter::once((lead, WorkingGroupRole::Lead)).chain(
            g.members
                .iter()
                .map(|&(key, role)| Ok::<_, DbErr>((orgs.id(key)?, role)))
                .collect::<Result<Vec<_>, _>>()?,
        );
        for (organization, role) in roles {
            members.push(working_group_member::ActiveModel {
                working_group_id: Set(id),
                organization_id: Set(organization),
                role: Set(role),
                created_at: Set(now),
            });
        }
        let planned = &g.meeting;
        let (hour, minute) = planned.at;
        let starts_at = (now.date_naive() + chrono::Duration::days(planned.in_days))
            .and_hms_opt(hour, minute, 0)
            .map(|t| t.and_utc())
            .ok_or_else(|| seed_error("invalid meeting time"))?;
        let meeting_id = Uuid::now_v7();
        meetings.push(meeting::ActiveModel {
            id: Set(meeting_id),
            working_group_id: Set(id),
            starts_at: Set(starts_at),
            status: Set(MeetingStatus::Planned),
            place: Set(Some(planned.place.to_owned())),
            link: Set(None),
            minutes_url: Set(None),
            minutes_sha256: Set(None),
            row_version: Set(1),
            created_at: Set(now),
            updated_at: Set(now),
        });
        for (position, topic) in (1..).zip(planned.topics) {
            topics.push(meeting_topic::ActiveModel {
                id: Set(Uuid::now_v7()),
                meeting_id: Set(meeting_id),
                position: Set(position),
                title: Set(topic.title.to_owned()),
                description: Set(topic.description.map(str::to_owned)),
                need_code: Set(topic.need.map(str::to_owned)),
            });
        }
    }
    insert_all(db, groups).await?;
    insert_all(db, members).await?;
    insert_all(db, meetings).await?;
    insert_all(db, topics).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use entity::enums::{ProtocolStatus, SignatoryStatus};
    use migration::MigratorTrait;
    use sea_orm::{Database, PaginatorTrait};

    #[test]
    fn demo_identifiers_have_valid_check_digits() {
        assert!(check_identifiers().is_ok());
    }

    #[test]
    fn demo_services_follow_the_conventions() {
        for svc in data::SERVICES {
            assert_eq!(svc.languages.first(), Some(&"it"), "{}", svc.name);
            assert!((1..=4).contains(&svc.languages.len()), "{}", svc.name);
            assert!((1..=3).contains(&svc.targets.len()), "{}", svc.name);
            assert!(!svc.hours.slots.is_empty(), "{}", svc.name);
            for &(weekday, _, _) in svc.hours.slots {
                assert!((1..=7).contains(&weekday), "{}", svc.name);
            }
        }
    }

    #[tokio::test]
    async fn seed_loads_the_demo_network_once() {
        let db = Database::connect("sqlite::memory:").await.unwrap();
        migration::Migrator::up(&db, None).await.unwrap();

        assert!(load_demo_network(&db).await.unwrap());
        let organizations = organization::Entity::find().count(&db).await.unwrap();
        assert!(!load_demo_network(&db).await.unwrap());
        assert_eq!(
            organization::Entity::find().count(&db).await.unwrap(),
            organizations
        );

        // The hub areas split the region: every municipality is in exactly one.
        let hubs = territory::Entity::find()
            .filter(territory::Column::Kind.eq(TerritoryKind::HubArea))
            .all(&db)
            .await
            .unwrap();
        assert_eq!(hubs.len(), 3);
        let members = territory_member::Entity::find().all(&db).await.unwrap();
        let hub_members = |hub: Uuid| -> BTreeSet<Uuid> {
            members
                .iter()
                .filter(|m| m.grouping_id == hub)
                .map(|m| m.municipality_id)
                .collect()
        };
        let municipalities = territory::Entity::find()
            .filter(territory::Column::Kind.eq(TerritoryKind::Municipality))
            .count(&db)
            .await
            .unwrap();
        let total: usize = hubs.iter().map(|hub| hub_members(hub.id).len()).sum();
        let union: BTreeSet<Uuid> = hubs.iter().flat_map(|hub| hub_members(hub.id)).collect();
        assert_eq!(total as u64, municipalities);
        assert_eq!(union.len() as u64, municipalities);

        // Every hub area has a service of each of the nine guidelines types.
        let types: Vec<term::Model> = term::Entity::find()
            .filter(term::Column::Taxonomy.eq(Taxonomy::ServiceType))
            .all(&db)
            .await
            .unwrap()
            .into_iter()
            .filter(|t| !t.code.starts_with("LEP_") && t.code != "ITALIAN_LANGUAGE_COURSE")
            .collect();
        assert_eq!(types.len(), 9);
        let service_terms = service_term::Entity::find().all(&db).await.unwrap();
        let service_areas = service_area::Entity::find().all(&db).await.unwrap();
        for hub in &hubs {
            let area = hub_members(hub.id);
            for service_type in &types {
                let covered = service_terms
                    .iter()
                    .filter(|st| st.term_id == service_type.id)
                    .any(|st| {
                        service_areas.iter().any(|sa| {
                            sa.service_id == st.service_id && area.contains(&sa.municipality_id)
                        })
                    });
                assert!(
                    covered,
                    "{} lacks a {} service",
                    hub.name, service_type.code
                );
            }
        }

        // The MeLT protocol is in force with its signatories.
        let melt = protocol::Entity::find()
            .filter(protocol::Column::Title.eq(MELT_PROTOCOL_TITLE))
            .one(&db)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(melt.status, ProtocolStatus::InForce);
        assert_eq!(melt.response_time_days, 10);
        let sha = melt.document_sha256.unwrap();
        assert!(sha.len() == 64 && sha.chars().all(|c| c.is_ascii_hexdigit()));
        let signed = signatory::Entity::find()
            .filter(signatory::Column::ProtocolId.eq(melt.id))
            .filter(signatory::Column::Status.eq(SignatoryStatus::Signed))
            .count(&db)
            .await
            .unwrap();
        assert!(signed >= 7, "only {signed} signatories signed");

        // One working group, loaded once, with its lead, members and a meeting to come
        // whose agenda names a need.
        assert!(!load_demo_network(&db).await.unwrap());
        let groups = working_group::Entity::find().all(&db).await.unwrap();
        assert_eq!(groups.len(), data::WORKING_GROUPS.len());
        let group = &groups[0];
        let members = working_group_member::Entity::find()
            .filter(working_group_member::Column::WorkingGroupId.eq(group.id))
            .all(&db)
            .await
            .unwrap();
        assert_eq!(members.len(), 4);
        assert!(
            members.iter().any(|m| m.role == WorkingGroupRole::Lead
                && m.organization_id == group.lead_organization_id)
        );
        let meetings = meeting::Entity::find().all(&db).await.unwrap();
        assert_eq!(meetings.len(), 1);
        assert_eq!(meetings[0].status, MeetingStatus::Planned);
        assert!(meetings[0].starts_at > Utc::now());
        let topics = meeting_topic::Entity::find().all(&db).await.unwrap();
        assert!(
            topics
                .iter()
                .any(|t| t.need_code.as_deref() == Some("LANGUAGE"))
        );
    }
}
