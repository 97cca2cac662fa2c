//! Trust: registrations that reveal nothing and never race into errors, the sending
//! gates each with its own code, free text encrypted at rest and gone after erasure,
//! the data protection officer's network-wide requests, and protocols by signatory
//! status. On SQLite and PostgreSQL.

use melt_tests::flow::{gid, ok};
use melt_tests::{Role, TestApp, codice_fiscale, first_error_code, on_every_engine, row_id};
use sea_orm::{FromQueryResult, JsonValue, Statement};
use serde_json::{Value, json};

const SENDER: &str = "Centro per l'impiego di Pisa";
const RECEIVER: &str = "Caritas diocesana di Pisa";

const REGISTER: &str = "mutation($input: RegisterPersonInput!) { registerPerson(input: $input) {
  alreadyRegistered person { id givenName } userErrors { code } } }";

fn person_input(org: &str, cf: &str, given: &str) -> Value {
    json!({
        "organization": org, "codiceFiscale": cf, "givenName": given,
        "familyName": "Esposito", "languages": ["it"], "gender": "FEMALE",
        "citizenship": "UA", "birthDate": "1990-03-04",
        "contacts": { "email": "anna.esposito@example.it" },
        "residenceMunicipalityIstatCode": "050026"
    })
}

/// Every row of `table` as JSON (to look for plaintext in the raw tables).
async fn raw_rows(app: &TestApp, table: &str) -> String {
    let rows = JsonValue::find_by_statement(Statement::from_string(
        app.db.get_database_backend(),
        format!("SELECT * FROM {table}"),
    ))
    .all(&app.db)
    .await
    .unwrap_or_else(|e| panic!("{table}: {e}"));
    serde_json::to_string(&rows).unwrap_or_default()
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    use sea_orm::ConnectionTrait;
    app.db
        .query_one_raw(Statement::from_string(
            app.db.get_database_backend(),
            sql.to_owned(),
        ))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .and_then(|row| row.try_get::<i64>("", "n").ok())
        .unwrap_or(-1)
}

#[tokio::test]
async fn concurrent_registrations_of_one_codice_fiscale_end_with_one_record_per_organization() {
    on_every_engine(async |engine, app| {
        let cf = codice_fiscale("SPSNNA90C44G702");
        let mut calls = Vec::new();
        for org_name in [SENDER, RECEIVER] {
            let org = app.organization_id(org_name).await;
            let org_gid = gid(&app, org_name).await;
            for i in 0..4 {
                let token = app.token(Some(org), &[Role::Operator]);
                let input = person_input(&org_gid, &cf, &format!("Anna{i}"));
                let app = &app;
                calls.push(async move {
                    // CONFLICT asks the caller to retry (SQLite refuses a concurrent
                    // writer instead of waiting); a bounded number of retries.
                    let mut last = Value::Null;
                    for _ in 0..20 {
                        let (_, body) = app
                            .query_as(&token, REGISTER, json!({ "input": input }))
                            .await;
                        let conflict = first_error_code(&body) == "CONFLICT";
                        last = body;
                        if !conflict {
                            break;
                        }
                    }
                    (org, last)
                });
            }
        }
        let results = futures_util::future::join_all(calls).await;
        let mut ids: std::collections::BTreeMap<uuid::Uuid, std::collections::BTreeSet<String>> =
            Default::default();
        for (org, body) in &results {
            let code = first_error_code(body);
            assert_ne!(code, "INTERNAL_SERVER_ERROR", "[{engine:?}] {body}");
            let id = body["data"]["registerPerson"]["person"]["id"]
                .as_str()
                .unwrap_or_else(|| panic!("[{engine:?}] {body}"));
            ids.entry(*org).or_default().insert(id.to_owned());
        }
        for (org, seen) in &ids {
            assert_eq!(seen.len(), 1, "[{engine:?}] {org}: one record, {seen:?}");
        }
        assert_eq!(
            count(&app, "SELECT COUNT(*) AS n FROM person").await,
            2,
            "[{engine:?}] one record per organization"
        );
    })
    .await;
}

/// A draft referral from the sender to the receiver's first service, for a person with
/// consent: (referral id, service row id).
async fn draft(app: &TestApp, cf: &str) -> (String, uuid::Uuid) {
    let (_, referral) = melt_tests::flow::draft_referral_as(app, cf).await;
    let service = row_id(
        referral["receiverService"]["id"]
            .as_str()
            .unwrap_or_default(),
    );
    (
        referral["id"].as_str().unwrap_or_default().to_owned(),
        service,
    )
}

async fn send_code(app: &TestApp, referral: &str) -> String {
    let token = app.token(Some(app.organization_id(SENDER).await), &[Role::Operator]);
    let send = "mutation($id: ID!, $v: Int!) { sendReferral(input: {id: $id, expectedVersion: $v}) { referral { status } userErrors { code } } }";
    let version = app.row_version(&token, &json!(referral)).await;
    let (_, body) = app
        .query_as(&token, send, json!({ "id": referral, "v": version }))
        .await;
    body["data"]["sendReferral"]["userErrors"][0]["code"]
        .as_str()
        .or_else(|| body["data"]["sendReferral"]["referral"]["status"].as_str())
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned()
}

#[tokio::test]
async fn each_sending_gate_refuses_with_its_own_code() {
    on_every_engine(async |engine, app| {
        let (referral, service) = draft(&app, &codice_fiscale("SPSNNA90C44G703")).await;
        let receiver = app.organization_id(RECEIVER).await;
        // The person's municipality outside every shared protocol's scope.
        let scopes = app.exec("DELETE FROM protocol_scope", vec![]).await;
        assert!(scopes > 0);
        assert_eq!(
            send_code(&app, &referral).await,
            "OUTSIDE_PROTOCOL_SCOPE",
            "[{engine:?}]"
        );
        // No protocol binds the receiver at all.
        app.exec(
            "DELETE FROM signatory WHERE organization_id = ?",
            vec![receiver.into()],
        )
        .await;
        assert_eq!(
            send_code(&app, &referral).await,
            "NO_PROTOCOL_IN_FORCE",
            "[{engine:?}]"
        );
        // The service is not active.
        app.exec(
            "UPDATE service SET status = 'INACTIVE' WHERE id = ?",
            vec![service.into()],
        )
        .await;
        assert_eq!(
            send_code(&app, &referral).await,
            "SERVICE_NOT_ACTIVE",
            "[{engine:?}]"
        );
        // Active again, but its area does not cover the person's municipality.
        app.exec(
            "UPDATE service SET status = 'ACTIVE' WHERE id = ?",
            vec![service.into()],
        )
        .await;
        app.exec(
            "DELETE FROM service_area WHERE service_id = ?",
            vec![service.into()],
        )
        .await;
        assert_eq!(
            send_code(&app, &referral).await,
            "OUTSIDE_SERVICE_AREA",
            "[{engine:?}]"
        );
        // Nothing of this changed the draft.
        let token = app.token(Some(app.organization_id(SENDER).await), &[Role::Operator]);
        let (_, body) = app
            .query_as(
                &token,
                "query($id: ID!) { node(id: $id) { ... on Referral { status } } }",
                json!({ "id": referral }),
            )
            .await;
        assert_eq!(
            body["data"]["node"]["status"], "DRAFT",
            "[{engine:?}] {body}"
        );
    })
    .await;
}

#[tokio::test]
async fn free_text_is_encrypted_at_rest_and_erasure_leaves_no_personal_value_in_the_tables() {
    on_every_engine(async |engine, app| {
        let cf = codice_fiscale("SPSNNA90C44G704");
        let (referral, _) = draft(&app, &cf).await;
        assert_eq!(send_code(&app, &referral).await, "SENT", "[{engine:?}]");
        let receiver = app.token(Some(app.organization_id(RECEIVER).await), &[Role::Operator]);
        let reject = "mutation($id: ID!, $v: Int!) { rejectReferral(input: {id: $id, expectedVersion: $v, reasonCode: \"NO_CAPACITY\", reasonText: \"La signora Anna non risponde\", declinedBy: PERSON}) { referral { status events { reasonText } } userErrors { code } } }";
        let version = app.row_version(&receiver, &json!(referral)).await;
        let (_, body) = app
            .query_as(&receiver, reject, json!({ "id": referral, "v": version }))
            .await;
        assert_eq!(
            body["data"]["rejectReferral"]["referral"]["status"], "REJECTED",
            "[{engine:?}] {body}"
        );
        // The API reads the text back; the tables hold none of it.
        let events = body["data"]["rejectReferral"]["referral"]["events"].to_string();
        assert!(events.contains("La signora Anna non risponde"), "{events}");
        let plaintext = [
            "Orientamento",
            "La signora Anna",
            "Modulo",
            "Rossi",
            cf.as_str(),
        ];
        let tables = [
            "person",
            "referral",
            "referral_event",
            "consent",
            "audit_event",
            "person_access",
        ];
        for table in tables {
            let rows = raw_rows(&app, table).await;
            for text in plaintext {
                assert!(
                    !rows.contains(text),
                    "[{engine:?}] {table} holds {text}: {rows}"
                );
            }
        }

        // Erasure by the record's organization.
        let sender = app.token(Some(app.organization_id(SENDER).await), &[Role::Operator]);
        let (_, body) = app
            .query_as(&sender, "{ persons(first: 1) { nodes { id } } }", json!({}))
            .await;
        let person = body["data"]["persons"]["nodes"][0]["id"].clone();
        let erase = "mutation($id: ID!, $v: Int!) { erasePerson(input: {id: $id, expectedVersion: $v}) { person { erasedAt } } }";
        let version = app.row_version(&sender, &person).await;
        let (_, body) = app
            .query_as(&sender, erase, json!({ "id": person, "v": version }))
            .await;
        assert!(
            body["data"]["erasePerson"]["person"]["erasedAt"].is_string(),
            "[{engine:?}] {body}"
        );
        let person_row = raw_rows(&app, "person").await;
        for column in [
            "codice_fiscale_enc",
            "codice_fiscale_hash",
            "given_name_enc",
            "family_name_enc",
            "contacts_enc",
            "birth_date",
            "gender",
            "citizenship",
            "residence_municipality_id",
        ] {
            assert!(
                person_row.contains(&format!("\"{column}\":null")),
                "[{engine:?}] person.{column} kept: {person_row}"
            );
        }
        assert!(person_row.contains("\"languages\":\"\""), "{person_row}");
        assert_eq!(
            count(
                &app,
                "SELECT COUNT(*) AS n FROM referral WHERE reason <> ''"
            )
            .await,
            0,
            "[{engine:?}] referral text kept"
        );
        assert_eq!(
            count(
                &app,
                "SELECT COUNT(*) AS n FROM referral_event WHERE reason_text IS NOT NULL"
            )
            .await,
            0,
            "[{engine:?}] event text kept"
        );
        assert_eq!(
            count(
                &app,
                "SELECT COUNT(*) AS n FROM consent WHERE evidence <> '' OR purpose <> ''"
            )
            .await,
            0,
            "[{engine:?}] consent text kept"
        );
        // Coded facts stay for statistics.
        assert_eq!(
            count(
                &app,
                "SELECT COUNT(*) AS n FROM referral WHERE status = 'REJECTED'"
            )
            .await,
            1
        );
        assert_eq!(
            count(
                &app,
                "SELECT COUNT(*) AS n FROM referral_event WHERE reason_code = 'NO_CAPACITY'"
            )
            .await,
            1
        );
    })
    .await;
}

#[tokio::test]
async fn the_audit_log_records_which_fields_of_a_person_changed_never_their_values() {
    on_every_engine(async |engine, app| {
        let org = app.organization_id(SENDER).await;
        let token = app.token(Some(org), &[Role::Operator]);
        let cf = codice_fiscale("SPSNNA90C44G705");
        let person = ok(
            &app,
            &token,
            REGISTER,
            person_input(&gid(&app, SENDER).await, &cf, "Anna"),
        )
        .await["registerPerson"]["person"]["id"]
            .clone();
        let update = "mutation($input: UpdatePersonInput!) { updatePerson(input: $input) { person { givenName } userErrors { code } } }";
        let (_, body) = app
            .query_as(
                &token,
                update,
                json!({ "input": { "id": person, "expectedVersion": 1, "givenName": "Annalisa", "citizenship": "PL" } }),
            )
            .await;
        assert_eq!(
            body["data"]["updatePerson"]["person"]["givenName"], "Annalisa",
            "{body}"
        );
        let admin = app.token(None, &[Role::RegionalAdmin]);
        let log = "query($id: ID!) { auditLog(filter: {object: $id}) { nodes { operation before after } } }";
        let (_, body) = app.query_as(&admin, log, json!({ "id": person })).await;
        let nodes = body["data"]["auditLog"]["nodes"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let update = nodes
            .iter()
            .find(|n| n["operation"] == "updatePerson")
            .unwrap_or_else(|| panic!("[{engine:?}] {body}"));
        assert_eq!(
            update["after"]["fields"],
            json!(["givenName", "citizenship"]),
            "{body}"
        );
        let text = body.to_string();
        for value in [
            "Annalisa",
            "Anna",
            "PL",
            "UA",
            "1990-03-04",
            "Esposito",
            cf.as_str(),
        ] {
            assert!(
                !text.contains(&format!("\"{value}\"")),
                "[{engine:?}] {value}: {text}"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn only_the_data_protection_officer_answers_a_data_subject_across_the_network_with_a_reason()
{
    on_every_engine(async |engine, app| {
        let cf = codice_fiscale("SPSNNA90C44G706");
        for org in [SENDER, RECEIVER] {
            let token = app.token(Some(app.organization_id(org).await), &[Role::Operator]);
            ok(
                &app,
                &token,
                REGISTER,
                person_input(&gid(&app, org).await, &cf, "Anna"),
            )
            .await;
        }
        let export = "mutation($input: DataSubjectRequestInput!) { exportDataSubject(input: $input) { data userErrors { field code } } }";
        let erase = "mutation($input: DataSubjectRequestInput!) { eraseDataSubject(input: $input) { erasedRecords userErrors { field code } } }";
        let request =
            json!({ "input": { "codiceFiscale": cf, "reason": "Richiesta prot. 2026/118" } });
        for token in [
            app.token(Some(app.organization_id(SENDER).await), &[Role::Operator]),
            app.token(Some(app.organization_id(SENDER).await), &[Role::OrgAdmin]),
            app.token(None, &[Role::RegionalAdmin]),
            app.token(None, &[Role::Auditor]),
        ] {
            for query in [export, erase] {
                let (_, body) = app.query_as(&token, query, request.clone()).await;
                assert_eq!(first_error_code(&body), "FORBIDDEN", "[{engine:?}] {body}");
            }
        }
        let dpo = app.token(None, &[Role::DataProtectionOfficer]);
        // A reason is required.
        let (_, body) = app
            .query_as(
                &dpo,
                erase,
                json!({ "input": { "codiceFiscale": cf, "reason": " " } }),
            )
            .await;
        assert_eq!(
            body["data"]["eraseDataSubject"]["userErrors"][0]["field"],
            json!(["input", "reason"]),
            "[{engine:?}] {body}"
        );
        let (_, body) = app.query_as(&dpo, export, request.clone()).await;
        let records = body["data"]["exportDataSubject"]["data"]["records"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(records.len(), 2, "[{engine:?}] {body}");
        assert!(
            records
                .iter()
                .all(|r| r["person"]["codiceFiscale"] == json!(cf))
        );
        let (_, body) = app.query_as(&dpo, erase, request.clone()).await;
        assert_eq!(
            body["data"]["eraseDataSubject"]["erasedRecords"], 2,
            "[{engine:?}] {body}"
        );
        assert_eq!(
            count(&app, "SELECT COUNT(*) AS n FROM person WHERE erased_at IS NOT NULL AND codice_fiscale_hash IS NULL").await,
            2
        );
        // Audited with the reason, no personal values.
        let admin = app.token(None, &[Role::RegionalAdmin]);
        let (_, body) = app
            .query_as(
                &admin,
                "{ auditLog(first: 100) { nodes { operation objectType after } } }",
                json!({}),
            )
            .await;
        let requests: Vec<&Value> = body["data"]["auditLog"]["nodes"]
            .as_array()
            .map(|n| {
                n.iter()
                    .filter(|e| e["objectType"] == "DataSubjectRequest")
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(requests.len(), 2, "[{engine:?}] export and erasure: {body}");
        assert!(
            requests
                .iter()
                .all(|e| e["after"]["reason"] == "Richiesta prot. 2026/118")
        );
        assert!(!body.to_string().contains(&cf), "[{engine:?}] {body}");
    })
    .await;
}

#[tokio::test]
async fn protocols_filter_by_an_organizations_signatory_status() {
    on_every_engine(async |engine, app| {
        let query = "query($o: ID, $s: SignatoryStatus) { protocols(filter: {organization: $o, signatoryStatus: $s}) { totalCount } }";
        let invited = gid(&app, "ARCI Comitato territoriale di Prato").await;
        let signed = gid(&app, RECEIVER).await;
        let total = |body: Value| {
            body["data"]["protocols"]["totalCount"]
                .as_i64()
                .unwrap_or(-1)
        };
        let any = total(app.query(query, json!({ "o": invited })).await);
        let as_invited = total(
            app.query(query, json!({ "o": invited, "s": "INVITED" }))
                .await,
        );
        let as_signed = total(
            app.query(query, json!({ "o": invited, "s": "SIGNED" }))
                .await,
        );
        assert!(as_invited >= 1, "[{engine:?}] ARCI Prato is invited");
        assert_eq!(as_invited + as_signed, any, "[{engine:?}]");
        let caritas_signed = total(
            app.query(query, json!({ "o": signed, "s": "SIGNED" }))
                .await,
        );
        assert!(caritas_signed >= 1, "[{engine:?}] Caritas signed");
        let body = app.query(query, json!({ "s": "SIGNED" })).await;
        assert_eq!(
            first_error_code(&body),
            "BAD_USER_INPUT",
            "[{engine:?}] {body}"
        );
    })
    .await;
}

#[tokio::test]
async fn rotate_data_encrypts_free_text_written_in_plaintext_before_encryption() {
    on_every_engine(async |engine, app| {
        let (referral, _) = draft(&app, &codice_fiscale("SPSNNA90C44G707")).await;
        // A row as a version before free-text encryption left it.
        app.exec(
            "UPDATE referral SET reason = 'Testo in chiaro di prima'",
            vec![],
        )
        .await;
        let changed = melt_api::person::protection::rotate_data(&app.db, &app.protection())
            .await
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert!(changed >= 1, "[{engine:?}] {changed}");
        let rows = raw_rows(&app, "referral").await;
        assert!(!rows.contains("Testo in chiaro"), "[{engine:?}] {rows}");
        let token = app.token(Some(app.organization_id(SENDER).await), &[Role::Operator]);
        let (_, body) = app
            .query_as(
                &token,
                "query($id: ID!) { node(id: $id) { ... on Referral { reason } } }",
                json!({ "id": referral }),
            )
            .await;
        assert_eq!(
            body["data"]["node"]["reason"], "Testo in chiaro di prima",
            "[{engine:?}] {body}"
        );
        // A second run has nothing left to do for it.
        let again = melt_api::person::protection::rotate_data(&app.db, &app.protection())
            .await
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(again, 0, "[{engine:?}]");
    })
    .await;
}
