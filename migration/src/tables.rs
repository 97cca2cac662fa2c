//! Table-building helpers shared by the migrations (names as strings, so migrations
//! stay independent of the entities).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

/// An identifier.
pub(crate) fn n(name: &str) -> Alias {
    Alias::new(name)
}

/// A table with a UUID primary key `id` and `created_at` / `updated_at`.
pub(crate) fn entity_table(name: &str) -> TableCreateStatement {
    Table::create()
        .table(n(name))
        .col(pk_uuid(n("id")))
        .col(timestamp_with_time_zone(n("created_at")))
        .col(timestamp_with_time_zone(n("updated_at")))
        .to_owned()
}

/// A link table with a composite primary key over two UUID columns.
pub(crate) fn link_table(
    name: &str,
    left: (&str, &str),
    right: (&str, &str),
) -> TableCreateStatement {
    Table::create()
        .table(n(name))
        .col(uuid(n(left.0)))
        .col(uuid(n(right.0)))
        .col(timestamp_with_time_zone(n("created_at")))
        .primary_key(Index::create().col(n(left.0)).col(n(right.0)))
        .foreign_key(&mut fk(name, left.0, left.1, ForeignKeyAction::Cascade))
        .foreign_key(&mut fk(name, right.0, right.1, ForeignKeyAction::Cascade))
        .to_owned()
}

/// A foreign key `fk_<table>_<col>` to `target.id`.
pub(crate) fn fk(
    table: &str,
    col: &str,
    target: &str,
    on_delete: ForeignKeyAction,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(format!("fk_{table}_{col}"))
        .from(n(table), n(col))
        .to(n(target), n("id"))
        .on_delete(on_delete)
        .to_owned()
}

/// Drops the index `ix_<table>_<cols>` that [`index`] made.
pub(crate) fn drop_index(table: &str, cols: &[&str]) -> IndexDropStatement {
    Index::drop()
        .name(format!("ix_{table}_{}", cols.join("_")))
        .table(n(table))
        .to_owned()
}

/// An index `ix_<table>_<cols>`.
pub(crate) fn index(table: &str, cols: &[&str], unique: bool) -> IndexCreateStatement {
    let mut stmt = Index::create();
    stmt.name(format!("ix_{table}_{}", cols.join("_")))
        .table(n(table));
    for col in cols {
        stmt.col(n(col));
    }
    if unique {
        stmt.unique();
    }
    stmt.to_owned()
}
