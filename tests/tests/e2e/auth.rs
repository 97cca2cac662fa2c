//! Authentication: the viewer, and every kind of token the API must refuse.

use melt_api::auth::token::TokenRequest;
use melt_api::auth::viewer::ViewerKind;
use melt_tests::{Role, TestApp, engines, on_every_engine, spawn_app, spawn_app_with};
use reqwest::header::WWW_AUTHENTICATE;
use serde_json::{Value, json};
use std::time::Duration;

const VIEWER: &str =
    "{ viewer { kind subject organizationId roles scopes organization { name } } }";

#[tokio::test]
async fn without_a_token_the_viewer_is_anonymous() {
    let app = spawn_app(engines()[0]).await;
    let data = app.data(VIEWER, json!({})).await;
    assert_eq!(data["viewer"]["kind"], "ANONYMOUS");
    assert!(data["viewer"]["subject"].is_null());
}

#[tokio::test]
async fn a_token_minted_by_the_server_names_the_caller() {
    on_every_engine(async |engine, app| {
        let org = app.organization_id("Forium").await;
        let token = app.token(Some(org), &[Role::OrgAdmin, Role::Operator]);
        let (status, body) = app.query_as(&token, VIEWER, json!({})).await;
        assert_eq!(status, 200, "[{engine:?}] {body}");
        let viewer = &body["data"]["viewer"];
        assert_eq!(viewer["kind"], "USER");
        assert_eq!(viewer["roles"], json!(["ORG_ADMIN", "OPERATOR"]));
        assert_eq!(viewer["organization"]["name"], "Forium");
    })
    .await;
}

fn request(app: &TestApp) -> TokenRequest {
    let _ = app;
    TokenRequest {
        subject: "someone".into(),
        kind: ViewerKind::User,
        organization: None,
        roles: vec![Role::RegionalAdmin],
        scopes: vec![],
        name: None,
        ttl: Duration::from_secs(600),
    }
}

async fn assert_refused(app: &TestApp, token: &str, why: &str) {
    let response = app
        .client
        .post(format!("{}/graphql", app.address))
        .bearer_auth(token)
        .json(&json!({ "query": VIEWER }))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 401, "{why}");
    let challenge = response.headers().get(WWW_AUTHENTICATE).cloned();
    assert_eq!(
        challenge.as_ref().and_then(|v| v.to_str().ok()),
        Some(r#"Bearer error="invalid_token""#),
        "{why}"
    );
    let body: Value = response.json().await.expect("json");
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{why}"
    );
    let text = body.to_string();
    for detail in [
        "expired",
        "signature",
        "issuer",
        "audience",
        "kid",
        "algorithm",
    ] {
        assert!(
            !text.to_lowercase().contains(detail),
            "{why}: the reason leaked: {text}"
        );
    }
}

fn b64(value: &Value) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string())
}

fn parts(token: &str) -> (Value, Value, String) {
    use base64::Engine;
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut it = token.split('.');
    let header = engine
        .decode(it.next().unwrap_or_default())
        .unwrap_or_default();
    let payload = engine
        .decode(it.next().unwrap_or_default())
        .unwrap_or_default();
    (
        serde_json::from_slice(&header).unwrap_or_default(),
        serde_json::from_slice(&payload).unwrap_or_default(),
        it.next().unwrap_or_default().to_owned(),
    )
}

#[tokio::test]
async fn expired_and_not_yet_valid_tokens_are_refused() {
    let app = spawn_app(engines()[0]).await;
    let valid = app.token_with(request(&app));
    let (status, _) = app.query_as(&valid, VIEWER, json!({})).await;
    assert_eq!(status, 200, "the control token works");
    let (header, mut claims, _) = parts(&valid);
    let now = claims["iat"].as_i64().unwrap_or_default();
    claims["exp"] = json!(now - 3600);
    let key = melt_api::auth::keys::ServerKey::load_or_create(&app.settings.signing_key_file)
        .expect("key");
    let sign = |header: &Value, claims: &Value| -> String {
        let header: jsonwebtoken::Header = serde_json::from_value(header.clone()).expect("header");
        jsonwebtoken::encode(&header, claims, &key.encoding).expect("sign")
    };
    assert_refused(&app, &sign(&header, &claims), "expired").await;
    claims["exp"] = json!(now + 3600);
    claims["nbf"] = json!(now + 1800);
    assert_refused(&app, &sign(&header, &claims), "not yet valid").await;
    claims["nbf"] = json!(now);
    claims["iss"] = json!("someone-else");
    assert_refused(&app, &sign(&header, &claims), "wrong issuer").await;
    claims["iss"] = json!(app.settings.auth_issuer);
    claims["aud"] = json!("another-api");
    assert_refused(&app, &sign(&header, &claims), "wrong audience").await;
    claims["aud"] = json!(app.settings.auth_audience);
    let mut unknown = header.clone();
    unknown["kid"] = json!("no-such-key");
    assert_refused(&app, &sign(&unknown, &claims), "unknown kid").await;
    let restored = sign(&header, &claims);
    let (status, _) = app.query_as(&restored, VIEWER, json!({})).await;
    assert_eq!(status, 200, "the same claims with every check right pass");
}

#[tokio::test]
async fn unsigned_and_tampered_tokens_are_refused() {
    let app = spawn_app(engines()[0]).await;
    let valid = app.token_with(request(&app));
    let (_, mut claims, signature) = parts(&valid);
    let none = format!(
        "{}.{}.",
        b64(&json!({ "alg": "none", "typ": "JWT" })),
        b64(&claims)
    );
    assert_refused(&app, &none, "alg none").await;
    claims["roles"] = json!(["REGIONAL_ADMIN", "AUDITOR"]);
    claims["sub"] = json!("intruder");
    let header = valid.split('.').next().unwrap_or_default();
    let tampered = format!("{header}.{}.{signature}", b64(&claims));
    assert_refused(&app, &tampered, "tampered payload").await;
    assert_refused(&app, "not-a-jwt", "garbage").await;
}

/// RSA public key used by the identity provider in these tests (2048 bits).
fn rsa_fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

#[tokio::test]
async fn an_hs256_token_signed_with_the_rs256_public_key_is_refused() {
    let app = spawn_app_with(engines()[0], |s| {
        s.auth_public_key_file = Some(rsa_fixture("idp-rsa-public.pem"));
        s.auth_public_key_algorithm = Some("RS256".into());
    })
    .await;
    let public_pem = std::fs::read(rsa_fixture("idp-rsa-public.pem")).expect("fixture");
    let claims = json!({
        "iss": app.settings.auth_issuer, "aud": app.settings.auth_audience, "sub": "attacker",
        "iat": chrono_now(), "exp": chrono_now() + 600, "roles": ["REGIONAL_ADMIN"],
    });
    let forged = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(&public_pem),
    )
    .expect("sign");
    assert_refused(&app, &forged, "HS256 with the RS256 public key as secret").await;

    let private_pem = std::fs::read(rsa_fixture("idp-rsa-private.pem")).expect("fixture");
    let genuine = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_rsa_pem(&private_pem).expect("rsa key"),
    )
    .expect("sign");
    let (status, body) = app.query_as(&genuine, VIEWER, json!({})).await;
    assert_eq!(
        status, 200,
        "the identity provider's RS256 tokens are accepted: {body}"
    );
    assert_eq!(body["data"]["viewer"]["roles"], json!(["REGIONAL_ADMIN"]));
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or_default())
        .unwrap_or_default()
}

mod key_sources {
    use super::*;
    use melt_api::auth::keys::ServerKey;
    use melt_api::auth::token::mint;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// An identity provider's key pair: signs tokens, publishes its JWK.
    fn provider_key() -> ServerKey {
        ServerKey::from_pem(&ServerKey::generate_pem().expect("pem")).expect("key")
    }

    fn jwks(keys: &[&ServerKey]) -> String {
        json!({ "keys": keys.iter().map(|k| serde_json::to_value(&k.jwk).unwrap_or_default()).collect::<Vec<_>>() })
            .to_string()
    }

    /// A one-route HTTP server serving `document`, counting requests.
    async fn serve_jwks(document: Arc<Mutex<String>>, hits: Arc<AtomicUsize>) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("address");
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let mut buffer = [0u8; 4096];
                let _ = stream.read(&mut buffer).await;
                hits.fetch_add(1, Ordering::SeqCst);
                let body = document.lock().map(|d| d.clone()).unwrap_or_default();
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
            }
        });
        format!("http://{address}/jwks.json")
    }

    fn signed_by(app: &TestApp, key: &ServerKey) -> String {
        mint(key, &app.settings, &request(app)).expect("mint")
    }

    #[tokio::test]
    async fn tokens_signed_with_a_key_of_the_jwks_file_are_accepted() {
        let idp = provider_key();
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("jwks.json");
        std::fs::write(&file, jwks(&[&idp])).expect("write jwks");
        let app = spawn_app_with(engines()[0], |s| s.auth_jwks_file = Some(file.clone())).await;
        let (status, body) = app
            .query_as(&signed_by(&app, &idp), VIEWER, json!({}))
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["data"]["viewer"]["kind"], "USER");
        let stranger = provider_key();
        assert_refused(&app, &signed_by(&app, &stranger), "a key not in the JWKS").await;
    }

    #[tokio::test]
    async fn an_unknown_kid_rereads_the_jwks_url_at_most_once_a_minute() {
        let (first, rotated, later) = (provider_key(), provider_key(), provider_key());
        let document = Arc::new(Mutex::new(jwks(&[&first])));
        let hits = Arc::new(AtomicUsize::new(0));
        let url = serve_jwks(document.clone(), hits.clone()).await;
        let app = spawn_app_with(engines()[0], |s| s.auth_jwks_url = Some(url.clone())).await;
        assert_eq!(hits.load(Ordering::SeqCst), 1, "read at start-up");
        let (status, _) = app
            .query_as(&signed_by(&app, &first), VIEWER, json!({}))
            .await;
        assert_eq!(status, 200);
        assert_eq!(
            hits.load(Ordering::SeqCst),
            1,
            "a known kid needs no reload"
        );

        // The provider rotates its key: the unknown kid triggers one reload.
        if let Ok(mut d) = document.lock() {
            *d = jwks(&[&first, &rotated]);
        }
        let (status, body) = app
            .query_as(&signed_by(&app, &rotated), VIEWER, json!({}))
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            hits.load(Ordering::SeqCst),
            2,
            "reloaded once for the new kid"
        );

        // Another unknown kid within the minute: no second reload, refused.
        if let Ok(mut d) = document.lock() {
            *d = jwks(&[&first, &rotated, &later]);
        }
        assert_refused(&app, &signed_by(&app, &later), "throttled reload").await;
        assert_eq!(hits.load(Ordering::SeqCst), 2, "no reload within a minute");
    }

    #[tokio::test]
    async fn the_hs256_secret_is_refused_unless_development_allows_it_and_long_enough() {
        let database = melt_tests::TestDatabase::create(engines()[0]).await;
        let dir = tempfile::tempdir().expect("dir");
        let base = || {
            let mut s = melt_tests::test_settings(&database.url);
            s.signing_key_file = dir.path().join("key.pem");
            s
        };
        let build = |settings: melt_api::settings::Settings| async move {
            let db = melt_api::db::connect(&settings).await.expect("connect");
            melt_api::startup::Application::build_with_db(settings, db)
                .await
                .map(|_| ())
        };
        let mut not_allowed = base();
        not_allowed.auth_hs256_secret = Some("x".repeat(40).into());
        assert!(
            build(not_allowed).await.is_err(),
            "HS256 without the development setting"
        );
        let mut short = base();
        short.auth_hs256_secret = Some("x".repeat(31).into());
        short.auth_allow_hs256 = true;
        assert!(build(short).await.is_err(), "a secret under 32 bytes");
        let mut lax = base();
        lax.auth_leeway_secs = 61;
        assert!(build(lax).await.is_err(), "a leeway over 60 s");
        let mut allowed = base();
        allowed.auth_hs256_secret = Some("x".repeat(32).into());
        allowed.auth_allow_hs256 = true;
        assert!(build(allowed).await.is_ok());
    }

    #[tokio::test]
    async fn claim_names_follow_the_settings() {
        let app = spawn_app_with(engines()[0], |s| {
            s.auth_claim_roles = "groups".into();
            s.auth_claim_organization = "ente".into();
        })
        .await;
        let org = app.organization_id("Forium").await;
        let token = app.token(Some(org), &[Role::Auditor]);
        let (_, claims, _) = parts(&token);
        assert_eq!(claims["groups"], json!(["AUDITOR"]), "{claims}");
        assert!(claims.get("roles").is_none());
        let (status, body) = app.query_as(&token, VIEWER, json!({})).await;
        assert_eq!(status, 200);
        assert_eq!(body["data"]["viewer"]["roles"], json!(["AUDITOR"]));
        assert_eq!(body["data"]["viewer"]["organization"]["name"], "Forium");
    }
}

/// Signs any header and claims with the app's own key, byte for byte as given.
fn sign_raw(app: &TestApp, header: &Value, claims: &Value) -> String {
    let key = melt_api::auth::keys::ServerKey::load_or_create(&app.settings.signing_key_file)
        .expect("key");
    let message = format!("{}.{}", b64(header), b64(claims));
    let signature = jsonwebtoken::crypto::sign(
        message.as_bytes(),
        &key.encoding,
        jsonwebtoken::Algorithm::EdDSA,
    )
    .expect("sign");
    format!("{message}.{signature}")
}

#[tokio::test]
async fn a_token_naming_critical_header_extensions_is_refused() {
    on_every_engine(async |engine, app| {
        let (mut header, claims, _) = parts(&app.token_with(request(&app)));
        // Extension parameters alone are ignored, as RFC 7515 allows...
        header["exp"] = json!(0);
        header["b64"] = json!(true);
        let control = sign_raw(&app, &header, &claims);
        let (status, body) = app.query_as(&control, VIEWER, json!({})).await;
        assert_eq!(
            status, 200,
            "[{engine:?}] the same header without crit: {body}"
        );
        // ...but not once `crit` says they must be understood.
        for crit in [json!(["exp"]), json!(["b64"]), json!([]), json!("exp")] {
            let mut critical = header.clone();
            critical["crit"] = crit.clone();
            let token = sign_raw(&app, &critical, &claims);
            assert_refused(&app, &token, &format!("[{engine:?}] crit {crit}")).await;
        }
    })
    .await;
}

#[tokio::test]
async fn an_issuer_given_as_an_array_is_refused() {
    on_every_engine(async |engine, app| {
        let (header, mut claims, _) = parts(&app.token_with(request(&app)));
        claims["iss"] = json!([app.settings.auth_issuer]);
        assert_refused(&app, &sign_raw(&app, &header, &claims), "iss array").await;
        claims["iss"] = json!(app.settings.auth_issuer);
        let (status, body) = app
            .query_as(&sign_raw(&app, &header, &claims), VIEWER, json!({}))
            .await;
        assert_eq!(status, 200, "[{engine:?}] iss as a string: {body}");
    })
    .await;
}

#[tokio::test]
async fn tokens_living_longer_than_the_maximum_or_without_iat_are_refused() {
    for engine in engines() {
        let app = spawn_app_with(engine, |s| {
            s.token_max_lifetime_secs = 1800;
            s.client_token_ttl_secs = 600;
        })
        .await;
        let (header, mut claims, _) = parts(&app.token_with(request(&app)));
        let iat = claims["iat"].as_i64().unwrap_or_default();
        claims["exp"] = json!(iat + 1800);
        let (status, body) = app
            .query_as(&sign_raw(&app, &header, &claims), VIEWER, json!({}))
            .await;
        assert_eq!(status, 200, "[{engine:?}] exactly the maximum: {body}");
        claims["exp"] = json!(iat + 1801);
        assert_refused(
            &app,
            &sign_raw(&app, &header, &claims),
            "one second too long",
        )
        .await;
        claims["exp"] = json!(iat + 600);
        claims["iat"] = json!(iat + 600);
        assert_refused(&app, &sign_raw(&app, &header, &claims), "iat in the future").await;
        if let Some(claims) = claims.as_object_mut() {
            claims.remove("iat");
        }
        assert_refused(&app, &sign_raw(&app, &header, &claims), "no iat").await;
    }
}

#[tokio::test]
async fn a_token_for_an_organization_that_does_not_exist_is_refused() {
    on_every_engine(async |engine, app| {
        let real = app.token(Some(app.organization_id("Forium").await), &[Role::OrgAdmin]);
        let (status, body) = app.query_as(&real, VIEWER, json!({})).await;
        assert_eq!(status, 200, "[{engine:?}] {body}");
        let ghost = app.token(Some(uuid::Uuid::now_v7()), &[Role::OrgAdmin]);
        assert_refused(&app, &ghost, &format!("[{engine:?}] unknown organization")).await;
    })
    .await;
}

#[tokio::test]
async fn the_maximum_lifetime_must_cover_the_servers_own_client_tokens() {
    let database = melt_tests::TestDatabase::create(engines()[0]).await;
    let dir = tempfile::tempdir().expect("dir");
    let mut settings = melt_tests::test_settings(&database.url);
    settings.signing_key_file = dir.path().join("key.pem");
    settings.client_token_ttl_secs = 900;
    settings.token_max_lifetime_secs = 600;
    let db = melt_api::db::connect(&settings).await.expect("connect");
    let built = melt_api::startup::Application::build_with_db(settings, db).await;
    assert!(built.is_err(), "client tokens the server would refuse");
}
