//! Test harness: starts the real application on port 0 against a fresh database.
//!
//! Every database test runs on SQLite, and also on PostgreSQL when
//! `TEST_DATABASE_URL` is set (e.g. `postgres://postgres@127.0.0.1:5432/postgres`).
//! Each app gets a database of its own, created here and dropped when the app drops.

use melt_api::settings::Settings;
use melt_api::startup::Application;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// A database engine under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    /// An SQLite file in a temporary directory.
    Sqlite,
    /// A fresh database on the server of `TEST_DATABASE_URL`.
    Postgres,
}

/// The engines to run database tests on: SQLite always, PostgreSQL when configured.
pub fn engines() -> Vec<Engine> {
    let mut engines = vec![Engine::Sqlite];
    if std::env::var("TEST_DATABASE_URL").is_ok_and(|url| !url.is_empty()) {
        engines.push(Engine::Postgres);
    }
    engines
}

/// Runs the calling test alone, in a child process of this test binary: for tests that
/// install a process-wide tracing subscriber, which would see (and be seen by) every
/// other test of the binary. `test` is the test's full name, e.g. `privacy::some_test`.
///
/// Returns `true` in the child, where the caller then runs its body. In the parent it
/// waits for the child, fails with its output unless that one test passed there, and
/// returns `false`.
pub fn in_own_process(test: &str) -> bool {
    const CHILD: &str = "MELT_TESTS_OWN_PROCESS";
    if std::env::var(CHILD).is_ok_and(|name| name == test) {
        return true;
    }
    let binary = std::env::current_exe().expect("path of the test binary");
    let output = std::process::Command::new(binary)
        .args([test, "--exact", "--test-threads=1"])
        .env(CHILD, test)
        .output()
        .expect("run the test binary");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains("test result: ok. 1 passed"),
        "{test} in its own process: {}\n{stdout}\n{stderr}",
        output.status
    );
    false
}

/// Runs `test` on every engine of [`engines`], each time on a fresh app from
/// [`spawn_app`]. `test` gets the engine, to name it in its messages, and the app.
pub async fn on_every_engine(test: impl AsyncFn(Engine, TestApp)) {
    for engine in engines() {
        test(engine, spawn_app(engine).await).await;
    }
}

/// A database created for one test, dropped with it.
pub struct TestDatabase {
    /// URL of the database.
    pub url: String,
    engine: Engine,
    admin_url: Option<String>,
    name: String,
    _dir: Option<tempfile::TempDir>,
}

impl TestDatabase {
    /// Creates an empty database.
    pub async fn create(engine: Engine) -> Self {
        let name = format!("melt_test_{}", uuid::Uuid::now_v7().simple());
        match engine {
            Engine::Sqlite => {
                let dir = tempfile::tempdir().expect("temporary directory");
                let url = format!("sqlite://{}?mode=rwc", dir.path().join("melt.db").display());
                Self {
                    url,
                    engine,
                    admin_url: None,
                    name,
                    _dir: Some(dir),
                }
            }
            Engine::Postgres => {
                let admin_url = std::env::var("TEST_DATABASE_URL").expect("TEST_DATABASE_URL");
                let admin = Database::connect(&admin_url).await.unwrap_or_else(|e| {
                    panic!("PostgreSQL at TEST_DATABASE_URL is unreachable: {e}")
                });
                admin
                    .execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await
                    .expect("create test database");
                admin.close().await.expect("close admin connection");
                let mut url = url::Url::parse(&admin_url).expect("TEST_DATABASE_URL is a URL");
                url.set_path(&name);
                Self {
                    url: url.to_string(),
                    engine,
                    admin_url: Some(admin_url),
                    name,
                    _dir: None,
                }
            }
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if self.engine != Engine::Postgres {
            return;
        }
        let (Some(admin_url), name) = (self.admin_url.clone(), self.name.clone()) else {
            return;
        };
        // Drop runs outside any runtime guarantee: use a thread with its own runtime.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async move {
                let admin = Database::connect(&admin_url).await?;
                admin
                    .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await?;
                admin.close().await?;
                Ok::<_, anyhow::Error>(())
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop test database {}", self.name);
        }
    }
}

/// Settings for tests: port 0, no IDE unless asked, demo data on.
pub fn test_settings(database_url: &str) -> Settings {
    Settings {
        database_url: database_url.to_owned(),
        port: 0,
        database_max_connections: 5,
        // Tests run the jobs themselves, when they mean to; those about webhooks and
        // subscriptions turn event delivery on (its statements would count in others).
        jobs_interval_secs: 0,
        events_poll_interval_ms: 0,
        ..Settings::default()
    }
}

/// A running application.
pub struct TestApp {
    /// Base URL, e.g. `http://127.0.0.1:40123`.
    pub address: String,
    /// The engine it runs on.
    pub engine: Engine,
    /// A connection to its database (not counted in `statements`).
    pub db: DatabaseConnection,
    /// SQL statements the application has run.
    pub statements: Arc<AtomicUsize>,
    /// The statements themselves, while [`TestApp::record_statements`] records them.
    pub recorded: Arc<Mutex<Option<Vec<sea_orm::Statement>>>>,
    /// HTTP client.
    pub client: reqwest::Client,
    /// The settings the app runs with.
    pub settings: Settings,
    /// URL of the metrics, e.g. `http://127.0.0.1:40124/metrics`, when `metrics_addr`
    /// is set.
    pub metrics_url: Option<String>,
    // Declared last: dropped after the server's connections are gone.
    _keys: tempfile::TempDir,
    _database: TestDatabase,
}

/// Starts the app with the demo network on a fresh database.
pub async fn spawn_app(engine: Engine) -> TestApp {
    spawn_app_with(engine, |_| {}).await
}

/// Starts the app with adjusted settings.
pub async fn spawn_app_with(engine: Engine, adjust: impl FnOnce(&mut Settings)) -> TestApp {
    let database = TestDatabase::create(engine).await;
    let keys = tempfile::tempdir().expect("temporary directory");
    let mut settings = test_settings(&database.url);
    settings.signing_key_file = keys.path().join("signing-key.pem");
    settings.data_keys = Some(format!("test1={}", melt_api::crypto::random_key()).into());
    settings.person_hash_key = Some(melt_api::crypto::random_key().into());
    adjust(&mut settings);
    let db = melt_api::db::connect(&settings).await.expect("connect");
    melt_api::db::migrate(&db).await.expect("migrate");
    if settings.demo_data {
        melt_api::db::seed_demo(&db)
            .await
            .expect("seed demo network");
    }
    let statements = Arc::new(AtomicUsize::new(0));
    let mut app_db = melt_api::db::connect(&settings)
        .await
        .expect("connect app pool");
    let counter = statements.clone();
    let recorded: Arc<Mutex<Option<Vec<sea_orm::Statement>>>> = Arc::new(Mutex::new(None));
    let recorder = recorded.clone();
    app_db.set_metric_callback(move |info| {
        counter.fetch_add(1, Ordering::SeqCst);
        if let Some(statements) = recorder
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_mut()
        {
            statements.push(info.statement.clone());
        }
    });
    let app = Application::build_with_db(settings.clone(), app_db)
        .await
        .expect("build app");
    let address = format!("http://127.0.0.1:{}", app.port());
    let metrics_url = app
        .metrics_address()
        .map(|address| format!("http://{address}/metrics"));
    tokio::spawn(app.run());
    TestApp {
        address,
        engine,
        db,
        statements,
        recorded,
        client: reqwest::Client::new(),
        settings,
        metrics_url,
        _keys: keys,
        _database: database,
    }
}

impl TestApp {
    /// Starts another replica of the app on the same database (its own pool, background
    /// workers and port), as a second process would; returns its address.
    pub async fn replica(&self) -> String {
        let db = melt_api::db::connect(&self.settings)
            .await
            .expect("connect the replica's pool");
        let app = Application::build_with_db(self.settings.clone(), db)
            .await
            .expect("build the replica");
        let address = format!("http://127.0.0.1:{}", app.port());
        tokio::spawn(app.run());
        address
    }

    /// The keys the app protects personal data with (to write protected rows directly).
    /// Runs SQL written with `?` placeholders on either engine; returns rows affected.
    pub async fn exec(&self, sql: &str, values: Vec<sea_orm::Value>) -> u64 {
        let backend = self.db.get_database_backend();
        let mut text = String::new();
        let mut n = 0;
        for c in sql.chars() {
            if c == '?' && backend == sea_orm::DatabaseBackend::Postgres {
                n += 1;
                text.push_str(&format!("${n}"));
            } else {
                text.push(c);
            }
        }
        self.db
            .execute_raw(sea_orm::Statement::from_sql_and_values(
                backend, text, values,
            ))
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .rows_affected()
    }

    pub fn protection(&self) -> melt_api::crypto::DataProtection {
        melt_api::crypto::DataProtection::from_settings(&self.settings).expect("data keys")
    }

    /// POSTs a query and returns the JSON body, asserting HTTP 200.
    pub async fn query(&self, query: &str, variables: Value) -> Value {
        let response = self
            .client
            .post(format!("{}/graphql", self.address))
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 200, "[{:?}] status", self.engine);
        response.json().await.expect("JSON body")
    }

    /// POSTs a query that must succeed and returns its `data`.
    pub async fn data(&self, query: &str, variables: Value) -> Value {
        let body = self.query(query, variables).await;
        assert!(
            body.get("errors").is_none(),
            "[{:?}] unexpected errors: {body}",
            self.engine
        );
        body["data"].clone()
    }

    /// Statements run by the app so far.
    pub fn statement_count(&self) -> usize {
        self.statements.load(Ordering::SeqCst)
    }

    /// Starts recording the statements the app runs (forgetting earlier ones).
    pub fn record_statements(&self) {
        *self
            .recorded
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Vec::new());
    }

    /// The statements recorded since [`TestApp::record_statements`]; recording stops.
    pub fn recorded_statements(&self) -> Vec<sea_orm::Statement> {
        self.recorded
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
            .unwrap_or_default()
    }
}

/// The types of the exported schema by name, parsed from its SDL (for tests generated
/// from the schema).
pub fn schema_types() -> std::collections::HashMap<String, async_graphql::parser::types::TypeKind> {
    use async_graphql::parser::types::{TypeDefinition, TypeSystemDefinition};
    let sdl = melt_api::schema::sdl();
    let document = async_graphql::parser::parse_schema(&sdl).expect("the SDL parses");
    let mut types = std::collections::HashMap::new();
    for definition in document.definitions {
        if let TypeSystemDefinition::Type(ty) = definition {
            let TypeDefinition { name, kind, .. } = ty.node;
            types.insert(name.node.to_string(), kind);
        }
    }
    types
}

/// The name of the type under a field's or argument's list and non-null wrappers.
pub fn named_type(ty: &async_graphql::parser::types::Type) -> &str {
    use async_graphql::parser::types::BaseType;
    match &ty.base {
        BaseType::Named(name) => name.as_str(),
        BaseType::List(inner) => named_type(inner),
    }
}

/// The row id behind a global ID (`base64url("Kind:uuid")`).
pub fn row_id(global: &str) -> uuid::Uuid {
    use base64::Engine as _;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(global)
        .unwrap_or_default();
    let text = String::from_utf8(raw).unwrap_or_default();
    let id = text.split_once(':').map(|(_, u)| u).unwrap_or_default();
    uuid::Uuid::parse_str(id).unwrap_or_else(|e| panic!("bad id {global}: {e}"))
}

/// The global ID of a row (`base64url("Kind:uuid")`): the inverse of [`row_id`].
pub fn global_id(kind: &str, id: uuid::Uuid) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{kind}:{id}"))
}

/// A valid personal codice fiscale: `prefix` (15 characters) and its check character.
pub fn codice_fiscale(prefix: &str) -> String {
    ('A'..='Z')
        .map(|c| format!("{prefix}{c}"))
        .find(|code| {
            code.len() == 16 && melt_api::organization::domain::CodiceFiscale::parse(code).is_ok()
        })
        .unwrap_or_else(|| panic!("no check character for {prefix}"))
}

/// The code of the first error of a response.
pub fn first_error_code(body: &Value) -> String {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// The `userErrors` of a mutation payload, as (field, code) pairs.
pub fn user_errors(payload: &Value) -> Vec<(Value, String)> {
    payload["userErrors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| {
                    (
                        e["field"].clone(),
                        e["code"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A token for an administrator of the demo organization whose name contains `name`.
pub async fn admin_of(app: &TestApp, name: &str) -> String {
    app.token(Some(app.organization_id(name).await), &[Role::OrgAdmin])
}

pub use melt_api::auth::Role;
use melt_api::auth::keys::ServerKey;
use melt_api::auth::token::{TokenRequest, mint};
use melt_api::auth::viewer::ViewerKind;

impl TestApp {
    /// A token signed with the app's own key for a person with `roles` acting for
    /// `organization` (a row id).
    pub fn token(&self, organization: Option<uuid::Uuid>, roles: &[Role]) -> String {
        self.token_with(TokenRequest {
            subject: format!("test-user-{}", uuid::Uuid::now_v7()),
            kind: ViewerKind::User,
            organization,
            roles: roles.to_vec(),
            scopes: Vec::new(),
            name: Some("Test user".to_owned()),
            ttl: std::time::Duration::from_secs(600),
        })
    }

    /// A token for any claims, signed with the app's own key.
    pub fn token_with(&self, request: TokenRequest) -> String {
        let key = ServerKey::load_or_create(&self.settings.signing_key_file).expect("signing key");
        mint(&key, &self.settings, &request).expect("mint token")
    }

    /// POSTs a query with a bearer token; returns status and body.
    pub async fn query_as(&self, token: &str, query: &str, variables: Value) -> (u16, Value) {
        let response = self
            .client
            .post(format!("{}/graphql", self.address))
            .bearer_auth(token)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .expect("request");
        let status = response.status().as_u16();
        let body = response.json().await.unwrap_or(Value::Null);
        (status, body)
    }

    /// The `rowVersion` of a person, consent or referral as `token`'s caller reads it
    /// now (for the `expectedVersion` every change states).
    pub async fn row_version(&self, token: &str, id: &Value) -> Value {
        let query = "query($id: ID!) { node(id: $id) {
            ... on Person { rowVersion } ... on Consent { rowVersion } ... on Referral { rowVersion } } }";
        let (_, body) = self.query_as(token, query, json!({ "id": id })).await;
        body["data"]["node"]["rowVersion"].clone()
    }

    /// Row id of the demo organization whose name contains `name`.
    pub async fn organization_id(&self, name: &str) -> uuid::Uuid {
        let backend = self.db.get_database_backend();
        let placeholder = if backend == sea_orm::DatabaseBackend::Postgres {
            "$1"
        } else {
            "?"
        };
        let row = self
            .db
            .query_one_raw(sea_orm::Statement::from_sql_and_values(
                backend,
                format!("SELECT id FROM organization WHERE name LIKE {placeholder} ORDER BY name"),
                [format!("%{name}%").into()],
            ))
            .await
            .expect("query organization")
            .unwrap_or_else(|| panic!("no organization named like {name}"));
        row.try_get::<uuid::Uuid>("", "id").expect("id")
    }
}

/// API flows shared by tests: a person registered with consent and a referral sent from
/// the Pisa employment centre to Caritas (both signed the MeLT protocol).
pub mod flow {
    use super::{Role, TestApp};
    use serde_json::{Value, json};

    pub async fn gid(app: &TestApp, name: &str) -> String {
        let query =
            "query($s: String) { organizations(filter: {search: $s}, first: 1) { nodes { id } } }";
        let data = app.data(query, json!({ "s": name })).await;
        data["organizations"]["nodes"][0]["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    pub async fn ok(app: &TestApp, token: &str, query: &str, input: Value) -> Value {
        let (_, body) = app.query_as(token, query, json!({ "input": input })).await;
        assert!(body.get("errors").is_none(), "{body}");
        body["data"].clone()
    }

    /// A person with consent and a SENT referral from the Pisa employment centre to Caritas.
    pub async fn sent_referral(app: &TestApp) -> (String, String) {
        sent_referral_as(app, "RSSMRA85T10A562S").await
    }

    /// The same for a new person each time.
    pub async fn sent_referral_for(app: &TestApp) -> (String, String) {
        let codice = ('A'..='Z')
            .flat_map(|a| ('A'..='Z').map(move |b| format!("RSS{a}{b}A85T10A562")))
            .map(|prefix| {
                let check = ('A'..='Z')
                    .find(|c| {
                        melt_api::organization::domain::CodiceFiscale::parse(&format!(
                            "{prefix}{c}"
                        ))
                        .is_ok()
                    })
                    .unwrap_or('A');
                format!("{prefix}{check}")
            })
            .nth(COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst))
            .unwrap_or_default();
        sent_referral_as(app, &codice).await
    }

    static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

    /// A person registered by the Pisa employment centre with consent for Caritas, and a
    /// DRAFT referral to Caritas's first service: (person, referral, its row version).
    pub async fn draft_referral_as(app: &TestApp, codice_fiscale: &str) -> (Value, Value) {
        let (sender, receiver) = ("Centro per l'impiego di Pisa", "Caritas diocesana di Pisa");
        let token = app.token(Some(app.organization_id(sender).await), &[Role::Operator]);
        let register = "mutation($input: RegisterPersonInput!) { registerPerson(input: $input) { person { id } } }";
        let person = ok(app, &token, register, json!({
            "organization": gid(app, sender).await, "codiceFiscale": codice_fiscale,
            "givenName": "Mario", "familyName": "Rossi", "languages": ["it"], "contactChannel": "PHONE",
            "residenceMunicipalityIstatCode": "050026"
        }))
        .await["registerPerson"]["person"]["id"]
            .clone();
        let consent = "mutation($input: RecordConsentInput!) { recordConsent(input: $input) { userErrors { message } } }";
        ok(
            app,
            &token,
            consent,
            json!({
                "person": person, "purpose": "Invio", "legalBasis": "CONSENT",
                "recipients": [gid(app, receiver).await], "grantedAt": "2026-01-01T00:00:00Z",
                "evidenceKind": "DOCUMENT", "evidence": "Modulo"
            }),
        )
        .await;
        let services = app
            .data(
                "query($o: ID) { services(filter: {provider: $o}, first: 1) { nodes { id } } }",
                json!({ "o": gid(app, receiver).await }),
            )
            .await;
        let create = "mutation($input: CreateReferralInput!) { createReferral(input: $input) { referral { id rowVersion receiverService { id } } } }";
        let referral = ok(
            app,
            &token,
            create,
            json!({
                "person": person, "receiverService": services["services"]["nodes"][0]["id"],
                "needs": ["EMPLOYMENT"], "reason": "Orientamento", "priority": "NORMAL"
            }),
        )
        .await["createReferral"]["referral"]
            .clone();
        (person, referral)
    }

    /// The same, sent: (person, referral) global IDs.
    pub async fn sent_referral_as(app: &TestApp, codice_fiscale: &str) -> (String, String) {
        let (person, referral) = draft_referral_as(app, codice_fiscale).await;
        let token = app.token(
            Some(app.organization_id("Centro per l'impiego di Pisa").await),
            &[Role::Operator],
        );
        let send = "mutation($input: SendReferralInput!) { sendReferral(input: $input) { referral { id status } userErrors { message } } }";
        let sent = ok(
            app,
            &token,
            send,
            json!({ "id": referral["id"], "expectedVersion": referral["rowVersion"] }),
        )
        .await;
        assert_eq!(sent["sendReferral"]["referral"]["status"], "SENT", "{sent}");
        (
            person.as_str().unwrap_or_default().to_owned(),
            referral["id"].as_str().unwrap_or_default().to_owned(),
        )
    }
}

/// A webhook receiver for tests: a bare HTTP/1.1 server on a free local port that
/// records every request and answers with the status a rule picks.
pub mod receiver {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex, PoisonError};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// One request the receiver got.
    #[derive(Clone, Debug)]
    pub struct Received {
        /// `webhook-id`.
        pub id: String,
        /// `webhook-timestamp`.
        pub timestamp: String,
        /// `webhook-signature`.
        pub signature: String,
        /// The body.
        pub body: String,
        /// The status it was answered with (0: never answered).
        pub answered: u16,
    }

    /// How to answer: given the `webhook-id` and how many times it came before.
    pub type Rule = Arc<dyn Fn(&str, usize) -> Option<u16> + Send + Sync>;

    /// The running receiver.
    #[derive(Clone)]
    pub struct Receiver {
        /// Its URL (`http://127.0.0.1:<port>/hook`).
        pub url: String,
        log: Arc<Mutex<Vec<Received>>>,
        rule: Arc<Mutex<Rule>>,
    }

    impl Receiver {
        /// Starts a receiver; `rule` returns the status, or None to never answer.
        pub async fn start(
            rule: impl Fn(&str, usize) -> Option<u16> + Send + Sync + 'static,
        ) -> Self {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind receiver");
            let port = listener.local_addr().expect("receiver address").port();
            let receiver = Self {
                url: format!("http://127.0.0.1:{port}/hook"),
                log: Arc::default(),
                rule: Arc::new(Mutex::new(Arc::new(rule))),
            };
            let serving = receiver.clone();
            tokio::spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    tokio::spawn(serving.clone().serve(stream));
                }
            });
            receiver
        }

        /// Answers from now on by another rule.
        pub fn set_rule(&self, rule: impl Fn(&str, usize) -> Option<u16> + Send + Sync + 'static) {
            *self.rule.lock().unwrap_or_else(PoisonError::into_inner) = Arc::new(rule);
        }

        /// Every request so far.
        pub fn received(&self) -> Vec<Received> {
            self.log
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone()
        }

        /// The requests answered 2xx, by `webhook-id`: how many times each.
        pub fn accepted(&self) -> HashMap<String, usize> {
            let mut out = HashMap::new();
            for r in self.received() {
                if (200..300).contains(&r.answered) {
                    *out.entry(r.id).or_default() += 1;
                }
            }
            out
        }

        async fn serve(self, mut stream: tokio::net::TcpStream) {
            let mut buffer = Vec::new();
            loop {
                // Headers.
                let end = loop {
                    if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                        break end;
                    }
                    let mut chunk = [0u8; 4096];
                    match stream.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                    }
                };
                let head = String::from_utf8_lossy(&buffer[..end]).to_string();
                let headers: HashMap<String, String> = head
                    .lines()
                    .skip(1)
                    .filter_map(|l| l.split_once(':'))
                    .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
                    .collect();
                let length: usize = headers
                    .get("content-length")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                let mut body = buffer.split_off(end + 4);
                buffer.clear();
                while body.len() < length {
                    let mut chunk = [0u8; 4096];
                    match stream.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => body.extend_from_slice(&chunk[..n]),
                    }
                }
                buffer = body.split_off(length);
                let id = headers.get("webhook-id").cloned().unwrap_or_default();
                let status = {
                    let log = self.log.lock().unwrap_or_else(PoisonError::into_inner);
                    let before = log.iter().filter(|r| r.id == id).count();
                    let rule = self
                        .rule
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .clone();
                    rule(&id, before)
                };
                {
                    let mut log = self.log.lock().unwrap_or_else(PoisonError::into_inner);
                    log.push(Received {
                        id,
                        timestamp: headers
                            .get("webhook-timestamp")
                            .cloned()
                            .unwrap_or_default(),
                        signature: headers
                            .get("webhook-signature")
                            .cloned()
                            .unwrap_or_default(),
                        body: String::from_utf8_lossy(&body).to_string(),
                        answered: status.unwrap_or(0),
                    });
                }
                let Some(status) = status else {
                    // Never answer: hold the connection until the sender gives up.
                    let mut sink = [0u8; 1024];
                    while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
                    return;
                };
                let response = format!("HTTP/1.1 {status} X\r\ncontent-length: 0\r\n\r\n");
                if stream.write_all(response.as_bytes()).await.is_err() {
                    return;
                }
            }
        }
    }

    /// Verifies a request as a Standard Webhooks receiver does, independently of the
    /// server's code: one of the space-separated `v1,` signatures is the base64
    /// HMAC-SHA256, keyed with the secret's base64 part, of `{id}.{timestamp}.{body}`.
    pub fn verify(secret: &str, request: &Received) -> bool {
        use base64::Engine as _;
        use hmac::Mac as _;
        let engine = base64::engine::general_purpose::STANDARD;
        let Ok(key) = engine.decode(secret.trim_start_matches("whsec_")) else {
            return false;
        };
        let Ok(mut mac) = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key) else {
            return false;
        };
        mac.update(format!("{}.{}.{}", request.id, request.timestamp, request.body).as_bytes());
        let expected = engine.encode(mac.finalize().into_bytes());
        request
            .signature
            .split(' ')
            .any(|s| s.strip_prefix("v1,") == Some(expected.as_str()))
    }
}

/// Fails unless every count the database keeps (`melt_api::tally`) equals the count of
/// the rows themselves: services by status, and every organization's inbox by status
/// under the reading rule (`melt_api::privacy::access::inbox`).
pub async fn assert_counts_are_kept(app: &TestApp, when: &str) {
    use entity::enums::{ReferralStatus, ServiceStatus};
    use entity::{organization, referral, service};
    use sea_orm::{ColumnTrait, EntityTrait, Iterable, PaginatorTrait, QueryFilter};
    let engine = app.engine;
    for status in ServiceStatus::iter() {
        let rows = service::Entity::find()
            .filter(service::Column::Status.eq(status))
            .count(&app.db)
            .await
            .expect("count services");
        let kept = melt_api::tally::services(&app.db, &[status])
            .await
            .expect("kept count of services");
        assert_eq!(kept, rows, "[{engine:?}] {when}: services {status:?}");
    }
    let all = service::Entity::find().count(&app.db).await.expect("count");
    let kept = melt_api::tally::services(&app.db, &[]).await.expect("kept");
    assert_eq!(kept, all, "[{engine:?}] {when}: every service");
    let now = chrono::Utc::now();
    let organizations = organization::Entity::find()
        .all(&app.db)
        .await
        .expect("organizations");
    for org in organizations {
        let by_status = melt_api::tally::inbox_by_status(&app.db, org.id, now)
            .await
            .expect("kept inbox counts");
        let mut total = 0;
        for status in ReferralStatus::iter() {
            let rows = referral::Entity::find()
                .filter(melt_api::privacy::access::inbox(org.id, now))
                .filter(referral::Column::Status.eq(status))
                .count(&app.db)
                .await
                .expect("count inbox");
            let kept = by_status
                .iter()
                .find(|(s, _)| *s == status)
                .map_or(0, |(_, n)| *n);
            assert_eq!(
                kept, rows,
                "[{engine:?}] {when}: inbox of {} in {status:?}",
                org.name
            );
            let one = melt_api::tally::inbox(&app.db, org.id, &[status], now)
                .await
                .expect("kept inbox count");
            assert_eq!(
                one, rows,
                "[{engine:?}] {when}: inbox of {} in {status:?}",
                org.name
            );
            total += rows;
        }
        let every = melt_api::tally::inbox(&app.db, org.id, &[], now)
            .await
            .expect("kept inbox count");
        assert_eq!(every, total, "[{engine:?}] {when}: inbox of {}", org.name);
    }
}
