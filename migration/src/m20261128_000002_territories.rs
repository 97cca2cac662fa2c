//! Loads the region, its provinces and the 273 municipalities (ISTAT codes) into every
//! install. The list is `data/tuscany-municipalities.csv`, embedded at build time.

use sea_orm_migration::prelude::*;
use std::collections::BTreeMap;

use crate::text::fold;

#[derive(DeriveMigrationName)]
pub struct Migration;

const CSV: &str = include_str!("../data/tuscany-municipalities.csv");

/// ISTAT code of Regione Toscana.
pub const REGION_CODE: &str = "09";

#[derive(serde::Deserialize)]
struct Row {
    istat_code: String,
    name: String,
    province_code: String,
    province_name: String,
    province_abbr: String,
    cadastral_code: String,
}

fn insert(
    id: uuid::Uuid,
    kind: &str,
    code: &str,
    name: &str,
    parent: Option<uuid::Uuid>,
    cadastral: Option<&str>,
    abbreviation: Option<&str>,
) -> InsertStatement {
    let now = chrono::Utc::now();
    Query::insert()
        .into_table(Alias::new("territory"))
        .columns(
            [
                "id",
                "kind",
                "code",
                "name",
                "search_name",
                "parent_id",
                "cadastral_code",
                "abbreviation",
                "created_at",
                "updated_at",
            ]
            .map(Alias::new),
        )
        .values_panic([
            id.into(),
            kind.into(),
            code.into(),
            name.into(),
            fold(name).into(),
            parent.into(),
            cadastral.map(str::to_owned).into(),
            abbreviation.map(str::to_owned).into(),
            now.into(),
            now.into(),
        ])
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let mut reader = csv::Reader::from_reader(CSV.as_bytes());
        let rows: Vec<Row> = reader
            .deserialize()
            .collect::<Result<_, _>>()
            .map_err(|e| DbErr::Migration(format!("municipality list: {e}")))?;
        let region = uuid::Uuid::now_v7();
        m.exec_stmt(insert(
            region,
            "REGION",
            REGION_CODE,
            "Toscana",
            None,
            None,
            None,
        ))
        .await?;
        let mut provinces: BTreeMap<String, uuid::Uuid> = BTreeMap::new();
        for row in &rows {
            if provinces.contains_key(&row.province_code) {
                continue;
            }
            let id = uuid::Uuid::now_v7();
            provinces.insert(row.province_code.clone(), id);
            m.exec_stmt(insert(
                id,
                "PROVINCE",
                &row.province_code,
                &row.province_name,
                Some(region),
                None,
                Some(&row.province_abbr),
            ))
            .await?;
        }
        for row in &rows {
            let parent = provinces.get(&row.province_code).copied();
            m.exec_stmt(insert(
                uuid::Uuid::now_v7(),
                "MUNICIPALITY",
                &row.istat_code,
                &row.name,
                parent,
                Some(&row.cadastral_code),
                None,
            ))
            .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for kind in ["MUNICIPALITY", "PROVINCE", "REGION"] {
            m.exec_stmt(
                Query::delete()
                    .from_table(Alias::new("territory"))
                    .and_where(Expr::col(Alias::new("kind")).eq(kind))
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
