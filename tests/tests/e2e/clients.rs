//! Machine credentials end to end: an organization's administrator creates an API
//! client, the partner system trades its credentials for a token at `POST /oauth/token`
//! (RFC 6749 §4.4) and calls the API with it; rotation, revocation, RFC error shapes,
//! the JWKS, who may manage clients, and the audit log.

use melt_api::auth::viewer::ViewerKind;
use melt_api::graphql::relay::{NodeKind, to_global_id};
use melt_tests::{Role, TestApp, admin_of, engines, first_error_code, on_every_engine};
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

const CREATE: &str = "mutation($input: CreateApiClientInput!) {
  createApiClient(input: $input) {
    apiClient { id organizationId name scopes createdAt secretRotatedAt revokedAt lastUsedAt rowVersion }
    clientSecret
    userErrors { field code message }
  }
}";

const ROTATE: &str = "mutation($input: RotateApiClientSecretInput!) {
  rotateApiClientSecret(input: $input) {
    apiClient { id secretRotatedAt rowVersion }
    clientSecret
    userErrors { field code message }
  }
}";

const REVOKE: &str = "mutation($input: RevokeApiClientInput!) {
  revokeApiClient(input: $input) {
    apiClient { id revokedAt rowVersion }
    userErrors { field code message }
  }
}";

const LIST: &str = "query($org: ID!) {
  apiClients(organization: $org) { id name scopes revokedAt lastUsedAt rowVersion }
}";

const VIEWER: &str = "{ viewer { kind subject scopes roles organization { name } } }";

/// Global ID of a demo organization.
async fn org_gid(app: &TestApp, name: &str) -> String {
    to_global_id(NodeKind::Organization, app.organization_id(name).await).to_string()
}

/// A created client: its global ID, its secret and its row version.
struct Created {
    id: String,
    secret: String,
    version: i64,
}

async fn create(app: &TestApp, admin: &str, org: &str, scopes: &[&str]) -> Created {
    let input = json!({ "organization": org, "name": "Gestionale SIL", "scopes": scopes });
    let (status, body) = app.query_as(admin, CREATE, json!({ "input": input })).await;
    assert_eq!(status, 200, "[{:?}] {body}", app.engine);
    let payload = &body["data"]["createApiClient"];
    assert_eq!(
        payload["userErrors"],
        json!([]),
        "[{:?}] {body}",
        app.engine
    );
    Created {
        id: payload["apiClient"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        secret: payload["clientSecret"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        version: payload["apiClient"]["rowVersion"].as_i64().unwrap_or(-1),
    }
}

fn token_url(app: &TestApp) -> String {
    format!("{}/oauth/token", app.address)
}

/// `POST /oauth/token` with HTTP Basic credentials and a form body.
async fn token_basic(app: &TestApp, id: &str, secret: &str, form: &[(&str, &str)]) -> Reply {
    let response = app
        .client
        .post(token_url(app))
        .basic_auth(id, Some(secret))
        .form(form)
        .send()
        .await
        .expect("token request");
    Reply::of(response).await
}

/// `POST /oauth/token` with a form body only.
async fn token_form(app: &TestApp, form: &[(&str, &str)]) -> Reply {
    let response = app
        .client
        .post(token_url(app))
        .form(form)
        .send()
        .await
        .expect("token request");
    Reply::of(response).await
}

/// What the token endpoint answered.
struct Reply {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

impl Reply {
    async fn of(response: reqwest::Response) -> Self {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.json().await.unwrap_or(Value::Null);
        Self {
            status,
            headers,
            body,
        }
    }

    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    fn access_token(&self) -> &str {
        self.body["access_token"].as_str().unwrap_or_default()
    }

    /// Asserts an RFC 6749 §5.2 error.
    fn assert_error(&self, status: u16, error: &str, engine: impl std::fmt::Debug) {
        assert_eq!(self.status, status, "[{engine:?}] {}", self.body);
        assert_eq!(self.body["error"], error, "[{engine:?}] {}", self.body);
        assert!(
            self.body["error_description"]
                .as_str()
                .is_some_and(|d| !d.is_empty()),
            "[{engine:?}] {}",
            self.body
        );
        assert_eq!(self.header("cache-control"), "no-store");
    }
}

const GRANT: (&str, &str) = ("grant_type", "client_credentials");

#[tokio::test]
async fn an_org_admin_creates_a_client_whose_secret_is_shown_only_once() {
    on_every_engine(async |engine, app| {
        let org = org_gid(&app, "Forium").await;
        let admin = admin_of(&app, "Forium").await;
        let input = json!({ "organization": org, "name": "  Gestionale SIL  ",
            "scopes": ["services:write", "services:write"] });
        let (_, body) = app
            .query_as(&admin, CREATE, json!({ "input": input }))
            .await;
        let payload = &body["data"]["createApiClient"];
        assert_eq!(payload["userErrors"], json!([]), "[{engine:?}] {body}");
        let client = &payload["apiClient"];
        assert_eq!(client["name"], "Gestionale SIL");
        assert_eq!(client["scopes"], json!(["SERVICES_WRITE"]));
        assert_eq!(client["organizationId"], org.as_str());
        assert_eq!(client["rowVersion"], 1);
        assert!(client["revokedAt"].is_null() && client["lastUsedAt"].is_null());
        let secret = payload["clientSecret"].as_str().unwrap_or_default();
        assert!(secret.starts_with("melt_cs_"), "[{engine:?}] {secret}");
        assert!(secret.len() >= "melt_cs_".len() + 43, "{secret}");
        let id = client["id"].as_str().unwrap_or_default();

        // Listed for the admin, without any secret.
        let (_, body) = app.query_as(&admin, LIST, json!({ "org": org })).await;
        let listed = &body["data"]["apiClients"];
        assert_eq!(
            listed.as_array().map(Vec::len),
            Some(1),
            "[{engine:?}] {body}"
        );
        assert_eq!(listed[0]["id"], id);
        assert!(!body.to_string().contains(secret));
        let (_, body) = app
            .query_as(
                &admin,
                "{ __type(name: \"ApiClient\") { fields { name } } }",
                json!({}),
            )
            .await;
        let fields: Vec<String> = body["data"]["__type"]["fields"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .filter_map(|f| f["name"].as_str().map(str::to_owned))
            .collect();
        assert!(fields.contains(&"secretRotatedAt".to_owned()), "{fields:?}");
        assert!(
            fields
                .iter()
                .all(|f| f == "secretRotatedAt" || !f.to_lowercase().contains("secret")),
            "{fields:?}"
        );

        // Stored only as an argon2id hash.
        let row = app
            .db
            .query_one_raw(sea_orm::Statement::from_string(
                app.db.get_database_backend(),
                "SELECT secret_hash FROM api_client",
            ))
            .await
            .expect("query client")
            .expect("client row");
        let secret_hash: String = row.try_get("", "secret_hash").expect("secret_hash");
        assert!(secret_hash.starts_with("$argon2id$"), "{secret_hash}");
        assert!(!secret_hash.contains(secret));

        // node(id:) shows it to the admin.
        let node = "query($id: ID!) { node(id: $id) { id ... on ApiClient { name } } }";
        let (_, body) = app.query_as(&admin, node, json!({ "id": id })).await;
        assert_eq!(body["data"]["node"]["name"], "Gestionale SIL", "{body}");

        // Audited, without the secret or its hash.
        let auditor = app.token(None, &[Role::Auditor]);
        let log = "query($id: ID!) { auditLog(filter: {object: $id}) { totalCount nodes { operation objectType objectId actorKind before after } } }";
        let (_, body) = app.query_as(&auditor, log, json!({ "id": id })).await;
        let events = &body["data"]["auditLog"];
        assert_eq!(events["totalCount"], 1, "[{engine:?}] {body}");
        let event = &events["nodes"][0];
        assert_eq!(event["operation"], "createApiClient");
        assert_eq!(event["objectType"], "ApiClient");
        assert_eq!(event["objectId"], id);
        assert_eq!(event["actorKind"], "USER");
        assert!(event["before"].is_null());
        assert_eq!(event["after"]["name"], "Gestionale SIL");
        let text = event.to_string();
        assert!(!text.contains(secret), "{text}");
        assert!(
            !text.contains("argon2") && !text.contains("secret_hash"),
            "{text}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_partner_system_gets_a_token_by_basic_or_body_credentials_and_calls_the_api() {
    on_every_engine(async |engine, app| {
        let org = org_gid(&app, "Forium").await;
        let admin = admin_of(&app, "Forium").await;
        let client = create(
            &app,
            &admin,
            &org,
            &["services:write", "organization:write"],
        )
        .await;

        let reply = token_basic(&app, &client.id, &client.secret, &[GRANT]).await;
        assert_eq!(reply.status, 200, "[{engine:?}] {}", reply.body);
        assert_eq!(reply.header("cache-control"), "no-store");
        assert_eq!(reply.header("pragma"), "no-cache");
        assert_eq!(reply.body["token_type"], "Bearer");
        assert_eq!(
            reply.body["expires_in"].as_u64(),
            Some(app.settings.client_token_ttl_secs)
        );
        assert_eq!(reply.body["scope"], "services:write organization:write");

        let (status, body) = app.query_as(reply.access_token(), VIEWER, json!({})).await;
        assert_eq!(status, 200, "[{engine:?}] {body}");
        let viewer = &body["data"]["viewer"];
        assert_eq!(viewer["kind"], "CLIENT", "[{engine:?}] {body}");
        assert_eq!(viewer["subject"], format!("client:{}", client.id));
        assert_eq!(viewer["roles"], json!([]));
        assert_eq!(
            viewer["scopes"],
            json!(["SERVICES_WRITE", "ORGANIZATION_WRITE"])
        );
        assert!(
            viewer["organization"]["name"]
                .as_str()
                .is_some_and(|n| n.contains("Forium")),
            "{body}"
        );

        // Body credentials, narrower scope.
        let reply = token_form(
            &app,
            &[
                GRANT,
                ("client_id", &client.id),
                ("client_secret", &client.secret),
                ("scope", "services:write"),
            ],
        )
        .await;
        assert_eq!(reply.status, 200, "[{engine:?}] {}", reply.body);
        assert_eq!(reply.body["scope"], "services:write");
        let (_, body) = app.query_as(reply.access_token(), VIEWER, json!({})).await;
        assert_eq!(body["data"]["viewer"]["scopes"], json!(["SERVICES_WRITE"]));

        // The client acts within its scopes: it may change its organization's profile.
        let update = "mutation($input: UpdateOrganizationProfileInput!) {
          updateOrganizationProfile(input: $input) { organization { phone } userErrors { field } } }";
        let token = token_basic(&app, &client.id, &client.secret, &[GRANT]).await;
        let read = "query($id: ID!) { node(id: $id) { ... on Organization { rowVersion } } }";
        let version = app.data(read, json!({ "id": org })).await["node"]["rowVersion"].clone();
        let (_, body) = app
            .query_as(
                token.access_token(),
                update,
                json!({ "input": { "id": org, "expectedVersion": version, "phone": "055 123456" } }),
            )
            .await;
        assert_eq!(
            body["data"]["updateOrganizationProfile"]["organization"]["phone"], "055 123456",
            "[{engine:?}] {body}"
        );

        // The use is recorded, without changing the version.
        let (_, body) = app.query_as(&admin, LIST, json!({ "org": org })).await;
        let listed = &body["data"]["apiClients"][0];
        assert!(listed["lastUsedAt"].is_string(), "[{engine:?}] {body}");
        assert_eq!(listed["rowVersion"].as_i64(), Some(client.version));
    })
    .await;
}

#[tokio::test]
async fn rotating_the_secret_refuses_the_old_one_at_once() {
    on_every_engine(async |engine, app| {
        let org = org_gid(&app, "Forium").await;
        let admin = admin_of(&app, "Forium").await;
        let client = create(&app, &admin, &org, &["services:write"]).await;
        assert_eq!(
            token_basic(&app, &client.id, &client.secret, &[GRANT])
                .await
                .status,
            200
        );

        let input = json!({ "id": client.id, "expectedVersion": client.version });
        let (_, body) = app
            .query_as(&admin, ROTATE, json!({ "input": input.clone() }))
            .await;
        let payload = &body["data"]["rotateApiClientSecret"];
        assert_eq!(payload["userErrors"], json!([]), "[{engine:?}] {body}");
        assert!(payload["apiClient"]["secretRotatedAt"].is_string());
        assert_eq!(
            payload["apiClient"]["rowVersion"].as_i64(),
            Some(client.version + 1)
        );
        let new_secret = payload["clientSecret"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(new_secret.starts_with("melt_cs_"));
        assert_ne!(new_secret, client.secret);

        let old = token_basic(&app, &client.id, &client.secret, &[GRANT]).await;
        old.assert_error(401, "invalid_client", engine);
        assert_eq!(old.header("www-authenticate"), r#"Basic realm="melt""#);
        let old_in_body = token_form(
            &app,
            &[
                GRANT,
                ("client_id", &client.id),
                ("client_secret", &client.secret),
            ],
        )
        .await;
        old_in_body.assert_error(401, "invalid_client", engine);

        let new = token_basic(&app, &client.id, &new_secret, &[GRANT]).await;
        assert_eq!(new.status, 200, "[{engine:?}] {}", new.body);
        let (_, body) = app.query_as(new.access_token(), VIEWER, json!({})).await;
        assert_eq!(body["data"]["viewer"]["kind"], "CLIENT");

        // The same expected version again is stale.
        let (_, body) = app
            .query_as(&admin, ROTATE, json!({ "input": input }))
            .await;
        assert_eq!(first_error_code(&body), "CONFLICT", "[{engine:?}] {body}");

        let auditor = app.token(None, &[Role::Auditor]);
        let log = "query($id: ID!) { auditLog(filter: {object: $id, operation: \"rotateApiClientSecret\"}) { totalCount nodes { before after } } }";
        let (_, body) = app
            .query_as(&auditor, log, json!({ "id": client.id }))
            .await;
        assert_eq!(body["data"]["auditLog"]["totalCount"], 1, "{body}");
        let text = body.to_string();
        assert!(!text.contains(&new_secret) && !text.contains(&client.secret));
        assert!(!text.contains("argon2"), "{text}");
    })
    .await;
}

#[tokio::test]
async fn a_revoked_client_can_no_longer_obtain_tokens_nor_use_those_it_holds() {
    on_every_engine(async |engine, app| {
        let org = org_gid(&app, "Forium").await;
        let admin = admin_of(&app, "Forium").await;
        let client = create(&app, &admin, &org, &["services:write"]).await;
        let issued = token_basic(&app, &client.id, &client.secret, &[GRANT]).await;
        let held = issued.access_token().to_owned();
        let (status, body) = app.query_as(&held, VIEWER, json!({})).await;
        assert_eq!(status, 200, "[{engine:?}] before revocation: {body}");

        let input = json!({ "id": client.id, "expectedVersion": client.version });
        let (_, body) = app
            .query_as(&admin, REVOKE, json!({ "input": input }))
            .await;
        let payload = &body["data"]["revokeApiClient"];
        assert_eq!(payload["userErrors"], json!([]), "[{engine:?}] {body}");
        assert!(payload["apiClient"]["revokedAt"].is_string(), "{body}");
        let revoked =
            json!({ "id": client.id, "expectedVersion": payload["apiClient"]["rowVersion"] });

        let refused = token_basic(&app, &client.id, &client.secret, &[GRANT]).await;
        refused.assert_error(401, "invalid_client", engine);
        let (status, body) = app.query_as(&held, VIEWER, json!({})).await;
        assert_eq!(status, 401, "[{engine:?}] a token issued before: {body}");
        assert_eq!(first_error_code(&body), "UNAUTHENTICATED");
        // Same answer as for an unknown client.
        let unknown = to_global_id(NodeKind::ApiClient, uuid::Uuid::now_v7()).to_string();
        let stranger = token_basic(&app, &unknown, &client.secret, &[GRANT]).await;
        stranger.assert_error(401, "invalid_client", engine);
        assert_eq!(refused.body, stranger.body);

        // A revoked client cannot be revoked again or get a new secret.
        for mutation in [REVOKE, ROTATE] {
            let (_, body) = app
                .query_as(&admin, mutation, json!({ "input": revoked }))
                .await;
            let payload = body["data"]
                .as_object()
                .and_then(|d| d.values().next().cloned())
                .unwrap_or_default();
            assert_eq!(
                payload["userErrors"][0]["code"], "INVALID_STATE",
                "[{engine:?}] {body}"
            );
            assert_eq!(payload["userErrors"][0]["field"], json!(["input", "id"]));
            assert!(payload["apiClient"].is_null());
        }
        let (_, body) = app.query_as(&admin, LIST, json!({ "org": org })).await;
        assert!(body["data"]["apiClients"][0]["revokedAt"].is_string());
    })
    .await;
}

#[tokio::test]
async fn token_requests_get_rfc_shaped_errors() {
    on_every_engine(async |engine, app| {
        let org = org_gid(&app, "Forium").await;
        let admin = admin_of(&app, "Forium").await;
        let client = create(&app, &admin, &org, &["services:write"]).await;
        let (id, secret) = (client.id.as_str(), client.secret.as_str());

        token_basic(&app, id, secret, &[("scope", "services:write")])
            .await
            .assert_error(400, "invalid_request", engine);
        token_basic(&app, id, secret, &[("grant_type", "password")])
            .await
            .assert_error(400, "unsupported_grant_type", engine);
        token_basic(&app, id, secret, &[GRANT, ("scope", "organization:write")])
            .await
            .assert_error(400, "invalid_scope", engine);
        token_basic(&app, id, secret, &[GRANT, ("client_secret", secret)])
            .await
            .assert_error(400, "invalid_request", engine);
        let wrong = token_basic(&app, id, "melt_cs_wrong", &[GRANT]).await;
        wrong.assert_error(401, "invalid_client", engine);
        assert_eq!(wrong.header("www-authenticate"), r#"Basic realm="melt""#);
        token_basic(&app, "not-an-id", secret, &[GRANT])
            .await
            .assert_error(401, "invalid_client", engine);
        token_form(&app, &[GRANT])
            .await
            .assert_error(401, "invalid_client", engine);

        let json_body = app
            .client
            .post(token_url(&app))
            .basic_auth(id, Some(secret))
            .json(&json!({ "grant_type": "client_credentials" }))
            .send()
            .await
            .expect("request");
        Reply::of(json_body)
            .await
            .assert_error(400, "invalid_request", engine);

        let repeated = app
            .client
            .post(token_url(&app))
            .basic_auth(id, Some(secret))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("grant_type=client_credentials&grant_type=client_credentials")
            .send()
            .await
            .expect("request");
        Reply::of(repeated)
            .await
            .assert_error(400, "invalid_request", engine);

        // None of these consumed the client: the right request still works.
        assert_eq!(token_basic(&app, id, secret, &[GRANT]).await.status, 200);
    })
    .await;
}

#[tokio::test]
async fn the_jwks_endpoint_serves_the_key_whose_kid_the_tokens_carry() {
    on_every_engine(async |_, app| {
        let org = org_gid(&app, "Forium").await;
        let admin = admin_of(&app, "Forium").await;
        let client = create(&app, &admin, &org, &["services:write"]).await;
        let reply = token_basic(&app, &client.id, &client.secret, &[GRANT]).await;
        let token = reply.access_token();
        let header = jsonwebtoken::decode_header(token).expect("token header");
        assert_eq!(header.alg, jsonwebtoken::Algorithm::EdDSA);

        let response = app
            .client
            .get(format!("{}/.well-known/jwks.json", app.address))
            .send()
            .await
            .expect("jwks request");
        assert_eq!(response.status(), 200);
        let cache = response
            .headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert!(
            cache.contains("public") && cache.contains("max-age=300"),
            "{cache}"
        );
        let jwks: jsonwebtoken::jwk::JwkSet = response.json().await.expect("JWKS");
        assert_eq!(jwks.keys.len(), 1);
        let kid = header.kid.clone().unwrap_or_default();
        let jwk = jwks.find(&kid).expect("the token's kid is in the JWKS");
        let text = serde_json::to_string(jwk).unwrap_or_default();
        assert!(!text.contains("\"d\""), "no private part: {text}");

        // Anyone holding the JWKS can verify the token.
        let key = jsonwebtoken::DecodingKey::from_jwk(jwk).expect("decoding key");
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
        validation.set_issuer(&[&app.settings.auth_issuer]);
        validation.set_audience(&[&app.settings.auth_audience]);
        let data = jsonwebtoken::decode::<Value>(token, &key, &validation)
            .expect("the JWKS key verifies the token");
        assert_eq!(data.claims["sub"], format!("client:{}", client.id));
        assert_eq!(data.claims[&app.settings.auth_claim_organization], org);
        assert_eq!(data.claims["client"], true);
        let lifetime =
            data.claims["exp"].as_i64().unwrap_or(0) - data.claims["iat"].as_i64().unwrap_or(0);
        assert_eq!(
            u64::try_from(lifetime).ok(),
            Some(app.settings.client_token_ttl_secs)
        );
    })
    .await;
}

#[tokio::test]
async fn only_the_organizations_admin_manages_its_clients() {
    on_every_engine(async |engine, app| {
        let org = org_gid(&app, "Forium").await;
        let own = Some(app.organization_id("Forium").await);
        let other = Some(app.organization_id("CNA Pisa").await);
        let admin = admin_of(&app, "Forium").await;
        let client = create(&app, &admin, &org, &["services:write"]).await;
        let machine = token_basic(&app, &client.id, &client.secret, &[GRANT])
            .await
            .access_token()
            .to_owned();
        let machine_with_scopes = app.token_with(melt_api::auth::token::TokenRequest {
            subject: "client:other".into(),
            kind: ViewerKind::Client,
            organization: own,
            roles: vec![Role::OrgAdmin],
            scopes: vec!["organization:write".into(), "services:write".into()],
            name: None,
            ttl: std::time::Duration::from_secs(600),
        });
        let operations = [
            (
                CREATE,
                json!({ "input": { "organization": org, "name": "X", "scopes": [] } }),
            ),
            (
                ROTATE,
                json!({ "input": { "id": client.id, "expectedVersion": client.version } }),
            ),
            (
                REVOKE,
                json!({ "input": { "id": client.id, "expectedVersion": client.version } }),
            ),
            (LIST, json!({ "org": org })),
        ];
        let callers = [
            app.token(other, &[Role::OrgAdmin]),
            app.token(own, &[Role::Operator]),
            app.token(own, &[Role::Auditor]),
            app.token(None, &[Role::RegionalAdmin]),
            machine.clone(),
            machine_with_scopes,
        ];
        for (operation, variables) in &operations {
            for token in &callers {
                let (_, body) = app.query_as(token, operation, variables.clone()).await;
                assert_eq!(
                    first_error_code(&body),
                    "FORBIDDEN",
                    "[{engine:?}] {operation} {body}"
                );
            }
            let anonymous = app.query(operation, variables.clone()).await;
            assert_eq!(
                first_error_code(&anonymous),
                "UNAUTHENTICATED",
                "[{engine:?}] {operation} {anonymous}"
            );
        }

        // node(id:) hides the client from everyone but its organization's admin.
        let node = "query($id: ID!) { node(id: $id) { id } }";
        for token in [
            app.token(other, &[Role::OrgAdmin]),
            app.token(own, &[Role::Operator]),
            app.token(None, &[Role::RegionalAdmin]),
            machine,
        ] {
            let (_, body) = app.query_as(&token, node, json!({ "id": client.id })).await;
            assert!(body["data"]["node"].is_null(), "[{engine:?}] {body}");
        }
        let (_, body) = app.query_as(&admin, node, json!({ "id": client.id })).await;
        assert_eq!(body["data"]["node"]["id"], client.id.as_str());

        // Nothing changed: the admin still has one active client at version 1.
        let (_, body) = app.query_as(&admin, LIST, json!({ "org": org })).await;
        let listed = &body["data"]["apiClients"];
        assert_eq!(
            listed.as_array().map(Vec::len),
            Some(1),
            "[{engine:?}] {body}"
        );
        assert!(listed[0]["revokedAt"].is_null());
        assert_eq!(listed[0]["rowVersion"].as_i64(), Some(client.version));
    })
    .await;
}

#[tokio::test]
async fn invalid_client_input_is_reported_as_user_errors_and_creates_nothing() {
    on_every_engine(async |engine, app| {
        let org = org_gid(&app, "Forium").await;
        let admin = admin_of(&app, "Forium").await;
        let input = json!({ "organization": org, "name": "   ",
            "scopes": ["services:write", "everything", "admin"] });
        let (_, body) = app
            .query_as(&admin, CREATE, json!({ "input": input }))
            .await;
        let payload = &body["data"]["createApiClient"];
        assert!(payload["apiClient"].is_null() && payload["clientSecret"].is_null());
        let errors: Vec<(String, String)> = payload["userErrors"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|e| {
                (
                    e["field"].to_string(),
                    e["code"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        assert_eq!(
            errors,
            vec![
                (json!(["input", "name"]).to_string(), "REQUIRED".to_owned()),
                (
                    json!(["input", "scopes", "1"]).to_string(),
                    "INVALID".to_owned()
                ),
                (
                    json!(["input", "scopes", "2"]).to_string(),
                    "INVALID".to_owned()
                ),
            ],
            "[{engine:?}] {body}"
        );
        let long = json!({ "organization": org, "name": "x".repeat(201), "scopes": [] });
        let (_, body) = app.query_as(&admin, CREATE, json!({ "input": long })).await;
        assert_eq!(
            body["data"]["createApiClient"]["userErrors"][0]["code"], "TOO_LONG",
            "[{engine:?}] {body}"
        );
        let (_, body) = app.query_as(&admin, LIST, json!({ "org": org })).await;
        assert_eq!(body["data"]["apiClients"], json!([]), "[{engine:?}] {body}");
    })
    .await;
}

// ---------------------------------------------------------------------------------
// Rate limits
// ---------------------------------------------------------------------------------

/// A real client of Forium and a token of it.
async fn client_token(app: &TestApp) -> String {
    let org = org_gid(app, "Forium").await;
    let admin = admin_of(app, "Forium").await;
    let client = create(app, &admin, &org, &["services:write"]).await;
    token_basic(app, &client.id, &client.secret, &[GRANT])
        .await
        .access_token()
        .to_owned()
}

/// The same claims signed with a key the server does not know, under the server's `kid`.
fn forged_from(genuine: &str) -> String {
    use base64::Engine;
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut parts = genuine.split('.');
    let header = parts.next().unwrap_or_default();
    let payload = parts.next().unwrap_or_default();
    let message = format!("{header}.{payload}");
    let stranger = melt_api::auth::keys::ServerKey::from_pem(
        &melt_api::auth::keys::ServerKey::generate_pem().expect("pem"),
    )
    .expect("key");
    let signature = jsonwebtoken::crypto::sign(
        message.as_bytes(),
        &stranger.encoding,
        jsonwebtoken::Algorithm::EdDSA,
    )
    .expect("sign");
    let claims: Value =
        serde_json::from_slice(&engine.decode(payload).unwrap_or_default()).unwrap_or_default();
    assert!(
        claims["sub"]
            .as_str()
            .is_some_and(|s| s.starts_with("client:"))
    );
    format!("{message}.{signature}")
}

#[tokio::test]
async fn forged_tokens_naming_a_client_do_not_spend_its_rate_limit() {
    for engine in engines() {
        let app = melt_tests::spawn_app_with(engine, |s| {
            s.rate_limit_ip_per_minute = 3;
            s.rate_limit_client_per_minute = 3;
        })
        .await;
        // Creating the client is charged to its administrator, the token request to
        // the address, which shares it with the forger (everyone is 127.0.0.1 here).
        let genuine = client_token(&app).await;
        let forged = forged_from(&genuine);
        let mut statuses = Vec::new();
        for _ in 0..6 {
            statuses.push(app.query_as(&forged, VIEWER, json!({})).await.0);
        }
        assert!(
            statuses.contains(&401) && statuses.ends_with(&[429]),
            "[{engine:?}] the forger is refused, then limited on its address: {statuses:?}"
        );
        for i in 0..3 {
            let (status, body) = app.query_as(&genuine, VIEWER, json!({})).await;
            assert_eq!(
                status, 200,
                "[{engine:?}] request {i} of the real client: {body}"
            );
            assert_eq!(body["data"]["viewer"]["kind"], "CLIENT");
        }
        let (status, body) = app.query_as(&genuine, VIEWER, json!({})).await;
        assert_eq!(
            status, 429,
            "[{engine:?}] its own limit still holds: {body}"
        );
        assert_eq!(first_error_code(&body), "RATE_LIMITED");
    }
}

async fn post_batch(app: &TestApp, token: &str, size: usize) -> (u16, Value) {
    let batch: Vec<Value> = (0..size).map(|_| json!({ "query": VIEWER })).collect();
    let response = app
        .client
        .post(format!("{}/graphql", app.address))
        .bearer_auth(token)
        .json(&batch)
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_batch_of_ten_operations_counts_ten() {
    for engine in engines() {
        let app = melt_tests::spawn_app_with(engine, |s| {
            s.rate_limit_ip_per_minute = 0;
            s.rate_limit_client_per_minute = 10;
        })
        .await;
        let token = client_token(&app).await;
        let (status, body) = post_batch(&app, &token, 10).await;
        assert_eq!(status, 200, "[{engine:?}] {body}");
        assert_eq!(body.as_array().map(Vec::len), Some(10));
        let (status, body) = app.query_as(&token, VIEWER, json!({})).await;
        assert_eq!(
            status, 429,
            "[{engine:?}] the batch spent the whole budget: {body}"
        );

        // A batch larger than what is left is refused whole.
        let fresh = client_token(&app).await;
        assert_eq!(app.query_as(&fresh, VIEWER, json!({})).await.0, 200);
        let (status, body) = post_batch(&app, &fresh, 10).await;
        assert_eq!(status, 429, "[{engine:?}] 10 operations, 9 left: {body}");
        assert_eq!(first_error_code(&body), "RATE_LIMITED");
    }
}

#[tokio::test]
async fn the_token_endpoint_answers_429_in_the_oauth_error_shape() {
    for engine in engines() {
        let app = melt_tests::spawn_app_with(engine, |s| s.token_rate_limit_per_minute = 1).await;
        let first = token_form(&app, &[GRANT]).await;
        first.assert_error(401, "invalid_client", engine);
        let limited = token_form(&app, &[GRANT]).await;
        limited.assert_error(429, "slow_down", engine);
        let seconds: u64 = limited.header("retry-after").parse().unwrap_or_default();
        assert!(
            (1..=60).contains(&seconds),
            "[{engine:?}] Retry-After {seconds}"
        );
        assert!(limited.body.get("errors").is_none(), "{}", limited.body);
    }
}

#[tokio::test]
async fn an_api_client_links_its_organization_as_an_object_and_lists_scopes_as_enum_values() {
    on_every_engine(async |engine, app| {
        let org = org_gid(&app, "Forium").await;
        let admin = admin_of(&app, "Forium").await;
        create(&app, &admin, &org, &["referrals:read", "events:read"]).await;
        create(&app, &admin, &org, &["services:write"]).await;
        let query = "query($org: ID!) {
          apiClients(organization: $org) { organizationId organization { id name } scopes }
        }";
        let (_, body) = app.query_as(&admin, query, json!({ "org": org })).await;
        let clients = body["data"]["apiClients"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(clients.len(), 2, "[{engine:?}] {body}");
        for client in &clients {
            assert_eq!(
                client["organization"]["id"],
                org.as_str(),
                "[{engine:?}] {body}"
            );
            assert_eq!(client["organization"]["id"], client["organizationId"]);
            assert!(
                client["organization"]["name"]
                    .as_str()
                    .is_some_and(|n| n.contains("Forium")),
                "[{engine:?}] {body}"
            );
        }
        let scopes: Vec<Value> = clients.iter().map(|c| c["scopes"].clone()).collect();
        assert!(
            scopes.contains(&json!(["REFERRALS_READ", "EVENTS_READ"]))
                || scopes.contains(&json!(["EVENTS_READ", "REFERRALS_READ"])),
            "[{engine:?}] {body}"
        );
        assert!(
            scopes.contains(&json!(["SERVICES_WRITE"])),
            "[{engine:?}] {body}"
        );
    })
    .await;
}
