//! Traces exported by OTLP/HTTP (`MELT_OTLP_ENDPOINT`) from `melt serve` (the built
//! binary: the tracing subscriber is process-wide) to a collector in this test: a
//! request sent with a W3C `traceparent` is exported in the caller's trace, with the
//! request's span as the child of the caller's, the GraphQL operation's span and the
//! SQL statements' spans, which carry the statement's kind and never its text.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed step should stop it

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message as _;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// An OTLP/HTTP collector: keeps the spans of every `POST /v1/traces`.
#[derive(Clone, Default)]
struct Collector {
    spans: Arc<Mutex<Vec<Span>>>,
}

impl Collector {
    fn start(&self) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("address").port();
        let collector = self.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let collector = collector.clone();
                std::thread::spawn(move || collector.serve(stream));
            }
        });
        port
    }

    fn serve(&self, stream: TcpStream) {
        let mut reader = BufReader::new(stream.try_clone().expect("clone"));
        let mut writer = stream;
        loop {
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
                return;
            }
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    return;
                }
                let header = line.trim_end();
                if header.is_empty() {
                    break;
                }
                if let Some((name, value)) = header.split_once(':')
                    && name.trim().eq_ignore_ascii_case("content-length")
                {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0u8; length];
            if reader.read_exact(&mut body).is_err() {
                return;
            }
            assert!(
                request_line.starts_with("POST /v1/traces "),
                "{request_line}"
            );
            let export = ExportTraceServiceRequest::decode(body.as_slice()).expect("OTLP protobuf");
            let spans = export
                .resource_spans
                .into_iter()
                .flat_map(|r| r.scope_spans)
                .flat_map(|s| s.spans);
            self.spans.lock().unwrap().extend(spans);
            let answer = b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n";
            if writer.write_all(answer).is_err() {
                return;
            }
        }
    }
}

fn serve(dir: &Path, port: u16, collector: u16) -> Child {
    let log = std::fs::File::create(dir.join("melt.log")).expect("log file");
    Command::new(env!("CARGO_BIN_EXE_melt"))
        .arg("serve")
        .current_dir(dir)
        .env_clear()
        .env(
            "DATABASE_URL",
            format!("sqlite://{}?mode=rwc", dir.join("melt.db").display()),
        )
        .env("MELT_PORT", port.to_string())
        .env("MELT_LOG_FORMAT", "json")
        .env("MELT_JOBS_INTERVAL_SECS", "0")
        .env("MELT_EVENTS_POLL_INTERVAL_MS", "0")
        .env(
            "MELT_OTLP_ENDPOINT",
            format!("http://127.0.0.1:{collector}"),
        )
        .env("MELT_OTLP_SERVICE_NAME", "melt-under-test")
        .stdout(Stdio::null())
        .stderr(Stdio::from(log))
        .spawn()
        .expect("start melt serve")
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

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn attribute(span: &Span, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|a| a.key == key)
        .and_then(|a| a.value.as_ref()?.value.as_ref())
        .map(|value| match value {
            any_value::Value::StringValue(s) => s.clone(),
            other => format!("{other:?}"),
        })
}

#[tokio::test]
async fn a_request_with_a_traceparent_is_exported_in_the_callers_trace() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let collector = Collector::default();
    let collector_port = collector.start();
    let port = free_port();
    let mut child = serve(dir.path(), port, collector_port);
    wait_ready(port, dir.path()).await;

    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let caller_span = "00f067aa0ba902b7";
    let response = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/graphql"))
        .header("traceparent", format!("00-{trace_id}-{caller_span}-01"))
        .json(&json!({
            "query": "query Directory { organizations(first: 2) { nodes { name } } }"
        }))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("JSON");
    assert!(body.get("errors").is_none(), "{body}");

    // A graceful stop exports what is buffered.
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success());
    let exited = child.wait().expect("melt serve exits");
    let log = std::fs::read_to_string(dir.path().join("melt.log")).unwrap_or_default();
    assert!(exited.success(), "{exited}\n{log}");

    let spans = collector.spans.lock().unwrap().clone();
    let in_trace: Vec<&Span> = spans
        .iter()
        .filter(|s| hex(&s.trace_id) == trace_id)
        .collect();
    let names: Vec<&str> = in_trace.iter().map(|s| s.name.as_str()).collect();
    let request = in_trace
        .iter()
        .find(|s| s.name == "POST /graphql")
        .unwrap_or_else(|| panic!("no request span in the trace: {names:?}\n{log}"));
    assert_eq!(
        hex(&request.parent_span_id),
        caller_span,
        "the request span is the caller's span's child"
    );
    let operation = in_trace
        .iter()
        .find(|s| s.name == "GraphQL Operation")
        .unwrap_or_else(|| panic!("no operation span in the trace: {in_trace:?}"));
    assert_eq!(
        attribute(operation, "graphql.operation.name").as_deref(),
        Some("Directory")
    );
    let statements: Vec<&&Span> = in_trace
        .iter()
        .filter(|s| s.name.starts_with("sea_orm."))
        .collect();
    assert!(
        !statements.is_empty(),
        "no SQL span in the trace: {names:?}"
    );
    for statement in statements {
        assert_eq!(
            attribute(statement, "db.operation").as_deref(),
            Some("SELECT"),
            "{statement:?}"
        );
        assert_eq!(attribute(statement, "db.statement"), None, "{statement:?}");
    }
}
