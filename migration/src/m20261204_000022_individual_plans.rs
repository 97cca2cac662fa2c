//! Individual plans (piani individualizzati): a plan for a person, held by the
//! organization that leads the pathway, with goals (PLAN_GOAL terms, aligned with the
//! MeLT guidelines), actions (each a service of some organization, followed through the
//! referral that started it), reviews and the person's agreement. Free text is
//! encrypted by the API before it is stored.
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::m20261128_000003_taxonomies::{TermRow, delete_taxonomy, insert_taxonomy};
use crate::tables::{entity_table, fk, index, n};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The goals of an individual plan. Codes are stable identifiers: never rename one,
/// add a new term instead.
const PLAN_GOALS: &[TermRow] = &[
    (
        "EMPLOYABILITY",
        "Occupabilità",
        "Employability",
        Some("Competenze trasversali, orientamento e ricerca attiva del lavoro."),
    ),
    (
        "EMPLOYMENT",
        "Inserimento lavorativo",
        "Employment",
        Some("Un lavoro, un tirocinio o un inserimento lavorativo."),
    ),
    (
        "LANGUAGE",
        "Lingua italiana",
        "Italian language",
        Some("Conoscenza dell'italiano per la vita e il lavoro."),
    ),
    (
        "TRAINING",
        "Formazione e competenze",
        "Training and skills",
        Some("Formazione professionale, certificazione e bilancio delle competenze."),
    ),
    ("HOUSING", "Abitare", "Housing", None),
    ("INCOME", "Reddito", "Income", None),
    ("HEALTH", "Salute e benessere", "Health and wellbeing", None),
    (
        "FAMILY_CARE",
        "Conciliazione e cura familiare",
        "Family care",
        None,
    ),
    (
        "SOCIAL_INCLUSION",
        "Inclusione sociale e relazioni",
        "Social inclusion",
        None,
    ),
    (
        "AUTONOMY",
        "Autonomia personale e documenti",
        "Personal autonomy and documents",
        None,
    ),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.exec_stmt(insert_taxonomy("PLAN_GOAL", PLAN_GOALS)?)
            .await?;

        let mut plan = entity_table("individual_plan");
        plan.col(uuid(n("person_id")))
            .col(uuid(n("lead_organization_id")))
            .col(string_len(n("status"), 16))
            .col(date(n("starts_on")))
            .col(date_null(n("closed_on")))
            .col(text_null(n("closing_note_enc")))
            .col(date_null(n("agreement_signed_on")))
            .col(text_null(n("agreement_evidence_enc")))
            .col(integer(n("row_version")).default(1))
            .foreign_key(&mut fk(
                "individual_plan",
                "person_id",
                "person",
                ForeignKeyAction::Restrict,
            ))
            .foreign_key(&mut fk(
                "individual_plan",
                "lead_organization_id",
                "organization",
                ForeignKeyAction::Restrict,
            ));
        m.create_table(plan).await?;
        // The list's order (newest first) after each of its filters: the lead's plans,
        // a person's plans.
        for cols in [
            &["lead_organization_id", "created_at", "id"][..],
            &["person_id", "created_at", "id"],
        ] {
            m.create_index(index("individual_plan", cols, false))
                .await?;
        }

        let mut goal = Table::create();
        goal.table(n("plan_goal"))
            .col(pk_uuid(n("id")))
            .col(uuid(n("plan_id")))
            .col(string_len(n("goal_code"), 64))
            .col(text_null(n("description_enc")))
            .col(date_null(n("target_on")))
            .col(integer(n("position")))
            .col(timestamp_with_time_zone(n("created_at")))
            .foreign_key(&mut fk(
                "plan_goal",
                "plan_id",
                "individual_plan",
                ForeignKeyAction::Cascade,
            ));
        m.create_table(goal.to_owned()).await?;
        m.create_index(index("plan_goal", &["plan_id", "goal_code"], true))
            .await?;

        let mut action = entity_table("plan_action");
        action
            .col(uuid(n("plan_id")))
            .col(uuid(n("goal_id")))
            .col(uuid(n("service_id")))
            .col(uuid(n("organization_id")))
            .col(text_null(n("description_enc")))
            .col(date_null(n("starts_on")))
            .col(date_null(n("ends_on")))
            .col(string_len(n("status"), 16))
            .col(string_len_null(n("outcome"), 32))
            .col(uuid_null(n("referral_id")))
            .col(integer(n("row_version")).default(1))
            .foreign_key(&mut fk(
                "plan_action",
                "plan_id",
                "individual_plan",
                ForeignKeyAction::Cascade,
            ))
            .foreign_key(&mut fk(
                "plan_action",
                "goal_id",
                "plan_goal",
                ForeignKeyAction::Cascade,
            ))
            .foreign_key(&mut fk(
                "plan_action",
                "service_id",
                "service",
                ForeignKeyAction::Restrict,
            ))
            .foreign_key(&mut fk(
                "plan_action",
                "organization_id",
                "organization",
                ForeignKeyAction::Restrict,
            ))
            .foreign_key(&mut fk(
                "plan_action",
                "referral_id",
                "referral",
                ForeignKeyAction::SetNull,
            ));
        m.create_table(action).await?;
        // A plan's actions in order; the action a referral started; the plans an
        // organization takes part in.
        for (cols, unique) in [
            (&["plan_id", "created_at", "id"][..], false),
            (&["referral_id"], true),
            (&["organization_id", "plan_id"], false),
        ] {
            m.create_index(index("plan_action", cols, unique)).await?;
        }

        let mut review = Table::create();
        review
            .table(n("plan_review"))
            .col(pk_uuid(n("id")))
            .col(uuid(n("plan_id")))
            .col(date(n("reviewed_on")))
            .col(text_null(n("notes_enc")))
            .col(date_null(n("next_review_on")))
            .col(timestamp_with_time_zone(n("created_at")))
            .foreign_key(&mut fk(
                "plan_review",
                "plan_id",
                "individual_plan",
                ForeignKeyAction::Cascade,
            ));
        m.create_table(review.to_owned()).await?;
        m.create_index(index(
            "plan_review",
            &["plan_id", "reviewed_on", "id"],
            false,
        ))
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in ["plan_review", "plan_action", "plan_goal", "individual_plan"] {
            m.drop_table(Table::drop().table(n(table)).to_owned())
                .await?;
        }
        m.exec_stmt(delete_taxonomy("PLAN_GOAL", PLAN_GOALS))
            .await?;
        Ok(())
    }
}
