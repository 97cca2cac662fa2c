//! People, consents, the access log and people's rights: encryption at rest, the
//! cross-organization rules, consent record/withdraw, export, erasure, retention and
//! key rotation.

use melt_api::crypto::{DataProtection, random_key};
use melt_tests::flow::gid;
use melt_tests::{Role, TestApp, codice_fiscale, first_error_code, on_every_engine, row_id};
use sea_orm::prelude::DateTimeUtc;
use sea_orm::{ConnectionTrait, DatabaseBackend, Statement, Value as SqlValue};
use serde_json::{Value, json};
use std::time::{Duration, SystemTime};
use uuid::Uuid;

const CF: &str = "RSSMRA85T10A562S";

const REGISTER: &str = "mutation($input: RegisterPersonInput!) {
  registerPerson(input: $input) {
    alreadyRegistered
    person { id rowVersion codiceFiscale givenName familyName birthDate gender citizenship
             residenceMunicipality { name } languages { code label } contacts { email phone address }
             contactChannel registeredBy { name } erasedAt }
    userErrors { field code message }
  }
}";

const PERSONS: &str = "query($cf: String) {
  persons(filter: {codiceFiscale: $cf}) { totalCount nodes { id givenName } }
}";

const NODE: &str = "query($id: ID!) { node(id: $id) { id ... on Person { familyName } } }";

const ACCESS_LOG: &str = "query($person: ID) {
  personAccessLog(filter: {person: $person}, first: 100) {
    totalCount nodes { actorSubject actorOrganizationId personId fields purpose }
  }
}";

fn person_input(org: &str, cf: &str) -> Value {
    json!({
        "organization": org,
        "codiceFiscale": cf,
        "givenName": "Mario",
        "familyName": "Rossini",
        "birthDate": "1985-12-10",
        "gender": "MALE",
        "citizenship": "IT",
        "residenceMunicipalityIstatCode": "050026",
        "languages": ["it", "en"],
        "contacts": { "email": "mario.rossini@example.it", "phone": "+39 050 123456", "address": "Via Roma 1, Pisa" },
        "contactChannel": "PHONE"
    })
}

async fn register(app: &TestApp, token: &str, input: Value) -> Value {
    let (status, body) = app
        .query_as(token, REGISTER, json!({ "input": input }))
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

/// Registers the specimen person for the organization named `org`; returns its ID.
async fn registered(app: &TestApp, org: &str, cf: &str) -> String {
    let token = app.token(Some(app.organization_id(org).await), &[Role::Operator]);
    let body = register(app, &token, person_input(&gid(app, org).await, cf)).await;
    let payload = &body["data"]["registerPerson"];
    assert_eq!(payload["userErrors"], json!([]), "{body}");
    payload["person"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Runs SQL written with `?` placeholders on either engine.
async fn sql(app: &TestApp, text: &str, values: Vec<SqlValue>) {
    app.exec(text, values).await;
}

fn placeholders(backend: DatabaseBackend, text: &str) -> String {
    if backend != DatabaseBackend::Postgres {
        return text.to_owned();
    }
    let mut out = String::new();
    let mut n = 0;
    for c in text.chars() {
        if c == '?' {
            n += 1;
            out.push_str(&format!("${n}"));
        } else {
            out.push(c);
        }
    }
    out
}

async fn count(app: &TestApp, text: &str, values: Vec<SqlValue>) -> i64 {
    let backend = app.db.get_database_backend();
    let row = app
        .db
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            placeholders(backend, text),
            values,
        ))
        .await
        .unwrap_or_else(|e| panic!("{text}: {e}"))
        .unwrap_or_else(|| panic!("no row: {text}"));
    row.try_get::<i64>("", "n").unwrap_or(-1)
}

async fn raw_person(app: &TestApp, id: Uuid) -> Vec<Option<String>> {
    let backend = app.db.get_database_backend();
    let row = app
        .db
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            placeholders(
                backend,
                "SELECT codice_fiscale_enc, codice_fiscale_hash, given_name_enc, family_name_enc, contacts_enc FROM person WHERE id = ?",
            ),
            [id.into()],
        ))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("no person row"));
    [
        "codice_fiscale_enc",
        "codice_fiscale_hash",
        "given_name_enc",
        "family_name_enc",
        "contacts_enc",
    ]
    .iter()
    .map(|c| row.try_get::<Option<String>>("", c).unwrap_or_default())
    .collect()
}

async fn any_service_of(app: &TestApp, org: Uuid) -> Uuid {
    let backend = app.db.get_database_backend();
    let row = app
        .db
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            placeholders(backend, "SELECT id FROM service WHERE organization_id = ?"),
            [org.into()],
        ))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("the organization has no service"));
    row.try_get::<Uuid>("", "id").unwrap_or_default()
}

/// Inserts a referral row directly (the referral API is another module's).
async fn insert_referral(
    app: &TestApp,
    person: Uuid,
    sender: Uuid,
    receiver: Uuid,
    status: &str,
    updated_at: DateTimeUtc,
) -> Uuid {
    let id = Uuid::now_v7();
    let service = any_service_of(app, receiver).await;
    sql(
        app,
        "INSERT INTO referral (id, person_id, sender_organization_id, sender_operator, receiver_service_id, receiver_organization_id, needs, reason, priority, channel, status, row_version, created_at, updated_at, sent_at, receiver_access_until) VALUES (?, ?, ?, 'op', ?, ?, '', ?, 'NORMAL', 'OPERATOR', ?, 1, ?, ?, ?, ?)",
        vec![
            id.into(),
            person.into(),
            sender.into(),
            service.into(),
            receiver.into(),
            app.protection().encrypt("test").expect("encrypt").into(),
            status.into(),
            updated_at.into(),
            updated_at.into(),
            // Sent unless a draft; the receiver's access ends with a final state.
            (status != "DRAFT").then_some(updated_at).into(),
            matches!(status, "COMPLETED" | "REJECTED" | "FAILED" | "CANCELLED" | "EXPIRED")
                .then_some(updated_at)
                .into(),
        ],
    )
    .await;
    id
}

fn years_ago(years: u64) -> DateTimeUtc {
    DateTimeUtc::from(SystemTime::now() - Duration::from_secs(years * 366 * 86_400))
}

#[tokio::test]
async fn a_registered_person_reads_back_decrypted_and_the_table_holds_no_plaintext() {
    on_every_engine(async |engine, app| {
        let token = app.token(Some(app.organization_id("Forium").await), &[Role::Operator]);
        let body = register(&app, &token, person_input(&gid(&app, "Forium").await, CF)).await;
        let payload = &body["data"]["registerPerson"];
        assert_eq!(payload["userErrors"], json!([]), "[{engine:?}] {body}");
        assert_eq!(payload["alreadyRegistered"], false);
        let person = &payload["person"];
        assert_eq!(person["codiceFiscale"], CF);
        assert_eq!(person["givenName"], "Mario");
        assert_eq!(person["familyName"], "Rossini");
        assert_eq!(person["birthDate"], "1985-12-10");
        assert_eq!(person["gender"], "MALE");
        assert_eq!(person["citizenship"], "IT");
        assert_eq!(person["residenceMunicipality"]["name"], "Pisa");
        assert_eq!(
            person["languages"],
            json!([{ "code": "it", "label": "Italiano" }, { "code": "en", "label": "Inglese" }])
        );
        assert_eq!(person["contacts"]["email"], "mario.rossini@example.it");
        assert_eq!(person["contacts"]["address"], "Via Roma 1, Pisa");
        assert_eq!(person["contactChannel"], "PHONE");
        assert_eq!(person["registeredBy"]["name"], "Forium");
        assert!(person["erasedAt"].is_null());

        let id = row_id(person["id"].as_str().unwrap_or_default());
        let raw = raw_person(&app, id).await;
        for (i, value) in raw.iter().enumerate() {
            let value = value
                .clone()
                .unwrap_or_else(|| panic!("column {i} is null"));
            for plain in [CF, "Mario", "Rossini", "mario.rossini", "Via Roma"] {
                assert!(
                    !value.contains(plain),
                    "[{engine:?}] plaintext in column {i}"
                );
            }
            if i != 1 {
                assert!(value.starts_with("test1:"), "[{engine:?}] {value}");
            }
        }
        assert_eq!(
            raw[1].as_deref().map(str::len),
            Some(64),
            "an HMAC hex digest"
        );

        // Found by exact codice fiscale (through the hash), in any case.
        let (_, body) = app
            .query_as(&token, PERSONS, json!({ "cf": CF.to_lowercase() }))
            .await;
        assert_eq!(
            body["data"]["persons"]["totalCount"], 1,
            "[{engine:?}] {body}"
        );
        assert_eq!(body["data"]["persons"]["nodes"][0]["givenName"], "Mario");
        let (_, body) = app
            .query_as(
                &token,
                PERSONS,
                json!({ "cf": codice_fiscale("BNCLRA90A41G702") }),
            )
            .await;
        assert_eq!(
            body["data"]["persons"]["totalCount"], 0,
            "[{engine:?}] {body}"
        );

        // The audit log has the registration, without personal values.
        let auditor = app.token(None, &[Role::Auditor]);
        let log = "query($id: ID!) { auditLog(filter: {object: $id}) { totalCount nodes { operation objectType after } } }";
        let (_, body) = app
            .query_as(&auditor, log, json!({ "id": person["id"] }))
            .await;
        assert_eq!(
            body["data"]["auditLog"]["totalCount"], 1,
            "[{engine:?}] {body}"
        );
        let event = &body["data"]["auditLog"]["nodes"][0];
        assert_eq!(event["operation"], "registerPerson");
        assert_eq!(event["objectType"], "Person");
        let text = event["after"].to_string();
        for plain in [CF, "Mario", "Rossini", "mario.rossini", "test1:"] {
            assert!(
                !text.contains(plain),
                "[{engine:?}] audit holds {plain}: {text}"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn registering_a_codice_fiscale_known_elsewhere_gives_the_organization_its_own_record_and_reveals_nothing()
 {
    on_every_engine(async |engine, app| {
        let id = registered(&app, "Forium", CF).await;
        let cpi = app.organization_id("impiego di Pisa").await;
        let token = app.token(Some(cpi), &[Role::OrgAdmin]);
        let (_, before) = app.query_as(&token, NODE, json!({ "id": id })).await;
        assert!(
            before["data"]["node"].is_null(),
            "[{engine:?}] not involved yet: {before}"
        );

        let mut input = person_input(&gid(&app, "impiego di Pisa").await, &CF.to_lowercase());
        input["givenName"] = json!("Other");
        let body = register(&app, &token, input.clone()).await;
        let payload = &body["data"]["registerPerson"];
        assert_eq!(payload["userErrors"], json!([]), "[{engine:?}] {body}");
        assert_eq!(payload["alreadyRegistered"], false, "[{engine:?}] {body}");
        let own = payload["person"]["id"].clone();
        assert_ne!(own, json!(id), "[{engine:?}] a record of its own");
        assert_eq!(
            payload["person"]["givenName"], "Other",
            "[{engine:?}] what it entered, not Forium's values"
        );
        assert_eq!(
            payload["person"]["registeredBy"]["name"],
            "Centro per l'impiego di Pisa"
        );
        assert_eq!(
            count(&app, "SELECT COUNT(*) AS n FROM person", vec![]).await,
            2
        );
        // Registering again returns its own record, unchanged.
        input["givenName"] = json!("Third");
        let body = register(&app, &token, input).await;
        let payload = &body["data"]["registerPerson"];
        assert_eq!(payload["person"]["id"], own, "[{engine:?}] {body}");
        assert_eq!(
            payload["person"]["givenName"], "Other",
            "[{engine:?}] {body}"
        );
        assert_eq!(
            count(&app, "SELECT COUNT(*) AS n FROM person", vec![]).await,
            2
        );
        // Forium's record stays out of its reach.
        let (_, after) = app.query_as(&token, NODE, json!({ "id": id })).await;
        assert!(after["data"]["node"].is_null(), "[{engine:?}] {after}");
        let (_, body) = app.query_as(&token, PERSONS, json!({ "cf": CF })).await;
        assert_eq!(
            body["data"]["persons"]["totalCount"], 1,
            "[{engine:?}] only its own record: {body}"
        );
    })
    .await;
}

#[tokio::test]
async fn an_organization_not_involved_cannot_see_the_person_anywhere() {
    on_every_engine(async |engine, app| {
        let id = registered(&app, "Forium", CF).await;
        let (forium_id, other_id) = (
            app.organization_id("Forium").await,
            app.organization_id("CNA Pisa").await,
        );
        let (forium, other) = (Some(forium_id), Some(other_id));

        // The own organization sees it in the list and by node.
        for role in [Role::Operator, Role::OrgAdmin] {
            let token = app.token(forium, &[role]);
            let (_, body) = app.query_as(&token, PERSONS, json!({})).await;
            assert_eq!(
                body["data"]["persons"]["totalCount"], 1,
                "[{engine:?}] {body}"
            );
            let (_, body) = app.query_as(&token, NODE, json!({ "id": id })).await;
            assert_eq!(
                body["data"]["node"]["familyName"], "Rossini",
                "[{engine:?}] {body}"
            );
        }

        // Another organization: empty list, null node, refused nested reads and changes.
        let stranger = app.token(other, &[Role::OrgAdmin]);
        let (_, body) = app.query_as(&stranger, PERSONS, json!({ "cf": CF })).await;
        assert_eq!(
            body["data"]["persons"]["totalCount"], 0,
            "[{engine:?}] {body}"
        );
        let (_, body) = app.query_as(&stranger, NODE, json!({ "id": id })).await;
        assert!(body["data"]["node"].is_null(), "[{engine:?}] {body}");
        let export = "query($id: ID!) { exportPersonData(personId: $id) }";
        let (_, body) = app.query_as(&stranger, export, json!({ "id": id })).await;
        assert_eq!(first_error_code(&body), "NOT_FOUND", "[{engine:?}] {body}");
        let erase = "mutation($id: ID!) { erasePerson(input: {id: $id, expectedVersion: 1}) { person { id } } }";
        let (_, body) = app.query_as(&stranger, erase, json!({ "id": id })).await;
        assert_eq!(first_error_code(&body), "NOT_FOUND", "[{engine:?}] {body}");
        let update = "mutation($id: ID!) { updatePerson(input: {id: $id, expectedVersion: 1, givenName: \"X\"}) { person { id } } }";
        let (_, body) = app.query_as(&stranger, update, json!({ "id": id })).await;
        assert_eq!(first_error_code(&body), "NOT_FOUND", "[{engine:?}] {body}");

        // The regional administration and auditors never see personal data.
        for role in [Role::RegionalAdmin, Role::Auditor] {
            let token = app.token(forium, &[role]);
            let (_, body) = app.query_as(&token, PERSONS, json!({})).await;
            assert_eq!(
                first_error_code(&body),
                "FORBIDDEN",
                "[{engine:?}] {role:?} {body}"
            );
            let (_, body) = app.query_as(&token, NODE, json!({ "id": id })).await;
            assert!(
                body["data"]["node"].is_null(),
                "[{engine:?}] {role:?} {body}"
            );
        }
        let body = app.query(PERSONS, json!({})).await;
        assert_eq!(first_error_code(&body), "UNAUTHENTICATED", "[{engine:?}]");
        let body = app.query(NODE, json!({ "id": id })).await;
        assert!(body["data"]["node"].is_null(), "[{engine:?}] {body}");

        // A draft to CNA Pisa shows it nothing; once sent, it reads the shared fields.
        let person = row_id(&id);
        insert_referral(&app, person, forium_id, other_id, "DRAFT", years_ago(0)).await;
        let (_, body) = app.query_as(&stranger, NODE, json!({ "id": id })).await;
        assert!(body["data"]["node"].is_null(), "[{engine:?}] {body}");
        insert_referral(&app, person, forium_id, other_id, "SENT", years_ago(0)).await;
        let (_, body) = app.query_as(&stranger, NODE, json!({ "id": id })).await;
        assert_eq!(
            body["data"]["node"]["familyName"], "Rossini",
            "[{engine:?}] {body}"
        );
    })
    .await;
}

#[tokio::test]
async fn every_read_of_personal_fields_appears_in_the_access_log_for_auditors_only() {
    on_every_engine(async |engine, app| {
        let id = registered(&app, "Forium", CF).await;
        let forium = app.organization_id("Forium").await;
        let reader = app.token(Some(forium), &[Role::Operator]);
        let auditor = app.token(None, &[Role::Auditor]);
        let (_, before) = app
            .query_as(&auditor, ACCESS_LOG, json!({ "person": id }))
            .await;
        let before = before["data"]["personAccessLog"]["totalCount"]
            .as_i64()
            .unwrap_or(-1);
        assert!(
            before >= 4,
            "the registration payload read four fields: {before}"
        );

        let read = "query($id: ID!) { node(id: $id) { ... on Person { givenName codiceFiscale birthDate } } }";
        let (_, body) = app.query_as(&reader, read, json!({ "id": id })).await;
        assert_eq!(
            body["data"]["node"]["codiceFiscale"], CF,
            "[{engine:?}] {body}"
        );
        let (_, body) = app
            .query_as(&auditor, ACCESS_LOG, json!({ "person": id }))
            .await;
        let log = &body["data"]["personAccessLog"];
        assert_eq!(
            log["totalCount"].as_i64(),
            Some(before + 3),
            "[{engine:?}] {body}"
        );
        let newest: Vec<String> = log["nodes"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .take(3)
            .map(|n| n["fields"][0].as_str().unwrap_or_default().to_owned())
            .collect();
        assert!(newest.contains(&"givenName".to_owned()), "{newest:?}");
        assert!(newest.contains(&"codiceFiscale".to_owned()), "{newest:?}");
        assert!(newest.contains(&"birthDate".to_owned()), "{newest:?}");
        let entry = &log["nodes"][0];
        assert_eq!(entry["purpose"], "READ");
        assert_eq!(entry["personId"], json!(id));
        assert!(
            entry["actorSubject"]
                .as_str()
                .unwrap_or_default()
                .starts_with("test-user-")
        );
        assert!(
            !entry.to_string().contains("Mario"),
            "no personal values in the log"
        );

        for token in [
            app.token(None, &[Role::RegionalAdmin]),
            app.token(Some(forium), &[Role::OrgAdmin]),
            app.token(Some(forium), &[Role::Operator]),
        ] {
            let (_, body) = app.query_as(&token, ACCESS_LOG, json!({})).await;
            assert_eq!(first_error_code(&body), "FORBIDDEN", "[{engine:?}] {body}");
        }
        let body = app.query(ACCESS_LOG, json!({})).await;
        assert_eq!(first_error_code(&body), "UNAUTHENTICATED", "[{engine:?}]");
    })
    .await;
}

#[tokio::test]
async fn invalid_person_input_is_reported_as_user_errors_and_changes_nothing() {
    on_every_engine(async |engine, app| {
        let token = app.token(Some(app.organization_id("Forium").await), &[Role::Operator]);
        let mut input = person_input(&gid(&app, "Forium").await, "RSSMRA85T10A562T");
        input["citizenship"] = json!("ita");
        input["residenceMunicipalityIstatCode"] = json!("999999");
        input["birthDate"] = json!("2999-01-01");
        input["contacts"]["email"] = json!("not an email");
        let body = register(&app, &token, input).await;
        let payload = &body["data"]["registerPerson"];
        let fields: Vec<String> = payload["userErrors"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|e| e["field"].to_string())
            .collect();
        for expected in [
            json!(["input", "codiceFiscale"]),
            json!(["input", "citizenship"]),
            json!(["input", "residenceMunicipalityIstatCode"]),
            json!(["input", "birthDate"]),
            json!(["input", "contacts", "email"]),
        ] {
            assert!(
                fields.contains(&expected.to_string()),
                "[{engine:?}] {expected} in {fields:?}"
            );
        }
        assert!(payload["person"].is_null());
        assert!(
            !body.to_string().contains("RSSMRA85T10A562T"),
            "no CF echoed: {body}"
        );
        assert_eq!(
            count(&app, "SELECT COUNT(*) AS n FROM person", vec![]).await,
            0
        );

        // Other organizations' callers may not register for Forium.
        let cna = app.token(
            Some(app.organization_id("CNA Pisa").await),
            &[Role::Operator],
        );
        let body = register(&app, &cna, person_input(&gid(&app, "Forium").await, CF)).await;
        assert_eq!(first_error_code(&body), "FORBIDDEN", "[{engine:?}] {body}");
        let regional = app.token(None, &[Role::RegionalAdmin]);
        let body = register(
            &app,
            &regional,
            person_input(&gid(&app, "Forium").await, CF),
        )
        .await;
        assert_eq!(first_error_code(&body), "FORBIDDEN", "[{engine:?}] {body}");
        let body = app
            .query(
                REGISTER,
                json!({ "input": person_input(&gid(&app, "Forium").await, CF) }),
            )
            .await;
        assert_eq!(
            first_error_code(&body),
            "UNAUTHENTICATED",
            "[{engine:?}] {body}"
        );
    })
    .await;
}

#[tokio::test]
async fn an_update_changes_the_person_and_a_stale_version_is_a_conflict() {
    on_every_engine(async |engine, app| {
        let id = registered(&app, "Forium", CF).await;
        let token = app.token(Some(app.organization_id("Forium").await), &[Role::OrgAdmin]);
        let update = "mutation($input: UpdatePersonInput!) { updatePerson(input: $input) {
            person { rowVersion familyName citizenship contacts { email } } userErrors { field code } } }";
        let input = json!({ "id": id, "expectedVersion": 1, "familyName": "Bianchi", "citizenship": "MA",
                            "contacts": { "email": "new@example.it" } });
        let (_, body) = app
            .query_as(&token, update, json!({ "input": input.clone() }))
            .await;
        let person = &body["data"]["updatePerson"]["person"];
        assert_eq!(person["rowVersion"], 2, "[{engine:?}] {body}");
        assert_eq!(person["familyName"], "Bianchi");
        assert_eq!(person["citizenship"], "MA");
        assert_eq!(person["contacts"]["email"], "new@example.it");
        let (_, body) = app
            .query_as(&token, update, json!({ "input": input }))
            .await;
        assert_eq!(first_error_code(&body), "CONFLICT", "[{engine:?}] {body}");
        let bad = json!({ "id": id, "expectedVersion": 2, "citizenship": "Italy" });
        let (_, body) = app.query_as(&token, update, json!({ "input": bad })).await;
        assert_eq!(
            body["data"]["updatePerson"]["userErrors"][0]["field"],
            json!(["input", "citizenship"]),
            "[{engine:?}] {body}"
        );
    })
    .await;
}

const RECORD: &str = "mutation($input: RecordConsentInput!) {
  recordConsent(input: $input) {
    consent { id rowVersion purpose legalBasis recipients { name } protocol { id } grantedAt expiresAt withdrawnAt evidenceKind evidence recordedBy { name } }
    userErrors { field code message }
  }
}";

const WITHDRAW: &str = "mutation($input: WithdrawConsentInput!) {
  withdrawConsent(input: $input) {
    consent { id withdrawnAt rowVersion }
    cancelledDraftReferrals
    userErrors { field code }
  }
}";

#[tokio::test]
async fn a_consent_is_recorded_listed_and_withdrawn_cancelling_draft_referrals() {
    on_every_engine(async |engine, app| {
        let id = registered(&app, "Forium", CF).await;
        let forium = app.organization_id("Forium").await;
        let cpi = app.organization_id("impiego di Pisa").await;
        let token = app.token(Some(forium), &[Role::Operator]);
        let input = json!({
            "person": id, "purpose": "Orientamento al lavoro", "legalBasis": "CONSENT",
            "recipients": [gid(&app, "impiego di Pisa").await],
            "grantedAt": "2026-01-10T09:00:00Z", "expiresAt": "2027-01-10T09:00:00Z",
            "evidenceKind": "DOCUMENT", "evidence": "Modulo firmato n. 42"
        });
        let (_, body) = app
            .query_as(&token, RECORD, json!({ "input": input.clone() }))
            .await;
        let consent = &body["data"]["recordConsent"]["consent"];
        assert_eq!(
            body["data"]["recordConsent"]["userErrors"],
            json!([]),
            "[{engine:?}] {body}"
        );
        assert_eq!(consent["legalBasis"], "CONSENT");
        assert_eq!(
            consent["recipients"][0]["name"],
            "Centro per l'impiego di Pisa"
        );
        assert_eq!(consent["recordedBy"]["name"], "Forium");
        assert!(consent["withdrawnAt"].is_null());

        // Invalid: no recipient nor protocol, expiry before grant.
        let mut bad = input.clone();
        bad["recipients"] = json!([]);
        bad["expiresAt"] = json!("2025-01-01T00:00:00Z");
        let (_, body) = app.query_as(&token, RECORD, json!({ "input": bad })).await;
        let fields: Vec<String> = body["data"]["recordConsent"]["userErrors"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|e| e["field"].to_string())
            .collect();
        assert!(
            fields.contains(&json!(["input", "recipients"]).to_string()),
            "[{engine:?}] {body}"
        );
        assert!(
            fields.contains(&json!(["input", "expiresAt"]).to_string()),
            "[{engine:?}] {body}"
        );
        // A stranger may not record one: the person is unknown to it.
        let stranger = app.token(
            Some(app.organization_id("CNA Pisa").await),
            &[Role::Operator],
        );
        let (_, body) = app
            .query_as(&stranger, RECORD, json!({ "input": input }))
            .await;
        assert_eq!(first_error_code(&body), "NOT_FOUND", "[{engine:?}] {body}");

        let list =
            "query($id: ID!) { node(id: $id) { ... on Person { consents { id purpose } } } }";
        let (_, body) = app.query_as(&token, list, json!({ "id": id })).await;
        assert_eq!(
            body["data"]["node"]["consents"][0]["id"], consent["id"],
            "[{engine:?}] {body}"
        );

        // A draft referral of the person is cancelled by the withdrawal.
        let draft = insert_referral(&app, row_id(&id), forium, cpi, "DRAFT", years_ago(0)).await;
        let withdraw = json!({ "input": { "id": consent["id"], "expectedVersion": 1 } });
        let (_, body) = app.query_as(&token, WITHDRAW, withdraw.clone()).await;
        let payload = &body["data"]["withdrawConsent"];
        assert_eq!(payload["userErrors"], json!([]), "[{engine:?}] {body}");
        assert!(payload["consent"]["withdrawnAt"].is_string());
        assert_eq!(payload["consent"]["rowVersion"], 2);
        assert_eq!(payload["cancelledDraftReferrals"], 1, "[{engine:?}] {body}");
        assert_eq!(
            count(
                &app,
                "SELECT COUNT(*) AS n FROM referral WHERE id = ? AND status = 'CANCELLED'",
                vec![draft.into()]
            )
            .await,
            1
        );
        let (_, body) = app.query_as(&token, WITHDRAW, withdraw).await;
        assert_eq!(first_error_code(&body), "CONFLICT", "[{engine:?}] {body}");
        let again = json!({ "input": { "id": consent["id"], "expectedVersion": 2 } });
        let (_, body) = app.query_as(&token, WITHDRAW, again).await;
        assert_eq!(
            body["data"]["withdrawConsent"]["userErrors"][0]["code"], "INVALID_STATE",
            "[{engine:?}] {body}"
        );
    })
    .await;
}

#[tokio::test]
async fn the_export_contains_the_persons_data_and_is_logged() {
    on_every_engine(async |engine, app| {
        let id = registered(&app, "Forium", CF).await;
        let forium = app.organization_id("Forium").await;
        let cpi = app.organization_id("impiego di Pisa").await;
        insert_referral(&app, row_id(&id), forium, cpi, "SENT", years_ago(0)).await;
        let token = app.token(Some(forium), &[Role::OrgAdmin]);
        let export = "query($id: ID!) { exportPersonData(personId: $id) }";
        let (_, body) = app.query_as(&token, export, json!({ "id": id })).await;
        let data = &body["data"]["exportPersonData"];
        assert_eq!(data["person"]["codiceFiscale"], CF, "[{engine:?}] {body}");
        assert_eq!(data["person"]["givenName"], "Mario");
        assert_eq!(data["person"]["contacts"]["phone"], "+39 050 123456");
        assert_eq!(data["referrals"].as_array().map(Vec::len), Some(1));
        assert_eq!(data["referrals"][0]["status"], "SENT");
        assert_eq!(data["referrals"][0]["reason"], "test", "decrypted");
        assert!(data["accessLog"].as_array().is_some_and(|a| !a.is_empty()));
        // The receiver's export: the shared fields and the referral it received only.
        let receiver = app.token(Some(cpi), &[Role::Operator]);
        let (_, body) = app.query_as(&receiver, export, json!({ "id": id })).await;
        let data = &body["data"]["exportPersonData"];
        assert_eq!(data["person"]["givenName"], "Mario", "[{engine:?}] {body}");
        assert!(data["person"]["gender"].is_null(), "[{engine:?}] {body}");
        assert!(
            data["person"]["citizenship"].is_null(),
            "[{engine:?}] {body}"
        );
        assert_eq!(data["consents"], json!([]), "[{engine:?}] {body}");
        assert_eq!(data["referrals"].as_array().map(Vec::len), Some(1));
        let own_reads = data["accessLog"].as_array().cloned().unwrap_or_default();
        assert!(
            own_reads
                .iter()
                .all(|a| a["actor_organization_id"] == json!(cpi.to_string())),
            "[{engine:?}] only its own reads: {body}"
        );
        let auditor = app.token(None, &[Role::Auditor]);
        let (_, body) = app
            .query_as(&auditor, ACCESS_LOG, json!({ "person": id }))
            .await;
        assert_eq!(
            body["data"]["personAccessLog"]["nodes"][0]["purpose"], "EXPORT",
            "[{engine:?}] {body}"
        );
        let regional = app.token(None, &[Role::RegionalAdmin]);
        let (_, body) = app.query_as(&regional, export, json!({ "id": id })).await;
        assert_eq!(first_error_code(&body), "FORBIDDEN", "[{engine:?}] {body}");
    })
    .await;
}

#[tokio::test]
async fn erasing_a_person_clears_every_personal_value_and_keeps_the_referrals_coded_facts() {
    on_every_engine(async |engine, app| {
        let id = registered(&app, "Forium", CF).await;
        let forium = app.organization_id("Forium").await;
        let cpi = app.organization_id("impiego di Pisa").await;
        insert_referral(&app, row_id(&id), forium, cpi, "COMPLETED", years_ago(0)).await;
        let referrals = "SELECT COUNT(*) AS n FROM referral";
        assert_eq!(count(&app, referrals, vec![]).await, 1);
        let token = app.token(Some(forium), &[Role::Operator]);
        let erase = "mutation($id: ID!) { erasePerson(input: {id: $id, expectedVersion: 1}) {
            person { codiceFiscale givenName familyName contacts { email } birthDate gender citizenship languages { code } erasedAt }
            userErrors { field } } }";
        for _ in 0..2 {
            let (_, body) = app.query_as(&token, erase, json!({ "id": id })).await;
            let person = &body["data"]["erasePerson"]["person"];
            assert!(person["erasedAt"].is_string(), "[{engine:?}] {body}");
            for field in [
                "codiceFiscale",
                "givenName",
                "familyName",
                "contacts",
                "birthDate",
                "gender",
                "citizenship",
            ] {
                assert!(person[field].is_null(), "[{engine:?}] {field}: {body}");
            }
            assert_eq!(person["languages"], json!([]), "[{engine:?}] {body}");
        }
        // The referral's free text is gone too; its coded facts stay.
        let reason =
            "SELECT COUNT(*) AS n FROM referral WHERE reason = '' AND status = 'COMPLETED'";
        assert_eq!(count(&app, reason, vec![]).await, 1, "[{engine:?}]");
        assert!(
            raw_person(&app, row_id(&id))
                .await
                .iter()
                .all(Option::is_none)
        );
        assert_eq!(count(&app, referrals, vec![]).await, 1, "referrals stay");
        let erased = "SELECT COUNT(*) AS n FROM audit_event WHERE operation = 'erasePerson'";
        assert_eq!(
            count(&app, erased, vec![]).await,
            1,
            "idempotent: one erasure"
        );
        // The codice fiscale can be registered again as a new person.
        let again = registered(&app, "Forium", CF).await;
        assert_ne!(again, id);
    })
    .await;
}

#[tokio::test]
async fn retention_erases_only_people_whose_referrals_are_all_closed_long_enough() {
    on_every_engine(async |engine, app| {
        let forium = app.organization_id("Forium").await;
        let cpi = app.organization_id("impiego di Pisa").await;
        let old_closed =
            row_id(&registered(&app, "Forium", &codice_fiscale("RSSMRA85T10A562")).await);
        let recent_closed =
            row_id(&registered(&app, "Forium", &codice_fiscale("BNCLRA90A41G702")).await);
        let old_open =
            row_id(&registered(&app, "Forium", &codice_fiscale("VRDGPP70C15D612")).await);
        let mixed = row_id(&registered(&app, "Forium", &codice_fiscale("NRELCU80D50G702")).await);
        let no_referral =
            row_id(&registered(&app, "Forium", &codice_fiscale("GLLFNC75E20H501")).await);
        insert_referral(&app, old_closed, forium, cpi, "COMPLETED", years_ago(3)).await;
        insert_referral(&app, old_closed, forium, cpi, "CANCELLED", years_ago(2)).await;
        insert_referral(&app, recent_closed, forium, cpi, "COMPLETED", years_ago(0)).await;
        insert_referral(&app, old_open, forium, cpi, "IN_PROGRESS", years_ago(3)).await;
        insert_referral(&app, mixed, forium, cpi, "COMPLETED", years_ago(3)).await;
        insert_referral(&app, mixed, forium, cpi, "REJECTED", years_ago(0)).await;

        let now = DateTimeUtc::from(SystemTime::now());
        let erased = melt_api::casework::erase_retained(&app.db, 12, now)
            .await
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(erased, 1, "[{engine:?}]");
        assert!(
            raw_person(&app, old_closed)
                .await
                .iter()
                .all(Option::is_none)
        );
        for kept in [recent_closed, old_open, mixed, no_referral] {
            assert!(
                raw_person(&app, kept).await.iter().all(Option::is_some),
                "[{engine:?}]"
            );
        }
        let by_system = "SELECT COUNT(*) AS n FROM audit_event WHERE operation = 'erasePerson' AND actor_subject = 'system'";
        assert_eq!(count(&app, by_system, vec![]).await, 1);
        let again = melt_api::casework::erase_retained(&app.db, 12, now)
            .await
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(again, 0, "[{engine:?}] already erased");
    })
    .await;
}

#[tokio::test]
async fn rotate_data_reencrypts_to_the_new_key_and_values_still_decrypt() {
    on_every_engine(async |engine, app| {
        let first = row_id(&registered(&app, "Forium", CF).await);
        let second = row_id(&registered(&app, "Forium", &codice_fiscale("BNCLRA90A41G702")).await);
        let old_keys = app.settings.data_keys.clone().unwrap_or_default();
        let hash_key = app.settings.person_hash_key.clone().unwrap_or_default();
        let rotated = DataProtection::new(
            &format!("{},test2={}", old_keys.expose(), random_key()),
            None,
            hash_key.expose(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let changed = melt_api::person::protection::rotate_data(&app.db, &rotated)
            .await
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(changed, 2, "[{engine:?}]");
        let raw = raw_person(&app, first).await;
        for (i, value) in raw.iter().enumerate().filter(|(i, _)| *i != 1) {
            let value = value.clone().unwrap_or_default();
            assert!(
                value.starts_with("test2:"),
                "[{engine:?}] column {i}: {value}"
            );
        }
        let decrypted = |v: &Option<String>| rotated.decrypt(v.as_deref().unwrap_or_default()).ok();
        assert_eq!(decrypted(&raw[0]).as_deref(), Some(CF));
        assert_eq!(decrypted(&raw[2]).as_deref(), Some("Mario"));
        assert_eq!(decrypted(&raw[3]).as_deref(), Some("Rossini"));
        assert!(decrypted(&raw[4]).is_some_and(|c| c.contains("mario.rossini@example.it")));
        assert!(
            raw_person(&app, second).await[2]
                .as_deref()
                .is_some_and(|v| v.starts_with("test2:"))
        );
        let again = melt_api::person::protection::rotate_data(&app.db, &rotated)
            .await
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(again, 0, "[{engine:?}] nothing left to rotate");
    })
    .await;
}

#[tokio::test]
async fn a_language_that_is_not_a_language_term_is_refused_with_invalid() {
    on_every_engine(async |engine, app| {
        let token = app.token(Some(app.organization_id("Forium").await), &[Role::Operator]);
        let mut input = person_input(&gid(&app, "Forium").await, CF);
        // `xx` is two letters, so ISO 639-1 in form, but no LANGUAGE term has it.
        input["languages"] = json!(["it", "xx"]);
        let body = register(&app, &token, input).await;
        let payload = &body["data"]["registerPerson"];
        assert!(payload["person"].is_null(), "[{engine:?}] {body}");
        let errors = payload["userErrors"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(errors.len(), 1, "[{engine:?}] {body}");
        assert_eq!(errors[0]["field"], json!(["input", "languages"]), "{body}");
        assert_eq!(errors[0]["code"], "INVALID", "{body}");
        assert!(
            errors[0]["message"]
                .as_str()
                .is_some_and(|m| m.contains("`xx`")),
            "the message names the code: {body}"
        );
    })
    .await;
}
