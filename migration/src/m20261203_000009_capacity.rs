//! Places of a service follow its referrals: a referral sent to a service with no open
//! place waits for one (`waitlisted`), and an accepted referral holds a place
//! (`holds_place`) that it gives back when it ends. Existing referrals hold none: the
//! services' figures as their administrators set them stay as they are.
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::tables::n;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The columns this migration adds to `referral`.
const COLUMNS: [&str; 2] = ["waitlisted", "holds_place"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column a statement: SQLite adds one at a time.
        for column in COLUMNS {
            m.alter_table(
                Table::alter()
                    .table(n("referral"))
                    .add_column(boolean(n(column)).default(false))
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for column in COLUMNS {
            m.alter_table(
                Table::alter()
                    .table(n("referral"))
                    .drop_column(n(column))
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
