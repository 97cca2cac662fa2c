//! The audit log: who reads it, and its filters.

use melt_tests::{Role, TestApp, first_error_code, on_every_engine};
use serde_json::{Value, json};

const PROFILE: &str = "mutation($input: UpdateOrganizationProfileInput!) {
  updateOrganizationProfile(input: $input) { userErrors { code } }
}";

const LOG: &str = "query($f: AuditLogFilter, $first: Int, $after: String) {
  auditLog(filter: $f, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    nodes { id occurredAt actorSubject actorOrganizationId operation objectType objectId requestId }
  }
}";

const ORG: &str =
    "query($s: String) { organizations(filter: {search: $s}) { nodes { id rowVersion } } }";

async fn org_id(app: &TestApp, name: &str) -> String {
    let data = app.data(ORG, json!({ "s": name })).await;
    data["organizations"]["nodes"][0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Two organizations' admins each make two changes.
async fn make_changes(app: &TestApp) -> (String, String) {
    let mut subjects = Vec::new();
    for name in ["Forium", "CNA Pisa"] {
        let id = org_id(app, name).await;
        let token = app.token(Some(app.organization_id(name).await), &[Role::OrgAdmin]);
        for phone in ["050 111111", "050 222222"] {
            let read = app.data(ORG, json!({ "s": name })).await;
            let version = &read["organizations"]["nodes"][0]["rowVersion"];
            let input =
                json!({ "input": { "id": id, "expectedVersion": version, "phone": phone } });
            let (_, body) = app.query_as(&token, PROFILE, input).await;
            assert_eq!(
                body["data"]["updateOrganizationProfile"]["userErrors"],
                json!([]),
                "{body}"
            );
        }
        let viewer = app
            .query_as(&token, "{ viewer { subject } }", json!({}))
            .await
            .1;
        subjects.push(
            viewer["data"]["viewer"]["subject"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
    }
    (subjects[0].clone(), subjects[1].clone())
}

fn nodes(body: &Value) -> Vec<Value> {
    body["data"]["auditLog"]["nodes"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[tokio::test]
async fn only_auditors_and_the_regional_administration_read_the_audit_log() {
    on_every_engine(async |engine, app| {
        make_changes(&app).await;
        for role in [Role::Auditor, Role::RegionalAdmin] {
            let (_, body) = app
                .query_as(&app.token(None, &[role]), LOG, json!({}))
                .await;
            assert_eq!(
                body["data"]["auditLog"]["totalCount"], 4,
                "[{engine:?}] {role:?}: {body}"
            );
        }
        let own = Some(app.organization_id("Forium").await);
        for role in [Role::OrgAdmin, Role::Operator] {
            let (_, body) = app.query_as(&app.token(own, &[role]), LOG, json!({})).await;
            assert_eq!(
                first_error_code(&body),
                "FORBIDDEN",
                "[{engine:?}] {role:?}"
            );
        }
        assert_eq!(
            first_error_code(&app.query(LOG, json!({})).await),
            "UNAUTHENTICATED"
        );
        // Audit events are hidden from node(id:) too.
        let (_, body) = app
            .query_as(&app.token(None, &[Role::Auditor]), LOG, json!({}))
            .await;
        let id = nodes(&body)[0]["id"].clone();
        let node = "query($id: ID!) { node(id: $id) { id } }";
        let (_, seen) = app
            .query_as(
                &app.token(None, &[Role::Auditor]),
                node,
                json!({ "id": id }),
            )
            .await;
        assert_eq!(seen["data"]["node"]["id"], id, "[{engine:?}]");
        let (_, hidden) = app
            .query_as(
                &app.token(own, &[Role::OrgAdmin]),
                node,
                json!({ "id": id }),
            )
            .await;
        assert!(hidden["data"]["node"].is_null(), "[{engine:?}] {hidden}");
    })
    .await;
}

#[tokio::test]
async fn the_audit_log_filters_by_actor_organization_operation_and_time_and_pages() {
    on_every_engine(async |engine, app| {
        let (forium_admin, _) = make_changes(&app).await;
        let auditor = app.token(None, &[Role::Auditor]);
        let query = |filter: Value| {
            let token = auditor.clone();
            let app = &app;
            async move { app.query_as(&token, LOG, json!({ "f": filter })).await.1 }
        };
        let by_actor = query(json!({ "actor": forium_admin })).await;
        assert_eq!(
            by_actor["data"]["auditLog"]["totalCount"], 2,
            "[{engine:?}] {by_actor}"
        );
        assert!(
            nodes(&by_actor)
                .iter()
                .all(|n| n["actorSubject"] == forium_admin)
        );

        let forium = org_id(&app, "Forium").await;
        let by_org = query(json!({ "organization": forium })).await;
        assert_eq!(by_org["data"]["auditLog"]["totalCount"], 2, "[{engine:?}]");
        assert!(
            nodes(&by_org)
                .iter()
                .all(|n| n["actorOrganizationId"] == json!(forium))
        );
        let by_object = query(json!({ "object": forium })).await;
        assert!(
            nodes(&by_object)
                .iter()
                .all(|n| n["objectId"] == json!(forium))
        );

        let none = query(json!({ "operation": "createService" })).await;
        assert_eq!(none["data"]["auditLog"]["totalCount"], 0);

        let all = nodes(&query(json!({})).await);
        assert_eq!(all.len(), 4);
        let times: Vec<&str> = all
            .iter()
            .filter_map(|n| n["occurredAt"].as_str())
            .collect();
        let mut sorted = times.clone();
        sorted.sort_by(|a, b| b.cmp(a));
        assert_eq!(times, sorted, "[{engine:?}] newest first");
        assert!(
            all.iter()
                .all(|n| n["requestId"].as_str().is_some_and(|r| !r.is_empty()))
        );
        let newest = times[0];
        let before_newest = query(json!({ "to": newest })).await;
        assert_eq!(
            before_newest["data"]["auditLog"]["totalCount"], 3,
            "[{engine:?}]"
        );
        let from_newest = query(json!({ "from": newest })).await;
        assert_eq!(
            from_newest["data"]["auditLog"]["totalCount"], 1,
            "[{engine:?}]"
        );

        let (_, page1) = app.query_as(&auditor, LOG, json!({ "first": 3 })).await;
        assert_eq!(nodes(&page1).len(), 3);
        assert_eq!(page1["data"]["auditLog"]["pageInfo"]["hasNextPage"], true);
        let cursor = page1["data"]["auditLog"]["pageInfo"]["endCursor"].clone();
        let (_, page2) = app
            .query_as(&auditor, LOG, json!({ "first": 3, "after": cursor }))
            .await;
        assert_eq!(nodes(&page2).len(), 1, "[{engine:?}] {page2}");
        assert_eq!(nodes(&page2)[0]["id"], all[3]["id"]);
    })
    .await;
}

#[tokio::test]
async fn every_audited_object_id_refetches_its_object() {
    on_every_engine(async |engine, app| {
        let admin = app.token(None, &[Role::RegionalAdmin]);
        let record = "mutation($input: RecordSuccessionInput!) {
          recordSuccession(input: $input) { succession { id } userErrors { code } }
        }";
        let input = json!({
            "predecessor": org_id(&app, "Forium").await,
            "successor": org_id(&app, "CNA Pisa").await,
            "effectiveOn": "2026-06-30",
            "dissolvePredecessor": true,
        });
        let (_, body) = app
            .query_as(&admin, record, json!({ "input": input }))
            .await;
        let succession = body["data"]["recordSuccession"]["succession"]["id"].clone();
        assert!(succession.is_string(), "[{engine:?}] {body}");
        make_changes(&app).await;
        let auditor = app.token(None, &[Role::Auditor]);
        let (_, log) = app.query_as(&auditor, LOG, json!({ "first": 100 })).await;
        let events = nodes(&log);
        assert!(
            events.iter().any(|e| e["objectId"] == succession),
            "[{engine:?}] {log}"
        );
        let node = "query($id: ID!) { node(id: $id) { __typename id } }";
        for event in events {
            let (_, body) = app
                .query_as(&admin, node, json!({ "id": event["objectId"] }))
                .await;
            assert_eq!(
                body["data"]["node"]["__typename"], event["objectType"],
                "[{engine:?}] {body}"
            );
            assert_eq!(body["data"]["node"]["id"], event["objectId"]);
        }
    })
    .await;
}

#[tokio::test]
async fn an_audit_event_names_its_actor_kind_as_an_enum_and_its_organization_as_an_object() {
    on_every_engine(async |engine, app| {
        make_changes(&app).await;
        let auditor = app.token(None, &[Role::Auditor]);
        let query = "{ auditLog(first: 10) {
          nodes { actorKind actorOrganizationId actorOrganization { id name } }
        } }";
        let (_, body) = app.query_as(&auditor, query, json!({})).await;
        let events = nodes(&body);
        assert_eq!(events.len(), 4, "[{engine:?}] {body}");
        let forium = org_id(&app, "Forium").await;
        for event in &events {
            assert_eq!(event["actorKind"], "USER", "[{engine:?}] {body}");
            assert_eq!(
                event["actorOrganization"]["id"], event["actorOrganizationId"],
                "[{engine:?}] {body}"
            );
        }
        assert!(
            events
                .iter()
                .any(|e| e["actorOrganization"]["id"] == json!(forium)
                    && e["actorOrganization"]["name"]
                        .as_str()
                        .is_some_and(|n| n.contains("Forium"))),
            "[{engine:?}] {body}"
        );
    })
    .await;
}
