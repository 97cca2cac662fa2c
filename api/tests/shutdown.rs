//! `melt serve` through the built binary: a graceful shutdown on SIGTERM and Ctrl-C
//! (SIGINT), and the mode of the SQLite file it creates.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed step should stop it

use sea_orm::{ConnectionTrait, Database};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A query that reads a good part of the demo network.
const QUERY: &str = "{ organizations(first: 50) { nodes { id name } } \
    services(first: 50) { nodes { id name } } territories(first: 50) { nodes { id name } } }";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// A running `melt serve`, its log file and its directory.
struct Server {
    child: Child,
    port: u16,
    log: PathBuf,
    dir: tempfile::TempDir,
}

fn start(database_url: Option<&str>) -> Server {
    let dir = tempfile::tempdir().expect("temporary directory");
    let port = free_port();
    let log = dir.path().join("melt.log");
    let log_file = std::fs::File::create(&log).expect("log file");
    let sqlite = format!("sqlite://{}?mode=rwc", dir.path().join("melt.db").display());
    let child = Command::new(env!("CARGO_BIN_EXE_melt"))
        .arg("serve")
        .current_dir(dir.path())
        .env_clear()
        .env("DATABASE_URL", database_url.unwrap_or(&sqlite))
        .env("MELT_PORT", port.to_string())
        .env("MELT_LOG_FORMAT", "json")
        .env("MELT_LOG_FILTER", "info")
        .env(
            "MELT_DATA_KEYS",
            format!("k1={}", melt_api::crypto::random_key()),
        )
        .env("MELT_PERSON_HASH_KEY", melt_api::crypto::random_key())
        .env("MELT_SIGNING_KEY_FILE", dir.path().join("key.pem"))
        .env("MELT_JOBS_INTERVAL_SECS", "1")
        .env("MELT_SHUTDOWN_GRACE_SECS", "30")
        .stdout(Stdio::null())
        .stderr(Stdio::from(log_file))
        .spawn()
        .expect("start melt serve");
    Server {
        child,
        port,
        log,
        dir,
    }
}

/// Sends one HTTP/1.1 request with `Connection: close` and returns the whole response.
fn http(port: u16, request: &str) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.write_all(request.as_bytes())?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    Ok(response)
}

fn post(body: &str) -> String {
    format!(
        "POST /graphql HTTP/1.1\r\nHost: melt\r\nContent-Type: application/json\r\n\
         Connection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

impl Server {
    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until `/ready` answers 200 (the demo network is loaded by then).
    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            let ready = http(
                self.port,
                "GET /ready HTTP/1.1\r\nHost: melt\r\nConnection: close\r\n\r\n",
            );
            if ready.is_ok_and(|r| r.starts_with("HTTP/1.1 200")) {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("melt serve exited with {status}: {}", self.log_text());
            }
            assert!(Instant::now() < deadline, "not ready: {}", self.log_text());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Many requests at once, so every actix worker opens pool connections of its own
    /// (the situation in which an idle worker's runtime used to take connections with it).
    fn spread_connections(&self) {
        let threads: Vec<_> = (0..12)
            .map(|_| {
                let port = self.port;
                std::thread::spawn(move || {
                    for _ in 0..3 {
                        let body = serde_json::json!({ "query": QUERY }).to_string();
                        let response = http(port, &post(&body)).expect("request");
                        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().expect("warm-up request");
        }
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([format!("-{name}"), self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
    }

    /// Waits until connecting is refused.
    fn wait_refused(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
            assert!(Instant::now() < deadline, "still accepting connections");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn wait_exit(&mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "did not exit: {}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Sends the headers of a request, waits for `100 Continue` (the server is handling
/// it), signals, checks new connections are refused, sends the body and checks the
/// in-flight request is answered in full and the process exits with 0.
fn in_flight_request_survives(signal: &str, database_url: Option<&str>) {
    let mut server = start(database_url);
    server.wait_ready();
    server.spread_connections();

    let body = serde_json::json!({ "query": QUERY }).to_string();
    let mut stream = TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
    let head = format!(
        "POST /graphql HTTP/1.1\r\nHost: melt\r\nContent-Type: application/json\r\n\
         Connection: close\r\nExpect: 100-continue\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).expect("send headers");
    let mut interim = [0u8; 25];
    stream.read_exact(&mut interim).expect("100 Continue");
    assert!(
        String::from_utf8_lossy(&interim).starts_with("HTTP/1.1 100 Continue"),
        "{}",
        String::from_utf8_lossy(&interim)
    );

    server.signal(signal);
    server.wait_refused();

    stream.write_all(body.as_bytes()).expect("send body");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("response");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    let json = response.split("\r\n\r\n").nth(1).unwrap_or_default();
    let json: serde_json::Value = serde_json::from_str(json).expect("JSON body");
    assert!(json.get("errors").is_none(), "{json}");
    let organizations = json["data"]["organizations"]["nodes"]
        .as_array()
        .map_or(0, Vec::len);
    assert!(organizations > 0, "{json}");

    let status = server.wait_exit();
    let log = server.log_text();
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(!log.contains("INTERNAL"), "{log}");
    assert!(!log.contains("\"level\":\"ERROR\""), "{log}");
    assert!(log.contains("background worker stopped"), "{log}");
}

#[test]
fn sigterm_lets_the_request_in_flight_finish_on_sqlite() {
    in_flight_request_survives("TERM", None);
}

#[test]
fn ctrl_c_lets_the_request_in_flight_finish_on_sqlite() {
    in_flight_request_survives("INT", None);
}

/// A fresh PostgreSQL database when `TEST_DATABASE_URL` is set, dropped afterwards.
fn with_postgres(test: impl FnOnce(&str)) {
    let Some(admin_url) = std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        return;
    };
    let name = format!("melt_test_{}", uuid::Uuid::now_v7().simple());
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let admin = runtime
        .block_on(Database::connect(&admin_url))
        .expect("PostgreSQL");
    runtime
        .block_on(admin.execute_unprepared(&format!("CREATE DATABASE {name}")))
        .expect("create database");
    let mut url = reqwest::Url::parse(&admin_url).expect("URL");
    url.set_path(&name);
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| test(url.as_str())));
    let _ = runtime.block_on(
        admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")),
    );
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

#[test]
fn sigterm_lets_the_request_in_flight_finish_on_postgres() {
    with_postgres(|url| in_flight_request_survives("TERM", Some(url)));
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

#[cfg(unix)]
#[test]
fn the_sqlite_file_and_its_journals_are_readable_by_the_owner_only() {
    let mut server = start(None);
    server.wait_ready();
    server.spread_connections();
    let db = server.dir.path().join("melt.db");
    assert_eq!(mode(&db), 0o600);
    for suffix in ["-wal", "-shm", "-journal"] {
        let journal = PathBuf::from(format!("{}{suffix}", db.display()));
        if journal.exists() {
            assert_eq!(mode(&journal), 0o600, "{}", journal.display());
        }
    }
    server.signal("TERM");
    assert_eq!(server.wait_exit().code(), Some(0));
}

/// A websocket open when the server is told to stop is closed with 1001 (going away),
/// a close handshake, not a dropped connection (1006), and the process still exits.
#[test]
fn a_websocket_open_at_shutdown_is_closed_with_1001() {
    use tungstenite::client::IntoClientRequest;
    let mut server = start(None);
    server.wait_ready();
    let mut request = format!("ws://127.0.0.1:{}/graphql/ws", server.port)
        .into_client_request()
        .expect("request");
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().expect("header"),
    );
    let (mut socket, _) = tungstenite::connect(request).expect("connect");
    socket
        .send(tungstenite::Message::Text(
            r#"{"type":"connection_init"}"#.into(),
        ))
        .expect("send");
    // The server's pings may come first.
    let ack = loop {
        match socket.read().expect("connection_ack") {
            tungstenite::Message::Text(text) => break text.to_string(),
            _ => continue,
        }
    };
    assert!(ack.contains("connection_ack"), "{ack}");

    server.signal("TERM");
    let code = loop {
        match socket.read() {
            Ok(tungstenite::Message::Close(frame)) => break frame.map(|f| u16::from(f.code)),
            Ok(_) => continue,
            Err(error) => panic!("no close handshake: {error}"),
        }
    };
    assert_eq!(code, Some(1001));
    assert_eq!(server.wait_exit().code(), Some(0), "{}", server.log_text());
}
