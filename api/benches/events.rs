//! Events benchmark: events through the outbox to a local webhook receiver.
//!
//! Starts the real application in-process on a fresh database with the demo network
//! (a temporary SQLite file, or a new database on the PostgreSQL server of
//! `DATABASE_URL`, dropped at the end), registers one webhook endpoint pointing at a
//! receiver in this process, then commits `BENCH_EVENTS` events (default 5,000), each
//! in a transaction of its own, from `BENCH_WRITERS` concurrent tasks (default 4). It
//! prints one Markdown row: events committed per second, events delivered per second
//! (from the first commit to the last delivery) and the delay from commit to delivery
//! (the event's time, stamped in its transaction, to its arrival), p50 and p99 — once
//! as fast as the writers go (the delay is then the backlog) and once paced at
//! `BENCH_RATE` events per second (default 100) for `BENCH_PACED_EVENTS` (default 1,000).
//!
//! ```text
//! cargo bench -p melt-api --bench events
//! DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres cargo bench -p melt-api --bench events
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)] // benchmark code: a failed step should stop it

use anyhow::{Context as _, Result, ensure};
use melt_api::auth::Role;
use melt_api::auth::keys::ServerKey;
use melt_api::auth::token::{TokenRequest, mint};
use melt_api::auth::viewer::ViewerKind;
use melt_api::events::service::{self as events, Audience};
use melt_api::graphql::relay::NodeKind;
use melt_api::settings::Settings;
use melt_api::startup::Application;
use sea_orm::{ConnectionTrait, Database, TransactionTrait};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use uuid::Uuid;

fn count(name: &str, default: usize) -> Result<usize> {
    match std::env::var(name) {
        Ok(value) => {
            let n: usize = value
                .trim()
                .parse()
                .with_context(|| format!("{name}={value:?}"))?;
            ensure!(n > 0, "{name} must be at least 1");
            Ok(n)
        }
        Err(_) => Ok(default),
    }
}

/// Arrival time of each `webhook-id`, and the event's own time from the body.
type Arrivals =
    Arc<Mutex<HashMap<String, (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>)>>>;

async fn receiver(arrivals: Arrivals) -> Result<u16> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let arrivals = arrivals.clone();
            tokio::spawn(async move {
                let mut buffer = Vec::new();
                loop {
                    let end = loop {
                        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                            break end;
                        }
                        let mut chunk = [0u8; 8192];
                        match stream.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                        }
                    };
                    let head = String::from_utf8_lossy(&buffer[..end]).to_ascii_lowercase();
                    let length: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0);
                    let mut body = buffer.split_off(end + 4);
                    while body.len() < length {
                        let mut chunk = [0u8; 8192];
                        match stream.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => body.extend_from_slice(&chunk[..n]),
                        }
                    }
                    buffer = body.split_off(length);
                    let arrived = chrono::Utc::now();
                    let parsed: Value = serde_json::from_slice(&body).unwrap_or_default();
                    let id = parsed["data"]["eventId"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned();
                    let stamped = parsed["timestamp"]
                        .as_str()
                        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                        .map(|t| t.with_timezone(&chrono::Utc))
                        .unwrap_or(arrived);
                    arrivals
                        .lock()
                        .unwrap()
                        .entry(id)
                        .or_insert((stamped, arrived));
                    if stream
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    Ok(port)
}

/// Commits `total` events from `writers` tasks (each at `rate` per second when given),
/// waits until all are delivered and prints a row.
async fn phase(
    db: &sea_orm::DatabaseConnection,
    arrivals: &Arrivals,
    engine: &str,
    load: &str,
    total: usize,
    writers: usize,
    rate: Option<usize>,
) -> Result<()> {
    arrivals.lock().unwrap().clear();
    let started = Instant::now();
    let per_writer = total.div_ceil(writers);
    let tasks: Vec<_> = (0..writers)
        .map(|_| {
            let db = db.clone();
            tokio::spawn(async move {
                let mut tick =
                    rate.map(|r| tokio::time::interval(Duration::from_secs_f64(1.0 / r as f64)));
                for _ in 0..per_writer {
                    if let Some(tick) = tick.as_mut() {
                        tick.tick().await;
                    }
                    let txn = db.begin().await?;
                    events::record(
                        &txn,
                        "service.changed",
                        (NodeKind::Service, Uuid::now_v7()),
                        Audience::Public,
                    )
                    .await
                    .map_err(|e| anyhow::anyhow!("{e:?}"))?;
                    txn.commit().await?;
                }
                anyhow::Ok(())
            })
        })
        .collect();
    for task in tasks {
        task.await??;
    }
    let committed = started.elapsed();
    let total = per_writer * writers;
    let deadline = Instant::now() + Duration::from_secs(600);
    while arrivals.lock().unwrap().len() < total {
        ensure!(Instant::now() < deadline, "not every event was delivered");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let delivered = started.elapsed();
    let mut delays: Vec<f64> = arrivals
        .lock()
        .unwrap()
        .values()
        .map(|(stamped, arrived)| {
            (*arrived - *stamped).num_microseconds().unwrap_or(0) as f64 / 1000.0
        })
        .collect();
    delays.sort_by(f64::total_cmp);
    println!(
        "| {engine} | {load} | {total} | {:.0} | {:.0} | {:.0} ms | {:.0} ms |",
        total as f64 / committed.as_secs_f64(),
        total as f64 / delivered.as_secs_f64(),
        percentile(&delays, 50.0),
        percentile(&delays, 99.0),
    );
    Ok(())
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

async fn run(database_url: &str) -> Result<()> {
    let events_total = count("BENCH_EVENTS", 5_000)?;
    let writers = count("BENCH_WRITERS", 4)?;
    let keys = tempfile::tempdir()?;
    let settings = Settings {
        database_url: database_url.to_owned(),
        port: 0,
        jobs_interval_secs: 0,
        webhook_allow_private: true,
        signing_key_file: keys.path().join("key.pem"),
        data_keys: Some(format!("bench={}", melt_api::crypto::random_key()).into()),
        person_hash_key: Some(melt_api::crypto::random_key().into()),
        log_filter: "warn".to_owned(),
        ..Settings::default()
    };
    let app = Application::build(settings.clone()).await?;
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run());
    let db = melt_api::db::connect(&settings).await?;

    let arrivals: Arrivals = Arc::default();
    let port = receiver(arrivals.clone()).await?;
    let client = reqwest::Client::new();
    let organizations: Value = client
        .post(format!("{address}/graphql"))
        .json(&json!({ "query": "{ organizations(first: 1) { nodes { id } } }" }))
        .send()
        .await?
        .json()
        .await?;
    let organization = organizations["data"]["organizations"]["nodes"][0]["id"]
        .as_str()
        .context("an organization")?;
    let row = melt_api::graphql::relay::expect_id(
        &async_graphql::ID(organization.to_owned()),
        NodeKind::Organization,
    )?;
    let key = ServerKey::load_or_create(&settings.signing_key_file)?;
    let token = mint(
        &key,
        &settings,
        &TokenRequest {
            subject: "bench".to_owned(),
            kind: ViewerKind::User,
            organization: Some(row),
            roles: vec![Role::OrgAdmin],
            scopes: Vec::new(),
            name: None,
            ttl: Duration::from_secs(3600),
        },
    )?;
    let created: Value = client
        .post(format!("{address}/graphql"))
        .bearer_auth(&token)
        .json(&json!({
            "query": "mutation($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) { userErrors { message } } }",
            "variables": { "input": { "url": format!("http://127.0.0.1:{port}/hook"), "eventTypes": ["service.changed"] } }
        }))
        .send()
        .await?
        .json()
        .await?;
    ensure!(
        created["data"]["createWebhookEndpoint"]["userErrors"] == json!([]),
        "{created}"
    );

    let engine = if database_url.starts_with("postgres") {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    let rate = count("BENCH_RATE", 100)?;
    let paced = count("BENCH_PACED_EVENTS", 1_000)?;
    println!("| Engine | Load | Events | Committed/s | Delivered/s | Delay p50 | Delay p99 |");
    println!("|---|---|---:|---:|---:|---:|---:|");
    phase(
        &db,
        &arrivals,
        engine,
        "as fast as the writers go",
        events_total,
        writers,
        None,
    )
    .await?;
    phase(
        &db,
        &arrivals,
        engine,
        &format!("paced at {rate}/s"),
        paced,
        1,
        Some(rate),
    )
    .await?;
    db.close().await?;
    Ok(())
}

fn main() -> Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        match std::env::var("DATABASE_URL")
            .ok()
            .filter(|u| u.starts_with("postgres"))
        {
            None => {
                let dir = tempfile::tempdir()?;
                let url = format!(
                    "sqlite://{}?mode=rwc",
                    dir.path().join("events.db").display()
                );
                run(&url).await
            }
            Some(admin_url) => {
                let name = format!("melt_bench_{}", Uuid::now_v7().simple());
                let admin = Database::connect(admin_url.as_str()).await?;
                admin
                    .execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await?;
                let mut url = reqwest::Url::parse(&admin_url)?;
                url.set_path(&name);
                let outcome = run(url.as_str()).await;
                let _ = admin
                    .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await;
                outcome
            }
        }
    })
}
