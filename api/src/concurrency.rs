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
