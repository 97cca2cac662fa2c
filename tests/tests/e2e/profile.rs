//! `updateOrganizationProfile`: who may change an organization's profile, validation,
//! concurrency and the audit log. The pattern for every mutation test.

use melt_tests::{Role, TestApp, first_error_code, on_every_engine};
use serde_json::{Value, json};

const UPDATE: &str = "mutation($input: UpdateOrganizationProfileInput!) {
  updateOrganizationProfile(input: $input) {
    organization { id website email rowVersion }
    userErrors { field code message }
  }
}";

const ORG_ID: &str = "query($name: String) {
  organizations(filter: {search: $name}, first: 1) { nodes { id rowVersion } }
}";

async fn org(app: &TestApp, name: &str) -> (String, i64) {
    let data = app.data(ORG_ID, json!({ "name": name })).await;
    let node = &data["organizations"]["nodes"][0];
    (
        node["id"].as_str().unwrap_or_default().to_owned(),
        node["rowVersion"].as_i64().unwrap_or(-1),
    )
}

fn payload(body: &Value) -> &Value {
    &body["data"]["updateOrganizationProfile"]
}

#[tokio::test]
async fn an_org_admin_changes_their_own_profile_and_it_is_audited() {
    on_every_engine(async |engine, app| {
        let (id, version) = org(&app, "Forium").await;
        let token = app.token(Some(app.organization_id("Forium").await), &[Role::OrgAdmin]);
        let input =
            json!({ "id": id, "expectedVersion": version, "website": "https://forium.example.it" });
        let (status, body) = app
            .query_as(&token, UPDATE, json!({ "input": input }))
            .await;
        assert_eq!(status, 200, "[{engine:?}] {body}");
        assert_eq!(
            payload(&body)["userErrors"],
            json!([]),
            "[{engine:?}] {body}"
        );
        assert_eq!(
            payload(&body)["organization"]["website"],
            "https://forium.example.it"
        );
        assert_eq!(
            payload(&body)["organization"]["rowVersion"].as_i64(),
            Some(version + 1)
        );

        let auditor = app.token(None, &[Role::Auditor]);
        let log = "query($id: ID!) { auditLog(filter: {object: $id}) { totalCount nodes { operation actorKind before after } } }";
        let (_, body) = app.query_as(&auditor, log, json!({ "id": id })).await;
        let events = &body["data"]["auditLog"];
        assert_eq!(events["totalCount"], 1, "[{engine:?}] {body}");
        let event = &events["nodes"][0];
        assert_eq!(event["operation"], "updateOrganizationProfile");
        assert_eq!(event["actorKind"], "USER");
        assert_eq!(event["after"]["website"], "https://forium.example.it");
        assert_ne!(event["before"]["website"], event["after"]["website"]);
    })
    .await;
}

#[tokio::test]
async fn only_the_organizations_own_admin_may_change_its_profile() {
    on_every_engine(async |engine, app| {
        let (id, version) = org(&app, "Forium").await;
        let own = Some(app.organization_id("Forium").await);
        let other = Some(app.organization_id("CNA Pisa").await);
        let input =
            json!({ "input": { "id": id, "expectedVersion": version, "phone": "050 000000" } });
        let cases = [
            (app.token(other, &[Role::OrgAdmin]), "FORBIDDEN"),
            (app.token(own, &[Role::Operator]), "FORBIDDEN"),
            (app.token(own, &[Role::Auditor]), "FORBIDDEN"),
            (app.token(None, &[Role::RegionalAdmin]), "FORBIDDEN"),
        ];
        for (token, code) in cases {
            let (_, body) = app.query_as(&token, UPDATE, input.clone()).await;
            assert_eq!(first_error_code(&body), code, "[{engine:?}] {body}");
        }
        let anonymous = app.query(UPDATE, input.clone()).await;
        assert_eq!(
            first_error_code(&anonymous),
            "UNAUTHENTICATED",
            "[{engine:?}]"
        );
        let (_, body) = app
            .query_as(&app.token(own, &[Role::OrgAdmin]), UPDATE, input)
            .await;
        assert_eq!(
            payload(&body)["userErrors"],
            json!([]),
            "[{engine:?}] {body}"
        );
    })
    .await;
}

#[tokio::test]
async fn invalid_input_is_reported_as_user_errors_and_changes_nothing() {
    on_every_engine(async |engine, app| {
        let (id, version) = org(&app, "Forium").await;
        let token = app.token(Some(app.organization_id("Forium").await), &[Role::OrgAdmin]);
        let input = json!({
            "id": id, "expectedVersion": version, "website": "not a url", "email": "nobody"
        });
        let (_, body) = app
            .query_as(&token, UPDATE, json!({ "input": input }))
            .await;
        let errors = payload(&body)["userErrors"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let fields: Vec<String> = errors.iter().map(|e| e["field"].to_string()).collect();
        assert_eq!(errors.len(), 2, "[{engine:?}] {body}");
        assert!(
            fields.contains(&json!(["input", "website"]).to_string()),
            "{fields:?}"
        );
        assert!(
            fields.contains(&json!(["input", "email"]).to_string()),
            "{fields:?}"
        );
        assert!(errors.iter().all(|e| e["code"] == "INVALID"), "{body}");
        assert!(payload(&body)["organization"].is_null());
        assert_eq!(
            org(&app, "Forium").await.1,
            version,
            "[{engine:?}] nothing changed"
        );
    })
    .await;
}

#[tokio::test]
async fn a_stale_expected_version_is_a_conflict() {
    on_every_engine(async |engine, app| {
        let (id, version) = org(&app, "Forium").await;
        let token = app.token(Some(app.organization_id("Forium").await), &[Role::OrgAdmin]);
        let first = json!({ "input": { "id": id, "expectedVersion": version, "phone": "1" } });
        let (_, body) = app.query_as(&token, UPDATE, first.clone()).await;
        assert_eq!(
            payload(&body)["userErrors"],
            json!([]),
            "[{engine:?}] {body}"
        );
        let (_, body) = app.query_as(&token, UPDATE, first).await;
        assert_eq!(first_error_code(&body), "CONFLICT", "[{engine:?}] {body}");
    })
    .await;
}
