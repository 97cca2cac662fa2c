//! Hostile-document benchmark: how long the document guard takes to refuse a fragment
//! bomb (2^24 fields once expanded) and an introspection alias bomb (1,000 aliases of
//! `__schema { types { fields { args { name } } } }`), and, for comparison, what the
//! same documents cost async-graphql without the guard.
//!
//! Three measures, each printed as a Markdown table row for the README:
//! - the guard alone, in-process (parse and measure, no schema);
//! - the whole application over HTTP (a temporary SQLite database, no demo data);
//! - async-graphql without the guard (the bare schema, no limits), on smaller fragment
//!   bombs, whose time doubles with each level.
//!
//! ```text
//! cargo bench -p melt-api --bench hostile
//! ```
//!
//! Environment: `BENCH_REQUESTS` (requests per measure, default 50).
#![allow(clippy::unwrap_used, clippy::expect_used)]
// test code: a failed step should stop it

// async-graphql's executor futures nest deeper than the default limit.
#![recursion_limit = "256"]

use anyhow::{Context as _, Result, ensure};
use melt_api::graphql::guard::{self, Limits};
use melt_api::settings::Settings;
use melt_api::startup::Application;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// Default requests per measure.
const DEFAULT_REQUESTS: usize = 50;
/// Levels of the fragment bomb refused: 2^24 fields.
const BOMB_LEVELS: usize = 24;
/// Levels of the unguarded fragment bombs run for comparison.
const UNGUARDED_LEVELS: [usize; 4] = [12, 14, 16, 18];
/// Aliases of the introspection bomb.
const ALIASES: usize = 1_000;

/// `query { ...F0 }` where each of `levels` fragments spreads the next twice.
fn fragment_bomb(levels: usize) -> String {
    let mut query = String::from("query { ...F0 }");
    for level in 0..levels {
        let next = level + 1;
        query.push_str(&format!(
            " fragment F{level} on Query {{ ...F{next} ...F{next} }}"
        ));
    }
    query.push_str(&format!(" fragment F{levels} on Query {{ __typename }}"));
    query
}

/// `ALIASES` aliases of the schema's types, their fields and their arguments.
fn introspection_alias_bomb() -> String {
    let aliases: String = (0..ALIASES)
        .map(|i| format!("a{i}: __schema {{ types {{ fields {{ args {{ name }} }} }} }} "))
        .collect();
    format!("{{ {aliases}}}")
}

fn main() -> Result<()> {
    let requests = match std::env::var("BENCH_REQUESTS") {
        Ok(value) => value
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|n| *n > 0)
            .with_context(|| format!("BENCH_REQUESTS={value:?} is not a positive number"))?,
        Err(_) => DEFAULT_REQUESTS,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot build the tokio runtime")?;
    let bombs = [
        (
            format!("Fragment bomb, 2^{BOMB_LEVELS} fields"),
            fragment_bomb(BOMB_LEVELS),
        ),
        (
            format!("Introspection alias bomb, {ALIASES} aliases"),
            introspection_alias_bomb(),
        ),
    ];
    let mut rows = Vec::new();
    for (name, query) in &bombs {
        rows.push(guard_alone(name, query, requests)?);
    }
    runtime.block_on(async {
        rows.extend(over_http(&bombs, requests).await?);
        rows.extend(unguarded().await?);
        Ok::<_, anyhow::Error>(())
    })?;
    println!();
    println!("| Document | Size | Path | Requests | p50 (ms) | max (ms) | Outcome |");
    println!("|---|---:|---|---:|---:|---:|---|");
    for row in rows {
        println!("{row}");
    }
    Ok(())
}

/// Parses and measures the document `requests` times with the default limits.
fn guard_alone(name: &str, query: &str, requests: usize) -> Result<String> {
    let limits = Limits::from_settings(&Settings::default());
    let variables = async_graphql::Variables::default();
    let mut latencies = Vec::with_capacity(requests);
    let mut outcome = String::new();
    for _ in 0..requests {
        let started = Instant::now();
        let doc = async_graphql::parser::parse_query(query).context("the bomb parses")?;
        let refusal = guard::check(&doc, &variables, &limits).err();
        latencies.push(started.elapsed());
        let refusal = refusal.context("the guard let a bomb through")?;
        outcome = refusal.code().to_owned();
    }
    Ok(row(
        name,
        query.len(),
        "guard alone (parse + measure)",
        latencies,
        &outcome,
    ))
}

/// Starts the application on a temporary SQLite database and POSTs each bomb
/// `requests` times, then checks that /health answers.
async fn over_http(bombs: &[(String, String)], requests: usize) -> Result<Vec<String>> {
    let dir = tempfile::tempdir().context("cannot create a temporary directory")?;
    let settings = Settings {
        database_url: format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("bench.db").display()
        ),
        port: 0,
        demo_data: false,
        graphiql: false,
        signing_key_file: dir.path().join("signing-key.pem"),
        dev_data_key_file: dir.path().join("dev-data-keys.json"),
        rate_limit_client_per_minute: 0,
        rate_limit_ip_per_minute: 0,
        jobs_interval_secs: 0,
        ..Settings::default()
    };
    let app = Application::build(settings)
        .await
        .context("cannot build the app")?;
    let address = format!("http://127.0.0.1:{}", app.port());
    let server = tokio::spawn(app.run());
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .context("cannot build the HTTP client")?;
    let mut rows = Vec::new();
    for (name, query) in bombs {
        let mut latencies = Vec::with_capacity(requests);
        let mut outcome = String::new();
        for _ in 0..requests {
            let started = Instant::now();
            let response = client
                .post(format!("{address}/graphql"))
                .json(&json!({ "query": query }))
                .send()
                .await
                .context("POST /graphql")?;
            let status = response.status();
            let body: Value = response.json().await.context("a JSON body")?;
            latencies.push(started.elapsed());
            let code = body["errors"][0]["extensions"]["code"]
                .as_str()
                .unwrap_or_default();
            ensure!(
                !code.is_empty() && body["data"].is_null(),
                "not refused: {body}"
            );
            outcome = format!("HTTP {}, {code}", status.as_u16());
        }
        rows.push(row(name, query.len(), "POST /graphql", latencies, &outcome));
    }
    let health = client
        .get(format!("{address}/health"))
        .send()
        .await
        .context("GET /health")?;
    ensure!(health.status().is_success(), "/health: {}", health.status());
    server.abort();
    Ok(rows)
}

/// The same documents on async-graphql without the guard or any limit: once each.
async fn unguarded() -> Result<Vec<String>> {
    let schema = melt_api::schema::bare_schema();
    let mut rows = Vec::new();
    for levels in UNGUARDED_LEVELS {
        let query = fragment_bomb(levels);
        let started = Instant::now();
        let response = schema.execute(query.as_str()).await;
        let elapsed = started.elapsed();
        ensure!(response.errors.is_empty(), "{:?}", response.errors);
        rows.push(row(
            &format!("Fragment bomb, 2^{levels} fields"),
            query.len(),
            "async-graphql without the guard",
            vec![elapsed],
            "executed",
        ));
    }
    let query = introspection_alias_bomb();
    let started = Instant::now();
    let response = schema.execute(query.as_str()).await;
    let body = serde_json::to_vec(&response).context("cannot encode the response")?;
    let elapsed = started.elapsed();
    ensure!(response.errors.is_empty(), "{:?}", response.errors);
    rows.push(row(
        &format!("Introspection alias bomb, {ALIASES} aliases"),
        query.len(),
        "async-graphql without the guard",
        vec![elapsed],
        &format!("executed, {:.0} MB of JSON", body.len() as f64 / 1e6),
    ));
    Ok(rows)
}

/// One Markdown table row.
fn row(
    name: &str,
    bytes: usize,
    path: &str,
    mut latencies: Vec<Duration>,
    outcome: &str,
) -> String {
    latencies.sort_unstable();
    let p50 = latencies
        .get(latencies.len() / 2)
        .copied()
        .unwrap_or_default();
    let max = latencies.last().copied().unwrap_or_default();
    format!(
        "| {name} | {:.1} KB | {path} | {} | {:.3} | {:.3} | {outcome} |",
        bytes as f64 / 1e3,
        latencies.len(),
        p50.as_secs_f64() * 1e3,
        max.as_secs_f64() * 1e3,
    )
}
