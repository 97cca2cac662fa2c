//! Building and running the application: database, migrations, demo data, HTTP server.

use crate::context::AppState;
use crate::http::request_log::{self, RequestIdentity, TrustedProxies};
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
/// variables), request id (an incoming well-formed `X-Request-Id` is kept), client
/// address, and, once known, the GraphQL operation name; its end logs status and
/// duration.
pub struct RequestSpan;

impl RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let generated = request
            .extensions()
            .get::<RequestId>()
            .map(ToString::to_string);
        let request_id = request_log::request_id(request, generated);
        request_log::remember(request, &request_id);
        let client_ip = request_log::client_ip(
            request.peer_addr().map(|a| a.ip()),
            request.headers(),
            request
                .app_data::<web::Data<TrustedProxies>>()
                .map(|p| p.get_ref()),
        )
        .map(|ip| ip.to_string())
        .unwrap_or_default();
        let span = tracing::info_span!(
            "request",
            otel.name = %format_args!("{} {}", request.method(), request.path()),
            otel.kind = "server",
            method = %request.method(),
            path = %request.path(),
            request_id = %request_id,
            client_ip = %client_ip,
            operation = tracing::field::Empty,
        );
        // An incoming W3C `traceparent` makes this request part of the caller's trace.
        let parent = crate::telemetry::parent_from_headers(request.headers());
        if opentelemetry::trace::TraceContextExt::has_active_span(&parent) {
            use tracing_opentelemetry::OpenTelemetrySpanExt as _;
            if span.set_parent(parent).is_err() {
                tracing::debug!("the request span cannot take the incoming trace");
            }
        }
        span
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        let _entered = span.enter();
        match outcome {
            Ok(response) => {
                let duration_ms = response
                    .request()
                    .extensions()
                    .get::<request_log::Started>()
                    .map_or(0.0, |s| s.0.elapsed().as_secs_f64() * 1000.0);
                tracing::info!(
                    status = response.status().as_u16(),
                    duration_ms = format_args!("{duration_ms:.1}"),
                    "request done"
                );
            }
            Err(error) => {
                let status = error.as_response_error().status_code().as_u16();
                tracing::warn!(status, "request failed");
            }
        }
    }
}

/// The running application: a bound HTTP server, its metrics listener when one is
/// set, and its background tasks.
pub struct Application {
    port: u16,
    stop: tokio::sync::watch::Sender<bool>,
    server: Server,
    metrics: Option<(std::net::SocketAddr, Server)>,
    workers: Vec<crate::worker::Worker>,
    pruner: tokio::task::JoinHandle<()>,
    grace: Duration,
}

impl Application {
    /// Connects, migrates, loads the demo network when enabled, and binds the server.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let db = crate::db::connect(&settings).await.with_context(|| {
            format!(
                "cannot connect to the database at {}",
                crate::db::where_is(&settings.database_url)
            )
        })?;
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
        let cors = crate::http::cors::Origins::parse(settings.cors_origins.as_deref())
            .map_err(anyhow::Error::msg)?;
        let proxies = web::Data::new(
            TrustedProxies::parse(settings.trusted_proxies.as_deref())
                .map_err(anyhow::Error::msg)?,
        );
        let listener = TcpListener::bind(settings.address())
            .with_context(|| format!("cannot listen on {}", settings.address()))?;
        let port = listener.local_addr()?.port();
        let protection = Arc::new(
            crate::crypto::DataProtection::from_settings(&settings)
                .context("cannot set up the protection of personal data")?,
        );
        let persisted = Arc::new(
            crate::persisted::PersistedQueries::from_settings(
                settings.persisted_queries_file.as_deref(),
                settings.persisted_queries_only,
            )
            .map_err(anyhow::Error::msg)?,
        );
        let metrics_listener = match settings.metrics_address() {
            Some(address) => {
                let address = address.map_err(anyhow::Error::msg)?;
                let listener = TcpListener::bind(address)
                    .with_context(|| format!("cannot listen for metrics on {address}"))?;
                Some(listener)
            }
            None => None,
        };
        let metrics = Arc::new(crate::metrics::Metrics::new());
        let settings = Arc::new(settings);
        let hub = crate::events::hub::Hub::default();
        let mut workers: Vec<crate::worker::Worker> =
            crate::jobs::spawn(db.clone(), (*settings).clone(), metrics.clone())
                .into_iter()
                .collect();
        workers.extend(crate::events::hub::spawn(
            db.clone(),
            hub.clone(),
            Duration::from_millis(settings.events_poll_interval_ms),
            settings
                .is_postgres()
                .then(|| settings.database_url.clone()),
        ));
        workers.extend(
            crate::webhooks::dispatch::Dispatcher::new(
                db.clone(),
                protection.clone(),
                settings.clone(),
                hub.clone(),
                metrics.clone(),
            )
            .context("cannot set up webhook delivery")?
            .spawn(),
        );
        let grace = Duration::from_secs(settings.shutdown_grace_secs);
        let limits = crate::rate_limit::Limits::new(&settings);
        let (stop, stopping) = tokio::sync::watch::channel(false);
        let state = AppState {
            stopping,
            runtime: crate::runtime::AppRuntime::current(),
            limits: limits.clone(),
            protection,
            db,
            settings,
            auth: Arc::new(auth),
            hub,
            persisted,
            metrics,
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
        let metrics = match metrics_listener {
            Some(listener) => Some(metrics_server(listener, state.clone())?),
            None => None,
        };
        let server = HttpServer::new(move || {
            let limits = limits.clone();
            let refusals = state.metrics.clone();
            let measured = state.metrics.clone();
            App::new()
                .app_data(state.clone())
                .app_data(proxies.clone())
                .app_data(schema.clone())
                .app_data(web::PayloadConfig::new(max_body))
                .wrap_fn(|req, srv| {
                    let request_id = req
                        .extensions()
                        .get::<RequestIdentity>()
                        .map(|id| id.0.clone());
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
                    let ip = request_log::client_ip(
                        req.peer_addr().map(|a| a.ip()),
                        req.headers(),
                        req.app_data::<web::Data<TrustedProxies>>()
                            .map(|p| p.get_ref()),
                    );
                    let verdict = limits.check(req.path(), ip);
                    let response = match verdict {
                        Ok(()) => Either::Left(srv.call(req)),
                        Err(wait) => {
                            refusals.rate_limited(crate::metrics::Payer::Address);
                            let refusal = crate::rate_limit::refusal(req.path(), wait);
                            Either::Right(std::future::ready(Ok(
                                req.into_response(refusal.map_into_boxed_body())
                            )))
                        }
                    };
                    async move { Ok(response.await?.map_into_boxed_body()) }
                })
                .wrap(actix_web::middleware::from_fn(crate::http::guard::guard))
                // Preflights are answered before the guard and the rate limit.
                .wrap(actix_web::middleware::Condition::new(
                    cors.middleware().is_some(),
                    cors.middleware().unwrap_or_default(),
                ))
                .wrap_fn(move |req, srv| {
                    // Every answer is counted, refusals by the layers above included.
                    let route = req
                        .match_pattern()
                        .unwrap_or_else(|| "unmatched".to_owned());
                    let started = std::time::Instant::now();
                    let response = srv.call(req);
                    let measured = measured.clone();
                    async move {
                        let response = response.await;
                        let (status, operation) = match &response {
                            Ok(response) => (
                                response.status().as_u16(),
                                response
                                    .request()
                                    .extensions()
                                    .get::<crate::metrics::OperationLabel>()
                                    .map(|label| label.0.clone()),
                            ),
                            Err(error) => (error.as_response_error().status_code().as_u16(), None),
                        };
                        measured.request(
                            &route,
                            operation.as_deref().unwrap_or("none"),
                            status,
                            started.elapsed(),
                        );
                        response
                    }
                })
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
            stop,
            server,
            metrics,
            workers,
            pruner,
            grace,
        })
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The address the metrics listener is bound to, when `metrics_addr` is set.
    pub fn metrics_address(&self) -> Option<std::net::SocketAddr> {
        self.metrics.as_ref().map(|(address, _)| *address)
    }

    /// Serves until stopped. SIGTERM or Ctrl-C (SIGINT) starts a graceful shutdown: the
    /// listening socket is closed at once (new connections are refused), requests in
    /// flight finish within `shutdown_grace_secs` (then their connections are dropped),
    /// the background jobs stop, and `run` returns. A second signal exits at once.
    pub async fn run(self) -> std::io::Result<()> {
        let Self {
            server,
            stop,
            metrics,
            workers,
            pruner,
            grace,
            ..
        } = self;
        let metrics = metrics.map(|(_, server)| {
            let handle = server.handle();
            (handle, tokio::spawn(server))
        });
        // Registered before serving, so a signal is never missed nor fatal.
        let signals = on_signal(server.handle(), stop)?;
        let served = server.await;
        signals.abort();
        pruner.abort();
        if let Some((handle, served)) = metrics {
            handle.stop(false).await;
            if let Ok(Err(error)) = served.await {
                tracing::warn!(error = %error, "the metrics listener stopped with an error");
            }
        }
        for worker in workers {
            worker.stop(grace).await;
        }
        tracing::info!("server stopped");
        served
    }
}

/// The metrics listener: `GET /metrics` only, on one worker, stopped with the server.
fn metrics_server(
    listener: TcpListener,
    state: web::Data<AppState>,
) -> anyhow::Result<(std::net::SocketAddr, Server)> {
    let address = listener.local_addr()?;
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .route("/metrics", web::get().to(crate::http::metrics::metrics))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)?
    .run();
    tracing::info!(%address, "metrics: GET /metrics");
    Ok((address, server))
}

/// Waits for the first shutdown signal, then stops the server gracefully.
#[cfg(unix)]
fn on_signal(
    server: ServerHandle,
    stop: tokio::sync::watch::Sender<bool>,
) -> std::io::Result<tokio::task::JoinHandle<()>> {
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
        // Websockets close with 1001 (going away); requests in flight finish.
        stop.send_replace(true);
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
fn on_signal(
    server: ServerHandle,
    stop: tokio::sync::watch::Sender<bool>,
) -> std::io::Result<tokio::task::JoinHandle<()>> {
    Ok(tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            tracing::info!("shutting down: refusing new connections, finishing requests in flight");
            // Websockets close with 1001 (going away); requests in flight finish.
            stop.send_replace(true);
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
