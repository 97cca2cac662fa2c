//! The `melt` binary's `token` and `keys generate` subcommands: no database, the key
//! file of the settings, tokens a server with the same settings accepts.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed step should stop it

use base64::Engine;
use melt_api::auth::keys::{KeyRing, ServerKey};
use melt_api::auth::viewer::ViewerKind;
use melt_api::auth::{Role, token};
use melt_api::graphql::relay::{NodeKind, to_global_id};
use melt_api::settings::Settings;
use std::path::Path;
use std::process::{Command, Output};

/// Runs `melt` in `dir` with a settings environment of its own: the signing key file
/// `key`, and no database (these subcommands must not need one).
fn melt(dir: &Path, key: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_melt"))
        .args(args)
        .current_dir(dir)
        .env("MELT_SIGNING_KEY_FILE", key)
        .env("DATABASE_URL", "postgres://nobody@127.0.0.1:1/unreachable")
        .env_remove("MELT_CONFIG")
        .env_remove("RUST_LOG")
        .output()
        .expect("run melt")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Settings a server would run with here.
fn settings(key: &Path) -> Settings {
    Settings {
        signing_key_file: key.to_path_buf(),
        ..Settings::default()
    }
}

#[tokio::test]
async fn a_token_minted_by_the_cli_is_accepted_with_the_same_settings() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let key = dir.path().join("melt-signing-key.pem");
    let org = uuid::Uuid::now_v7();
    let org_id = to_global_id(NodeKind::Organization, org).to_string();
    let output = melt(
        dir.path(),
        &key,
        &[
            "token",
            "--org",
            &org_id,
            "--role",
            "ORG_ADMIN",
            "--role",
            "operator",
            "--scope",
            "services:write",
            "--ttl",
            "30m",
            "--subject",
            "mario.rossi",
            "--name",
            "Mario Rossi",
        ],
    );
    assert!(output.status.success(), "stderr: {}", stderr(&output));
    assert!(key.exists(), "the key file is created on first use");
    let printed = stdout(&output);
    let lines: Vec<&str> = printed.lines().collect();
    assert_eq!(lines.len(), 1, "only the token on stdout: {printed:?}");
    let jwt = lines[0];
    assert_eq!(jwt.split('.').count(), 3, "{jwt}");

    // What a server started with the same settings does.
    let settings = settings(&key);
    let server_key = ServerKey::load_or_create(&settings.signing_key_file).expect("key");
    let ring = KeyRing::from_settings(&settings, &server_key)
        .await
        .expect("key ring");
    let viewer = token::verify(&ring, &settings, jwt)
        .await
        .expect("the server accepts the token");
    assert_eq!(viewer.kind, ViewerKind::User);
    assert_eq!(viewer.subject, "mario.rossi");
    assert_eq!(viewer.organization, Some(org));
    assert_eq!(viewer.roles, vec![Role::OrgAdmin, Role::Operator]);
    assert_eq!(viewer.scopes, vec!["services:write".to_owned()]);
    assert_eq!(viewer.name.as_deref(), Some("Mario Rossi"));
    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(jwt.split('.').nth(1).unwrap_or_default())
        .expect("base64 payload");
    let claims: serde_json::Value = serde_json::from_slice(&payload).expect("JSON claims");
    let lifetime = claims["exp"].as_i64().unwrap_or(0) - claims["iat"].as_i64().unwrap_or(0);
    assert_eq!(lifetime, 1800);

    // A second run reuses the key: its token verifies with the same ring.
    let again = melt(
        dir.path(),
        &key,
        &["token", "--org", &org_id, "--role", "ORG_ADMIN"],
    );
    assert!(again.status.success(), "stderr: {}", stderr(&again));
    let viewer = token::verify(&ring, &settings, stdout(&again).trim())
        .await
        .expect("same key");
    assert_eq!(viewer.subject, "melt-cli");
    assert_eq!(viewer.roles, vec![Role::OrgAdmin]);
}

#[tokio::test]
async fn a_token_from_another_key_is_refused() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let (mine, theirs) = (dir.path().join("mine.pem"), dir.path().join("theirs.pem"));
    let output = melt(
        dir.path(),
        &theirs,
        &["token", "--role", "REGIONAL_ADMIN", "--ttl", "60"],
    );
    assert!(output.status.success(), "stderr: {}", stderr(&output));
    let settings = settings(&mine);
    let server_key = ServerKey::load_or_create(&mine).expect("key");
    let ring = KeyRing::from_settings(&settings, &server_key)
        .await
        .expect("key ring");
    assert!(
        token::verify(&ring, &settings, stdout(&output).trim())
            .await
            .is_err()
    );
}

#[test]
fn keys_generate_writes_a_new_key_and_never_overwrites_one() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let key = dir.path().join("unused.pem");
    let path = dir.path().join("generated.pem");
    let path_arg = path.to_string_lossy().into_owned();
    let output = melt(
        dir.path(),
        &key,
        &["keys", "generate", "--output", &path_arg],
    );
    assert!(output.status.success(), "stderr: {}", stderr(&output));
    assert_eq!(stdout(&output), "", "the key is not printed");
    let pem = std::fs::read_to_string(&path).expect("key file");
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"), "{pem}");
    let first = ServerKey::from_pem(&pem).expect("an Ed25519 PKCS#8 key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path)
            .expect("metadata")
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "readable by its owner only: {mode:o}");
    }
    assert!(
        !key.exists(),
        "keys generate does not touch the settings' key"
    );

    let again = melt(
        dir.path(),
        &key,
        &["keys", "generate", "--output", &path_arg],
    );
    assert!(!again.status.success());
    assert!(stderr(&again).contains("exists"), "{}", stderr(&again));
    let unchanged =
        ServerKey::from_pem(&std::fs::read_to_string(&path).expect("key file")).expect("key");
    assert_eq!(unchanged.kid, first.kid);

    let printed = melt(dir.path(), &key, &["keys", "generate"]);
    assert!(printed.status.success(), "stderr: {}", stderr(&printed));
    let other = ServerKey::from_pem(&stdout(&printed)).expect("a PEM key on stdout");
    assert_ne!(other.kid, first.kid, "every key is new");
}

#[test]
fn bad_roles_and_organizations_are_refused_with_a_message() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let key = dir.path().join("key.pem");
    let org_id = to_global_id(NodeKind::Organization, uuid::Uuid::now_v7()).to_string();
    let service_id = to_global_id(NodeKind::Service, uuid::Uuid::now_v7()).to_string();
    let cases: [(&[&str], &str); 7] = [
        (
            &["token", "--org", &org_id, "--role", "SUPERUSER"],
            "unknown role",
        ),
        (
            &["token", "--org", "not-an-id", "--role", "ORG_ADMIN"],
            "--org",
        ),
        (
            &["token", "--org", &service_id, "--role", "ORG_ADMIN"],
            "--org",
        ),
        (&["token", "--role", "ORG_ADMIN"], "--org"),
        (
            &[
                "token",
                "--org",
                &org_id,
                "--role",
                "ORG_ADMIN",
                "--ttl",
                "1y",
            ],
            "--ttl",
        ),
        (
            &["token", "--org", &org_id, "--scope", "everything"],
            "unknown scope",
        ),
        (
            &[
                "token", "--org", &org_id, "--role", "OPERATOR", "--ttl", "2h",
            ],
            "MELT_TOKEN_MAX_LIFETIME_SECS",
        ),
    ];
    for (args, message) in cases {
        let output = melt(dir.path(), &key, args);
        assert!(!output.status.success(), "{args:?} succeeded");
        assert_eq!(stdout(&output), "", "{args:?}: nothing on stdout");
        assert!(
            stderr(&output).contains(message),
            "{args:?}: stderr {}",
            stderr(&output)
        );
    }
    assert!(!key.exists(), "no key is created for a refused request");
}

/// Runs `melt` against an SQLite database with the given data keys.
fn melt_with_db(
    dir: &Path,
    database: &str,
    data_keys: &str,
    hash_key: &str,
    args: &[&str],
) -> Output {
    Command::new(env!("CARGO_BIN_EXE_melt"))
        .args(args)
        .current_dir(dir)
        .env("DATABASE_URL", database)
        .env("MELT_SIGNING_KEY_FILE", dir.join("key.pem"))
        .env("MELT_DATA_KEYS", data_keys)
        .env("MELT_PERSON_HASH_KEY", hash_key)
        .env_remove("MELT_CONFIG")
        .env_remove("MELT_DATA_KEY_CURRENT")
        .output()
        .expect("run melt")
}

#[tokio::test]
async fn keys_rotate_data_reencrypts_personal_data_with_the_current_key() {
    use melt_api::crypto::{DataProtection, random_key};
    use sea_orm::{ConnectionTrait, Database, Statement};
    let dir = tempfile::tempdir().expect("temporary directory");
    let database = format!("sqlite://{}?mode=rwc", dir.path().join("melt.db").display());
    let (k1, k2, hash) = (random_key(), random_key(), random_key());
    let old_keys = format!("k1={k1}");
    let seeded = melt_with_db(dir.path(), &database, &old_keys, &hash, &["seed"]);
    assert!(seeded.status.success(), "{}", stderr(&seeded));

    let old = DataProtection::new(&old_keys, None, &hash).expect("keys");
    let db = Database::connect(&database).await.expect("connect");
    let backend = db.get_database_backend();
    let org = db
        .query_one_raw(Statement::from_string(
            backend,
            "SELECT id FROM organization LIMIT 1",
        ))
        .await
        .expect("query")
        .and_then(|row| row.try_get::<uuid::Uuid>("", "id").ok())
        .expect("an organization");
    let sealed = old.encrypt("Rossignoli").expect("encrypt");
    db.execute_raw(Statement::from_sql_and_values(
        backend,
        "INSERT INTO person (id, created_at, updated_at, family_name_enc, languages, contact_channel, registered_by_organization_id, row_version) VALUES (?, ?, ?, ?, 'it', 'PHONE', ?, 1)",
        [
            uuid::Uuid::now_v7().into(),
            chrono::Utc::now().into(),
            chrono::Utc::now().into(),
            sealed.clone().into(),
            org.into(),
        ],
    ))
    .await
    .expect("insert person");

    let both = format!("k1={k1},k2={k2}");
    let rotated = melt_with_db(
        dir.path(),
        &database,
        &both,
        &hash,
        &["keys", "rotate-data"],
    );
    assert!(rotated.status.success(), "{}", stderr(&rotated));
    let stored = db
        .query_one_raw(Statement::from_string(
            backend,
            "SELECT family_name_enc FROM person",
        ))
        .await
        .expect("query")
        .and_then(|row| row.try_get::<String>("", "family_name_enc").ok())
        .unwrap_or_default();
    assert!(
        stored.starts_with("k2:"),
        "re-encrypted with the current key: {stored}"
    );
    let new = DataProtection::new(&both, None, &hash).expect("keys");
    assert_eq!(new.decrypt(&stored).ok().as_deref(), Some("Rossignoli"));
    let k2_only = DataProtection::new(&format!("k2={k2}"), None, &hash).expect("keys");
    assert_eq!(
        k2_only.decrypt(&stored).ok().as_deref(),
        Some("Rossignoli"),
        "k1 can go"
    );
}

/// Runs `melt serve` with `vars` (and a backtrace asked for, which must not show).
fn serve_with(dir: &Path, vars: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_melt"));
    command
        .arg("serve")
        .current_dir(dir)
        .env_clear()
        .env("RUST_BACKTRACE", "1")
        .env("MELT_LOG_FILTER", "off");
    for (name, value) in vars {
        command.env(name, value);
    }
    command.output().expect("run melt serve")
}

#[test]
fn settings_mistakes_are_told_in_the_user_s_words_without_a_backtrace() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = format!("sqlite://{}?mode=rwc", dir.path().join("melt.db").display());
    for (vars, expected) in [
        (
            vec![("MELT_PORT", "abc")],
            "error: MELT_PORT must be a number between 0 and 65535, got \"abc\"",
        ),
        (
            vec![("MELT_PROT", "8080")],
            "error: MELT_PROT is not a setting of this service (did you mean MELT_PORT?)",
        ),
        (
            vec![("MELT_DEMO_DATA", "maybe")],
            "error: MELT_DEMO_DATA must be true or false, got \"maybe\"",
        ),
        (
            vec![("DATABASE_URL", "mysql://melt@db/melt")],
            "error: DATABASE_URL must start with sqlite:",
        ),
        (
            vec![
                (
                    "DATABASE_URL",
                    "postgres://melt:secret-password@127.0.0.1:1/melt",
                ),
                (
                    "MELT_DATA_KEYS",
                    "k1=c2VjcmV0LWRhdGEta2V5LTMyLWJ5dGVzLWxvbmctLS0=",
                ),
                (
                    "MELT_PERSON_HASH_KEY",
                    "aGFzaC1rZXktdmFsdWUtMzItYnl0ZXMtbG9uZy0tLS0=",
                ),
                ("MELT_DATABASE_ACQUIRE_TIMEOUT_SECS", "1"),
            ],
            "error: cannot connect to the database at 127.0.0.1:1",
        ),
    ] {
        let mut vars = vars;
        if !vars.iter().any(|(n, _)| *n == "DATABASE_URL") {
            vars.push(("DATABASE_URL", &sqlite));
        }
        let output = serve_with(dir.path(), &vars);
        let err = stderr(&output);
        assert_eq!(output.status.code(), Some(1), "{vars:?}: {err}");
        assert!(err.starts_with(expected), "{vars:?}: {err}");
        assert_eq!(err.lines().count(), 1, "one line, no backtrace: {err}");
        assert!(!err.contains("secret-password"), "{err}");
    }
}

#[test]
fn serve_help_names_every_setting_it_reads() {
    let output = Command::new(env!("CARGO_BIN_EXE_melt"))
        .args(["serve", "--help"])
        .output()
        .expect("run melt serve --help");
    let help = stdout(&output);
    // Every field of the settings, as its environment variable.
    let fields = serde_json::to_value(Settings::default()).expect("settings as JSON");
    let mut missing = Vec::new();
    for key in fields.as_object().expect("an object").keys() {
        let variable = if key == "database_url" {
            "DATABASE_URL".to_owned()
        } else {
            format!("MELT_{}", key.to_ascii_uppercase())
        };
        let named = help.contains(&variable)
            || help
                .split([' ', ','])
                .filter_map(|word| word.strip_suffix('*'))
                .any(|prefix| variable.starts_with(prefix));
        if !named {
            missing.push(variable);
        }
    }
    assert!(
        missing.is_empty(),
        "not in `melt serve --help`: {missing:?}\n{help}"
    );
}

#[test]
fn export_hsds_writes_the_public_directory_as_json_and_as_hsds_tabular_csv() {
    use melt_api::crypto::random_key;
    let dir = tempfile::tempdir().expect("temporary directory");
    let database = format!("sqlite://{}?mode=rwc", dir.path().join("melt.db").display());
    let (keys, hash) = (format!("k1={}", random_key()), random_key());
    let seeded = melt_with_db(dir.path(), &database, &keys, &hash, &["seed"]);
    assert!(seeded.status.success(), "{}", stderr(&seeded));

    let json_dir = dir.path().join("json");
    let json_dir_arg = json_dir.display().to_string();
    let args = [
        "export",
        "hsds",
        "--format",
        "json",
        "--output",
        &json_dir_arg,
    ];
    let exported = melt_with_db(dir.path(), &database, &keys, &hash, &args);
    assert!(exported.status.success(), "{}", stderr(&exported));
    for list in [
        "services",
        "organizations",
        "locations",
        "service_at_locations",
        "taxonomies",
        "taxonomy_terms",
    ] {
        let text = std::fs::read_to_string(json_dir.join(format!("{list}.json"))).expect(list);
        let objects: Vec<serde_json::Value> = serde_json::from_str(&text).expect("JSON array");
        assert!(!objects.is_empty(), "{list}");
        assert!(objects.iter().all(|o| o["id"].is_string()), "{list}");
    }

    let csv_dir = dir.path().join("csv");
    let csv_dir_arg = csv_dir.display().to_string();
    let args = [
        "export",
        "hsds",
        "--format",
        "csv",
        "--output",
        &csv_dir_arg,
    ];
    let exported = melt_with_db(dir.path(), &database, &keys, &hash, &args);
    assert!(exported.status.success(), "{}", stderr(&exported));
    for (_, file, columns) in melt_api::hsds::dump::TABLES {
        let text = std::fs::read_to_string(csv_dir.join(file)).expect(file);
        let header = text.lines().next().unwrap_or_default();
        assert_eq!(header, columns.join(","), "{file}");
    }
    let services = std::fs::read_to_string(csv_dir.join("services.csv")).expect("services");
    assert!(services.lines().count() > 1, "services.csv has rows");
}

#[test]
fn export_hsds_refuses_an_unknown_format_with_a_message() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let output = Command::new(env!("CARGO_BIN_EXE_melt"))
        .args(["export", "hsds", "--format", "xml", "--output", "out"])
        .current_dir(dir.path())
        .output()
        .expect("run melt");
    assert!(!output.status.success());
    assert!(stderr(&output).contains("xml"), "{}", stderr(&output));
    assert!(!dir.path().join("out").exists(), "nothing written");
}
