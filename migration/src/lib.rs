//! Database migrations of the MeLT network API.
//!
//! Every migration runs on SQLite and PostgreSQL alike: portable column types and
//! statements, except where an engine needs SQL of its own (columns whose length only
//! PostgreSQL bounds, generated columns, the trigram index, the kept counts' triggers),
//! which the migration writes for each engine.

pub use sea_orm_migration::prelude::*;

mod m20261128_000001_directory;
mod m20261128_000002_territories;
mod m20261128_000003_taxonomies;
mod m20261128_000004_identity;
mod m20261128_000005_referrals;
mod m20261202_000006_trust;
mod m20261203_000007_list_indexes;
mod m20261203_000008_inbox_counts;
mod m20261203_000009_capacity;
mod m20261203_000010_reference_codes;
mod m20261203_000011_needs_assessments;
mod m20261203_000012_need_service_types;
mod m20261203_000013_routing_rules;
mod m20261203_000014_outbox;
mod m20261203_000015_webhooks;
mod m20261203_000016_sync;
mod m20261203_000017_hsds;
mod m20261203_000019_statistics;
mod m20261203_000020_translations;
mod m20261203_000021_working_groups;
mod m20261204_000022_individual_plans;
mod m20261204_000023_kept_counts;
mod tables;

pub use m20261203_000019_statistics::backfill_sql as statistics_backfill_sql;

/// The ordered list of migrations.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261128_000001_directory::Migration),
            Box::new(m20261128_000002_territories::Migration),
            Box::new(m20261128_000003_taxonomies::Migration),
            Box::new(m20261128_000004_identity::Migration),
            Box::new(m20261128_000005_referrals::Migration),
            Box::new(m20261202_000006_trust::Migration),
            Box::new(m20261203_000007_list_indexes::Migration),
            Box::new(m20261203_000008_inbox_counts::Migration),
            Box::new(m20261203_000009_capacity::Migration),
            Box::new(m20261203_000010_reference_codes::Migration),
            Box::new(m20261203_000011_needs_assessments::Migration),
            Box::new(m20261203_000012_need_service_types::Migration),
            Box::new(m20261203_000013_routing_rules::Migration),
            Box::new(m20261203_000014_outbox::Migration),
            Box::new(m20261203_000015_webhooks::Migration),
            Box::new(m20261203_000016_sync::Migration),
            Box::new(m20261203_000017_hsds::Migration),
            Box::new(m20261203_000019_statistics::Migration),
            Box::new(m20261203_000020_translations::Migration),
            Box::new(m20261203_000021_working_groups::Migration),
            Box::new(m20261204_000022_individual_plans::Migration),
            Box::new(m20261204_000023_kept_counts::Migration),
        ]
    }
}
