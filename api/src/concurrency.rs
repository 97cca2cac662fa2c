//! Optimistic concurrency: every versioned row carries `row_version`; a change states
//! the version it read and is refused with CONFLICT when the row moved on.

use crate::error::{AppError, AppResult};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

/// Fails with CONFLICT when the caller expected another version than the stored one.
pub fn check_expected(expected: Option<i32>, stored: i32) -> AppResult<()> {
    match expected {
        Some(expected) if expected != stored => Err(AppError::Conflict(format!(
            "the object changed: expected version {expected}, it is at version {stored}; read it again"
        ))),
        _ => Ok(()),
    }
}

/// Fails with CONFLICT when a guarded `UPDATE ... WHERE row_version = ?` touched no row:
/// someone else changed it between our read and our write.
pub fn check_updated(rows_affected: u64) -> AppResult<()> {
    if rows_affected == 0 {
        Err(AppError::Conflict(
            "the object was changed concurrently; read it again".to_owned(),
        ))
    } else {
        Ok(())
    }
}

/// Writes `row` (which must set `row_version` to `stored + 1`) only where the row still
/// has `id` and the version `stored`; CONFLICT when someone changed it in between.
pub async fn guarded_update<A, C>(
    db: &C,
    row: A,
    id: (<A::Entity as EntityTrait>::Column, Uuid),
    version: (<A::Entity as EntityTrait>::Column, i32),
) -> AppResult<()>
where
    A: ActiveModelTrait + Send,
    C: ConnectionTrait,
{
    let result = <A::Entity as EntityTrait>::update_many()
        .set(row)
        .filter(id.0.eq(id.1))
        .filter(version.0.eq(version.1))
        .exec(db)
        .await?;
    check_updated(result.rows_affected)
}

/// Saves a changed row with optimistic concurrency: checks the version the caller
/// expected, bumps `row_version`, stamps `updated_at` and writes only if the row still has
/// the version `stored` that was read. CONFLICT otherwise.
pub async fn save<A, C>(
    db: &C,
    mut row: A,
    id: Uuid,
    stored: i32,
    expected: Option<i32>,
    now: chrono::DateTime<chrono::Utc>,
) -> AppResult<()>
where
    A: ActiveModelTrait + Send,
    C: ConnectionTrait,
{
    check_expected(expected, stored)?;
    let column = |name: &str| {
        <<A::Entity as EntityTrait>::Column as std::str::FromStr>::from_str(name)
            .map_err(|_| AppError::internal(anyhow::anyhow!("versioned table without {name}")))
    };
    row.set(column("row_version")?, (stored + 1).into());
    row.set(column("updated_at")?, now.into());
    guarded_update(
        db,
        row,
        (column("id")?, id),
        (column("row_version")?, stored),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stale_expected_version_is_a_conflict() {
        assert!(check_expected(None, 3).is_ok());
        assert!(check_expected(Some(3), 3).is_ok());
        assert!(matches!(
            check_expected(Some(2), 3),
            Err(AppError::Conflict(_))
        ));
        assert!(matches!(check_updated(0), Err(AppError::Conflict(_))));
        assert!(check_updated(1).is_ok());
    }
}
