//! People (personal data encrypted at rest), consents, the access log, referrals and
//! their events.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::tables::{entity_table, fk, index, link_table, n};

#[derive(DeriveMigrationName)]
pub struct Migration;

const TABLES: &[&str] = &[
    "person",
    "person_link",
    "consent",
    "consent_recipient",
    "person_access",
    "referral",
    "referral_event",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let mut person = entity_table("person");
        person
            // Encrypted values are `<key id>:<base64(nonce || ciphertext)>`.
            .col(text_null(n("codice_fiscale_enc")))
            .col(string_len_null(n("codice_fiscale_hash"), 64))
            .col(text_null(n("given_name_enc")))
            .col(text_null(n("family_name_enc")))
            .col(text_null(n("contacts_enc")))
            .col(date_null(n("birth_date")))
            .col(string_len_null(n("gender"), 16))
            .col(string_len_null(n("citizenship"), 2))
            .col(uuid_null(n("residence_municipality_id")))
            .col(string_len(n("languages"), 200))
            .col(string_len(n("contact_channel"), 16))
            .col(uuid(n("registered_by_organization_id")))
            .col(timestamp_with_time_zone_null(n("erased_at")))
            .col(integer(n("row_version")).default(1))
            .foreign_key(&mut fk(
                "person",
                "residence_municipality_id",
                "territory",
                ForeignKeyAction::Restrict,
            ))
            .foreign_key(&mut fk(
                "person",
                "registered_by_organization_id",
                "organization",
                ForeignKeyAction::Restrict,
            ));
        m.create_table(person).await?;
        m.create_index(index("person", &["codice_fiscale_hash"], true))
            .await?;

        // Organizations that registered the person (besides the first one).
        m.create_table(link_table(
            "person_link",
            ("person_id", "person"),
            ("organization_id", "organization"),
        ))
        .await?;
        m.create_index(index("person_link", &["organization_id"], false))
            .await?;

        let mut consent = entity_table("consent");
        consent
            .col(uuid(n("person_id")))
            .col(string_len(n("purpose"), 500))
            .col(string_len(n("legal_basis"), 32))
            .col(uuid_null(n("protocol_id")))
            .col(timestamp_with_time_zone(n("granted_at")))
            .col(timestamp_with_time_zone_null(n("expires_at")))
            .col(timestamp_with_time_zone_null(n("withdrawn_at")))
            .col(string_len(n("evidence_kind"), 32))
            .col(string_len(n("evidence"), 1000))
            .col(uuid(n("recorded_by_organization_id")))
            .col(integer(n("row_version")).default(1))
            .foreign_key(&mut fk(
                "consent",
                "person_id",
                "person",
                ForeignKeyAction::Cascade,
            ))
            .foreign_key(&mut fk(
                "consent",
                "protocol_id",
                "protocol",
                ForeignKeyAction::Restrict,
            ))
            .foreign_key(&mut fk(
                "consent",
                "recorded_by_organization_id",
                "organization",
                ForeignKeyAction::Restrict,
            ));
        m.create_table(consent).await?;
        m.create_index(index("consent", &["person_id"], false))
            .await?;

        m.create_table(link_table(
            "consent_recipient",
            ("consent_id", "consent"),
            ("organization_id", "organization"),
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(n("person_access"))
                .col(pk_uuid(n("id")))
                .col(timestamp_with_time_zone(n("occurred_at")))
                .col(string_len(n("actor_subject"), 200))
                .col(uuid_null(n("actor_organization_id")))
                .col(uuid(n("person_id")))
                .col(string_len(n("fields"), 500))
                .col(string_len(n("purpose"), 100))
                .col(string_len_null(n("request_id"), 64))
                .to_owned(),
        )
        .await?;
        m.create_index(index("person_access", &["person_id"], false))
            .await?;
        m.create_index(index("person_access", &["occurred_at", "id"], false))
            .await?;

        let mut referral = entity_table("referral");
        referral
            .col(uuid(n("person_id")))
            .col(uuid(n("sender_organization_id")))
            .col(string_len(n("sender_operator"), 200))
            .col(uuid(n("receiver_service_id")))
            .col(uuid(n("receiver_organization_id")))
            .col(uuid_null(n("protocol_id")))
            .col(string_len(n("needs"), 500))
            .col(text(n("reason")))
            .col(string_len(n("priority"), 16))
            .col(timestamp_with_time_zone_null(n("due_at")))
            .col(uuid_null(n("consent_id")))
            .col(string_len(n("channel"), 32))
            .col(uuid_null(n("rerouted_from_id")))
            .col(string_len(n("status"), 16))
            .col(string_len_null(n("outcome"), 32))
            .col(string_len_null(n("idempotency_key"), 200))
            .col(string_len_null(n("request_hash"), 64))
            .col(integer(n("row_version")).default(1))
            .foreign_key(&mut fk(
                "referral",
                "person_id",
                "person",
                ForeignKeyAction::Restrict,
            ))
            .foreign_key(&mut fk(
                "referral",
                "sender_organization_id",
                "organization",
                ForeignKeyAction::Restrict,
            ))
            .foreign_key(&mut fk(
                "referral",
                "receiver_service_id",
                "service",
                ForeignKeyAction::Restrict,
            ))
            .foreign_key(&mut fk(
                "referral",
                "receiver_organization_id",
                "organization",
                ForeignKeyAction::Restrict,
            ))
            .foreign_key(&mut fk(
                "referral",
                "protocol_id",
                "protocol",
                ForeignKeyAction::Restrict,
            ))
            .foreign_key(&mut fk(
                "referral",
                "consent_id",
                "consent",
                ForeignKeyAction::Restrict,
            ))
            .foreign_key(&mut fk(
                "referral",
                "rerouted_from_id",
                "referral",
                ForeignKeyAction::Restrict,
            ));
        m.create_table(referral).await?;
        m.create_index(index(
            "referral",
            &["sender_organization_id", "idempotency_key"],
            true,
        ))
        .await?;
        m.create_index(index(
            "referral",
            &["receiver_organization_id", "status"],
            false,
        ))
        .await?;
        m.create_index(index("referral", &["person_id"], false))
            .await?;
        m.create_index(index("referral", &["status", "due_at"], false))
            .await?;

        m.create_table(
            Table::create()
                .table(n("referral_event"))
                .col(pk_uuid(n("id")))
                .col(uuid(n("referral_id")))
                .col(timestamp_with_time_zone(n("occurred_at")))
                .col(string_len(n("actor_subject"), 200))
                .col(string_len(n("actor_kind"), 16))
                .col(uuid_null(n("actor_organization_id")))
                .col(string_len(n("action"), 32))
                .col(string_len_null(n("from_status"), 16))
                .col(string_len(n("to_status"), 16))
                .col(string_len_null(n("reason_code"), 64))
                .col(text_null(n("reason_text")))
                .col(string_len_null(n("declined_by"), 16))
                .col(string_len_null(n("outcome"), 32))
                .foreign_key(&mut fk(
                    "referral_event",
                    "referral_id",
                    "referral",
                    ForeignKeyAction::Cascade,
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "referral_event",
            &["referral_id", "occurred_at"],
            false,
        ))
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
