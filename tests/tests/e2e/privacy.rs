//! No personal data in logs, error messages or traces: the logs of a whole referral
//! flow, captured at TRACE level in JSON, never contain the person's names, codice
//! fiscale or contacts.

use melt_tests::flow::gid;
use melt_tests::{Role, TestApp, engines, in_own_process, spawn_app_with};
use serde_json::{Value, json};
use std::io::Write;
use std::sync::{Arc, Mutex};

/// Collects every log line of this process.
#[derive(Clone, Default)]
pub(crate) struct Capture(pub(crate) Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut buffer) = self.0.lock() {
            buffer.extend_from_slice(bytes);
        }
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

const CODICE_FISCALE: &str = "RSSMRA85T10A562S";
const GIVEN: &str = "Mariolino";
const FAMILY: &str = "Rossignoli";
const EMAIL: &str = "mariolino.rossignoli@example.it";
const PHONE: &str = "+39 050 9876543";

async fn call(app: &TestApp, token: &str, query: &str, input: Value) -> Value {
    let (status, body) = app.query_as(token, query, json!({ "input": input })).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("errors").is_none(), "{body}");
    body["data"].clone()
}

/// Registers a person, records consent, and walks a referral from creation to completion,
/// reading the person's fields on both sides, exporting and finally erasing.
async fn full_flow(app: &TestApp) {
    let (sender, receiver) = ("Centro per l'impiego di Pisa", "Caritas diocesana di Pisa");
    let sender_token = app.token(Some(app.organization_id(sender).await), &[Role::Operator]);
    let receiver_token = app.token(Some(app.organization_id(receiver).await), &[Role::Operator]);
    let register = "mutation($input: RegisterPersonInput!) { registerPerson(input: $input) { person { id givenName } userErrors { field code message } } }";
    let person = call(
        app,
        &sender_token,
        register,
        json!({
            "organization": gid(app, sender).await, "codiceFiscale": CODICE_FISCALE,
            "givenName": GIVEN, "familyName": FAMILY, "birthDate": "1985-12-10", "gender": "MALE",
            "citizenship": "IT", "residenceMunicipalityIstatCode": "050026", "languages": ["it"],
            "contacts": { "email": EMAIL, "phone": PHONE, "address": "Via Roma 1, Pisa" },
            "contactChannel": "PHONE"
        }),
    )
    .await["registerPerson"]["person"]["id"]
        .clone();
    // A rejected input carrying personal data must not echo it back.
    let bad = "mutation($input: RegisterPersonInput!) { registerPerson(input: $input) { userErrors { message } } }";
    let (_, refused) = app
        .query_as(
            &sender_token,
            bad,
            json!({ "input": { "organization": gid(app, sender).await,
            "codiceFiscale": "RSSMRA85T10A562X", "givenName": GIVEN, "familyName": FAMILY,
            "languages": ["it"], "contactChannel": "PHONE" } }),
        )
        .await;
    assert!(
        !refused.to_string().contains("RSSMRA85T10A562X"),
        "{refused}"
    );

    let consent = "mutation($input: RecordConsentInput!) { recordConsent(input: $input) { userErrors { field message } } }";
    call(
        app,
        &sender_token,
        consent,
        json!({
            "person": person, "purpose": "Invio ai servizi", "legalBasis": "CONSENT",
            "recipients": [gid(app, receiver).await], "grantedAt": "2026-01-01T00:00:00Z",
            "evidenceKind": "DOCUMENT", "evidence": "Modulo firmato"
        }),
    )
    .await;
    let services = app
        .data(
            "query($o: ID) { services(filter: {provider: $o}, first: 1) { nodes { id } } }",
            json!({ "o": gid(app, receiver).await }),
        )
        .await;
    let create = "mutation($input: CreateReferralInput!) { createReferral(input: $input) { referral { id rowVersion } userErrors { field message } } }";
    let referral = call(app, &sender_token, create, json!({
        "person": person, "receiverService": services["services"]["nodes"][0]["id"],
        "needs": ["EMPLOYMENT"], "reason": "Orientamento", "priority": "NORMAL", "idempotencyKey": "privacy-1"
    }))
    .await["createReferral"]["referral"]
        .clone();
    let mut referral = referral;
    for (token, mutation, extra) in [
        (&sender_token, "sendReferral", json!({})),
        (&receiver_token, "acceptReferral", json!({})),
        (&receiver_token, "startReferral", json!({})),
        (
            &receiver_token,
            "completeReferral",
            json!({ "outcome": "ENROLLED" }),
        ),
    ] {
        let input_type = format!("{}{}Input", mutation[..1].to_uppercase(), &mutation[1..]);
        let query = format!(
            "mutation($input: {input_type}!) {{ {mutation}(input: $input) {{ referral {{ id rowVersion status person {{ givenName familyName codiceFiscale contacts {{ email phone }} }} }} userErrors {{ field message }} }} }}"
        );
        let mut input = json!({ "id": referral["id"], "expectedVersion": referral["rowVersion"] });
        if let (Some(map), Some(more)) = (input.as_object_mut(), extra.as_object()) {
            map.extend(more.clone());
        }
        let data = call(app, token, &query, input).await;
        let payload = &data[mutation];
        assert_eq!(payload["userErrors"], json!([]), "{mutation}: {data}");
        assert_eq!(
            payload["referral"]["person"]["familyName"], FAMILY,
            "{mutation}"
        );
        referral = payload["referral"].clone();
    }
    assert_eq!(referral["status"], "COMPLETED");
    let export = "query($id: ID!) { exportPersonData(personId: $id) }";
    let (_, exported) = app
        .query_as(&sender_token, export, json!({ "id": person }))
        .await;
    assert!(
        exported.to_string().contains(FAMILY),
        "the export holds the data: {exported}"
    );
    let erase = "mutation($input: ErasePersonInput!) { erasePerson(input: $input) { userErrors { message } } }";
    let version = app.row_version(&sender_token, &person).await;
    call(
        app,
        &sender_token,
        erase,
        json!({ "id": person, "expectedVersion": version }),
    )
    .await;
}

#[tokio::test]
async fn a_whole_referral_flow_leaves_no_personal_data_in_the_logs() {
    // The subscriber is the process's: alone, it captures the logs of this flow only.
    if !in_own_process("privacy::a_whole_referral_flow_leaves_no_personal_data_in_the_logs") {
        return;
    }
    let capture = Capture::default();
    let writer = capture.clone();
    tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .init();
    for engine in engines() {
        let app = spawn_app_with(engine, |s| s.log_filter = "trace".into()).await;
        full_flow(&app).await;
    }
    let logs = String::from_utf8_lossy(&capture.0.lock().map(|b| b.clone()).unwrap_or_default())
        .into_owned();
    assert!(
        logs.lines().count() > 50,
        "the flow was logged ({} lines)",
        logs.lines().count()
    );
    assert!(logs.contains("request done"), "request lines were captured");
    let lower = logs.to_lowercase();
    for secret in [
        CODICE_FISCALE,
        GIVEN,
        FAMILY,
        EMAIL,
        PHONE,
        "rssmra85t10a562x",
    ] {
        assert!(
            !lower.contains(&secret.to_lowercase()),
            "`{secret}` appears in the logs"
        );
    }
}
