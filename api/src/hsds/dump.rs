//! The full dump of the public directory (`melt export hsds`): every object of every
//! HSDS list, as JSON (one array a file) or as the HSDS tabular CSV files (one file a
//! table, the columns of the official `tabular.json`, nested objects flattened into
//! their own tables and linked by id).

use super::domain::{MAX_PER_PAGE, PageRequest};
use super::service;
use crate::error::AppResult;
use anyhow::Context as _;
use sea_orm::ConnectionTrait;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The format of a dump.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One JSON array a list: `services.json`, `organizations.json`, ...
    Json,
    /// The HSDS tabular files: `services.csv`, `phones.csv`, ...
    Csv,
}

/// Every object of every list, by list name (`services`, ...).
pub type Lists = Vec<(&'static str, Vec<Value>)>;

/// Reads every page of `list` (no `modified_after`: the directory as it is).
async fn all_pages<T, F>(list: F) -> AppResult<Vec<Value>>
where
    T: serde::Serialize,
    F: AsyncFn(&PageRequest) -> AppResult<super::types::Page<T>>,
{
    let mut out = Vec::new();
    let mut request = PageRequest {
        page: 1,
        per_page: MAX_PER_PAGE,
        modified_after: None,
    };
    loop {
        let page = list(&request).await?;
        for item in &page.contents {
            out.push(serde_json::to_value(item).map_err(crate::error::AppError::internal)?);
        }
        if page.last_page || page.contents.is_empty() {
            return Ok(out);
        }
        request.page += 1;
    }
}

/// Reads the whole public directory.
pub async fn read_all(db: &impl ConnectionTrait) -> AppResult<Lists> {
    Ok(vec![
        (
            "organizations",
            all_pages(async |r| service::organizations(db, r).await).await?,
        ),
        (
            "services",
            all_pages(async |r| service::services(db, r).await).await?,
        ),
        (
            "locations",
            all_pages(async |r| service::locations(db, r).await).await?,
        ),
        (
            "service_at_locations",
            all_pages(async |r| service::service_at_locations(db, r).await).await?,
        ),
        (
            "taxonomies",
            all_pages(async |r| service::taxonomies(db, r).await).await?,
        ),
        (
            "taxonomy_terms",
            all_pages(async |r| service::taxonomy_terms(db, r).await).await?,
        ),
    ])
}

/// The HSDS tables: name, file and columns (the scalar fields of `tabular.json`).
pub const TABLES: &[(&str, &str, &[&str])] = &[
    (
        "organization",
        "organizations.csv",
        &[
            "id",
            "name",
            "alternate_name",
            "description",
            "email",
            "website",
            "tax_status",
            "tax_id",
            "year_incorporated",
            "legal_status",
            "logo",
            "uri",
            "parent_organization_id",
        ],
    ),
    (
        "program",
        "programs.csv",
        &[
            "id",
            "organization_id",
            "name",
            "alternate_name",
            "description",
        ],
    ),
    (
        "service",
        "services.csv",
        &[
            "id",
            "organization_id",
            "program_id",
            "name",
            "alternate_name",
            "description",
            "url",
            "email",
            "status",
            "interpretation_services",
            "application_process",
            "fees_description",
            "wait_time",
            "fees",
            "accreditations",
            "eligibility_description",
            "minimum_age",
            "maximum_age",
            "assured_date",
            "assurer_email",
            "licenses",
            "alert",
            "last_modified",
        ],
    ),
    (
        "attribute",
        "attributes.csv",
        &[
            "id",
            "link_id",
            "taxonomy_term_id",
            "link_type",
            "link_entity",
            "value",
        ],
    ),
    (
        "service_at_location",
        "service_at_location.csv",
        &["id", "service_id", "location_id", "description"],
    ),
    (
        "location",
        "locations.csv",
        &[
            "id",
            "location_type",
            "url",
            "organization_id",
            "name",
            "alternate_name",
            "description",
            "transportation",
            "latitude",
            "longitude",
            "external_identifier",
            "external_identifier_type",
        ],
    ),
    (
        "phone",
        "phones.csv",
        &[
            "id",
            "location_id",
            "service_id",
            "organization_id",
            "contact_id",
            "service_at_location_id",
            "number",
            "extension",
            "type",
            "description",
        ],
    ),
    (
        "contact",
        "contacts.csv",
        &[
            "id",
            "organization_id",
            "service_id",
            "service_at_location_id",
            "location_id",
            "name",
            "title",
            "department",
            "email",
        ],
    ),
    (
        "address",
        "addresses.csv",
        &[
            "id",
            "location_id",
            "attention",
            "address_1",
            "address_2",
            "city",
            "region",
            "state_province",
            "postal_code",
            "country",
            "address_type",
        ],
    ),
    (
        "schedule",
        "schedules.csv",
        &[
            "id",
            "service_id",
            "location_id",
            "service_at_location_id",
            "valid_from",
            "valid_to",
            "dtstart",
            "timezone",
            "until",
            "count",
            "wkst",
            "freq",
            "interval",
            "byday",
            "byweekno",
            "bymonthday",
            "byyearday",
            "description",
            "opens_at",
            "closes_at",
            "schedule_link",
            "attending_type",
            "notes",
        ],
    ),
    (
        "funding",
        "funding.csv",
        &["id", "organization_id", "service_id", "source"],
    ),
    (
        "service_area",
        "service_areas.csv",
        &[
            "id",
            "service_id",
            "name",
            "description",
            "extent",
            "extent_type",
            "uri",
        ],
    ),
    (
        "required_document",
        "required_documents.csv",
        &["id", "service_id", "document", "uri"],
    ),
    (
        "language",
        "languages.csv",
        &[
            "id",
            "service_id",
            "location_id",
            "phone_id",
            "name",
            "code",
            "note",
        ],
    ),
    (
        "accessibility",
        "accessibility.csv",
        &["id", "location_id", "description", "details", "url"],
    ),
    (
        "taxonomy_term",
        "taxonomy_terms.csv",
        &[
            "id",
            "code",
            "name",
            "description",
            "parent_id",
            "taxonomy",
            "language",
            "taxonomy_id",
            "term_uri",
        ],
    ),
    (
        "metadata",
        "metadata.csv",
        &[
            "id",
            "resource_id",
            "resource_type",
            "last_action_date",
            "last_action_type",
            "field_name",
            "previous_value",
            "replacement_value",
            "updated_by",
        ],
    ),
    (
        "meta_table_description",
        "meta_table_descriptions.csv",
        &["id", "name", "language", "character_set"],
    ),
    (
        "cost_option",
        "cost_options.csv",
        &[
            "id",
            "service_id",
            "valid_from",
            "valid_to",
            "option",
            "currency",
            "amount",
            "amount_description",
        ],
    ),
    (
        "organization_identifier",
        "organization_identifiers.csv",
        &[
            "id",
            "organization_id",
            "identifier_scheme",
            "identifier_type",
            "identifier",
        ],
    ),
    (
        "taxonomy",
        "taxonomies.csv",
        &["id", "name", "description", "uri", "version"],
    ),
];

/// The table of the objects a list or a nested field holds.
fn table_of(field: &str) -> Option<&'static str> {
    Some(match field {
        "organizations" | "organization" => "organization",
        "services" => "service",
        "locations" | "location" => "location",
        "service_at_locations" => "service_at_location",
        "taxonomies" | "taxonomy_detail" => "taxonomy",
        "taxonomy_terms" | "taxonomy_term" => "taxonomy_term",
        "phones" => "phone",
        "schedules" => "schedule",
        "service_areas" => "service_area",
        "languages" => "language",
        "funding" => "funding",
        "cost_options" => "cost_option",
        "required_documents" => "required_document",
        "contacts" => "contact",
        "attributes" => "attribute",
        "metadata" => "metadata",
        "addresses" => "address",
        "accessibility" => "accessibility",
        "organization_identifiers" => "organization_identifier",
        "program" => "program",
        _ => return None,
    })
}

/// Rows by table, each table's rows by id (an object nested in several places is
/// one row).
type Rows = BTreeMap<&'static str, BTreeMap<String, serde_json::Map<String, Value>>>;

/// Adds `object` to `table` and its nested objects to theirs.
fn flatten(rows: &mut Rows, table: &'static str, object: &Value) {
    let Some(fields) = object.as_object() else {
        return;
    };
    let mut row = serde_json::Map::new();
    for (name, value) in fields {
        match value {
            Value::Array(items) => {
                if let Some(child) = table_of(name) {
                    for item in items {
                        flatten(rows, child, item);
                    }
                }
            }
            Value::Object(_) => {
                if let Some(child) = table_of(name) {
                    flatten(rows, child, value);
                }
            }
            scalar => {
                row.insert(name.clone(), scalar.clone());
            }
        }
    }
    let id = row
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    rows.entry(table).or_default().entry(id).or_insert(row);
}

/// The CSV text of a scalar.
fn cell(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
    }
}

/// Writes the dump of `lists` into `dir` (created if needed); returns the files
/// written.
pub fn write(lists: &Lists, format: Format, dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut written = Vec::new();
    match format {
        Format::Json => {
            for (name, items) in lists {
                let path = dir.join(format!("{name}.json"));
                let text = serde_json::to_string_pretty(items)?;
                std::fs::write(&path, text)
                    .with_context(|| format!("cannot write {}", path.display()))?;
                written.push(path);
            }
        }
        Format::Csv => {
            let mut rows = Rows::new();
            for (name, items) in lists {
                let Some(table) = table_of(name) else {
                    continue;
                };
                for item in items {
                    flatten(&mut rows, table, item);
                }
            }
            for (table, file, columns) in TABLES {
                let path = dir.join(file);
                let mut out = csv::Writer::from_path(&path)
                    .with_context(|| format!("cannot write {}", path.display()))?;
                out.write_record(*columns)?;
                for row in rows.get(table).into_iter().flat_map(|t| t.values()) {
                    out.write_record(columns.iter().map(|c| cell(row.get(*c))))?;
                }
                out.flush()?;
                written.push(path);
            }
        }
    }
    Ok(written)
}
