//! What the catalogue lacked for a faithful Open Referral HSDS 3.0 export: phones as a
//! list with a type, contacts of a service, required documents, accessibility of a
//! site, cost options, funding as a list, accreditations; and the indexes of the HSDS
//! lists (ordered by id, filtered by `modified_after`).
//!
//! A link of a service to a site gains an `id` (HSDS `service_at_location.id`): the
//! UUID v5 of the two ids (see [`link_id`]), written on the existing links here and by
//! the API on new ones.
//!
//! Each is a table keyed to its service, site or organization (deleted with it). The
//! older single-valued columns (`organization.phone`, `contact.phone`,
//! `service.funding`) stay as they are: the export shows them beside the new rows.
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::tables::{drop_index, entity_table, fk, index, link_table, n};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Tables in creation order (dropped in reverse).
const TABLES: &[&str] = &[
    "phone",
    "service_contact",
    "required_document",
    "accessibility",
    "cost_option",
    "funding",
    "accreditation",
];

/// Indexes `(table, columns)` on the new tables: each row is read by its owner.
const OWNER_INDEXES: &[(&str, &[&str])] = &[
    ("phone", &["organization_id"]),
    ("phone", &["service_id"]),
    ("phone", &["location_id"]),
    ("phone", &["contact_id"]),
    ("service_contact", &["contact_id"]),
    ("required_document", &["service_id"]),
    ("accessibility", &["location_id"]),
    ("cost_option", &["service_id"]),
    ("funding", &["organization_id"]),
    ("funding", &["service_id"]),
    ("accreditation", &["service_id"]),
];

/// Indexes of the HSDS lists on existing tables: the public services in id order and
/// changed since a time, the terms changed since a time, the public tombstones of a
/// subject type by subject. (The links of services to sites are read in the order of
/// their new unique `id`.)
const LIST_INDEXES: &[(&str, &[&str])] = &[
    ("service", &["status", "id"]),
    ("service", &["status", "updated_at", "id"]),
    (
        "service_at_location",
        &["created_at", "service_id", "location_id"],
    ),
    ("term", &["updated_at", "id"]),
    ("tombstone", &["subject_type", "subject_id", "removed_at"]),
];

/// Namespace of the ids the HSDS export derives (`melt_api::hsds::domain::NAMESPACE`).
const NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x6d656c74_6873_4473_9000_000000000001);

/// The id of the link of `service` to `location`, as `melt_api::hsds::domain`
/// derives it.
fn link_id(service: uuid::Uuid, location: uuid::Uuid) -> uuid::Uuid {
    let mut name = b"service_at_location".to_vec();
    name.extend_from_slice(service.as_bytes());
    name.extend_from_slice(location.as_bytes());
    uuid::Uuid::new_v5(&NAMESPACE, &name)
}

/// Gives every existing link of a service to a site its id.
async fn backfill_link_ids(m: &SchemaManager<'_>) -> Result<(), DbErr> {
    let db = m.get_connection();
    let select = Query::select()
        .columns([n("service_id"), n("location_id")])
        .from(n("service_at_location"))
        .to_owned();
    for row in db.query_all(&select).await? {
        let service: uuid::Uuid = row.try_get("", "service_id")?;
        let location: uuid::Uuid = row.try_get("", "location_id")?;
        let update = Query::update()
            .table(n("service_at_location"))
            .value(n("id"), link_id(service, location))
            .and_where(Expr::col(n("service_id")).eq(service))
            .and_where(Expr::col(n("location_id")).eq(location))
            .to_owned();
        db.execute(&update).await?;
    }
    Ok(())
}

/// A nullable foreign key column to `target` (cascade) on `table`.
fn owner(table: &mut TableCreateStatement, name: &str, col: &str, target: &str, null: bool) {
    if null {
        table.col(uuid_null(n(col)));
    } else {
        table.col(uuid(n(col)));
    }
    table.foreign_key(&mut fk(name, col, target, ForeignKeyAction::Cascade));
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let mut phone = entity_table("phone");
        for (col, target) in [
            ("organization_id", "organization"),
            ("service_id", "service"),
            ("location_id", "location"),
            ("contact_id", "contact"),
        ] {
            owner(&mut phone, "phone", col, target, true);
        }
        phone
            .col(string_len(n("number"), 32))
            .col(integer_null(n("extension")))
            .col(string_len(n("phone_type"), 16))
            .col(string_len_null(n("description"), 300));
        m.create_table(phone).await?;

        m.create_table(link_table(
            "service_contact",
            ("service_id", "service"),
            ("contact_id", "contact"),
        ))
        .await?;

        let mut document = entity_table("required_document");
        owner(
            &mut document,
            "required_document",
            "service_id",
            "service",
            false,
        );
        document
            .col(string_len(n("document"), 300))
            .col(string_len_null(n("uri"), 500));
        m.create_table(document).await?;

        let mut accessibility = entity_table("accessibility");
        owner(
            &mut accessibility,
            "accessibility",
            "location_id",
            "location",
            false,
        );
        accessibility
            .col(text(n("description")))
            .col(text_null(n("details")))
            .col(string_len_null(n("url"), 500));
        m.create_table(accessibility).await?;

        let mut cost = entity_table("cost_option");
        owner(&mut cost, "cost_option", "service_id", "service", false);
        cost.col(string_len_null(n("option"), 300))
            .col(string_len_null(n("currency"), 3))
            .col(double_null(n("amount")))
            .col(text_null(n("amount_description")))
            .col(date_null(n("valid_from")))
            .col(date_null(n("valid_to")));
        m.create_table(cost).await?;

        let mut funding = entity_table("funding");
        owner(
            &mut funding,
            "funding",
            "organization_id",
            "organization",
            true,
        );
        owner(&mut funding, "funding", "service_id", "service", true);
        funding.col(string_len(n("source"), 300));
        m.create_table(funding).await?;

        let mut accreditation = entity_table("accreditation");
        owner(
            &mut accreditation,
            "accreditation",
            "service_id",
            "service",
            false,
        );
        accreditation.col(string_len(n("name"), 300));
        m.create_table(accreditation).await?;

        m.alter_table(
            Table::alter()
                .table(n("service_at_location"))
                .add_column(uuid_null(n("id")))
                .to_owned(),
        )
        .await?;
        backfill_link_ids(m).await?;
        m.create_index(index("service_at_location", &["id"], true))
            .await?;

        for (table, cols) in OWNER_INDEXES.iter().chain(LIST_INDEXES) {
            m.create_index(index(table, cols, false)).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for (table, cols) in LIST_INDEXES {
            m.drop_index(drop_index(table, cols)).await?;
        }
        m.drop_index(drop_index("service_at_location", &["id"]))
            .await?;
        m.alter_table(
            Table::alter()
                .table(n("service_at_location"))
                .drop_column(n("id"))
                .to_owned(),
        )
        .await?;
        for table in TABLES.iter().rev() {
            m.drop_table(Table::drop().table(n(table)).to_owned())
                .await?;
        }
        Ok(())
    }
}
