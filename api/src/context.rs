//! The request context at the bottom of the house: what the application shares
//! ([`AppState`]), what one request carries ([`RequestMeta`], the [`Viewer`], its
//! [`Loaders`] and [`AccessLog`]), and who acts in a change ([`Actor`]).
//!
//! Resolvers reach all of it through [`ContextExt`] on async-graphql's `Context`; a
//! value that is missing is an internal error, never a panic.

use crate::auth::Viewer;
use crate::crypto::DataProtection;
use crate::error::{AppError, AppResult, GqlResult};
use crate::loaders::Loaders;
use crate::settings::Settings;
use async_graphql::Context;
use sea_orm::ActiveValue::Set;
use sea_orm::{ActiveModelTrait, ConnectionTrait, DatabaseConnection, EntityTrait};
use std::sync::{Arc, Mutex, PoisonError};
use uuid::Uuid;

/// Everything the application shares between requests (the schema's data).
#[derive(Clone)]
pub struct AppState {
    /// The database pool.
    pub db: DatabaseConnection,
    /// Settings.
    pub settings: Arc<Settings>,
    /// Signing and verification keys.
    pub auth: Arc<crate::auth::AuthState>,
    /// Keys protecting personal data.
    pub protection: Arc<DataProtection>,
    /// The application runtime, where everything that touches the pools runs.
    pub runtime: crate::runtime::AppRuntime,
    /// Rate limits.
    pub limits: Arc<crate::rate_limit::Limits>,
    /// Committed events, for subscriptions, and what wakes the webhook dispatcher.
    pub hub: crate::events::hub::Hub,
    /// Persisted queries (learned, and listed by the settings).
    pub persisted: Arc<crate::persisted::PersistedQueries>,
    /// Becomes true when the server starts shutting down (websockets then close with
    /// 1001 instead of being dropped).
    pub stopping: tokio::sync::watch::Receiver<bool>,
    /// This application's Prometheus metrics.
    pub metrics: Arc<crate::metrics::Metrics>,
}

/// Per-request facts resolvers may need besides the viewer.
#[derive(Clone, Debug, Default)]
pub struct RequestMeta {
    /// The request id (also in the `x-request-id` header and the logs).
    pub request_id: Option<String>,
    /// The languages the request's `Accept-Language` header prefers, most preferred
    /// first (see [`crate::translation::domain::accept_language`]).
    pub accept_language: Vec<crate::translation::domain::LanguageCode>,
}

/// Who makes a change, and in which request.
#[derive(Clone, Debug)]
pub struct Actor {
    /// The caller.
    pub viewer: Viewer,
    /// Id of the HTTP request.
    pub request_id: Option<String>,
}

impl Actor {
    /// An access-log row for a read of `fields` of `person` by this actor, for
    /// `purpose` (`read`, `export`, ...).
    pub fn access_entry(
        &self,
        person: Uuid,
        fields: &str,
        purpose: &str,
    ) -> entity::person_access::ActiveModel {
        entity::person_access::ActiveModel {
            id: Set(Uuid::now_v7()),
            occurred_at: Set(chrono::Utc::now()),
            actor_subject: Set(self.viewer.subject.clone()),
            actor_organization_id: Set(self.viewer.organization),
            person_id: Set(person),
            fields: Set(fields.to_owned()),
            purpose: Set(purpose.to_owned()),
            request_id: Set(self.request_id.clone()),
        }
    }
}

/// Reads of personal fields made while serving one operation, written to the access log
/// in one statement when it ends. A poisoned lock still yields its entries: a privacy
/// log never drops a read.
#[derive(Default)]
pub struct AccessLog(Mutex<Vec<entity::person_access::ActiveModel>>);

impl AccessLog {
    /// Remembers one read.
    pub fn push(&self, entry: entity::person_access::ActiveModel) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(entry);
    }

    /// Writes every remembered read, in statements of at most 500 rows.
    pub async fn flush(&self, db: &impl ConnectionTrait) -> AppResult<()> {
        let entries = std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner));
        for chunk in entries.chunks(500) {
            entity::person_access::Entity::insert_many(chunk.to_vec())
                .exec(db)
                .await?;
        }
        Ok(())
    }
}

/// The data one operation runs with, where the transport has not put it in the
/// connection's data: the caller, the request id and the access log it appends to
/// (without one, reads are logged at once). Its loaders come from the schema's gate
/// ([`crate::schema::MeltSchema`]).
pub fn operation_data(
    mut request: async_graphql::Request,
    viewer: Option<Viewer>,
    meta: Option<RequestMeta>,
    access_log: Option<Arc<AccessLog>>,
) -> async_graphql::Request {
    if let Some(viewer) = viewer {
        request = request.data(viewer);
    }
    if let Some(meta) = meta {
        request = request.data(meta);
    }
    if let Some(access_log) = access_log {
        request = request.data(access_log);
    }
    request
}

fn missing(what: &str) -> crate::error::GqlError {
    AppError::internal(anyhow::anyhow!(
        "{what} is missing from the GraphQL context"
    ))
    .into()
}

/// Typed access to the request context from a resolver.
pub trait ContextExt {
    /// The application state.
    fn state(&self) -> GqlResult<&AppState>;
    /// The caller (anonymous when no token was sent).
    fn viewer(&self) -> GqlResult<&Viewer>;
    /// This operation's loaders.
    fn loaders(&self) -> GqlResult<&Loaders>;
    /// This operation's access log, when the transport collects reads.
    fn access_log(&self) -> Option<&AccessLog>;

    /// The database pool.
    fn db(&self) -> GqlResult<&DatabaseConnection> {
        Ok(&self.state()?.db)
    }

    /// The keys protecting personal data.
    fn protection(&self) -> GqlResult<&DataProtection> {
        Ok(&self.state()?.protection)
    }

    /// The settings.
    fn settings(&self) -> GqlResult<&Settings> {
        Ok(&self.state()?.settings)
    }

    /// The caller and the request id, for a change.
    fn actor(&self) -> GqlResult<Actor>;

    /// Whether the query selects `totalCount` (a connection counts only then).
    fn wants_total(&self) -> bool;
}

impl ContextExt for Context<'_> {
    fn state(&self) -> GqlResult<&AppState> {
        self.data_opt::<AppState>()
            .ok_or_else(|| missing("the application state"))
    }

    fn viewer(&self) -> GqlResult<&Viewer> {
        self.data_opt::<Viewer>()
            .ok_or_else(|| missing("the viewer"))
    }

    fn loaders(&self) -> GqlResult<&Loaders> {
        self.data_opt::<Loaders>()
            .ok_or_else(|| missing("the loaders"))
    }

    fn access_log(&self) -> Option<&AccessLog> {
        self.data_opt::<Arc<AccessLog>>().map(AsRef::as_ref)
    }

    fn wants_total(&self) -> bool {
        self.look_ahead().field("totalCount").exists()
    }

    fn actor(&self) -> GqlResult<Actor> {
        Ok(Actor {
            viewer: self.viewer()?.clone(),
            request_id: self
                .data_opt::<RequestMeta>()
                .and_then(|meta| meta.request_id.clone()),
        })
    }
}

/// Writes a read of `field` of `person` by the caller to the access log: the
/// operation's, written with its other reads, or at once where the transport collects
/// none.
pub async fn log_read(ctx: &Context<'_>, person: Uuid, field: &str) -> GqlResult<()> {
    let entry = ctx.actor()?.access_entry(person, field, "read");
    Ok(record_read(ctx.access_log(), ctx.db()?, entry).await?)
}

/// Writes a read to the operation's access log `log`, or at once to `db` where the
/// transport collects none.
pub async fn record_read(
    log: Option<&AccessLog>,
    db: &impl ConnectionTrait,
    entry: entity::person_access::ActiveModel,
) -> AppResult<()> {
    match log {
        Some(log) => log.push(entry),
        None => {
            entry.insert(db).await?;
        }
    }
    Ok(())
}
