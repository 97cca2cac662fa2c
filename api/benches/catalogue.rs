//! Catalogue benchmark: the real application, in-process, over HTTP, against a large
//! seeded network.
//!
//! It creates a database of its own (a temporary SQLite file, or a fresh
//! `melt_bench_<uuid>` database on the PostgreSQL server of `DATABASE_URL`, dropped at
//! the end), migrates it, seeds 1,000 organizations and 10,000 services with
//! `insert_many`, starts the application on port 0 (on threads of its own) and drives
//! it with concurrent clients. Beside each scenario it runs the raw-SQL floor: the same
//! page as one SQL statement building the whole JSON document, on a pool of the same
//! size. Each scenario prints one Markdown table row for the README; the server's CPU
//! per request is the process's CPU time less the benchmark's own threads'.
//!
//! ```text
//! cargo bench -p melt-api --bench catalogue
//! DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres cargo bench -p melt-api --bench catalogue
//! ```
//!
//! Environment: `BENCH_CONCURRENCY` (client tasks, default 8), `BENCH_REQUESTS`
//! (measured requests per scenario, default 2,000), `BENCH_KEEP_DATABASE` (set: keep
//! the seeded database and print its URL, to read query plans on the same data),
//! `BENCH_SCALE` (multiplies the 1,000 organizations and so the 10,000 services,
//! default 1), `BENCH_REFERRALS` (referrals seeded, default 200,000; a tenth of them
//! to the first organization, whose inbox is measured), `BENCH_ONLY` (run only the
//! scenarios whose name contains it or one of its comma-separated parts, e.g.
//! `matchServices` or `Catalogue,Inbox,Resident`).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed step should stop it

use anyhow::{Context as _, Result, bail, ensure};
use entity::enums::{
    ContactChannel, DeliveryMode, OrganizationKind, Priority, ReferralChannel, ReferralStatus,
    Sector, ServiceStatus, Taxonomy, TerritoryKind,
};
use entity::{
    location, organization, person, referral, service, service_area, service_at_location,
    service_term, term, territory,
};
use melt_api::settings::Settings;
use melt_api::startup::Application;
use melt_text::fold;
use sea_orm::ActiveValue::Set;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection,
    EntityTrait, Iterable, QueryFilter, Statement, TransactionTrait,
};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use uuid::Uuid;

#[path = "support/engine_alone.rs"]
mod engine_alone;

/// The allocator of the `melt` binary, so that the server in this process and the one
/// the memory phase starts allocate alike.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Page size of the organizations scenario.
const ORGANIZATIONS_PAGE_SIZE: usize = 20;
/// Organizations seeded.
const ORGANIZATIONS: usize = 1_000;
/// Services seeded per organization.
const SERVICES_PER_ORGANIZATION: usize = 10;
/// Page size of the catalogue queries (the page the issue measured).
const PAGE_SIZE: usize = 20;
/// Requests sent before each measured phase.
const WARM_UP_REQUESTS: usize = 100;
/// Default number of concurrent client tasks.
const DEFAULT_CONCURRENCY: usize = 8;
/// Default number of referrals seeded.
const DEFAULT_REFERRALS: usize = 200_000;
/// Share of the referrals sent to the services of the first organization (in 1,000):
/// its inbox is the one measured.
const HUB_SHARE_PER_MILLE: usize = 100;
/// Page size of the inbox.
const INBOX_PAGE_SIZE: usize = 20;
/// Default number of measured requests per scenario.
const DEFAULT_REQUESTS: usize = 2_000;
/// Connections in the application's pool.
const POOL_SIZE: u32 = 16;
/// Bound values per `INSERT`: below SQLite's default limit (32,766) and PostgreSQL's
/// (65,535).
const MAX_BIND_VALUES: usize = 30_000;
/// Name of the benchmark's own threads (clients, floor); the application runs on others.
const CLIENT_THREAD: &str = "bench-client";
/// Fixed seed of the generator: every run seeds the same network.
const SEED: u64 = 0x4d65_4c54_2024_0001;

/// The plain catalogue: active services, page after page.
const CATALOGUE_QUERY: &str = "query($after: String) { services(first: 20, after: $after, \
     filter: {statuses: [ACTIVE]}) { totalCount pageInfo { endCursor } nodes { name status \
     provider { name kind } serviceTypes { code label } languages { code } } } }";

/// A narrow search: a province, a language and a word.
const FILTERED_QUERY: &str = "query($after: String, $territory: ID!) { services(first: 20, \
     after: $after, filter: {territory: $territory, languages: [\"ar\"], search: \"servizio\"}) \
     { totalCount pageInfo { endCursor } nodes { name status provider { name kind } \
     serviceTypes { code label } languages { code } } } }";

/// A page of organizations with their sites and services.
const ORGANIZATIONS_QUERY: &str = "query($after: String) { organizations(first: 20, \
     after: $after) { totalCount pageInfo { endCursor } nodes { name kind \
     locations { name address } services { name status } } } }";

/// The first organization's open work: its inbox, most urgent first.
const INBOX_QUERY: &str = "query($after: String) { referrals(first: 20, after: $after, \
     filter: {direction: INBOX, statuses: [RECEIVED, ACCEPTED, IN_PROGRESS, ON_HOLD]}) \
     { totalCount pageInfo { endCursor } nodes { status priority dueAt \
     receiverService { name } sender { name } } } }";

/// `matchServices` for two needs in a municipality, as a front end asks it: the whole
/// catalogue of the needs' types is scored.
const MATCH_QUERY: &str = "query($municipality: String!) { \
     matchServices(first: 20, input: {needs: [\"EMPLOYMENT\", \"TRAINING\"], \
     municipality: $municipality, languages: [\"ar\"], age: 30}) \
     { candidateCount excludedCount candidates { rank score service { id name } \
     components { component value } } excluded { service { id } reasons { code } } } }";

/// The first municipality of a province, by name.
const MUNICIPALITY_QUERY: &str = "query($p: ID) { territories(filter: {kinds: [MUNICIPALITY], \
     parent: $p}, first: 1) { nodes { code } } }";

/// The first province, by name.
const PROVINCE_QUERY: &str =
    "{ territories(filter: {kinds: [PROVINCE]}, first: 1) { nodes { id name } } }";

/// Kinds of seeded organizations, with their sector and the prefix of their name.
const ORGANIZATION_KINDS: &[(OrganizationKind, Sector, &str)] = &[
    (
        OrganizationKind::EmploymentCentre,
        Sector::Public,
        "Centro per l'impiego di",
    ),
    (
        OrganizationKind::MunicipalSocialService,
        Sector::Public,
        "Servizi sociali di",
    ),
    (
        OrganizationKind::HealthSocialConsortium,
        Sector::Public,
        "Società della salute di",
    ),
    (
        OrganizationKind::ThirdSectorBody,
        Sector::ThirdSector,
        "Associazione di volontariato di",
    ),
    (
        OrganizationKind::SocialCooperative,
        Sector::ThirdSector,
        "Cooperativa sociale di",
    ),
    (
        OrganizationKind::TrainingAgency,
        Sector::Private,
        "Agenzia formativa di",
    ),
    (
        OrganizationKind::TradeAssociation,
        Sector::Private,
        "Associazione di categoria di",
    ),
];

/// Names and descriptions of seeded services. Three in ten contain "servizio", the word
/// the filtered scenario searches for.
const SERVICE_TEMPLATES: &[(&str, &str)] = &[
    (
        "Servizio di orientamento al lavoro",
        "Colloqui individuali per conoscere il mercato del lavoro locale.",
    ),
    (
        "Sportello lavoro",
        "Informazioni su offerte, tirocini e incentivi all'assunzione.",
    ),
    (
        "Percorso di inclusione sociale",
        "Presa in carico integrata con un piano individualizzato.",
    ),
    (
        "Laboratorio di competenze digitali",
        "Corso pratico di alfabetizzazione digitale per la ricerca di lavoro.",
    ),
    (
        "Servizio di mediazione linguistico-culturale",
        "Interpreti e mediatori per accedere agli sportelli della rete.",
    ),
    (
        "Corso di italiano per stranieri",
        "Lezioni di lingua italiana dal livello A1 al livello B1.",
    ),
    (
        "Accompagnamento al lavoro",
        "Tutoraggio nella ricerca attiva e nei colloqui con le imprese.",
    ),
    (
        "Bilancio di competenze",
        "Ricostruzione delle competenze formali, non formali e informali.",
    ),
    (
        "Servizio di tutoraggio per tirocini",
        "Affiancamento della persona durante il tirocinio extracurricolare.",
    ),
    (
        "Supporto all'autoimpiego",
        "Consulenza per avviare un'attività autonoma.",
    ),
];

/// Languages services are spoken in (ISO 639-1), drawn uniformly.
const LANGUAGE_POOL: &[&str] = &["it", "en", "fr", "es", "ar", "ro", "sq", "uk", "zh", "ru"];

fn main() -> Result<()> {
    let config = Config::from_env()?;
    // The clients' threads are named, so that the server's CPU time is the rest.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .thread_name(CLIENT_THREAD)
        .enable_all()
        .build()
        .context("cannot build the tokio runtime")?;
    runtime.block_on(async {
        let database = BenchDatabase::create(&config).await?;
        let outcome = bench(&config, &database).await;
        let removed = if std::env::var_os("BENCH_KEEP_DATABASE").is_some() {
            // For reading plans afterwards (EXPLAIN ANALYZE) on the same data.
            println!("Database kept: {}", database.url);
            database.keep();
            Ok(())
        } else {
            database.remove().await
        };
        match (outcome, removed) {
            (Err(error), Err(cleanup)) => {
                eprintln!("also failed to clean up: {cleanup:#}");
                Err(error)
            }
            (outcome, removed) => outcome.and(removed),
        }
    })
}

// ---------------------------------------------------------------------------------
// Configuration and database
// ---------------------------------------------------------------------------------

/// What the benchmark runs on and how hard it pushes.
#[derive(Clone)]
struct Config {
    /// The PostgreSQL server URL, or `None` for SQLite.
    postgres_url: Option<String>,
    /// Concurrent client tasks.
    concurrency: usize,
    /// Measured requests per scenario.
    requests: usize,
    /// Multiplies the organizations (and so the services) seeded.
    scale: usize,
    /// Referrals seeded.
    referrals: usize,
    /// Only the scenarios whose name contains this.
    only: Option<String>,
}

impl Config {
    /// Reads `DATABASE_URL`, `BENCH_CONCURRENCY`, `BENCH_REQUESTS`, `BENCH_SCALE` and
    /// `BENCH_REFERRALS`.
    fn from_env() -> Result<Self> {
        let postgres_url = std::env::var("DATABASE_URL")
            .ok()
            .filter(|url| url.starts_with("postgres"));
        Ok(Self {
            postgres_url,
            concurrency: env_count("BENCH_CONCURRENCY", DEFAULT_CONCURRENCY)?,
            requests: env_count("BENCH_REQUESTS", DEFAULT_REQUESTS)?,
            scale: env_count("BENCH_SCALE", 1)?,
            referrals: env_count("BENCH_REFERRALS", DEFAULT_REFERRALS)?,
            only: std::env::var("BENCH_ONLY")
                .ok()
                .filter(|only| !only.is_empty()),
        })
    }

    /// Whether the run includes the phase `name`: no `BENCH_ONLY`, or one of its
    /// comma-separated parts in the name.
    fn wants(&self, name: &str) -> bool {
        self.only
            .as_deref()
            .is_none_or(|only| only.split(',').any(|part| name.contains(part.trim())))
    }

    /// Name of the engine, for the report.
    fn engine(&self) -> &'static str {
        if self.postgres_url.is_some() {
            "PostgreSQL"
        } else {
            "SQLite"
        }
    }
}

/// A positive count from the environment, or its default when unset.
fn env_count(name: &str, default: usize) -> Result<usize> {
    match std::env::var(name) {
        Ok(value) => {
            let count: usize = value
                .trim()
                .parse()
                .with_context(|| format!("{name}={value:?} is not a whole number"))?;
            ensure!(count > 0, "{name} must be at least 1");
            Ok(count)
        }
        Err(std::env::VarError::NotPresent) => Ok(default),
        Err(error) => Err(error).with_context(|| format!("cannot read {name}")),
    }
}

/// The benchmark's own database, removed by [`BenchDatabase::remove`].
struct BenchDatabase {
    /// URL the application connects to.
    url: String,
    /// For PostgreSQL: the server URL and the database name, to drop it.
    postgres: Option<(String, String)>,
    /// For SQLite: the directory holding the file, deleted on drop.
    _dir: Option<tempfile::TempDir>,
}

impl BenchDatabase {
    /// Creates an empty database: a temporary SQLite file, or a new PostgreSQL database
    /// on the server of `DATABASE_URL`.
    async fn create(config: &Config) -> Result<Self> {
        let Some(admin_url) = &config.postgres_url else {
            let dir = tempfile::tempdir().context("cannot create a temporary directory")?;
            let url = format!(
                "sqlite://{}?mode=rwc",
                dir.path().join("melt-bench.db").display()
            );
            return Ok(Self {
                url,
                postgres: None,
                _dir: Some(dir),
            });
        };
        let name = format!("melt_bench_{}", Uuid::now_v7().simple());
        let mut url = reqwest::Url::parse(admin_url).context("DATABASE_URL is not a URL")?;
        url.set_path(&name);
        let admin = Database::connect(admin_url.as_str())
            .await
            .context("cannot connect to the PostgreSQL server of DATABASE_URL")?;
        let created = admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .with_context(|| format!("cannot create database {name}"));
        admin
            .close()
            .await
            .context("cannot close the admin connection")?;
        created?;
        Ok(Self {
            url: url.to_string(),
            postgres: Some((admin_url.clone(), name)),
            _dir: None,
        })
    }

    /// Drops the PostgreSQL database (terminating the application's connections), or
    /// deletes the SQLite file.
    /// Leaves the database in place (an SQLite file's directory is not deleted).
    fn keep(mut self) {
        if let Some(dir) = self._dir.take() {
            let _kept = dir.keep();
        }
    }

    async fn remove(self) -> Result<()> {
        let Some((admin_url, name)) = &self.postgres else {
            return Ok(());
        };
        let admin = Database::connect(admin_url.as_str())
            .await
            .context("cannot reconnect to the PostgreSQL server to drop the database")?;
        admin
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await
            .with_context(|| format!("cannot drop database {name}"))?;
        admin
            .close()
            .await
            .context("cannot close the admin connection")?;
        Ok(())
    }
}

// ---------------------------------------------------------------------------------
// The benchmark
// ---------------------------------------------------------------------------------

/// Migrates, seeds, starts the application and runs every scenario.
async fn bench(config: &Config, database: &BenchDatabase) -> Result<()> {
    // The server's signing key is created on start: keep it out of the working tree.
    let keys = tempfile::tempdir().context("cannot create a temporary directory")?;
    let settings = Settings {
        database_url: database.url.clone(),
        database_max_connections: POOL_SIZE,
        port: 0,
        demo_data: false,
        graphiql: false,
        signing_key_file: keys.path().join("signing-key.pem"),
        // Every request comes from one anonymous client at 127.0.0.1: turn the rate
        // limits off (0) so the benchmark measures the catalogue, not the limiter.
        rate_limit_client_per_minute: 0,
        rate_limit_ip_per_minute: 0,
        data_keys: Some(format!("bench={}", melt_api::crypto::random_key()).into()),
        person_hash_key: Some(melt_api::crypto::random_key().into()),
        // No background jobs: their statements would be counted as the catalogue's.
        jobs_interval_secs: 0,
        ..Settings::default()
    };
    println!(
        "MeLT catalogue benchmark on {}: {} requests per scenario, {} clients",
        config.engine(),
        config.requests,
        config.concurrency
    );

    let db = melt_api::db::connect(&settings)
        .await
        .context("cannot connect to the benchmark database")?;
    let started = Instant::now();
    melt_api::db::migrate(&db)
        .await
        .context("cannot apply migrations")?;
    println!("Migrations: {:.2} s", started.elapsed().as_secs_f64());
    let started = Instant::now();
    let seeded = seed(&db, config).await.context("cannot seed the network")?;
    println!(
        "Seeding: {:.2} s ({} organizations, {} locations, {} services, {} service terms, \
         {} service-area rows, {} service sites, {} people, {} referrals)",
        started.elapsed().as_secs_f64(),
        seeded.organizations,
        seeded.locations,
        seeded.services,
        seeded.service_terms,
        seeded.service_areas,
        seeded.service_sites,
        seeded.people,
        seeded.referrals
    );
    db.close().await.context("cannot close the seeding pool")?;

    let statements = Arc::new(AtomicUsize::new(0));
    let settings_for_floor = settings.clone();
    let port = start_server(settings, Arc::clone(&statements))?;
    let endpoint: Arc<str> = format!("http://127.0.0.1:{port}/graphql").into();

    // The floor's own pool, as large as the application's.
    let floor_db = melt_api::db::connect(&settings_for_floor)
        .await
        .context("cannot connect the floor's pool")?;
    let key = melt_api::auth::keys::ServerKey::load_or_create(&settings_for_floor.signing_key_file)
        .context("cannot read the server's signing key")?;
    let operator = melt_api::auth::token::mint(
        &key,
        &settings_for_floor,
        &melt_api::auth::token::TokenRequest {
            subject: "bench-operator".to_owned(),
            kind: melt_api::auth::viewer::ViewerKind::User,
            organization: Some(seeded.hub),
            roles: vec![melt_api::auth::viewer::Role::Operator],
            scopes: Vec::new(),
            name: Some("Operatore".to_owned()),
            // As long as the server accepts: a large run is long.
            ttl: Duration::from_secs(settings_for_floor.token_max_lifetime_secs),
        },
    )
    .context("cannot mint the operator's token")?;
    let outcome = run_scenarios(config, endpoint, operator, &statements, &floor_db).await;
    floor_db
        .close()
        .await
        .context("cannot close the floor's pool")?;
    let (mut rows, engine_rows) = outcome?;
    if config.wants(RESIDENT_MEMORY) {
        rows.push(resident_memory(config, &settings_for_floor.database_url).await?);
    }

    println!();
    println!(
        "| Scenario | Engine | Requests | Concurrency | Throughput (req/s) | p50 (ms) | \
         p95 (ms) | p99 (ms) | max (ms) | SQL statements/request | Server CPU/request (ms) | \
         Floor (req/s) | Share of floor |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for row in rows {
        println!("{row}");
    }
    if !engine_rows.is_empty() {
        println!();
        println!(
            "| Scenario | Engine | API: CPU/request, clients + database + server (ms) | \
             Floor: clients + database (ms) | Floor (req/s) | {TARGET_SHARE} of the floor \
             leaves, all cores (ms CPU/request) | async-graphql alone on the page (ms) | \
             API clients + database + async-graphql alone (share of what is left) |"
        );
        println!("|---|---|---:|---:|---:|---:|---:|---:|");
        for row in engine_rows {
            println!("{row}");
        }
    }
    Ok(())
}

/// Name of the memory phase (for `BENCH_ONLY`).
const RESIDENT_MEMORY: &str = "Resident memory of `melt serve`";
/// Connections of the memory phase.
const MEMORY_CONNECTIONS: usize = 64;

/// Runs `melt serve` itself (the binary built with this benchmark, as deployed: default
/// pool, logging at `warn`) on the seeded database, drives the catalogue page from
/// [`MEMORY_CONNECTIONS`] client connections for the run's number of requests, and
/// reads the process's peak resident memory (`VmHWM`) from `/proc`. Returns its row.
async fn resident_memory(config: &Config, database_url: &str) -> Result<String> {
    let keys = tempfile::tempdir().context("cannot create a temporary directory")?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .context("cannot find a free port")?
        .port();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_melt"))
        .arg("serve")
        .env("DATABASE_URL", database_url)
        .env("MELT_PORT", port.to_string())
        .env("MELT_DEMO_DATA", "false")
        .env("MELT_GRAPHIQL", "false")
        .env("MELT_JOBS_INTERVAL_SECS", "0")
        .env("MELT_RATE_LIMIT_CLIENT_PER_MINUTE", "0")
        .env("MELT_RATE_LIMIT_IP_PER_MINUTE", "0")
        .env("MELT_LOG_FILTER", "warn")
        .env("MELT_SIGNING_KEY_FILE", keys.path().join("signing-key.pem"))
        .env("MELT_DEV_DATA_KEY_FILE", keys.path().join("data-keys.json"))
        .env(
            "MELT_DATA_KEYS",
            format!("bench={}", melt_api::crypto::random_key()),
        )
        .env("MELT_PERSON_HASH_KEY", melt_api::crypto::random_key())
        .stdout(std::process::Stdio::null())
        .spawn()
        .context("cannot start `melt serve`")?;
    let measured = async {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .context("cannot build the HTTP client")?;
        let ready = format!("http://127.0.0.1:{port}/ready");
        let mut waited = 0;
        while !client
            .get(&ready)
            .send()
            .await
            .is_ok_and(|response| response.status().is_success())
        {
            ensure!(waited < 600, "`melt serve` was not ready within 60 s");
            tokio::time::sleep(Duration::from_millis(100)).await;
            waited += 1;
        }
        let status = format!("/proc/{}/status", child.id());
        let at_rest = memory_of(&status, "VmRSS")?;
        let driver = Driver {
            client,
            endpoint: format!("http://127.0.0.1:{port}/graphql").into(),
            concurrency: MEMORY_CONNECTIONS,
        };
        let scenario = Arc::new(Scenario {
            name: RESIDENT_MEMORY.to_owned(),
            query: CATALOGUE_QUERY,
            variables: json!({}),
            field: "services",
            page_size: PAGE_SIZE,
            token: None,
            floor: None,
            engine_alone: false,
        });
        let phase = driver.run(&scenario, config.requests).await?;
        let peak = memory_of(&status, "VmHWM")?;
        let throughput = phase.latencies.len() as f64 / phase.elapsed.as_secs_f64();
        Ok(format!(
            "| {RESIDENT_MEMORY}, catalogue page, {MEMORY_CONNECTIONS} connections | {} | {} \
             requests | {throughput:.0} req/s | at rest {:.1} MiB | **peak {:.1} MiB** |",
            config.engine(),
            phase.latencies.len(),
            at_rest,
            peak
        ))
    }
    .await;
    let _ = child.kill();
    let _ = child.wait();
    measured
}

/// A memory line of `/proc/<pid>/status` (`VmRSS`, `VmHWM`), in MiB.
fn memory_of(status: &str, field: &str) -> Result<f64> {
    let text = std::fs::read_to_string(status).with_context(|| format!("cannot read {status}"))?;
    let kib: f64 = text
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|value| value.trim().strip_suffix("kB")?.trim().parse().ok())
        .with_context(|| format!("no {field} in {status}"))?;
    Ok(kib / 1024.0)
}

/// Starts the application on a thread and a tokio runtime of its own (its actix
/// workers are threads of their own too), counting its SQL statements; returns its
/// port. The server lives until the process exits; the database is dropped with
/// `FORCE` before that.
fn start_server(settings: Settings, statements: Arc<AtomicUsize>) -> Result<u16> {
    let (ready, port) = std::sync::mpsc::channel::<Result<u16>>();
    std::thread::Builder::new()
        .name("melt-server".to_owned())
        .spawn(move || {
            // As `melt` runs it: a multi-threaded runtime with a thread per core.
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .thread_name("melt-server")
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(error) => {
                    let _ = ready.send(Err(error).context("cannot build the server's runtime"));
                    return;
                }
            };
            runtime.block_on(async move {
                let built = async {
                    let mut db = melt_api::db::connect(&settings)
                        .await
                        .context("cannot connect the application pool")?;
                    db.set_metric_callback(move |_| {
                        statements.fetch_add(1, Ordering::Relaxed);
                    });
                    Application::build_with_db(settings, db)
                        .await
                        .context("cannot build the app")
                }
                .await;
                match built {
                    Ok(app) => {
                        let _ = ready.send(Ok(app.port()));
                        if let Err(error) = app.run().await {
                            eprintln!("the server stopped: {error}");
                        }
                    }
                    Err(error) => {
                        let _ = ready.send(Err(error));
                    }
                }
            });
        })
        .context("cannot start the server's thread")?;
    port.recv()
        .context("the server's thread ended before starting")?
}

/// Runs every scenario against the running application, returning their table rows.
async fn run_scenarios(
    config: &Config,
    endpoint: Arc<str>,
    operator: String,
    statements: &AtomicUsize,
    floor_db: &DatabaseConnection,
) -> Result<(Vec<String>, Vec<String>)> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .context("cannot build the HTTP client")?;
    let driver = Driver {
        client,
        endpoint,
        concurrency: config.concurrency,
    };

    let (_, provinces) = driver.send(PROVINCE_QUERY, json!({})).await?;
    let province = &provinces["data"]["territories"]["nodes"][0];
    let (Some(province_id), Some(province_name)) =
        (province["id"].as_str(), province["name"].as_str())
    else {
        bail!("no province in the territories: {provinces}");
    };

    let province_row = row_id(province_id)?;
    let (_, municipalities) = driver
        .send(MUNICIPALITY_QUERY, json!({ "p": province_id }))
        .await?;
    let Some(municipality) = municipalities["data"]["territories"]["nodes"][0]["code"].as_str()
    else {
        bail!("no municipality in {province_name}: {municipalities}");
    };
    let scenarios = [
        Scenario {
            name: "Catalogue page (active)".to_owned(),
            query: CATALOGUE_QUERY,
            variables: json!({}),
            field: "services",
            page_size: PAGE_SIZE,
            token: None,
            floor: Some(Arc::new(Floor::services("x.status = 'ACTIVE'", None))),
            engine_alone: true,
        },
        Scenario {
            name: format!("Province {province_name} + ar + \"servizio\""),
            query: FILTERED_QUERY,
            variables: json!({ "territory": province_id }),
            field: "services",
            page_size: PAGE_SIZE,
            token: None,
            floor: Some(Arc::new(Floor::services(
                "x.id IN (SELECT sa.service_id FROM service_area sa WHERE sa.municipality_id \
                 IN (SELECT t.id FROM territory t WHERE t.parent_id = {TERRITORY} \
                 AND t.kind = 'MUNICIPALITY')) \
                 AND x.id IN (SELECT st.service_id FROM service_term st JOIN term t \
                 ON t.id = st.term_id WHERE t.taxonomy = 'LANGUAGE' AND t.code = 'ar') \
                 AND x.search_text LIKE '%servizio%'",
                Some(province_row),
            ))),
            engine_alone: false,
        },
        Scenario {
            name: "Organizations page (sites, services)".to_owned(),
            query: ORGANIZATIONS_QUERY,
            variables: json!({}),
            field: "organizations",
            page_size: ORGANIZATIONS_PAGE_SIZE,
            token: None,
            floor: Some(Arc::new(Floor::organizations())),
            engine_alone: true,
        },
        Scenario {
            name: "Inbox of the first organization (open work)".to_owned(),
            query: INBOX_QUERY,
            variables: json!({}),
            field: "referrals",
            page_size: INBOX_PAGE_SIZE,
            token: Some(operator.clone()),
            floor: None,
            engine_alone: false,
        },
        Scenario {
            name: format!("matchServices EMPLOYMENT + TRAINING in {municipality}, ar, 30"),
            query: MATCH_QUERY,
            variables: json!({ "municipality": municipality }),
            field: "matchServices",
            page_size: 20,
            token: Some(operator),
            floor: None,
            engine_alone: false,
        },
    ];
    let (mut rows, mut engine_rows) = (Vec::new(), Vec::new());
    for scenario in scenarios
        .into_iter()
        .filter(|scenario| config.wants(&scenario.name))
    {
        let scenario = Arc::new(scenario);
        let (_, first) = driver.request(&scenario, None).await?;
        let list = &first["data"][scenario.field];
        let matching = list["totalCount"]
            .as_u64()
            .or_else(|| list["candidateCount"].as_u64())
            .with_context(|| format!("{}: no totalCount in {first}", scenario.name))?;
        ensure!(matching > 0, "{}: nothing matches", scenario.name);
        let mut floor_document = None;
        if let Some(floor) = &scenario.floor {
            let floor_first = floor.page(floor_db, config, None).await?;
            ensure!(
                floor_first.total == matching,
                "{}: the floor counts {} rows, the API {matching}",
                scenario.name,
                floor_first.total
            );
            floor_document = Some(floor_first.body);
        }
        println!(
            "{}: {matching} matching rows ({} pages)",
            scenario.name,
            matching.div_ceil(scenario.page_size as u64)
        );

        driver.run(&scenario, WARM_UP_REQUESTS).await?;
        let before = statements.load(Ordering::SeqCst);
        let cpu_before = Spent::now();
        let phase = driver.run(&scenario, config.requests).await?;
        let spent = Spent::now().since(&cpu_before);
        let cpu = spent.server;
        let run = statements.load(Ordering::SeqCst) - before;

        let floor = match &scenario.floor {
            Some(floor) => {
                floor.run(floor_db, config, WARM_UP_REQUESTS).await?;
                let floor_before = Spent::now();
                let phase = floor.run(floor_db, config, config.requests).await?;
                Some((phase, Spent::now().since(&floor_before)))
            }
            None => None,
        };
        let (floor, floor_spent) = floor.unzip();
        if let (Some(floor), Some(floor_spent), Some(document), true) =
            (&floor, &floor_spent, &floor_document, scenario.engine_alone)
        {
            let runs = (config.requests, floor.latencies.len());
            let spent = (spent.per_request(runs.0), floor_spent.per_request(runs.1));
            let row = engine_alone_row(&scenario, config, floor, spent, document)?;
            println!("{row}");
            engine_rows.push(row);
        }
        let row = phase.row(&scenario.name, config, run, cpu, floor.as_ref());
        println!("{row}");
        rows.push(row);
    }
    Ok((rows, engine_rows))
}

/// CPU time used so far by the server's threads, the benchmark's own (clients) and the
/// local PostgreSQL; or, after [`Spent::since`], during a phase.
#[derive(Clone, Copy)]
struct Spent {
    server: Duration,
    clients: Duration,
    database: Duration,
}

impl Spent {
    /// The CPU time used so far: the server's is the process's less the clients'.
    fn now() -> Self {
        let clients = client_cpu();
        let process = cpu_of("/proc/self/stat").unwrap_or_default();
        Self {
            server: process.saturating_sub(clients),
            clients,
            database: database_cpu(),
        }
    }

    /// The CPU time used since `before`.
    fn since(&self, before: &Self) -> Self {
        Self {
            server: self.server.saturating_sub(before.server),
            clients: self.clients.saturating_sub(before.clients),
            database: self.database.saturating_sub(before.database),
        }
    }

    /// Each part divided by `requests`.
    fn per_request(&self, requests: usize) -> Self {
        let requests = u32::try_from(requests.max(1)).unwrap_or(u32::MAX);
        Self {
            server: self.server / requests,
            clients: self.clients / requests,
            database: self.database / requests,
        }
    }
}

/// The share of the floor's throughput the issue asks of a page.
const TARGET_SHARE: f64 = 0.7;

/// The row of the engine-alone table for a scenario: the CPU time async-graphql alone
/// spends on its first page ([`engine_alone::cost_per_page`]) beside the CPU time per
/// request that [`TARGET_SHARE`] of the floor's throughput leaves to everything (server,
/// database, clients) on this machine's cores.
///
/// Beside them, where each request's CPU time went in the API's run and in the floor's
/// (the clients: HTTP and JSON for the API, the database driver and JSON for the floor;
/// PostgreSQL's processes; the server), and what the clients, the database and the
/// engine alone already take of that budget.
fn engine_alone_row(
    scenario: &Scenario,
    config: &Config,
    floor: &Phase,
    (api, floor_spent): (Spent, Spent),
    document: &Value,
) -> Result<String> {
    let runs = config.requests;
    // On a thread of its own: it drives its own runtime, and this is a task of another.
    let (query, field, page) = (scenario.query, scenario.field, document.clone());
    let engine = std::thread::spawn(move || engine_alone::cost_per_page(query, field, &page, runs))
        .join()
        .map_err(|_| anyhow::anyhow!("the engine-alone thread panicked"))?
        .with_context(|| format!("{}: the engine alone", scenario.name))?;
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let floor_throughput = floor.latencies.len() as f64 / floor.elapsed.as_secs_f64();
    let budget = cores as f64 * 1_000.0 / (TARGET_SHARE * floor_throughput);
    let least = millis(api.clients) + millis(api.database) + millis(engine);
    Ok(format!(
        "| {} | {} | {:.2} + {:.2} + {:.2} | {:.2} + {:.2} | {floor_throughput:.0} | \
         {budget:.2} | {:.3} | {least:.2} ({:.0}%) |",
        scenario.name,
        config.engine(),
        millis(api.clients),
        millis(api.database),
        millis(api.server),
        millis(floor_spent.clients),
        millis(floor_spent.database),
        millis(engine),
        100.0 * least / budget
    ))
}

/// One workload: a query walked page by page.
struct Scenario {
    /// Label in the report.
    name: String,
    /// The GraphQL document, taking `$after`.
    query: &'static str,
    /// Variables besides `after`.
    variables: Value,
    /// The root field of the query (`services`, `organizations`).
    field: &'static str,
    /// Its page size.
    page_size: usize,
    /// The bearer token of the requests (anonymous without).
    token: Option<String>,
    /// The same page as one SQL statement that builds the whole JSON document, where
    /// the issue sets a target against it.
    floor: Option<Arc<Floor>>,
    /// Whether to measure async-graphql alone on the floor's first page
    /// ([`engine_alone`]).
    engine_alone: bool,
}

/// Sends requests from concurrent client tasks.
struct Driver {
    client: reqwest::Client,
    endpoint: Arc<str>,
    concurrency: usize,
}

impl Driver {
    /// POSTs a query; returns the latency (until the whole body has arrived) and the
    /// body, failing on any HTTP error or GraphQL error.
    async fn send(&self, query: &str, variables: Value) -> Result<(Duration, Value)> {
        send(&self.client, &self.endpoint, None, query, variables).await
    }

    /// Requests one page of a scenario.
    async fn request(&self, scenario: &Scenario, after: Option<&str>) -> Result<(Duration, Value)> {
        let variables = scenario.variables_after(after);
        let token = scenario.token.as_deref();
        send(
            &self.client,
            &self.endpoint,
            token,
            scenario.query,
            variables,
        )
        .await
        .with_context(|| scenario.name.clone())
    }

    /// Sends `requests` requests of a scenario from the client tasks, each walking the
    /// pages from the first to the last and starting over.
    async fn run(&self, scenario: &Arc<Scenario>, requests: usize) -> Result<Phase> {
        let issued = Arc::new(AtomicUsize::new(0));
        let started = Instant::now();
        let tasks: Vec<_> = (0..self.concurrency)
            .map(|_| {
                tokio::spawn(walk_pages(
                    self.client.clone(),
                    Arc::clone(&self.endpoint),
                    Arc::clone(scenario),
                    Arc::clone(&issued),
                    requests,
                ))
            })
            .collect();
        let mut latencies = Vec::with_capacity(requests);
        let mut failure = None;
        for task in tasks {
            match task.await.context("a client task panicked") {
                Ok(Ok(measured)) => latencies.extend(measured),
                Ok(Err(error)) | Err(error) => {
                    failure.get_or_insert(error);
                }
            }
        }
        let elapsed = started.elapsed();
        if let Some(error) = failure {
            return Err(error);
        }
        Ok(Phase { latencies, elapsed })
    }
}

impl Scenario {
    /// The variables of a request for the page after `after`.
    fn variables_after(&self, after: Option<&str>) -> Value {
        let mut variables = self.variables.clone();
        if let Value::Object(map) = &mut variables {
            map.insert("after".to_owned(), after.map_or(Value::Null, Value::from));
        }
        variables
    }
}

/// One client task: takes request numbers until `total` are issued, following
/// `endCursor` and starting over after the last page.
async fn walk_pages(
    client: reqwest::Client,
    endpoint: Arc<str>,
    scenario: Arc<Scenario>,
    issued: Arc<AtomicUsize>,
    total: usize,
) -> Result<Vec<Duration>> {
    let mut latencies = Vec::new();
    let mut after: Option<String> = None;
    while issued.fetch_add(1, Ordering::Relaxed) < total {
        let variables = scenario.variables_after(after.as_deref());
        let token = scenario.token.as_deref();
        let sent = send(&client, &endpoint, token, scenario.query, variables)
            .await
            .with_context(|| scenario.name.clone());
        let (latency, body) = match sent {
            Ok(sent) => sent,
            Err(error) => {
                // Stop the other tasks early.
                issued.store(total, Ordering::Relaxed);
                return Err(error);
            }
        };
        latencies.push(latency);
        after = next_cursor(&body, scenario.field, scenario.page_size);
    }
    Ok(latencies)
}

/// POSTs a GraphQL request; fails on a non-200 status, a body that is not JSON, or any
/// `errors` in it.
async fn send(
    client: &reqwest::Client,
    endpoint: &str,
    token: Option<&str>,
    query: &str,
    variables: Value,
) -> Result<(Duration, Value)> {
    let started = Instant::now();
    let mut request = client.post(endpoint);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .context("request failed")?;
    let status = response.status();
    let bytes = response.bytes().await.context("cannot read the response")?;
    let latency = started.elapsed();
    let body: Value = serde_json::from_slice(&bytes).with_context(|| {
        format!(
            "HTTP {status}, body is not JSON: {}",
            String::from_utf8_lossy(&bytes)
        )
    })?;
    if status != reqwest::StatusCode::OK || body.get("errors").is_some() {
        bail!("HTTP {status}, response with errors: {body}");
    }
    Ok((latency, body))
}

/// The cursor of the next page, or `None` after the last page (start over).
fn next_cursor(body: &Value, field: &str, page_size: usize) -> Option<String> {
    let list = &body["data"][field];
    let full_page = list["nodes"]
        .as_array()
        .is_some_and(|nodes| nodes.len() == page_size);
    if !full_page {
        return None;
    }
    list["pageInfo"]["endCursor"].as_str().map(str::to_owned)
}

/// The measurements of one phase.
struct Phase {
    /// Latency of each request.
    latencies: Vec<Duration>,
    /// Wall-clock time of the whole phase.
    elapsed: Duration,
}

impl Phase {
    /// The Markdown table row of the phase.
    fn row(
        mut self,
        scenario: &str,
        config: &Config,
        statements: usize,
        cpu: Duration,
        floor: Option<&Phase>,
    ) -> String {
        self.latencies.sort_unstable();
        let requests = self.latencies.len();
        let throughput = requests as f64 / self.elapsed.as_secs_f64();
        let per_request = statements as f64 / requests.max(1) as f64;
        let cpu_per_request = millis(cpu) / requests.max(1) as f64;
        let (floor_throughput, share) =
            floor.map_or(("–".to_owned(), "–".to_owned()), |floor| {
                let floor_throughput = floor.latencies.len() as f64 / floor.elapsed.as_secs_f64();
                (
                    format!("{floor_throughput:.0}"),
                    format!("{:.2}", throughput / floor_throughput),
                )
            });
        format!(
            "| {scenario} | {} | {requests} | {} | {throughput:.0} | {:.1} | {:.1} | {:.1} | \
             {:.1} | {per_request:.2} | {cpu_per_request:.2} | {floor_throughput} | {share} |",
            config.engine(),
            config.concurrency,
            millis(percentile(&self.latencies, 50.0)),
            millis(percentile(&self.latencies, 95.0)),
            millis(percentile(&self.latencies, 99.0)),
            millis(self.latencies.last().copied().unwrap_or_default()),
        )
    }
}

/// Nearest-rank percentile of sorted latencies.
fn percentile(sorted: &[Duration], percent: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (percent / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// A duration in milliseconds.
fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1_000.0
}

// ---------------------------------------------------------------------------------
// The raw-SQL floor
// ---------------------------------------------------------------------------------

/// The same page as the API's, as one SQL statement that builds the whole JSON document
/// (count, cursor, nodes and their relations) in the database: what a hand-tuned
/// endpoint without GraphQL could at best do. Run with the same clients, pool size and
/// page walk as the API, on the same data, in the same run.
struct Floor {
    /// The statement for PostgreSQL: `$1`/`$2` the cursor (search name, id) or nulls,
    /// `$3` the territory where the condition names one.
    postgres: String,
    /// The statement for SQLite, with `?1`, `?2`, `?3`.
    sqlite: String,
    /// The territory the condition names, if any.
    territory: Option<Uuid>,
    /// Root field of the document.
    field: &'static str,
    /// Page size.
    page_size: usize,
}

/// One page read by the floor.
struct FloorPage {
    /// The document.
    body: Value,
    /// `totalCount` of the document.
    total: u64,
    /// The cursor of the next page, `None` after the last one.
    next: Option<(String, Uuid)>,
}

/// The statement's skeleton: a keyset page of `table` under `condition`, the count, the
/// end cursor and the nodes built by `node` (an expression over the page row `p`).
fn floor_sql(
    postgres: bool,
    field: &str,
    table: &str,
    condition: &str,
    node: &str,
    page_size: usize,
) -> String {
    if postgres {
        let condition = condition.replace("{TERRITORY}", "$3::uuid");
        format!(
            "WITH page AS (SELECT * FROM {table} x WHERE {condition} AND ($1::text IS NULL \
             OR (x.search_name, x.id) > ($1::text, $2::uuid)) \
             ORDER BY x.search_name, x.id LIMIT {page_size}), \
             last AS (SELECT search_name, id FROM page ORDER BY search_name DESC, id DESC LIMIT 1) \
             SELECT json_build_object('data', json_build_object('{field}', json_build_object( \
             'totalCount', (SELECT count(*) FROM {table} x WHERE {condition}), \
             'pageInfo', json_build_object('endCursor', \
             (SELECT json_build_array(search_name, id)::text FROM last)), \
             'nodes', COALESCE((SELECT json_agg({node} ORDER BY p.search_name, p.id) \
             FROM page p), '[]'::json))))::text AS doc, \
             (SELECT search_name FROM last) AS last_name, (SELECT id FROM last) AS last_id"
        )
    } else {
        let condition = condition.replace("{TERRITORY}", "?3");
        format!(
            "WITH page AS (SELECT * FROM {table} x WHERE {condition} AND (?1 IS NULL \
             OR (x.search_name, x.id) > (?1, ?2)) \
             ORDER BY x.search_name, x.id LIMIT {page_size}), \
             last AS (SELECT search_name, id FROM page ORDER BY search_name DESC, id DESC LIMIT 1) \
             SELECT json_object('data', json_object('{field}', json_object( \
             'totalCount', (SELECT count(*) FROM {table} x WHERE {condition}), \
             'pageInfo', json_object('endCursor', \
             (SELECT json_array(search_name, hex(id)) FROM last)), \
             'nodes', json((SELECT json_group_array(json(node)) FROM \
             (SELECT {node} AS node FROM page p ORDER BY p.search_name, p.id)))))) AS doc, \
             (SELECT search_name FROM last) AS last_name, (SELECT id FROM last) AS last_id"
        )
    }
}

/// A JSON array of `select` (rows of one JSON object each) in the engine's dialect.
fn floor_array(postgres: bool, object: &str, from: &str, order: &str) -> String {
    if postgres {
        format!("COALESCE((SELECT json_agg({object} ORDER BY {order}) {from}), '[]'::json)")
    } else {
        format!(
            "json((SELECT json_group_array(json(o)) FROM (SELECT {object} AS o {from} ORDER BY {order})))"
        )
    }
}

impl Floor {
    /// A page of services under `condition` (over the service row `x`), with the nested
    /// fields of [`CATALOGUE_QUERY`].
    fn services(condition: &str, territory: Option<Uuid>) -> Self {
        let sql = |postgres: bool| {
            let object = if postgres {
                "json_build_object"
            } else {
                "json_object"
            };
            let terms = |taxonomy: &str, label: bool| {
                let label = if label { ", 'label', t.label_it" } else { "" };
                floor_array(
                    postgres,
                    &format!("{object}('code', t.code{label})"),
                    &format!(
                        "FROM service_term st JOIN term t ON t.id = st.term_id \
                         WHERE st.service_id = p.id AND t.taxonomy = '{taxonomy}'"
                    ),
                    "t.code",
                )
            };
            let provider = if postgres {
                "(SELECT json_build_object('name', o.name, 'kind', o.kind) \
                 FROM organization o WHERE o.id = p.organization_id)"
            } else {
                "json((SELECT json_object('name', o.name, 'kind', o.kind) \
                 FROM organization o WHERE o.id = p.organization_id))"
            };
            let node = format!(
                "{object}('name', p.name, 'status', p.status, 'provider', {provider}, \
                 'serviceTypes', {}, 'languages', {})",
                terms("SERVICE_TYPE", true),
                terms("LANGUAGE", false)
            );
            floor_sql(postgres, "services", "service", condition, &node, PAGE_SIZE)
        };
        Self {
            postgres: sql(true),
            sqlite: sql(false),
            territory,
            field: "services",
            page_size: PAGE_SIZE,
        }
    }

    /// A page of organizations with the nested fields of [`ORGANIZATIONS_QUERY`].
    fn organizations() -> Self {
        let sql = |postgres: bool| {
            let object = if postgres {
                "json_build_object"
            } else {
                "json_object"
            };
            let locations = floor_array(
                postgres,
                &format!("{object}('name', l.name, 'address', l.address)"),
                "FROM location l WHERE l.organization_id = p.id",
                "l.name, l.id",
            );
            let services = floor_array(
                postgres,
                &format!("{object}('name', s.name, 'status', s.status)"),
                "FROM service s WHERE s.organization_id = p.id",
                "s.name, s.id",
            );
            let node = format!(
                "{object}('name', p.name, 'kind', p.kind, 'locations', {locations}, \
                 'services', {services})"
            );
            floor_sql(
                postgres,
                "organizations",
                "organization",
                "1 = 1",
                &node,
                ORGANIZATIONS_PAGE_SIZE,
            )
        };
        Self {
            postgres: sql(true),
            sqlite: sql(false),
            territory: None,
            field: "organizations",
            page_size: ORGANIZATIONS_PAGE_SIZE,
        }
    }

    /// Reads the page after `after` and parses its document, as a client would.
    async fn page(
        &self,
        db: &DatabaseConnection,
        config: &Config,
        after: Option<&(String, Uuid)>,
    ) -> Result<FloorPage> {
        let (backend, sql) = if config.postgres_url.is_some() {
            (DatabaseBackend::Postgres, &self.postgres)
        } else {
            (DatabaseBackend::Sqlite, &self.sqlite)
        };
        let mut values: Vec<sea_orm::Value> = vec![
            after.map(|(name, _)| name.clone()).into(),
            after.map(|(_, id)| *id).into(),
        ];
        if let Some(territory) = self.territory {
            values.push(territory.into());
        }
        let row = db
            .query_one_raw(Statement::from_sql_and_values(backend, sql, values))
            .await
            .with_context(|| format!("floor of {}", self.field))?
            .context("the floor returned no row")?;
        let doc: String = row.try_get("", "doc")?;
        let body: Value = serde_json::from_str(&doc).context("the floor's document")?;
        let list = &body["data"][self.field];
        let total = list["totalCount"]
            .as_u64()
            .with_context(|| format!("no totalCount in the floor's {doc}"))?;
        let full = list["nodes"]
            .as_array()
            .is_some_and(|nodes| nodes.len() == self.page_size);
        let last_name: Option<String> = row.try_get("", "last_name")?;
        let last_id: Option<Uuid> = row.try_get("", "last_id")?;
        let next = match (full, last_name, last_id) {
            (true, Some(name), Some(id)) => Some((name, id)),
            _ => None,
        };
        Ok(FloorPage { body, total, next })
    }

    /// Runs `requests` pages from the configured number of tasks, each walking the pages
    /// from the first to the last and starting over.
    async fn run(
        self: &Arc<Self>,
        db: &DatabaseConnection,
        config: &Config,
        requests: usize,
    ) -> Result<Phase> {
        let issued = Arc::new(AtomicUsize::new(0));
        let config = Arc::new(config.clone());
        let started = Instant::now();
        let tasks: Vec<_> = (0..config.concurrency)
            .map(|_| {
                let (floor, db, issued, config) = (
                    Arc::clone(self),
                    db.clone(),
                    Arc::clone(&issued),
                    Arc::clone(&config),
                );
                tokio::spawn(async move {
                    let mut latencies = Vec::new();
                    let mut after = None;
                    while issued.fetch_add(1, Ordering::Relaxed) < requests {
                        let sent = Instant::now();
                        let page = floor.page(&db, &config, after.as_ref()).await;
                        latencies.push(sent.elapsed());
                        match page {
                            Ok(page) => after = page.next,
                            Err(error) => {
                                issued.store(requests, Ordering::Relaxed);
                                return Err(error);
                            }
                        }
                    }
                    Ok(latencies)
                })
            })
            .collect();
        let mut latencies = Vec::with_capacity(requests);
        for task in tasks {
            latencies.extend(task.await.context("a floor task panicked")??);
        }
        Ok(Phase {
            latencies,
            elapsed: started.elapsed(),
        })
    }
}

/// CPU time the benchmark's own threads (the main thread and the clients' runtime,
/// named [`CLIENT_THREAD`]) have used so far; the rest of the process is the
/// application's ([`Spent::now`]). Zero where `/proc` is absent.
fn client_cpu() -> Duration {
    let pid = std::process::id().to_string();
    let mut clients = Duration::ZERO;
    if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
        for task in tasks.flatten() {
            let path = task.path();
            let name = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
            if task.file_name() == pid.as_str() || name.trim_end() == CLIENT_THREAD {
                clients += cpu_of(path.join("stat")).unwrap_or_default();
            }
        }
    }
    clients
}

/// CPU time PostgreSQL's processes on this machine have used so far (theirs and that
/// of the children they reaped): zero without a local PostgreSQL, as on SQLite, whose
/// engine runs inside the server.
fn database_cpu() -> Duration {
    let Ok(processes) = std::fs::read_dir("/proc") else {
        return Duration::ZERO;
    };
    processes
        .flatten()
        .filter(|process| {
            std::fs::read_to_string(process.path().join("comm"))
                .is_ok_and(|name| name.trim_end() == "postgres")
        })
        .filter_map(|process| ticks_of(process.path().join("stat"), &[11, 12, 13, 14]))
        .sum()
}

/// User and system CPU time of a `/proc` `stat` file (a process's or a thread's).
fn cpu_of(path: impl AsRef<std::path::Path>) -> Option<Duration> {
    ticks_of(path, &[11, 12])
}

/// The sum of the clock-tick fields `fields` (0 = the field after the name) of a `/proc`
/// `stat` file: 11 and 12 are the user and system time, 13 and 14 those of reaped
/// children, in ticks of 1/100 s (USER_HZ).
fn ticks_of(path: impl AsRef<std::path::Path>, fields: &[usize]) -> Option<Duration> {
    let stat = std::fs::read_to_string(path).ok()?;
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let values: Vec<&str> = after_name.split_whitespace().collect();
    let ticks: u64 = fields
        .iter()
        .filter_map(|&i| values.get(i).and_then(|f| f.parse::<u64>().ok()))
        .sum();
    Some(Duration::from_millis(ticks * 10))
}

/// The row id behind a global ID (`base64url("Kind:uuid")`).
fn row_id(global: &str) -> Result<Uuid> {
    use base64::Engine as _;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(global)
        .context("a global ID is base64url")?;
    let text = String::from_utf8(raw).context("a global ID is text")?;
    let (_, id) = text.split_once(':').context("a global ID is Kind:uuid")?;
    Ok(Uuid::parse_str(id)?)
}

// ---------------------------------------------------------------------------------
// Seeding
// ---------------------------------------------------------------------------------

/// A small deterministic generator (xorshift64*): the same network on every run.
struct Rng(u64);

impl Rng {
    /// The next 64 random bits.
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n` (`n` > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// A number in `low..=high`.
    fn between(&mut self, low: usize, high: usize) -> usize {
        low + self.below(high - low + 1)
    }

    /// A float in `low..high`.
    fn float(&mut self, low: f64, high: f64) -> f64 {
        let unit = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        low + unit * (high - low)
    }

    /// `count` distinct indices in `0..len`.
    fn distinct(&mut self, len: usize, count: usize) -> Vec<usize> {
        let count = count.min(len);
        let mut picked = Vec::with_capacity(count);
        while picked.len() < count {
            let index = self.below(len);
            if !picked.contains(&index) {
                picked.push(index);
            }
        }
        picked
    }
}

/// Rows inserted by [`seed`].
struct Seeded {
    organizations: usize,
    locations: usize,
    services: usize,
    service_terms: usize,
    service_areas: usize,
    service_sites: usize,
    people: usize,
    referrals: usize,
    /// The first organization, whose inbox is measured.
    hub: Uuid,
}

/// Seeds the network in one transaction.
async fn seed(db: &DatabaseConnection, config: &Config) -> Result<Seeded> {
    let organization_count = ORGANIZATIONS * config.scale;
    let municipalities: Vec<(Uuid, String)> = territory::Entity::find()
        .filter(territory::Column::Kind.eq(TerritoryKind::Municipality))
        .all(db)
        .await?
        .into_iter()
        .map(|t| (t.id, t.name))
        .collect();
    ensure!(
        !municipalities.is_empty(),
        "the migrations loaded no municipality"
    );
    let terms = term::Entity::find().all(db).await?;
    let of = |taxonomy: Taxonomy| -> Vec<Uuid> {
        terms
            .iter()
            .filter(|t| t.taxonomy == taxonomy)
            .map(|t| t.id)
            .collect()
    };
    let service_types = of(Taxonomy::ServiceType);
    let target_groups = of(Taxonomy::TargetGroup);
    let languages: Vec<Uuid> = terms
        .iter()
        .filter(|t| t.taxonomy == Taxonomy::Language && LANGUAGE_POOL.contains(&t.code.as_str()))
        .map(|t| t.id)
        .collect();
    ensure!(
        service_types.len() >= 2 && !target_groups.is_empty() && languages.len() >= 3,
        "the migrations loaded too few taxonomy terms"
    );

    let now = chrono::Utc::now();
    let mut rng = Rng(SEED);
    let mut organizations = Vec::with_capacity(organization_count);
    let mut locations = Vec::with_capacity(organization_count);
    let mut services = Vec::with_capacity(organization_count * SERVICES_PER_ORGANIZATION);
    // (service, its organization), for the referrals.
    let mut receivers = Vec::with_capacity(organization_count * SERVICES_PER_ORGANIZATION);
    let mut service_terms = Vec::new();
    let mut service_areas = Vec::new();
    let mut service_sites = Vec::with_capacity(organization_count * SERVICES_PER_ORGANIZATION);
    for org in 0..organization_count {
        let organization_id = Uuid::now_v7();
        let location_id = Uuid::now_v7();
        let (municipality_id, municipality) = &municipalities[rng.below(municipalities.len())];
        let (kind, sector, prefix) = ORGANIZATION_KINDS[org % ORGANIZATION_KINDS.len()];
        let org_name = format!("{prefix} {municipality} n. {}", org + 1);
        organizations.push(organization::ActiveModel {
            row_version: Set(1),
            id: Set(organization_id),
            search_name: Set(fold(&org_name)),
            name: Set(org_name.clone()),
            kind: Set(kind),
            sector: Set(sector),
            description: Set(Some(format!("Ente della rete con sede a {municipality}."))),
            codice_fiscale: Set(None),
            partita_iva: Set(None),
            ipa_code: Set(None),
            runts_number: Set(None),
            website: Set(Some(format!("https://ente{}.example.org", org + 1))),
            email: Set(Some(format!("info@ente{}.example.org", org + 1))),
            phone: Set(Some(format!("+39 055 {:07}", rng.below(10_000_000)))),
            dissolved_on: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        });
        locations.push(location::ActiveModel {
            row_version: Set(1),
            id: Set(location_id),
            organization_id: Set(organization_id),
            name: Set(format!("Sede di {municipality}")),
            address: Set(format!("Via Roma {}", rng.between(1, 200))),
            postal_code: Set(Some(format!("5{:04}", rng.below(10_000)))),
            municipality_id: Set(*municipality_id),
            latitude: Set(Some(rng.float(42.4, 44.4))),
            longitude: Set(Some(rng.float(9.7, 12.3))),
            created_at: Set(now),
            updated_at: Set(now),
        });
        for number in 0..SERVICES_PER_ORGANIZATION {
            let service_id = Uuid::now_v7();
            receivers.push((service_id, organization_id));
            let sequence = org * SERVICES_PER_ORGANIZATION + number + 1;
            let (template, about) = SERVICE_TEMPLATES[rng.below(SERVICE_TEMPLATES.len())];
            let name = format!("{template} {sequence:05}");
            let description = format!("{about} Offerto da {org_name}.");
            let status = match rng.below(100) {
                0..85 => ServiceStatus::Active,
                85..92 => ServiceStatus::TemporarilyClosed,
                92..97 => ServiceStatus::Inactive,
                _ => ServiceStatus::Defunct,
            };
            let delivery_mode = [
                DeliveryMode::InPerson,
                DeliveryMode::Remote,
                DeliveryMode::Hybrid,
            ][rng.below(3)];
            services.push(service::ActiveModel {
                row_version: Set(1),
                id: Set(service_id),
                organization_id: Set(organization_id),
                search_name: Set(fold(&name)),
                search_text: Set(fold(&format!("{name} {description}"))),
                name: Set(name),
                alternate_name: Set(None),
                description: Set(description),
                status: Set(status),
                eligibility_description: Set(Some("Persone residenti in Toscana.".to_owned())),
                minimum_age: Set(Some(if rng.below(2) == 0 { 16 } else { 18 })),
                maximum_age: Set(None),
                fees_description: Set(Some("Gratuito.".to_owned())),
                application_process: Set(Some("Su appuntamento.".to_owned())),
                url: Set(Some(format!(
                    "https://ente{}.example.org/{sequence}",
                    org + 1
                ))),
                email: Set(None),
                delivery_mode: Set(delivery_mode),
                funding: Set(Some("FSE+".to_owned())),
                open_places: Set(Some(rng.below(20) as i32)),
                waitlist_length: Set(Some(rng.below(30) as i32)),
                typical_wait_days: Set(Some(rng.below(60) as i32)),
                capacity_updated_at: Set(Some(now)),
                created_at: Set(now),
                updated_at: Set(now),
            });
            let type_count = rng.between(1, 2);
            let picked_types = rng.distinct(service_types.len(), type_count);
            let language_count = rng.between(1, 3);
            let picked_languages = rng.distinct(languages.len(), language_count);
            let target_group = target_groups[rng.below(target_groups.len())];
            let term_ids = picked_types
                .into_iter()
                .map(|i| service_types[i])
                .chain([target_group])
                .chain(picked_languages.into_iter().map(|i| languages[i]));
            for term_id in term_ids {
                service_terms.push(service_term::ActiveModel {
                    service_id: Set(service_id),
                    term_id: Set(term_id),
                    created_at: Set(now),
                });
            }
            let area_size = rng.between(5, 20);
            for index in rng.distinct(municipalities.len(), area_size) {
                service_areas.push(service_area::ActiveModel {
                    service_id: Set(service_id),
                    municipality_id: Set(municipalities[index].0),
                    created_at: Set(now),
                });
            }
            service_sites.push(service_at_location::ActiveModel {
                service_id: Set(service_id),
                location_id: Set(location_id),
                id: Set(Some(melt_api::hsds::domain::link_id(
                    service_id,
                    location_id,
                ))),
                created_at: Set(now),
            });
        }
    }

    let needs: Vec<String> = terms
        .iter()
        .filter(|t| t.taxonomy == Taxonomy::Need)
        .map(|t| t.code.clone())
        .collect();
    let (people, referrals) = seed_referrals(&mut rng, config.referrals, &receivers, &needs);
    let seeded = Seeded {
        people: people.len(),
        referrals: referrals.len(),
        hub: receivers[0].1,
        organizations: organizations.len(),
        locations: locations.len(),
        services: services.len(),
        service_terms: service_terms.len(),
        service_areas: service_areas.len(),
        service_sites: service_sites.len(),
    };
    let txn = db.begin().await?;
    insert_chunked(&txn, organizations).await?;
    insert_chunked(&txn, locations).await?;
    insert_chunked(&txn, services).await?;
    insert_chunked(&txn, service_terms).await?;
    insert_chunked(&txn, service_areas).await?;
    insert_chunked(&txn, service_sites).await?;
    insert_chunked(&txn, people).await?;
    insert_chunked(&txn, referrals).await?;
    txn.commit().await?;
    // What the periodic jobs would have done by then: the kept counts' rows (one per
    // service and per sent referral, written by the triggers) folded into one per count.
    melt_api::tally::compact(db).await?;
    // What autovacuum would have done by the time a real network had this much data:
    // statistics for the planner (without them PostgreSQL plans for a handful of rows
    // and sorts the whole catalogue) and, on PostgreSQL, the visibility map that lets
    // a count read an index alone.
    let maintenance = match db.get_database_backend() {
        DatabaseBackend::Postgres => "VACUUM ANALYZE",
        _ => "ANALYZE",
    };
    db.execute_unprepared(maintenance).await?;
    Ok(seeded)
}

/// `count` referrals between the seeded organizations, and their people (one for every
/// two referrals, registered by the sender). A share of them go to the first
/// organization's services; none is a draft or waits unread (SENT), so that reading
/// an inbox changes nothing. About half of the ended ones are past their receiver's
/// reading window.
fn seed_referrals(
    rng: &mut Rng,
    count: usize,
    receivers: &[(Uuid, Uuid)],
    needs: &[String],
) -> (Vec<person::ActiveModel>, Vec<referral::ActiveModel>) {
    let now = chrono::Utc::now();
    let hub_services = SERVICES_PER_ORGANIZATION.min(receivers.len());
    let mut people = Vec::with_capacity(count / 2 + 1);
    let mut referrals = Vec::with_capacity(count);
    let mut person_id = Uuid::nil();
    for number in 0..count {
        let (service_id, receiver) = if rng.below(1_000) < HUB_SHARE_PER_MILLE {
            receivers[rng.below(hub_services)]
        } else {
            receivers[rng.below(receivers.len())]
        };
        let mut sender = receivers[rng.below(receivers.len())].1;
        if sender == receiver {
            sender = receivers[(rng.below(receivers.len()) + hub_services) % receivers.len()].1;
        }
        if number % 2 == 0 {
            person_id = Uuid::now_v7();
            people.push(person::ActiveModel {
                id: Set(person_id),
                codice_fiscale_enc: Set(None),
                codice_fiscale_hash: Set(None),
                given_name_enc: Set(None),
                family_name_enc: Set(None),
                contacts_enc: Set(None),
                birth_date: Set(None),
                gender: Set(None),
                citizenship: Set(None),
                residence_municipality_id: Set(None),
                languages: Set("it".to_owned()),
                contact_channel: Set(ContactChannel::Email),
                registered_by_organization_id: Set(sender),
                erased_at: Set(None),
                row_version: Set(1),
                created_at: Set(now),
                updated_at: Set(now),
            });
        }
        let status = match rng.below(100) {
            0..25 => ReferralStatus::Received,
            25..45 => ReferralStatus::Accepted,
            45..70 => ReferralStatus::InProgress,
            70..75 => ReferralStatus::OnHold,
            75..90 => ReferralStatus::Completed,
            90..95 => ReferralStatus::Rejected,
            95..98 => ReferralStatus::Failed,
            _ => ReferralStatus::Cancelled,
        };
        let ended = matches!(
            status,
            ReferralStatus::Completed
                | ReferralStatus::Rejected
                | ReferralStatus::Failed
                | ReferralStatus::Cancelled
        );
        let days = |n: usize| chrono::Duration::days(n as i64);
        let sent_at = now - days(rng.between(1, 365));
        let receiver_access_until = ended.then(|| {
            if rng.below(2) == 0 {
                now - days(rng.between(1, 30))
            } else {
                now + days(rng.between(1, 180))
            }
        });
        let priority = match rng.below(100) {
            0..5 => Priority::Urgent,
            5..20 => Priority::High,
            20..85 => Priority::Normal,
            _ => Priority::Low,
        };
        let due_at = (rng.below(10) < 7).then(|| now + days(rng.between(1, 120)));
        let need = if needs.is_empty() {
            String::new()
        } else {
            needs[rng.below(needs.len())].clone()
        };
        referrals.push(referral::ActiveModel {
            id: Set(Uuid::now_v7()),
            person_id: Set(person_id),
            sender_organization_id: Set(sender),
            sender_operator: Set("Operatore di prova".to_owned()),
            receiver_service_id: Set(service_id),
            receiver_organization_id: Set(receiver),
            protocol_id: Set(None),
            needs: Set(need),
            reason: Set(String::new()),
            priority: Set(priority),
            due_at: Set(due_at),
            consent_id: Set(None),
            channel: Set(ReferralChannel::Operator),
            rerouted_from_id: Set(None),
            routing_rule_id: Set(None),
            status: Set(status),
            outcome: Set(None),
            sent_at: Set(Some(sent_at)),
            receiver_access_until: Set(receiver_access_until),
            waitlisted: Set(false),
            holds_place: Set(false),
            idempotency_key: Set(None),
            request_hash: Set(None),
            row_version: Set(1),
            created_at: Set(sent_at),
            updated_at: Set(now),
        });
    }
    (people, referrals)
}

/// Inserts rows with `insert_many`, as many per statement as the bound-value budget
/// allows.
async fn insert_chunked<A, C>(db: &C, rows: Vec<A>) -> Result<()>
where
    A: ActiveModelTrait + Send,
    C: ConnectionTrait,
{
    let columns = <<A::Entity as EntityTrait>::Column as Iterable>::iter().count();
    let per_statement = (MAX_BIND_VALUES / columns.max(1)).max(1);
    let mut rows = rows.into_iter();
    loop {
        let chunk: Vec<A> = rows.by_ref().take(per_statement).collect();
        if chunk.is_empty() {
            return Ok(());
        }
        <A::Entity as EntityTrait>::insert_many(chunk)
            .exec_without_returning(db)
            .await?;
    }
}
