//! The GraphQL schema: roots, Relay plumbing, limits.

pub mod connection;
pub mod enums;
pub mod guard;
pub mod node;
pub mod payload;
pub mod relay;
pub mod scalars;
pub mod schema;

pub use schema::{MeltSchema, build_schema};

use crate::audit::service::Actor;
use crate::auth::Viewer;
use crate::http::RequestMeta;

/// The actor of a mutation: the viewer and the request id.
pub fn actor(ctx: &async_graphql::Context<'_>) -> Actor {
    Actor {
        viewer: ctx.data_unchecked::<Viewer>().clone(),
        request_id: ctx
            .data_opt::<RequestMeta>()
            .and_then(|m| m.request_id.clone()),
    }
}
