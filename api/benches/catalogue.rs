//! Catalogue benchmark: the real application, in-process, over HTTP, against a large
//! seeded network.
//!
//! It creates a database of its own (a temporary SQLite file, or a fresh
//! `melt_bench_<uuid>` database on the PostgreSQL server of `DATABASE_URL`, dropped at
//! the end), migrates it, seeds 1,000 organizations and 10,000 services with
//! `insert_many`, starts the application on port 0 and drives it with concurrent
//! clients. Each scenario prints one Markdown table row for the README.
//!
//! ```text
//! cargo bench -p melt-api --bench catalogue
//! DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres cargo bench -p melt-api --bench catalogue
//! ```
//!
//! Environment: `BENCH_CONCURRENCY` (client tasks, default 8), `BENCH_REQUESTS`
//! (measured requests per scenario, default 2,000).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed step should stop it

use anyhow::{Context as _, Result, bail, ensure};
use entity::enums::{
    DeliveryMode, OrganizationKind, Sector, ServiceStatus, Taxonomy, TerritoryKind,
};
use entity::{
    location, organization, service, service_area, service_at_location, service_term, term,
    territory,
};
use melt_api::settings::Settings;
use melt_api::startup::Application;
use melt_text::fold;
use sea_orm::ActiveValue::Set;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, Database, DatabaseConnection, EntityTrait,
    Iterable, QueryFilter, TransactionTrait,
};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Organizations seeded.
const ORGANIZATIONS: usize = 1_000;
/// Services seeded per organization.
const SERVICES_PER_ORGANIZATION: usize = 10;
/// Page size of the catalogue queries.
const PAGE_SIZE: usize = 50;
/// Requests sent before each measured phase.
const WARM_UP_REQUESTS: usize = 100;
/// Default number of concurrent client tasks.
const DEFAULT_CONCURRENCY: usize = 8;
/// Default number of measured requests per scenario.
const DEFAULT_REQUESTS: usize = 2_000;
/// Connections in the application's pool.
const POOL_SIZE: u32 = 16;
/// Bound values per `INSERT`: below SQLite's default limit (32,766) and PostgreSQL's
/// (65,535).
const MAX_BIND_VALUES: usize = 30_000;
/// Fixed seed of the generator: every run seeds the same network.
const SEED: u64 = 0x4d65_4c54_2024_0001;

/// The plain catalogue: active services, page after page.
const CATALOGUE_QUERY: &str = "query($after: String) { services(first: 50, after: $after, \
     filter: {statuses: [ACTIVE]}) { totalCount pageInfo { endCursor } nodes { name status \
     provider { name kind } serviceTypes { code label } languages { code } } } }";

/// A narrow search: a province, a language and a word.
const FILTERED_QUERY: &str = "query($after: String, $territory: ID!) { services(first: 50, \
     after: $after, filter: {territory: $territory, languages: [\"ar\"], search: \"servizio\"}) \
     { totalCount pageInfo { endCursor } nodes { name status provider { name kind } \
     serviceTypes { code label } languages { code } } } }";

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
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot build the tokio runtime")?;
    runtime.block_on(async {
        let database = BenchDatabase::create(&config).await?;
        let outcome = bench(&config, &database).await;
        let removed = database.remove().await;
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
struct Config {
    /// The PostgreSQL server URL, or `None` for SQLite.
    postgres_url: Option<String>,
    /// Concurrent client tasks.
    concurrency: usize,
    /// Measured requests per scenario.
    requests: usize,
}

impl Config {
    /// Reads `DATABASE_URL`, `BENCH_CONCURRENCY` and `BENCH_REQUESTS`.
    fn from_env() -> Result<Self> {
        let postgres_url = std::env::var("DATABASE_URL")
            .ok()
            .filter(|url| url.starts_with("postgres"));
        Ok(Self {
            postgres_url,
            concurrency: env_count("BENCH_CONCURRENCY", DEFAULT_CONCURRENCY)?,
            requests: env_count("BENCH_REQUESTS", DEFAULT_REQUESTS)?,
        })
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

/// Migrates, seeds, starts the application and runs both scenarios.
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
    let seeded = seed(&db).await.context("cannot seed the network")?;
    println!(
        "Seeding: {:.2} s ({} organizations, {} locations, {} services, {} service terms, \
         {} service-area rows, {} service sites)",
        started.elapsed().as_secs_f64(),
        seeded.organizations,
        seeded.locations,
        seeded.services,
        seeded.service_terms,
        seeded.service_areas,
        seeded.service_sites
    );
    db.close().await.context("cannot close the seeding pool")?;

    let statements = Arc::new(AtomicUsize::new(0));
    let mut app_db = melt_api::db::connect(&settings)
        .await
        .context("cannot connect the application pool")?;
    let counter = Arc::clone(&statements);
    app_db.set_metric_callback(move |_| {
        counter.fetch_add(1, Ordering::Relaxed);
    });
    let app = Application::build_with_db(settings, app_db)
        .await
        .context("cannot build the app")?;
    let endpoint: Arc<str> = format!("http://127.0.0.1:{}/graphql", app.port()).into();
    let server = tokio::spawn(app.run());

    let outcome = run_scenarios(config, endpoint, &statements).await;
    server.abort();
    let rows = outcome?;

    println!();
    println!(
        "| Scenario | Engine | Requests | Concurrency | Throughput (req/s) | p50 (ms) | \
         p95 (ms) | p99 (ms) | max (ms) | SQL statements/request |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for row in rows {
        println!("{row}");
    }
    Ok(())
}

/// Runs both scenarios against the running application, returning their table rows.
async fn run_scenarios(
    config: &Config,
    endpoint: Arc<str>,
    statements: &AtomicUsize,
) -> Result<Vec<String>> {
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

    let scenarios = [
        Scenario {
            name: "Catalogue page (active)".to_owned(),
            query: CATALOGUE_QUERY,
            variables: json!({}),
        },
        Scenario {
            name: format!("Province {province_name} + ar + \"servizio\""),
            query: FILTERED_QUERY,
            variables: json!({ "territory": province_id }),
        },
    ];
    let mut rows = Vec::new();
    for scenario in scenarios {
        let scenario = Arc::new(scenario);
        let (_, first) = driver.request(&scenario, None).await?;
        let matching = first["data"]["services"]["totalCount"]
            .as_u64()
            .with_context(|| format!("{}: no totalCount in {first}", scenario.name))?;
        ensure!(matching > 0, "{}: no service matches", scenario.name);
        println!(
            "{}: {matching} matching services ({} pages)",
            scenario.name,
            matching.div_ceil(PAGE_SIZE as u64)
        );

        driver.run(&scenario, WARM_UP_REQUESTS).await?;
        let before = statements.load(Ordering::SeqCst);
        let phase = driver.run(&scenario, config.requests).await?;
        let run = statements.load(Ordering::SeqCst) - before;
        rows.push(phase.row(&scenario.name, config, run));
    }
    Ok(rows)
}

/// One workload: a query walked page by page.
struct Scenario {
    /// Label in the report.
    name: String,
    /// The GraphQL document, taking `$after`.
    query: &'static str,
    /// Variables besides `after`.
    variables: Value,
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
        send(&self.client, &self.endpoint, query, variables).await
    }

    /// Requests one page of a scenario.
    async fn request(&self, scenario: &Scenario, after: Option<&str>) -> Result<(Duration, Value)> {
        self.send(scenario.query, scenario.variables_after(after))
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
        let sent = send(&client, &endpoint, scenario.query, variables)
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
        after = next_cursor(&body);
    }
    Ok(latencies)
}

/// POSTs a GraphQL request; fails on a non-200 status, a body that is not JSON, or any
/// `errors` in it.
async fn send(
    client: &reqwest::Client,
    endpoint: &str,
    query: &str,
    variables: Value,
) -> Result<(Duration, Value)> {
    let started = Instant::now();
    let response = client
        .post(endpoint)
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
fn next_cursor(body: &Value) -> Option<String> {
    let services = &body["data"]["services"];
    let full_page = services["nodes"]
        .as_array()
        .is_some_and(|nodes| nodes.len() == PAGE_SIZE);
    if !full_page {
        return None;
    }
    services["pageInfo"]["endCursor"]
        .as_str()
        .map(str::to_owned)
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
    fn row(mut self, scenario: &str, config: &Config, statements: usize) -> String {
        self.latencies.sort_unstable();
        let requests = self.latencies.len();
        let throughput = requests as f64 / self.elapsed.as_secs_f64();
        let per_request = statements as f64 / requests.max(1) as f64;
        format!(
            "| {scenario} | {} | {requests} | {} | {throughput:.0} | {:.1} | {:.1} | {:.1} | \
             {:.1} | {per_request:.2} |",
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
}

/// Seeds the network in one transaction.
async fn seed(db: &DatabaseConnection) -> Result<Seeded> {
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
    let mut organizations = Vec::with_capacity(ORGANIZATIONS);
    let mut locations = Vec::with_capacity(ORGANIZATIONS);
    let mut services = Vec::with_capacity(ORGANIZATIONS * SERVICES_PER_ORGANIZATION);
    let mut service_terms = Vec::new();
    let mut service_areas = Vec::new();
    let mut service_sites = Vec::with_capacity(ORGANIZATIONS * SERVICES_PER_ORGANIZATION);
    for org in 0..ORGANIZATIONS {
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
                created_at: Set(now),
            });
        }
    }

    let seeded = Seeded {
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
    txn.commit().await?;
    Ok(seeded)
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
