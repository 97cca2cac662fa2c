//! Needs assessments: recorded on an organization's own record of a person, revised
//! with `expectedVersion`, checked against the taxonomies, read by that organization
//! alone (the privacy matrix checks every path), kept as codes through erasure.

use melt_tests::{
    Role, TestApp, codice_fiscale, first_error_code, global_id, on_every_engine, user_errors,
};
use serde_json::{Value, json};

const SENDER: &str = "Forium";

const FIELDS: &str = "id rowVersion assessor assessedOn notes targetGroups needs { need severity }
  organization { name } person { id }";

async fn register(app: &TestApp, token: &str, org: uuid::Uuid, cf: &str) -> Value {
    let query = "mutation($input: RegisterPersonInput!) { registerPerson(input: $input) { person { id } userErrors { code } } }";
    let input = json!({
        "organization": global_id("Organization", org),
        "codiceFiscale": cf,
        "givenName": "Amina",
        "familyName": "Haddad",
        "birthDate": "1990-04-02",
        "residenceMunicipalityIstatCode": "050026",
    });
    let (_, body) = app.query_as(token, query, json!({ "input": input })).await;
    body["data"]["registerPerson"]["person"]["id"].clone()
}

async fn record(app: &TestApp, token: &str, input: Value) -> Value {
    let query = format!(
        "mutation($input: RecordNeedsAssessmentInput!) {{ recordNeedsAssessment(input: $input) {{ needsAssessment {{ {FIELDS} }} userErrors {{ field code message }} }} }}"
    );
    app.query_as(token, &query, json!({ "input": input }))
        .await
        .1
}

async fn revise(app: &TestApp, token: &str, input: Value) -> Value {
    let query = format!(
        "mutation($input: ReviseNeedsAssessmentInput!) {{ reviseNeedsAssessment(input: $input) {{ needsAssessment {{ {FIELDS} }} userErrors {{ field code message }} }} }}"
    );
    app.query_as(token, &query, json!({ "input": input }))
        .await
        .1
}

async fn assessments_of(app: &TestApp, token: &str, person: &Value) -> Value {
    let query = format!(
        "query($id: ID!) {{ node(id: $id) {{ ... on Person {{ needsAssessments {{ {FIELDS} }} }} }} }}"
    );
    let (_, body) = app.query_as(token, &query, json!({ "id": person })).await;
    body["data"]["node"]["needsAssessments"].clone()
}

#[tokio::test]
async fn an_assessment_is_recorded_listed_newest_first_and_revised_with_its_version() {
    on_every_engine(async |engine, app| {
        let org = app.organization_id(SENDER).await;
        let token = app.token(Some(org), &[Role::Operator]);
        let person = register(&app, &token, org, &codice_fiscale("HDDMNA90D42G702")).await;
        assert!(person.is_string(), "[{engine:?}] {person}");
        let body = record(
            &app,
            &token,
            json!({
                "person": person,
                "needs": [
                    { "need": "employment", "severity": "MEDIUM" },
                    { "need": "LANGUAGE", "severity": "URGENT" },
                    { "need": "EMPLOYMENT", "severity": "HIGH" },
                ],
                "targetGroups": ["FOREIGN_NATIONALS"],
                "notes": "Arrivata da poco, cerca un corso di italiano",
                "assessedOn": "2026-11-02",
            }),
        )
        .await;
        let first = &body["data"]["recordNeedsAssessment"]["needsAssessment"];
        assert_eq!(
            first["needs"],
            json!([{ "need": "LANGUAGE", "severity": "URGENT" }, { "need": "EMPLOYMENT", "severity": "HIGH" }]),
            "[{engine:?}] codes upper-cased, a need named twice keeps its higher severity, most severe first: {body}"
        );
        assert_eq!(first["targetGroups"], json!(["FOREIGN_NATIONALS"]));
        assert_eq!(first["notes"], "Arrivata da poco, cerca un corso di italiano");
        assert_eq!(first["organization"]["name"], json!(SENDER));
        assert_eq!(first["person"]["id"], person);
        assert_eq!(first["rowVersion"], 1);

        let body = record(
            &app,
            &token,
            json!({ "person": person, "needs": [{ "need": "HOUSING", "severity": "LOW" }] }),
        )
        .await;
        let second = body["data"]["recordNeedsAssessment"]["needsAssessment"].clone();
        assert!(second["notes"].is_null(), "[{engine:?}] {body}");
        let listed = assessments_of(&app, &token, &person).await;
        let ids: Vec<&Value> = listed.as_array().map(|a| a.iter().map(|x| &x["id"]).collect()).unwrap_or_default();
        assert_eq!(ids, vec![&second["id"], &first["id"]], "[{engine:?}] newest first: {listed}");

        // Revising replaces what it says; a stale version is a conflict.
        let change = |version: &Value| {
            json!({
                "id": first["id"], "expectedVersion": version,
                "needs": [{ "need": "LANGUAGE", "severity": "HIGH" }],
                "notes": "Iscritta al corso",
            })
        };
        let body = revise(&app, &token, change(&first["rowVersion"])).await;
        let revised = &body["data"]["reviseNeedsAssessment"]["needsAssessment"];
        assert_eq!(revised["rowVersion"], 2, "[{engine:?}] {body}");
        assert_eq!(revised["needs"], json!([{ "need": "LANGUAGE", "severity": "HIGH" }]));
        assert_eq!(revised["targetGroups"], json!([]));
        assert_eq!(revised["notes"], "Iscritta al corso");
        let body = revise(&app, &token, change(&first["rowVersion"])).await;
        assert_eq!(first_error_code(&body), "CONFLICT", "[{engine:?}] {body}");

        // Another organization's operator cannot revise it: it reads as unknown.
        let other = app.token(Some(app.organization_id("CNA Pisa").await), &[Role::Operator]);
        let body = revise(&app, &other, change(&revised["rowVersion"])).await;
        assert_eq!(first_error_code(&body), "NOT_FOUND", "[{engine:?}] {body}");
    })
    .await;
}

#[tokio::test]
async fn an_assessment_with_unknown_codes_a_future_day_or_no_need_is_refused_field_by_field() {
    on_every_engine(async |engine, app| {
        let org = app.organization_id(SENDER).await;
        let token = app.token(Some(org), &[Role::Operator]);
        let person = register(&app, &token, org, &codice_fiscale("HDDMNA90D42G703")).await;
        let tomorrow = (chrono::Utc::now().date_naive() + chrono::Days::new(2)).to_string();
        let cases = [
            (json!({ "needs": [] }), "needs", "REQUIRED"),
            (json!({ "needs": [{ "need": "NOT_A_NEED", "severity": "LOW" }] }), "needs", "INVALID"),
            // A service type is not a need.
            (json!({ "needs": [{ "need": "JOB_ORIENTATION", "severity": "LOW" }] }), "needs", "INVALID"),
            (
                json!({ "needs": [{ "need": "HOUSING", "severity": "LOW" }], "targetGroups": ["HOUSING"] }),
                "targetGroups",
                "INVALID",
            ),
            (
                json!({ "needs": [{ "need": "HOUSING", "severity": "LOW" }], "assessedOn": tomorrow }),
                "assessedOn",
                "OUT_OF_RANGE",
            ),
            (
                json!({ "needs": [{ "need": "HOUSING", "severity": "LOW" }], "assessedOn": "1980-01-01" }),
                "assessedOn",
                "OUT_OF_RANGE",
            ),
            (
                json!({ "needs": [{ "need": "HOUSING", "severity": "LOW" }], "notes": "x".repeat(4001) }),
                "notes",
                "TOO_LONG",
            ),
        ];
        for (mut input, field, code) in cases {
            input["person"] = person.clone();
            let body = record(&app, &token, input.clone()).await;
            let payload = &body["data"]["recordNeedsAssessment"];
            assert!(payload["needsAssessment"].is_null(), "[{engine:?}] {input}: {body}");
            let errors: Vec<(Value, String)> = user_errors(payload);
            assert_eq!(
                errors.iter().map(|(f, c)| (f.clone(), c.as_str())).collect::<Vec<_>>(),
                vec![(json!(["input", field]), code)],
                "[{engine:?}] {input}: {body}"
            );
        }
        assert_eq!(assessments_of(&app, &token, &person).await, json!([]), "[{engine:?}] nothing recorded");
    })
    .await;
}

#[tokio::test]
async fn erasure_keeps_an_assessments_codes_and_drops_its_notes_and_groups_and_export_holds_it() {
    on_every_engine(async |engine, app| {
        let org = app.organization_id(SENDER).await;
        let token = app.token(Some(org), &[Role::Operator]);
        let person = register(&app, &token, org, &codice_fiscale("HDDMNA90D42G704")).await;
        let body = record(
            &app,
            &token,
            json!({
                "person": person,
                "needs": [{ "need": "HEALTH", "severity": "HIGH" }],
                "targetGroups": ["SURVIVORS_OF_VIOLENCE"],
                "notes": "Seguita dal centro antiviolenza",
            }),
        )
        .await;
        assert!(body["data"]["recordNeedsAssessment"]["needsAssessment"]["id"].is_string(), "{body}");

        let export = "query($id: ID!) { exportPersonData(personId: $id) }";
        let (_, body) = app.query_as(&token, export, json!({ "id": person })).await;
        let exported = &body["data"]["exportPersonData"]["needsAssessments"][0];
        assert_eq!(exported["notes"], "Seguita dal centro antiviolenza", "[{engine:?}] {body}");
        assert_eq!(exported["needs"], json!([{ "need": "HEALTH", "severity": "HIGH" }]));

        // The audit log holds no need, group or note.
        let auditor = app.token(None, &[Role::Auditor]);
        let (_, body) = app
            .query_as(&auditor, "{ auditLog(first: 100) { nodes { objectType before after } } }", json!({}))
            .await;
        let text = body.to_string();
        assert!(text.contains("NeedsAssessment"), "[{engine:?}] audited: {body}");
        for value in ["HEALTH", "SURVIVORS_OF_VIOLENCE", "antiviolenza"] {
            assert!(!text.contains(value), "[{engine:?}] the audit log holds {value}");
        }

        let version = app.row_version(&token, &person).await;
        let erase = "mutation($id: ID!, $v: Int!) { erasePerson(input: {id: $id, expectedVersion: $v}) { person { erasedAt } } }";
        let (_, body) = app.query_as(&token, erase, json!({ "id": person, "v": version })).await;
        assert!(body["data"]["erasePerson"]["person"]["erasedAt"].is_string(), "[{engine:?}] {body}");
        let after = assessments_of(&app, &token, &person).await;
        assert_eq!(after[0]["notes"], Value::Null, "[{engine:?}] {after}");
        assert_eq!(after[0]["targetGroups"], json!([]));
        assert_eq!(after[0]["needs"], json!([{ "need": "HEALTH", "severity": "HIGH" }]), "coded facts stay");
        // An erased record takes no new assessment.
        let body = record(&app, &token, json!({ "person": person, "needs": [{ "need": "HEALTH", "severity": "LOW" }] })).await;
        assert_eq!(
            body["data"]["recordNeedsAssessment"]["userErrors"][0]["code"], "INVALID_STATE",
            "[{engine:?}] {body}"
        );
    })
    .await;
}

#[tokio::test]
async fn the_assessments_of_a_page_of_people_load_in_a_fixed_number_of_statements() {
    on_every_engine(async |engine, app| {
        let org = app.organization_id(SENDER).await;
        let token = app.token(Some(org), &[Role::Operator]);
        let query = "{ persons(first: 100) { nodes { needsAssessments { needs { need } } } } }";
        let mut counts = Vec::new();
        let mut people = 0;
        for wanted in [2, 6] {
            while people < wanted {
                let cf = codice_fiscale(&format!("HDDMNA90D42G7{:02}", 10 + people));
                let person = register(&app, &token, org, &cf).await;
                let body = record(
                    &app,
                    &token,
                    json!({ "person": person, "needs": [{ "need": "INCOME", "severity": "LOW" }] }),
                )
                .await;
                assert!(
                    body["data"]["recordNeedsAssessment"]["needsAssessment"].is_object(),
                    "{body}"
                );
                people += 1;
            }
            let before = app.statement_count();
            let (_, body) = app.query_as(&token, query, json!({})).await;
            let listed = body["data"]["persons"]["nodes"]
                .as_array()
                .map_or(0, Vec::len);
            assert!(listed >= wanted, "[{engine:?}] {body}");
            counts.push(app.statement_count() - before);
        }
        assert_eq!(
            counts[0], counts[1],
            "[{engine:?}] statements for 2 and 6 people: {counts:?}"
        );
    })
    .await;
}
