//! The public directory: territories, organizations, taxonomies, services, protocols.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::tables::{entity_table, fk, index, link_table, n};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Tables in creation order (dropped in reverse).
const TABLES: &[&str] = &[
    "territory",
    "territory_member",
    "organization",
    "organization_succession",
    "location",
    "contact",
    "term",
    "service",
    "service_term",
    "service_area",
    "service_at_location",
    "schedule",
    "protocol",
    "protocol_scope",
    "signatory",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let mut territory = entity_table("territory");
        territory
            .col(string_len(n("kind"), 16))
            .col(string_len(n("code"), 32))
            .col(string_len(n("name"), 200))
            .col(string_len(n("search_name"), 200))
            .col(uuid_null(n("parent_id")))
            .col(string_len_null(n("cadastral_code"), 8))
            .col(string_len_null(n("abbreviation"), 8))
            .col(date_null(n("valid_from")))
            .col(date_null(n("valid_to")))
            .foreign_key(&mut fk(
                "territory",
                "parent_id",
                "territory",
                ForeignKeyAction::Restrict,
            ));
        m.create_table(territory).await?;
        m.create_index(index("territory", &["kind", "code"], true))
            .await?;
        m.create_index(index("territory", &["parent_id"], false))
            .await?;
        m.create_index(index("territory", &["search_name"], false))
            .await?;

        m.create_table(link_table(
            "territory_member",
            ("grouping_id", "territory"),
            ("municipality_id", "territory"),
        ))
        .await?;
        m.create_index(index("territory_member", &["municipality_id"], false))
            .await?;

        let mut organization = entity_table("organization");
        organization
            .col(string_len(n("name"), 300))
            .col(string_len(n("search_name"), 300))
            .col(string_len(n("kind"), 32))
            .col(string_len(n("sector"), 16))
            .col(text_null(n("description")))
            .col(string_len_null(n("codice_fiscale"), 16))
            .col(string_len_null(n("partita_iva"), 11))
            .col(string_len_null(n("ipa_code"), 32))
            .col(string_len_null(n("runts_number"), 32))
            .col(string_len_null(n("website"), 500))
            .col(string_len_null(n("email"), 254))
            .col(string_len_null(n("phone"), 32))
            .col(date_null(n("dissolved_on")));
        m.create_table(organization).await?;
        m.create_index(index("organization", &["search_name"], false))
            .await?;
        m.create_index(index("organization", &["name", "id"], false))
            .await?;

        let mut succession = entity_table("organization_succession");
        succession
            .col(uuid(n("predecessor_id")))
            .col(uuid(n("successor_id")))
            .col(date(n("effective_on")))
            .col(text_null(n("note")))
            .foreign_key(&mut fk(
                "organization_succession",
                "predecessor_id",
                "organization",
                ForeignKeyAction::Cascade,
            ))
            .foreign_key(&mut fk(
                "organization_succession",
                "successor_id",
                "organization",
                ForeignKeyAction::Cascade,
            ));
        m.create_table(succession).await?;
        m.create_index(index("organization_succession", &["predecessor_id"], false))
            .await?;
        m.create_index(index("organization_succession", &["successor_id"], false))
            .await?;

        let mut location = entity_table("location");
        location
            .col(uuid(n("organization_id")))
            .col(string_len(n("name"), 300))
            .col(string_len(n("address"), 300))
            .col(string_len_null(n("postal_code"), 5))
            .col(uuid(n("municipality_id")))
            .col(double_null(n("latitude")))
            .col(double_null(n("longitude")))
            .foreign_key(&mut fk(
                "location",
                "organization_id",
                "organization",
                ForeignKeyAction::Cascade,
            ))
            .foreign_key(&mut fk(
                "location",
                "municipality_id",
                "territory",
                ForeignKeyAction::Restrict,
            ));
        m.create_table(location).await?;
        m.create_index(index("location", &["organization_id"], false))
            .await?;

        let mut contact = entity_table("contact");
        contact
            .col(uuid(n("organization_id")))
            .col(string_len(n("name"), 200))
            .col(string_len_null(n("title"), 200))
            .col(string_len_null(n("department"), 200))
            .col(string_len_null(n("email"), 254))
            .col(string_len_null(n("phone"), 32))
            .foreign_key(&mut fk(
                "contact",
                "organization_id",
                "organization",
                ForeignKeyAction::Cascade,
            ));
        m.create_table(contact).await?;
        m.create_index(index("contact", &["organization_id"], false))
            .await?;

        let mut term = entity_table("term");
        term.col(string_len(n("taxonomy"), 32))
            .col(string_len(n("code"), 64))
            .col(string_len(n("label_it"), 200))
            .col(string_len(n("label_en"), 200))
            .col(text_null(n("description")))
            .col(uuid_null(n("parent_id")))
            .foreign_key(&mut fk(
                "term",
                "parent_id",
                "term",
                ForeignKeyAction::Restrict,
            ));
        m.create_table(term).await?;
        m.create_index(index("term", &["taxonomy", "code"], true))
            .await?;

        let mut service = entity_table("service");
        service
            .col(uuid(n("organization_id")))
            .col(string_len(n("name"), 300))
            .col(string_len(n("search_name"), 300))
            .col(text(n("search_text")))
            .col(string_len_null(n("alternate_name"), 300))
            .col(text(n("description")))
            .col(string_len(n("status"), 32))
            .col(text_null(n("eligibility_description")))
            .col(integer_null(n("minimum_age")))
            .col(integer_null(n("maximum_age")))
            .col(text_null(n("fees_description")))
            .col(text_null(n("application_process")))
            .col(string_len_null(n("url"), 500))
            .col(string_len_null(n("email"), 254))
            .col(string_len(n("delivery_mode"), 16))
            .col(string_len_null(n("funding"), 200))
            .col(integer_null(n("open_places")))
            .col(integer_null(n("waitlist_length")))
            .col(integer_null(n("typical_wait_days")))
            .col(timestamp_with_time_zone_null(n("capacity_updated_at")))
            .foreign_key(&mut fk(
                "service",
                "organization_id",
                "organization",
                ForeignKeyAction::Restrict,
            ));
        m.create_table(service).await?;
        m.create_index(index("service", &["organization_id"], false))
            .await?;
        m.create_index(index("service", &["name", "id"], false))
            .await?;
        m.create_index(index("service", &["status"], false)).await?;

        m.create_table(link_table(
            "service_term",
            ("service_id", "service"),
            ("term_id", "term"),
        ))
        .await?;
        m.create_index(index("service_term", &["term_id"], false))
            .await?;
        m.create_table(link_table(
            "service_area",
            ("service_id", "service"),
            ("municipality_id", "territory"),
        ))
        .await?;
        m.create_index(index("service_area", &["municipality_id"], false))
            .await?;
        m.create_table(link_table(
            "service_at_location",
            ("service_id", "service"),
            ("location_id", "location"),
        ))
        .await?;
        m.create_index(index("service_at_location", &["location_id"], false))
            .await?;

        let mut schedule = entity_table("schedule");
        schedule
            .col(uuid(n("service_id")))
            .col(uuid_null(n("location_id")))
            .col(small_integer(n("weekday")))
            .col(string_len(n("opens_at"), 5))
            .col(string_len(n("closes_at"), 5))
            .col(string_len_null(n("note"), 300))
            .foreign_key(&mut fk(
                "schedule",
                "service_id",
                "service",
                ForeignKeyAction::Cascade,
            ))
            .foreign_key(&mut fk(
                "schedule",
                "location_id",
                "location",
                ForeignKeyAction::Cascade,
            ));
        m.create_table(schedule).await?;
        m.create_index(index("schedule", &["service_id"], false))
            .await?;

        let mut protocol = entity_table("protocol");
        protocol
            .col(string_len(n("title"), 500))
            .col(string_len(n("search_name"), 500))
            .col(integer(n("version")))
            .col(text_null(n("description")))
            .col(date_null(n("valid_from")))
            .col(date_null(n("valid_to")))
            .col(string_len_null(n("document_url"), 500))
            .col(string_len_null(n("document_sha256"), 64))
            .col(integer(n("response_time_days")))
            .col(string_len(n("status"), 32))
            .col(uuid_null(n("supersedes_id")))
            .foreign_key(&mut fk(
                "protocol",
                "supersedes_id",
                "protocol",
                ForeignKeyAction::Restrict,
            ));
        m.create_table(protocol).await?;
        m.create_index(index("protocol", &["title", "id"], false))
            .await?;

        m.create_table(link_table(
            "protocol_scope",
            ("protocol_id", "protocol"),
            ("territory_id", "territory"),
        ))
        .await?;

        let mut signatory = entity_table("signatory");
        signatory
            .col(uuid(n("protocol_id")))
            .col(uuid(n("organization_id")))
            .col(string_len(n("role"), 16))
            .col(string_len(n("status"), 16))
            .col(timestamp_with_time_zone_null(n("invited_at")))
            .col(timestamp_with_time_zone_null(n("signed_at")))
            .col(string_len_null(n("signed_by_name"), 200))
            .col(string_len_null(n("signed_by_title"), 200))
            .col(timestamp_with_time_zone_null(n("withdrawn_at")))
            .foreign_key(&mut fk(
                "signatory",
                "protocol_id",
                "protocol",
                ForeignKeyAction::Cascade,
            ))
            .foreign_key(&mut fk(
                "signatory",
                "organization_id",
                "organization",
                ForeignKeyAction::Restrict,
            ));
        m.create_table(signatory).await?;
        m.create_index(index(
            "signatory",
            &["protocol_id", "organization_id"],
            true,
        ))
        .await?;
        m.create_index(index("signatory", &["organization_id"], false))
            .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in TABLES.iter().rev() {
            m.drop_table(Table::drop().table(n(table)).to_owned())
                .await?;
        }
        Ok(())
    }
}
