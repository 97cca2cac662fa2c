//! Routing rules and their decisions: when a need is assessed for a person matching a
//! rule's conditions, the rule proposes (draft referrals) or sends a referral to
//! services of its types; each time a rule fires its decision is kept. Referrals a rule
//! created name it (`referral.routing_rule_id`: rules are never deleted, only ended by
//! their validity dates, so the column needs no foreign key, which SQLite could not add
//! to an existing table anyway).
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::tables::{drop_index, entity_table, fk, index, n};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let mut rule = entity_table("routing_rule");
        rule.col(string_len(n("name"), 200))
            // Null: region-wide (set by the regional administration).
            .col(uuid_null(n("protocol_id")))
            .col(string_len(n("need_code"), 64))
            .col(string_len(n("min_severity"), 16))
            // SERVICE_TYPE codes, space-separated.
            .col(string_len(n("service_types"), 2000))
            .col(uuid_null(n("territory_id")))
            .col(string_len_null(n("target_group"), 64))
            .col(integer_null(n("min_age")))
            .col(integer_null(n("max_age")))
            .col(string_len(n("mode"), 16))
            .col(integer(n("max_proposals")).default(3))
            .col(integer(n("priority")).default(0))
            .col(date_null(n("valid_from")))
            .col(date_null(n("valid_to")))
            .col(integer(n("row_version")).default(1))
            .foreign_key(&mut fk(
                "routing_rule",
                "protocol_id",
                "protocol",
                ForeignKeyAction::Restrict,
            ))
            .foreign_key(&mut fk(
                "routing_rule",
                "territory_id",
                "territory",
                ForeignKeyAction::Restrict,
            ));
        m.create_table(rule).await?;
        m.create_index(index("routing_rule", &["need_code", "priority"], false))
            .await?;
        // The list's order, alone and after each of its filters.
        for cols in [
            &["name", "id"][..],
            &["need_code", "name", "id"],
            &["protocol_id", "name", "id"],
        ] {
            m.create_index(index("routing_rule", cols, false)).await?;
        }
        let mut decision = Table::create();
        decision
            .table(n("routing_decision"))
            .col(pk_uuid(n("id")))
            .col(uuid(n("rule_id")))
            .col(uuid(n("assessment_id")))
            .col(uuid(n("person_id")))
            .col(uuid(n("organization_id")))
            .col(string_len(n("need_code"), 64))
            .col(string_len(n("mode"), 16))
            .col(string_len(n("outcome"), 32))
            // Gate codes and explanation of a fallback or of no candidate.
            .col(text_null(n("reason")))
            // The services considered, as JSON: id, score, excluded reasons.
            .col(text(n("considered")))
            // Referrals created, space-separated ids.
            .col(text(n("referral_ids")).default(""))
            .col(timestamp_with_time_zone(n("decided_at")))
            .foreign_key(&mut fk(
                "routing_decision",
                "rule_id",
                "routing_rule",
                ForeignKeyAction::Restrict,
            ))
            .foreign_key(&mut fk(
                "routing_decision",
                "assessment_id",
                "needs_assessment",
                ForeignKeyAction::Cascade,
            ))
            .foreign_key(&mut fk(
                "routing_decision",
                "person_id",
                "person",
                ForeignKeyAction::Cascade,
            ));
        m.create_table(decision.to_owned()).await?;
        m.create_index(index("routing_decision", &["assessment_id"], false))
            .await?;
        m.alter_table(
            Table::alter()
                .table(n("referral"))
                .add_column(uuid_null(n("routing_rule_id")))
                .to_owned(),
        )
        .await?;
        m.create_index(index("referral", &["person_id", "routing_rule_id"], false))
            .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(drop_index("referral", &["person_id", "routing_rule_id"]))
            .await?;
        m.alter_table(
            Table::alter()
                .table(n("referral"))
                .drop_column(n("routing_rule_id"))
                .to_owned(),
        )
        .await?;
        for table in ["routing_decision", "routing_rule"] {
            m.drop_table(Table::drop().table(n(table)).to_owned())
                .await?;
        }
        Ok(())
    }
}
