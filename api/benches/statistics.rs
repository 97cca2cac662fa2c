//! Statistics benchmark: `referralStatistics`, `capacityStatistics` and `coverageGaps`
//! over HTTP against the real application on PostgreSQL, with 1,000,000 referrals.
//!
//! It creates a fresh `melt_bench_<uuid>` database on the PostgreSQL server of
//! `DATABASE_URL` (dropped at the end), migrates it, loads the demo network, then
//! generates in SQL (`generate_series`, seeded `random()`) the people, the referrals
//! sent over three years (2024–2026) between the demo organizations' services and
//! their fact rows (`referral_fact`: states, reasons, outcomes, minutes to receipt,
//! acceptance and completion), runs `VACUUM ANALYZE`, starts the application and asks
//! each question `BENCH_REQUESTS` times (default 5) after one warm-up, one at a time.
//!
//! ```text
//! DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres cargo bench -p melt-api --bench statistics
//! ```
//!
//! Environment: `BENCH_REFERRALS` (default 1,000,000), `BENCH_REQUESTS` (default 5).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed step should stop it

use anyhow::{Context as _, Result, bail};
use melt_api::settings::Settings;
use melt_api::startup::Application;
use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use uuid::Uuid;

fn env_count(name: &str, default: usize) -> Result<usize> {
    match std::env::var(name) {
        Ok(value) => value
            .trim()
            .parse()
            .with_context(|| format!("{name}={value:?} is not a whole number")),
        Err(_) => Ok(default),
    }
}

fn main() -> Result<()> {
    let admin_url = std::env::var("DATABASE_URL").unwrap_or_default();
    if !admin_url.starts_with("postgres") {
        bail!("the statistics benchmark runs on PostgreSQL: set DATABASE_URL=postgres://...");
    }
    let referrals = env_count("BENCH_REFERRALS", 1_000_000)?;
    let requests = env_count("BENCH_REQUESTS", 5)?.max(1);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let name = format!("melt_bench_{}", Uuid::now_v7().simple());
        let admin = Database::connect(admin_url.as_str()).await?;
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await?;
        let mut url = reqwest::Url::parse(&admin_url)?;
        url.set_path(&name);
        let outcome = bench(url.as_str(), referrals, requests).await;
        admin
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await?;
        outcome
    })
}

/// Generates the referrals and their facts in SQL.
const GENERATE: &str = "
SELECT setseed(0.13);
CREATE TEMP TABLE svc AS SELECT row_number() OVER (ORDER BY s.id) AS n, s.id, s.organization_id, o.kind
  FROM service s JOIN organization o ON o.id = s.organization_id;
CREATE TEMP TABLE org AS SELECT row_number() OVER (ORDER BY id) AS n, id, kind FROM organization;
CREATE TEMP TABLE mun AS SELECT row_number() OVER (ORDER BY id) AS n, id, parent_id FROM territory WHERE kind = 'MUNICIPALITY';
CREATE TEMP TABLE reasons AS SELECT row_number() OVER (ORDER BY code) AS n, code FROM term WHERE taxonomy = 'REJECTION_REASON';
CREATE TEMP TABLE ppl AS SELECT g AS n, gen_random_uuid() AS id FROM generate_series(1, GREATEST(__REFERRALS__ / 2, 1)) g;
INSERT INTO person (id, created_at, updated_at, languages, contact_channel, registered_by_organization_id, row_version)
  SELECT id, now(), now(), 'it', 'EMAIL', (SELECT id FROM org WHERE n = 1), 1 FROM ppl;
CREATE TEMP TABLE gen AS SELECT g AS n, gen_random_uuid() AS id,
  1 + floor(random() * (SELECT count(*) FROM svc))::int AS s,
  1 + floor(random() * (SELECT count(*) FROM org))::int AS o,
  1 + floor(power(random(), 2) * (SELECT count(*) FROM mun))::int AS m,
  floor(random() * 10)::int AS st, floor(random() * 36)::int AS mo, floor(random() * 27)::int AS day,
  random() AS r1, random() AS r2, random() AS r3, random() AS r4
  FROM generate_series(1, __REFERRALS__) g;
INSERT INTO referral (id, person_id, sender_organization_id, sender_operator, receiver_service_id,
  receiver_organization_id, needs, reason, priority, channel, status, row_version, created_at, updated_at, sent_at,
  waitlisted, holds_place)
  SELECT g.id, p.id, o.id, 'bench', s.id, s.organization_id, 'EMPLOYMENT', '', 'NORMAL', 'OPERATOR',
    (ARRAY['SENT','RECEIVED','ACCEPTED','REJECTED','IN_PROGRESS','ON_HOLD','COMPLETED','FAILED','CANCELLED','EXPIRED'])[g.st + 1],
    1, t.at, t.at, t.at, false, false
  FROM gen g JOIN svc s ON s.n = g.s JOIN org o ON o.n = g.o
  JOIN ppl p ON p.n = 1 + g.n % (SELECT count(*) FROM ppl)
  CROSS JOIN LATERAL (SELECT timestamptz '2024-01-01 09:00:00+00' + g.mo * interval '1 month' + g.day * interval '1 day' AS at) t;
INSERT INTO referral_fact (referral_id, sent_month, municipality_id, province_id, service_id, sender_kind,
  receiver_kind, status, rejection_reason, declined_by, outcome, accepted, receipt_minutes, acceptance_minutes,
  completion_minutes)
  SELECT g.id, 2024 * 12 + g.mo, m.id, m.parent_id, s.id, o.kind, s.kind,
    (ARRAY['SENT','RECEIVED','ACCEPTED','REJECTED','IN_PROGRESS','ON_HOLD','COMPLETED','FAILED','CANCELLED','EXPIRED'])[g.st + 1],
    CASE WHEN g.st = 3 THEN (SELECT code FROM reasons WHERE n = 1 + floor(g.r4 * (SELECT count(*) FROM reasons))::int) END,
    CASE WHEN g.st = 3 THEN CASE WHEN g.r4 < 0.6 THEN 'PROVIDER' ELSE 'PERSON' END END,
    CASE WHEN g.st = 6 THEN (ARRAY['ENROLLED','PATHWAY_COMPLETED','EMPLOYED','TRAINEESHIP_STARTED','NOT_ELIGIBLE','UNREACHABLE','REFUSED','OTHER'])[1 + floor(g.r4 * 8)::int] END,
    g.st IN (2, 4, 5, 6, 7),
    CASE WHEN g.st <> 0 THEN floor(g.r1 * 8000)::int END,
    CASE WHEN g.st IN (2, 4, 5, 6, 7) THEN floor(g.r1 * 8000 + g.r2 * 6000)::int END,
    CASE WHEN g.st = 6 THEN floor(g.r1 * 8000 + g.r2 * 6000 + g.r3 * 200000)::int END
  FROM gen g JOIN svc s ON s.n = g.s JOIN org o ON o.n = g.o JOIN mun m ON m.n = g.m;
";

async fn bench(url: &str, referrals: usize, requests: usize) -> Result<()> {
    let keys = tempfile::tempdir()?;
    let settings = Settings {
        database_url: url.to_owned(),
        port: 0,
        graphiql: false,
        signing_key_file: keys.path().join("signing-key.pem"),
        rate_limit_client_per_minute: 0,
        rate_limit_ip_per_minute: 0,
        data_keys: Some(format!("bench={}", melt_api::crypto::random_key()).into()),
        person_hash_key: Some(melt_api::crypto::random_key().into()),
        jobs_interval_secs: 0,
        ..Settings::default()
    };
    let db = melt_api::db::connect(&settings).await?;
    melt_api::db::migrate(&db).await?;
    melt_api::db::seed_demo(&db).await?;
    let started = Instant::now();
    db.execute_unprepared(&GENERATE.replace("__REFERRALS__", &referrals.to_string()))
        .await
        .context("cannot generate the referrals")?;
    db.execute_unprepared("VACUUM ANALYZE").await?;
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DatabaseBackend::Postgres,
            "SELECT (SELECT count(*) FROM referral_fact) AS facts, \
             pg_total_relation_size('referral_fact') AS bytes, (SELECT count(*) FROM service) AS services",
        ))
        .await?
        .context("no counts")?;
    let facts: i64 = row.try_get("", "facts")?;
    let bytes: i64 = row.try_get("", "bytes")?;
    let services: i64 = row.try_get("", "services")?;
    println!(
        "Seeding {facts} referrals and fact rows ({services} services; referral_fact with its \
         indexes {:.0} MB): {:.1} s",
        bytes as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );
    db.close().await?;

    let key = melt_api::auth::keys::ServerKey::load_or_create(&settings.signing_key_file)?;
    let token = melt_api::auth::token::mint(
        &key,
        &settings,
        &melt_api::auth::token::TokenRequest {
            subject: "bench-region".to_owned(),
            kind: melt_api::auth::viewer::ViewerKind::User,
            organization: None,
            roles: vec![melt_api::auth::viewer::Role::RegionalAdmin],
            scopes: Vec::new(),
            name: None,
            ttl: Duration::from_secs(settings.token_max_lifetime_secs),
        },
    )?;
    let app = Application::build_with_db(settings.clone(), melt_api::db::connect(&settings).await?)
        .await?;
    let endpoint = format!("http://127.0.0.1:{}/graphql", app.port());
    tokio::spawn(app.run());
    let client = reqwest::Client::new();

    let rows = "rows { period referrals { count suppressed } byStatus { count { count } } \
                timeToReceipt { medianHours p90Hours } timeToAcceptance { medianHours } \
                timeToCompletion { p90Hours } acceptanceRate { value } }";
    let statistics = format!(
        "query($input: ReferralStatisticsInput!) {{ referralStatistics(input: $input) {{ {rows} }} }}"
    );
    let scenarios: Vec<(&str, String, Value)> = vec![
        ("36 months, region", statistics.clone(),
         json!({ "input": { "from": "2024-01", "to": "2026-12" } })),
        ("36 months by zone and sender kind", statistics.clone(),
         json!({ "input": { "from": "2024-01", "to": "2026-12", "territoryLevel": "ZONE", "groupBy": ["SENDER_KIND"] } })),
        ("12 quarters by province, service type and receiver kind", statistics.clone(),
         json!({ "input": { "from": "2024-01", "to": "2026-12", "period": "QUARTER", "territoryLevel": "PROVINCE", "groupBy": ["SERVICE_TYPE", "RECEIVER_KIND"] } })),
        ("4 quarters by hub area, service type, sender and receiver kind", statistics.clone(),
         json!({ "input": { "from": "2026-01", "to": "2026-12", "period": "QUARTER", "territoryLevel": "HUB_AREA", "groupBy": ["SERVICE_TYPE", "SENDER_KIND", "RECEIVER_KIND"] } })),
        ("capacityStatistics by zone",
         "{ capacityStatistics(input: {territoryLevel: ZONE}) { rows { openPlaces waitlisted { count } } } }".to_owned(), json!({})),
        ("coverageGaps, every type",
         "{ coverageGaps { municipality { code } } }".to_owned(), json!({})),
    ];
    println!();
    println!("| Question | Rows | p50 (ms) | max (ms) |");
    println!("|---|---:|---:|---:|");
    for (name, query, variables) in scenarios {
        let mut times = Vec::with_capacity(requests);
        let mut size = 0;
        for attempt in 0..=requests {
            let started = Instant::now();
            let body: Value = client
                .post(&endpoint)
                .bearer_auth(&token)
                .json(&json!({ "query": query, "variables": variables }))
                .send()
                .await?
                .json()
                .await?;
            let elapsed = started.elapsed();
            if body.get("errors").is_some() {
                bail!("{name}: {body}");
            }
            let data = body["data"]
                .as_object()
                .and_then(|d| d.values().next())
                .cloned()
                .unwrap_or_default();
            size = data["rows"]
                .as_array()
                .or(data.as_array())
                .map_or(0, Vec::len);
            if attempt > 0 {
                times.push(elapsed);
            }
        }
        times.sort();
        println!(
            "| {name} | {size} | {:.0} | {:.0} |",
            times[times.len() / 2].as_secs_f64() * 1e3,
            times[times.len() - 1].as_secs_f64() * 1e3
        );
    }
    Ok(())
}
