//! Organizations of the network: bodies, their sites, contacts and successions.

pub mod domain;
pub mod mutations;
pub mod registry;
pub mod registry_mutations;
pub mod resolvers;
pub mod service;
pub mod site_mutations;
pub mod sites;
pub mod types;
pub mod viewer;

use crate::audit::service::{self as audit, Actor};
use crate::concurrency::{self, Versioned};
use crate::error::AppResult;
use crate::validation::{Checked, Validator};
use sea_orm::{ActiveModelBehavior, ActiveModelTrait, ConnectionTrait, IntoActiveModel};

/// Refuses the change with the user errors `v` recorded, or writes `row`: a new row, or
/// a change of `before` read at the expected version. The write is audited as
/// `operation`.
async fn save<E>(
    db: &impl ConnectionTrait,
    actor: &Actor,
    operation: &str,
    v: Validator,
    row: E::ActiveModel,
    before: Option<(&E::Model, i32)>,
) -> AppResult<Checked<E::Model>>
where
    E: Versioned,
    E::Model: serde::Serialize + IntoActiveModel<E::ActiveModel>,
    E::ActiveModel: ActiveModelTrait<Entity = E> + ActiveModelBehavior + Send,
{
    if !v.is_ok() {
        return Ok(Err(v.finish()));
    }
    let after = match before {
        Some((before, expected)) => {
            concurrency::update::<E, _>(db, row, before, Some(expected)).await?
        }
        None => row.insert(db).await?,
    };
    audit::log::<E>(db, actor, operation, before.map(|(b, _)| b), Some(&after)).await?;
    Ok(Ok(after))
}
