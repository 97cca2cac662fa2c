//! Building and running the application: database, migrations, demo data, HTTP server.

use crate::context::AppState;
use crate::http::routes;
use crate::schema::build_schema;
use crate::settings::Settings;
use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServerHandle, Service, ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{App, Error, HttpMessage, HttpServer, web};
use anyhow::Context as _;
use futures_util::future::Either;
use sea_orm::DatabaseConnection;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;
use tracing::Span;
use tracing_actix_web::{RequestId, RootSpanBuilder, TracingLogger};

/// Root span of each request: method, path (never the query string, which may carry
/// variables) and request id.
pub struct RequestSpan;

impl RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let request_id = request
            .extensions()
            .get::<RequestId>()
            .map(ToString::to_string)
            .unwrap_or_default();
        tracing::info_span!(
            "request",
            method = %request.method(),
            path = %request.path(),
            request_id = %request_id,
        )
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        let _entered = span.enter();
        match outcome {
            Ok(response) => tracing::info!(status = response.status().as_u16(), "request done"),
            Err(error) => {
                let status = error.as_response_error().status_code().as_u16();
                tracing::warn!(status, "request failed");
            }
        }
    }
}

/// The running application: a bound HTTP server and its background tasks.
pub struct Application {
    port: u16,
    server: Server,
    jobs: Option<crate::jobs::Jobs>,
    pruner: tokio::task::JoinHandle<()>,
    grace: Duration,
}

impl Application {
    /// Connects, migrates, loads the demo network when enabled, and binds the server.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let db = crate::db::connect(&settings)
            .await
            .context("cannot connect to the database")?;
        crate::db::migrate(&db)
            .await
            .context("cannot apply migrations")?;
        if settings.demo_data
            && crate::db::seed_demo(&db)
                .await
                .context("cannot load demo data")?
        {
            tracing::info!("demo network loaded");
        }
        Self::build_with_db(settings, db).await
    }

    /// Binds the server over an existing, migrated database.
    pub async fn build_with_db(settings: Settings, db: DatabaseConnection) -> anyhow::Result<Self> {
        crate::matching::domain::Weights::from_settings(&settings)
            .map_err(anyhow::Error::msg)
            .context("invalid matching weights")?;
        let auth = crate::auth::AuthState::from_settings(&settings)
            .await
            .context("cannot set up authentication")?;
        let listener = TcpListener::bind(settings.address())
            .with_context(|| format!("cannot listen on {}", settings.address()))?;
        let port = listener.local_addr()?.port();
        let protection = Arc::new(
            crate::crypto::DataProtection::from_settings(&settings)
                .context("cannot set up the protection of personal data")?,
        );
        let jobs = crate::jobs::spawn(db.clone(), settings.clone());
        let grace = Duration::from_secs(settings.shutdown_grace_secs);
        let limits = crate::rate_limit::Limits::new(&settings);
        let state = AppState {
            runtime: crate::runtime::AppRuntime::current(),
            limits: limits.clone(),
            protection,
            db,
            settings: Arc::new(settings),
            auth: Arc::new(auth),
        };
        let max_body = state.settings.max_body_bytes;
        let pruned = limits.clone();
        let pruner = tokio::spawn(async move {
            let mut every_minute = tokio::time::interval(Duration::from_secs(60));
            loop {
                every_minute.tick().await;
                pruned.prune();
            }
        });
        let schema = web::Data::new(build_schema(&state));
        let state = web::Data::new(state);
        let server = HttpServer::new(move || {
            let limits = limits.clone();
            App::new()
                .app_data(state.clone())
                .app_data(schema.clone())
                .app_data(web::PayloadConfig::new(max_body))
                .wrap_fn(|req, srv| {
                    let request_id = req.extensions().get::<RequestId>().map(ToString::to_string);
                    let response = srv.call(req);
                    async move {
                        let mut response = response.await?;
                        if let Some(id) = request_id.and_then(|id| HeaderValue::from_str(&id).ok())
                        {
                            response
                                .headers_mut()
                                .insert(HeaderName::from_static("x-request-id"), id);
                        }
                        Ok(response)
                    }
                })
                .wrap_fn(move |req, srv| {
                    // GraphQL requests are charged by their handlers, per operation and to
                    // the verified caller; everything else here, to the IP address.
                    let ip = req.peer_addr().map(|a| a.ip());
                    let verdict = limits.check(req.path(), ip);
                    let response = match verdict {
                        Ok(()) => Either::Left(srv.call(req)),
                        Err(wait) => {
                            let refusal = crate::rate_limit::refusal(req.path(), wait);
                            Either::Right(std::future::ready(Ok(
                                req.into_response(refusal.map_into_boxed_body())
                            )))
                        }
                    };
                    async move { Ok(response.await?.map_into_boxed_body()) }
                })
                .wrap(actix_web::middleware::from_fn(crate::http::guard::guard))
                .wrap(TracingLogger::<RequestSpan>::new())
                .configure(routes)
        })
        // Signals are handled in `run`, the same way for SIGTERM and Ctrl-C.
        .disable_signals()
        .shutdown_timeout(grace.as_secs())
        .listen(listener)?
        .run();
        Ok(Self {
            port,
            server,
            jobs,
            pruner,
            grace,
        })
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until stopped. SIGTERM or Ctrl-C (SIGINT) starts a graceful shutdown: the
    /// listening socket is closed at once (new connections are refused), requests in
    /// flight finish within `shutdown_grace_secs` (then their connections are dropped),
    /// the background jobs stop, and `run` returns. A second signal exits at once.
    pub async fn run(self) -> std::io::Result<()> {
        let Self {
            server,
            jobs,
            pruner,
            grace,
            ..
        } = self;
        // Registered before serving, so a signal is never missed nor fatal.
        let signals = on_signal(server.handle())?;
        let served = server.await;
        signals.abort();
        pruner.abort();
        if let Some(jobs) = jobs {
            jobs.stop(grace).await;
        }
        tracing::info!("server stopped");
        served
    }
}

/// Waits for the first shutdown signal, then stops the server gracefully.
#[cfg(unix)]
fn on_signal(server: ServerHandle) -> std::io::Result<tokio::task::JoinHandle<()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    Ok(tokio::spawn(async move {
        let name = tokio::select! {
            _ = terminate.recv() => "SIGTERM",
            _ = interrupt.recv() => "SIGINT",
        };
        tracing::info!(
            signal = name,
            "shutting down: refusing new connections, finishing requests in flight"
        );
        let stopped = server.stop(true);
        tokio::select! {
            () = stopped => {}
            _ = terminate.recv() => force_exit(),
            _ = interrupt.recv() => force_exit(),
        }
    }))
}

/// Waits for Ctrl-C, then stops the server gracefully.
#[cfg(not(unix))]
fn on_signal(server: ServerHandle) -> std::io::Result<tokio::task::JoinHandle<()>> {
    Ok(tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            tracing::info!("shutting down: refusing new connections, finishing requests in flight");
            let stopped = server.stop(true);
            tokio::select! {
                () = stopped => {}
                _ = tokio::signal::ctrl_c() => force_exit(),
            }
        }
    }))
}

fn force_exit() {
    tracing::warn!("second shutdown signal: exiting without waiting");
    std::process::exit(1);
}
