//! The shape every mutation shares: one transaction around the service call, the
//! caller as the [`Actor`] of the audit record, and the split of a checked result into
//! the payload's object and `userErrors`.

use super::payload::UserError;
use crate::context::{Actor, ContextExt};
use crate::error::{AppResult, GqlResult};
use crate::validation::Checked;
use async_graphql::Context;
use sea_orm::DatabaseTransaction;

/// A mutation payload: an object (null when there are user errors) and the user errors.
pub trait Payload {
    /// The object the mutation returns.
    type Object;
    /// The payload of a mutation that changed `object`, or was refused for `user_errors`.
    fn from_parts(object: Option<Self::Object>, user_errors: Vec<UserError>) -> Self;
}

/// Runs `work` in a transaction as the caller and answers with its payload. The
/// transaction commits when `work` returns `Ok` (nothing changed when it carries user
/// errors) and rolls back on an error.
pub async fn mutate<P, T>(
    ctx: &Context<'_>,
    work: impl AsyncFnOnce(&DatabaseTransaction, &Actor) -> AppResult<Checked<T>>,
) -> GqlResult<P>
where
    P: Payload,
    P::Object: From<T>,
{
    Ok(match in_transaction(ctx, work).await? {
        Ok(value) => P::from_parts(Some(value.into()), Vec::new()),
        Err(errors) => P::from_parts(None, super::payload::user_errors(errors)),
    })
}

/// Runs `work` in a transaction as the caller, for mutations whose payload carries
/// more than one object: the caller builds the payload from the checked result.
pub async fn in_transaction<T>(
    ctx: &Context<'_>,
    work: impl AsyncFnOnce(&DatabaseTransaction, &Actor) -> AppResult<T>,
) -> GqlResult<T> {
    let actor = ctx.actor()?;
    let txn = crate::db::begin_write(ctx.db()?).await?;
    let result = work(&txn, &actor).await?;
    txn.commit().await?;
    Ok(result)
}

/// Declares mutation payloads: `Name("mutationName") { field: Type, "The new thing" }`
/// makes `Name { field: Option<Type>, user_errors }` with its [`Payload`] impl.
macro_rules! payload {
    ($($name:ident($mutation:literal) { $field:ident: $ty:ty, $what:literal })+) => {$(
        #[doc = concat!("Result of `", $mutation, "`.")]
        #[derive(async_graphql::SimpleObject)]
        pub struct $name {
            #[doc = concat!($what, "; null when there are user errors.")]
            pub $field: Option<$ty>,
            /// Problems with the input; nothing was changed when there are any.
            pub user_errors: Vec<$crate::graphql::payload::UserError>,
        }

        impl $crate::graphql::mutation::Payload for $name {
            type Object = $ty;
            fn from_parts(
                object: Option<$ty>,
                user_errors: Vec<$crate::graphql::payload::UserError>,
            ) -> Self {
                Self { $field: object, user_errors }
            }
        }
    )+};
}

pub(crate) use payload;
