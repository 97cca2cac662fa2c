//! Which service types address which need: the link matching follows from a need to
//! the services that can meet it. Loaded with a reference mapping (the regional
//! administration changes it with `setNeedServiceTypes`).
use sea_orm_migration::prelude::*;

use crate::tables::{link_table, n};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The reference mapping: a NEED code and the SERVICE_TYPE codes that address it.
const MAPPING: &[(&str, &[&str])] = &[
    (
        "EMPLOYMENT",
        &[
            "GUIDANCE_COUNSELLING",
            "JOB_ORIENTATION",
            "JOB_ACCOMPANIMENT",
            "LEP_BASIC_GUIDANCE",
            "LEP_SPECIALIST_GUIDANCE",
            "LEP_JOB_PLACEMENT",
            "LEP_TRAINEESHIP",
            "LEP_SELF_EMPLOYMENT",
        ],
    ),
    (
        "TRAINING",
        &[
            "SKILLS_ASSESSMENT",
            "SKILLS_DEVELOPMENT_GUIDANCE",
            "LEP_TRAINING_REFERRAL",
        ],
    ),
    ("LANGUAGE", &["ITALIAN_LANGUAGE_COURSE"]),
    ("HOUSING", &["RECEPTION_INFORMATION"]),
    (
        "INCOME",
        &["RECEPTION_INFORMATION", "LEP_SERVICE_AGREEMENT"],
    ),
    ("HEALTH", &["RECEPTION_INFORMATION"]),
    ("CHILDCARE", &["LEP_WORK_LIFE_BALANCE"]),
    ("LEGAL", &["RECEPTION_INFORMATION"]),
    ("SOCIAL_ISOLATION", &["TUTORING", "COACHING"]),
    (
        "DISABILITY_SUPPORT",
        &["LEP_DISABILITY_PLACEMENT", "TUTORING"],
    ),
    ("DIGITAL_SKILLS", &["SKILLS_DEVELOPMENT_GUIDANCE"]),
    ("TRANSPORT", &["LEP_MOBILITY"]),
];

/// `INSERT ... SELECT` of the links of one need (terms found by their codes, so the
/// statement is the same on both engines and needs no ids).
fn links(need: &str, types: &[&str]) -> Result<InsertStatement, DbErr> {
    let now = chrono::Utc::now();
    let select = Query::select()
        .expr(Expr::col((n("need"), n("id"))))
        .expr(Expr::col((n("service_type"), n("id"))))
        .expr(Expr::val(now))
        .from_as(n("term"), n("need"))
        .join_as(
            JoinType::InnerJoin,
            n("term"),
            n("service_type"),
            Condition::all()
                .add(Expr::col((n("service_type"), n("taxonomy"))).eq("SERVICE_TYPE"))
                .add(Expr::col((n("service_type"), n("code"))).is_in(types.iter().copied())),
        )
        .and_where(Expr::col((n("need"), n("taxonomy"))).eq("NEED"))
        .and_where(Expr::col((n("need"), n("code"))).eq(need))
        .to_owned();
    Ok(Query::insert()
        .into_table(n("need_service_type"))
        .columns([
            n("need_term_id"),
            n("service_type_term_id"),
            n("created_at"),
        ])
        .select_from(select)
        .map_err(|e| DbErr::Migration(format!("need {need}: {e}")))?
        .to_owned())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(link_table(
            "need_service_type",
            ("need_term_id", "term"),
            ("service_type_term_id", "term"),
        ))
        .await?;
        for &(need, types) in MAPPING {
            m.exec_stmt(links(need, types)?).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(n("need_service_type")).to_owned())
            .await
    }
}
