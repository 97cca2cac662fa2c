//! Loads the region, its provinces and the 273 municipalities (ISTAT codes) into every
//! install. The list is `data/tuscany-municipalities.csv`, embedded at build time.

use sea_orm_migration::prelude::*;
use std::collections::BTreeMap;

use melt_text::fold;

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

/// One territory row to insert.
struct NewTerritory<'a> {
    id: uuid::Uuid,
    kind: &'static str,
    code: &'a str,
    name: &'a str,
    parent: Option<uuid::Uuid>,
    cadastral: Option<&'a str>,
    abbreviation: Option<&'a str>,
}

/// One multi-row INSERT of territories.
fn insert(rows: &[NewTerritory<'_>]) -> Result<InsertStatement, DbErr> {
    let now = chrono::Utc::now();
    let mut stmt = Query::insert();
    stmt.into_table(Alias::new("territory")).columns(
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
    );
    for row in rows {
        stmt.values([
            row.id.into(),
            row.kind.into(),
            row.code.into(),
            row.name.into(),
            fold(row.name).into(),
            row.parent.into(),
            row.cadastral.map(str::to_owned).into(),
            row.abbreviation.map(str::to_owned).into(),
            now.into(),
            now.into(),
        ])
        .map_err(|e| DbErr::Migration(format!("territory row: {e}")))?;
    }
    Ok(stmt.to_owned())
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
        m.exec_stmt(insert(&[NewTerritory {
            id: region,
            kind: "REGION",
            code: REGION_CODE,
            name: "Toscana",
            parent: None,
            cadastral: None,
            abbreviation: None,
        }])?)
        .await?;
        let mut provinces: BTreeMap<&str, uuid::Uuid> = BTreeMap::new();
        let mut province_rows = Vec::new();
        for row in &rows {
            if provinces.contains_key(row.province_code.as_str()) {
                continue;
            }
            let id = uuid::Uuid::now_v7();
            provinces.insert(&row.province_code, id);
            province_rows.push(NewTerritory {
                id,
                kind: "PROVINCE",
                code: &row.province_code,
                name: &row.province_name,
                parent: Some(region),
                cadastral: None,
                abbreviation: Some(&row.province_abbr),
            });
        }
        m.exec_stmt(insert(&province_rows)?).await?;
        let municipalities: Vec<NewTerritory<'_>> = rows
            .iter()
            .map(|row| NewTerritory {
                id: uuid::Uuid::now_v7(),
                kind: "MUNICIPALITY",
                code: &row.istat_code,
                name: &row.name,
                parent: provinces.get(row.province_code.as_str()).copied(),
                cadastral: Some(&row.cadastral_code),
                abbreviation: None,
            })
            .collect();
        m.exec_stmt(insert(&municipalities)?).await?;
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
