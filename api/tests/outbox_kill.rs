//! Nothing is lost when the process dies: `melt serve` (the built binary) is killed
//! with SIGKILL while events are committed but not yet delivered (the receiver holds
//! the first attempts unanswered); after a restart on the same database every event
//! reaches the receiver.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed step should stop it

use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// A receiver that holds requests unanswered until `answering`, then answers 200 and
/// records the `webhook-id`s it accepted.
#[derive(Clone, Default)]
struct Receiver {
    answering: Arc<AtomicBool>,
    seen: Arc<Mutex<usize>>,
    accepted: Arc<Mutex<HashSet<String>>>,
}

impl Receiver {
    fn start(&self) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("address").port();
        let receiver = self.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let receiver = receiver.clone();
                std::thread::spawn(move || receiver.serve(stream));
            }
        });
        port
    }

    fn serve(&self, stream: TcpStream) {
        let mut reader = BufReader::new(stream.try_clone().expect("clone"));
        let mut writer = stream;
        loop {
            let mut id = String::new();
            let mut length = 0usize;
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            loop {
                line.clear();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    return;
                }
                let header = line.trim_end();
                if header.is_empty() {
                    break;
                }
                if let Some((name, value)) = header.split_once(':') {
                    match name.trim().to_ascii_lowercase().as_str() {
                        "webhook-id" => id = value.trim().to_owned(),
                        "content-length" => length = value.trim().parse().unwrap_or(0),
                        _ => {}
                    }
                }
            }
            let mut body = vec![0u8; length];
            if reader.read_exact(&mut body).is_err() {
                return;
            }
            *self.seen.lock().unwrap() += 1;
            if !self.answering.load(Ordering::SeqCst) {
                // Hold it: the sender times out, or dies meanwhile.
                let mut sink = [0u8; 64];
                while matches!(reader.read(&mut sink), Ok(n) if n > 0) {}
                return;
            }
            self.accepted.lock().unwrap().insert(id);
            if writer
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                .is_err()
            {
                return;
            }
        }
    }
}

fn serve(dir: &Path, database_url: &str, port: u16, data_key: &str, hash_key: &str) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("melt.log"))
        .expect("log file");
    melt(dir, database_url, data_key, hash_key)
        .arg("serve")
        .env("MELT_PORT", port.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::from(log))
        .spawn()
        .expect("start melt serve")
}

fn melt(dir: &Path, database_url: &str, data_key: &str, hash_key: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_melt"));
    command
        .current_dir(dir)
        .env_clear()
        .env("DATABASE_URL", database_url)
        .env("MELT_LOG_FORMAT", "json")
        .env("MELT_DATA_KEYS", format!("k1={data_key}"))
        .env("MELT_PERSON_HASH_KEY", hash_key)
        .env("MELT_SIGNING_KEY_FILE", dir.join("key.pem"))
        .env("MELT_JOBS_INTERVAL_SECS", "0")
        .env("MELT_EVENTS_POLL_INTERVAL_MS", "100")
        .env("MELT_WEBHOOK_ALLOW_PRIVATE", "true")
        .env("MELT_WEBHOOK_TIMEOUT_SECS", "2")
        .env("MELT_WEBHOOK_RETRY_BASE_MS", "100")
        .env("MELT_WEBHOOK_RETRY_MAX_MS", "500");
    command
}

async fn graphql(port: u16, token: Option<&str>, query: &str, variables: Value) -> Value {
    let client = reqwest::Client::new();
    let mut request = client
        .post(format!("http://127.0.0.1:{port}/graphql"))
        .json(&json!({ "query": query, "variables": variables }));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("JSON")
}

async fn wait_ready(port: u16, dir: &Path) {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let ready = reqwest::get(format!("http://127.0.0.1:{port}/ready")).await;
        if ready.is_ok_and(|r| r.status().is_success()) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "not ready: {}",
            std::fs::read_to_string(dir.join("melt.log")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn survives_sigkill(database_url: &str) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let (data_key, hash_key) = (
        melt_api::crypto::random_key(),
        melt_api::crypto::random_key(),
    );
    let receiver = Receiver::default();
    let hook = format!("http://127.0.0.1:{}/hook", receiver.start());
    let port = free_port();
    let mut child = serve(dir.path(), database_url, port, &data_key, &hash_key);
    wait_ready(port, dir.path()).await;

    let organizations = graphql(
        port,
        None,
        "{ organizations(filter: {search: \"Caritas diocesana di Pisa\"}, first: 1) { nodes { id } } }",
        json!({}),
    )
    .await;
    let caritas = organizations["data"]["organizations"]["nodes"][0]["id"]
        .as_str()
        .expect("Caritas")
        .to_owned();
    let services = graphql(
        port,
        None,
        "query($o: ID) { services(filter: {provider: $o}, first: 1) { nodes { id rowVersion } } }",
        json!({ "o": caritas }),
    )
    .await;
    let token = melt(dir.path(), database_url, &data_key, &hash_key)
        .args(["token", "--org", &caritas, "--role", "ORG_ADMIN"])
        .output()
        .expect("melt token");
    let token = String::from_utf8(token.stdout)
        .expect("token")
        .trim()
        .to_owned();
    let created = graphql(
        port,
        Some(&token),
        "mutation($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) { userErrors { message } } }",
        json!({ "input": { "url": hook, "eventTypes": ["service.capacity_changed"] } }),
    )
    .await;
    assert_eq!(
        created["data"]["createWebhookEndpoint"]["userErrors"],
        json!([]),
        "{created}"
    );

    let service = services["data"]["services"]["nodes"][0]["id"].clone();
    let mut version = services["data"]["services"]["nodes"][0]["rowVersion"].clone();
    for places in 1..=10 {
        let changed = graphql(
            port,
            Some(&token),
            "mutation($input: UpdateServiceCapacityInput!) { updateServiceCapacity(input: $input) { service { rowVersion } userErrors { code } } }",
            json!({ "input": { "id": service, "expectedVersion": version, "openPlaces": places } }),
        )
        .await;
        version = changed["data"]["updateServiceCapacity"]["service"]["rowVersion"].clone();
        assert!(version.is_number(), "{changed}");
    }
    // An attempt is in flight (held by the receiver): kill the process now.
    let deadline = Instant::now() + Duration::from_secs(60);
    while *receiver.seen.lock().unwrap() == 0 {
        assert!(Instant::now() < deadline, "no delivery was attempted");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
    assert!(receiver.accepted.lock().unwrap().is_empty());

    // Every committed event, as the feed has them.
    receiver.answering.store(true, Ordering::SeqCst);
    let port = free_port();
    let mut child = serve(dir.path(), database_url, port, &data_key, &hash_key);
    wait_ready(port, dir.path()).await;
    let feed = graphql(
        port,
        None,
        "{ events(filter: {types: [\"service.capacity_changed\"]}, first: 100) { nodes { eventId } } }",
        json!({}),
    )
    .await;
    let committed: HashSet<String> = feed["data"]["events"]["nodes"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["eventId"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(committed.len(), 10, "{feed}");
    let deadline = Instant::now() + Duration::from_secs(90);
    while *receiver.accepted.lock().unwrap() != committed {
        assert!(
            Instant::now() < deadline,
            "delivered {:?} of {committed:?}: {}",
            receiver.accepted.lock().unwrap(),
            std::fs::read_to_string(dir.path().join("melt.log")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
}

#[tokio::test]
async fn a_process_killed_between_commit_and_delivery_delivers_every_event_after_restart_on_sqlite()
{
    let dir = tempfile::tempdir().expect("temporary directory");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("melt.db").display());
    survives_sigkill(&url).await;
}

#[tokio::test]
async fn a_process_killed_between_commit_and_delivery_delivers_every_event_after_restart_on_postgres()
 {
    let Some(admin_url) = std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        return;
    };
    let name = format!("melt_test_{}", uuid::Uuid::now_v7().simple());
    let admin = Database::connect(&admin_url).await.expect("PostgreSQL");
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create database");
    let mut url = reqwest::Url::parse(&admin_url).expect("URL");
    url.set_path(&name);
    let outcome = futures_util::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(
        survives_sigkill(url.as_str()),
    ))
    .await;
    let _ = admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}
