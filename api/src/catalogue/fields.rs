//! The values of a service: checking them into its row, resolving the codes and ids
//! of its lists (terms, area, sites) into links, and replacing its links.

use crate::error::AppResult;
use crate::territory::domain::IstatCode;
use crate::validation::{FieldErrorCode, Validator};
use entity::enums::{DeliveryMode, ServiceStatus, Taxonomy, TerritoryKind};
use entity::{location, service, service_area, service_at_location, service_term, term};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::Query;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DeleteMany, EntityTrait, QueryFilter,
};
use std::collections::HashMap;
use uuid::Uuid;

/// Values of a service. On create `name`, `description`, `service_types` and
/// `service_area_istat_codes` are required; on update omitted fields stay as they are,
/// an empty string clears an optional text and given lists replace the current ones.
#[derive(Clone, Debug, Default)]
pub struct ServiceFields {
    /// Name (at most 300 characters).
    pub name: Option<String>,
    /// Another name the service is known by.
    pub alternate_name: Option<String>,
    /// What the service offers (at most 10000 characters).
    pub description: Option<String>,
    /// Status; ACTIVE when creating without one.
    pub status: Option<ServiceStatus>,
    /// Who may use the service, in words.
    pub eligibility_description: Option<String>,
    /// Minimum age; `Some(None)` clears it.
    pub minimum_age: Option<Option<i32>>,
    /// Maximum age; `Some(None)` clears it.
    pub maximum_age: Option<Option<i32>>,
    /// Fees, in words.
    pub fees_description: Option<String>,
    /// How to apply.
    pub application_process: Option<String>,
    /// Web page.
    pub url: Option<String>,
    /// Email address.
    pub email: Option<String>,
    /// Delivery mode; IN_PERSON when creating without one.
    pub delivery_mode: Option<DeliveryMode>,
    /// Programme or funding.
    pub funding: Option<String>,
    /// Codes of SERVICE_TYPE terms (at least one).
    pub service_types: Option<Vec<String>>,
    /// Codes of TARGET_GROUP terms.
    pub target_groups: Option<Vec<String>>,
    /// ISO 639-1 codes of LANGUAGE terms.
    pub languages: Option<Vec<String>>,
    /// ISTAT codes of the municipalities covered (at least one).
    pub service_area_istat_codes: Option<Vec<String>>,
    /// Sites of the provider where the service is delivered.
    pub locations: Option<Vec<Uuid>>,
}

/// Links of a service to replace, each only when given.
#[derive(Debug, Default)]
pub(super) struct Links {
    terms: Vec<(Taxonomy, Vec<Uuid>)>,
    area: Option<Vec<Uuid>>,
    locations: Option<Vec<Uuid>>,
}

/// Ids of the terms of `taxonomy` with `codes`, in order and without repeats; unknown
/// codes are NOT_FOUND on `field.<index>`, an empty required list REQUIRED on `field`.
async fn resolve_terms(
    db: &impl ConnectionTrait,
    v: &mut Validator,
    field: &str,
    taxonomy: Taxonomy,
    codes: &[String],
    required: bool,
) -> AppResult<Vec<Uuid>> {
    if required && codes.is_empty() {
        v.add(field, FieldErrorCode::Required, "give at least one code");
        return Ok(Vec::new());
    }
    let wanted: Vec<String> = codes.iter().map(|c| c.trim().to_owned()).collect();
    let found: HashMap<String, Uuid> = term::Entity::find()
        .filter(term::Column::Taxonomy.eq(taxonomy))
        .filter(term::Column::Code.is_in(wanted.clone()))
        .all(db)
        .await?
        .into_iter()
        .map(|t| (t.code, t.id))
        .collect();
    let mut ids = Vec::with_capacity(wanted.len());
    for (i, code) in wanted.iter().enumerate() {
        match found.get(code) {
            Some(id) if !ids.contains(id) => ids.push(*id),
            Some(_) => {}
            None => v.add(
                &format!("{field}.{i}"),
                FieldErrorCode::NotFound,
                format!(
                    "`{code}` is not a {} code",
                    crate::taxonomy::service::taxonomy_name(taxonomy)
                ),
            ),
        }
    }
    Ok(ids)
}

/// Ids of the municipalities with the ISTAT `codes`, without repeats; malformed codes
/// are INVALID and unknown ones NOT_FOUND on `field.<index>`.
async fn resolve_area(
    db: &impl ConnectionTrait,
    v: &mut Validator,
    field: &str,
    codes: &[String],
) -> AppResult<Vec<Uuid>> {
    if codes.is_empty() {
        v.add(
            field,
            FieldErrorCode::Required,
            "give at least one municipality",
        );
        return Ok(Vec::new());
    }
    let parsed: Vec<Option<IstatCode>> = codes.iter().map(|c| IstatCode::parse(c).ok()).collect();
    let valid: Vec<String> = parsed
        .iter()
        .flatten()
        .map(|c| c.as_str().to_owned())
        .collect();
    let found: HashMap<String, Uuid> = entity::territory::Entity::find()
        .filter(entity::territory::Column::Kind.eq(TerritoryKind::Municipality))
        .filter(entity::territory::Column::Code.is_in(valid))
        .all(db)
        .await?
        .into_iter()
        .map(|t| (t.code, t.id))
        .collect();
    let mut ids = Vec::with_capacity(codes.len());
    for (i, code) in parsed.iter().enumerate() {
        let path = format!("{field}.{i}");
        let Some(code) = code else {
            v.add(
                &path,
                FieldErrorCode::Invalid,
                "is not an ISTAT municipality code (six digits, e.g. 050026)",
            );
            continue;
        };
        match found.get(code.as_str()) {
            Some(id) if !ids.contains(id) => ids.push(*id),
            Some(_) => {}
            None => v.add(
                &path,
                FieldErrorCode::NotFound,
                format!("no municipality has ISTAT code {}", code.as_str()),
            ),
        }
    }
    Ok(ids)
}

/// Checks that every id is a site of `provider`: unknown sites are NOT_FOUND, other
/// organizations' sites INVALID, on `field.<index>`.
async fn resolve_locations(
    db: &impl ConnectionTrait,
    v: &mut Validator,
    field: &str,
    provider: Uuid,
    ids: &[Uuid],
) -> AppResult<Vec<Uuid>> {
    let found: HashMap<Uuid, Uuid> = location::Entity::find()
        .filter(location::Column::Id.is_in(ids.to_vec()))
        .all(db)
        .await?
        .into_iter()
        .map(|l| (l.id, l.organization_id))
        .collect();
    let mut out = Vec::with_capacity(ids.len());
    for (i, id) in ids.iter().enumerate() {
        let path = format!("{field}.{i}");
        match found.get(id) {
            None => v.add(&path, FieldErrorCode::NotFound, "no such site"),
            Some(owner) if *owner != provider => v.add(
                &path,
                FieldErrorCode::Invalid,
                "is not a site of the provider",
            ),
            Some(_) if out.contains(id) => {}
            Some(_) => out.push(*id),
        }
    }
    Ok(out)
}

/// Validates `fields` into `row` (the merged values of `before` and the changes) and
/// returns the links to replace. Creating when `before` is None.
pub(super) async fn apply_service_fields(
    db: &impl ConnectionTrait,
    v: &mut Validator,
    row: &mut service::ActiveModel,
    before: Option<&service::Model>,
    provider: Uuid,
    fields: ServiceFields,
) -> AppResult<Links> {
    let creating = before.is_none();
    let name = match (&fields.name, before) {
        (Some(name), _) => v.name("name", name, 300),
        (None, Some(b)) => b.name.clone(),
        (None, None) => v.name("name", "", 300),
    };
    let description = match (&fields.description, before) {
        (Some(d), _) => v.text("description", d, 10_000),
        (None, Some(b)) => b.description.clone(),
        (None, None) => v.text("description", "", 10_000),
    };
    let alternate_name = match (&fields.alternate_name, before) {
        (Some(a), _) => v.optional_name("alternateName", Some(a), 300),
        (None, Some(b)) => b.alternate_name.clone(),
        (None, None) => None,
    };
    row.search_name = Set(melt_text::fold(&name));
    row.search_text = Set(super::domain::search_text(
        &name,
        alternate_name.as_deref(),
        &description,
    ));
    row.name = Set(name);
    row.description = Set(description);
    row.alternate_name = Set(alternate_name);
    if let Some(status) = fields.status {
        row.status = Set(status);
    } else if creating {
        row.status = Set(ServiceStatus::Active);
    }
    if let Some(mode) = fields.delivery_mode {
        row.delivery_mode = Set(mode);
    } else if creating {
        row.delivery_mode = Set(DeliveryMode::InPerson);
    }
    let mut optional_text = |field: &str, value: &Option<String>, max: usize| {
        (creating || value.is_some()).then(|| Set(v.optional_text(field, value.as_deref(), max)))
    };
    let texts = [
        optional_text(
            "eligibilityDescription",
            &fields.eligibility_description,
            4000,
        ),
        optional_text("feesDescription", &fields.fees_description, 4000),
        optional_text("applicationProcess", &fields.application_process, 4000),
        optional_text("funding", &fields.funding, 200),
    ];
    let targets = [
        &mut row.eligibility_description,
        &mut row.fees_description,
        &mut row.application_process,
        &mut row.funding,
    ];
    for (value, target) in texts.into_iter().zip(targets) {
        if let Some(value) = value {
            *target = value;
        }
    }
    if creating || fields.url.is_some() {
        row.url = Set(v.url("url", fields.url.as_deref()));
    }
    if creating || fields.email.is_some() {
        row.email = Set(v.email("email", fields.email.as_deref()));
    }
    let minimum_age = fields
        .minimum_age
        .unwrap_or_else(|| before.and_then(|b| b.minimum_age));
    let maximum_age = fields
        .maximum_age
        .unwrap_or_else(|| before.and_then(|b| b.maximum_age));
    if fields.minimum_age.is_some() {
        v.range("minimumAge", minimum_age, 0, 120);
    }
    if fields.maximum_age.is_some() {
        v.range("maximumAge", maximum_age, 0, 120);
    }
    v.ordered(
        "maximumAge",
        minimum_age,
        maximum_age,
        "must not be below the minimum age",
    );
    row.minimum_age = Set(minimum_age);
    row.maximum_age = Set(maximum_age);

    let mut links = Links::default();
    let term_lists = [
        (
            "serviceTypes",
            Taxonomy::ServiceType,
            &fields.service_types,
            true,
        ),
        (
            "targetGroups",
            Taxonomy::TargetGroup,
            &fields.target_groups,
            false,
        ),
        ("languages", Taxonomy::Language, &fields.languages, false),
    ];
    for (field, taxonomy, codes, required) in term_lists {
        if creating || codes.is_some() {
            let codes = codes.as_deref().unwrap_or_default();
            let ids = resolve_terms(db, v, field, taxonomy, codes, required).await?;
            links.terms.push((taxonomy, ids));
        }
    }
    if creating || fields.service_area_istat_codes.is_some() {
        let codes = fields
            .service_area_istat_codes
            .as_deref()
            .unwrap_or_default();
        links.area = Some(resolve_area(db, v, "serviceAreaIstatCodes", codes).await?);
    }
    if let Some(ids) = &fields.locations {
        links.locations = Some(resolve_locations(db, v, "locations", provider, ids).await?);
    }
    Ok(links)
}

/// Deletes the links `stale` selects and inserts `rows`.
async fn relink<E>(
    db: &impl ConnectionTrait,
    stale: DeleteMany<E>,
    rows: Vec<E::ActiveModel>,
) -> AppResult<()>
where
    E: EntityTrait,
    E::ActiveModel: ActiveModelTrait<Entity = E> + Send,
{
    stale.exec(db).await?;
    if !rows.is_empty() {
        E::insert_many(rows).exec(db).await?;
    }
    Ok(())
}

/// Replaces the given links of a service.
pub(super) async fn replace_links(
    db: &impl ConnectionTrait,
    service_id: Uuid,
    links: Links,
) -> AppResult<()> {
    let now = chrono::Utc::now();
    for (taxonomy, ids) in links.terms {
        let of_taxonomy = Query::select()
            .column(term::Column::Id)
            .from(term::Entity)
            .and_where(term::Column::Taxonomy.eq(taxonomy))
            .to_owned();
        let stale = service_term::Entity::delete_many()
            .filter(service_term::Column::ServiceId.eq(service_id))
            .filter(service_term::Column::TermId.in_subquery(of_taxonomy));
        let rows = ids.into_iter().map(|term_id| service_term::ActiveModel {
            service_id: Set(service_id),
            term_id: Set(term_id),
            created_at: Set(now),
        });
        relink(db, stale, rows.collect()).await?;
    }
    if let Some(ids) = links.area {
        let stale = service_area::Entity::delete_many()
            .filter(service_area::Column::ServiceId.eq(service_id));
        let rows = ids
            .into_iter()
            .map(|municipality_id| service_area::ActiveModel {
                service_id: Set(service_id),
                municipality_id: Set(municipality_id),
                created_at: Set(now),
            });
        relink(db, stale, rows.collect()).await?;
    }
    if let Some(ids) = links.locations {
        let stale = service_at_location::Entity::delete_many()
            .filter(service_at_location::Column::ServiceId.eq(service_id));
        let rows = ids
            .into_iter()
            .map(|location_id| service_at_location::ActiveModel {
                service_id: Set(service_id),
                location_id: Set(location_id),
                id: Set(Some(crate::hsds::domain::link_id(service_id, location_id))),
                created_at: Set(now),
            });
        relink(db, stale, rows.collect()).await?;
    }
    Ok(())
}
