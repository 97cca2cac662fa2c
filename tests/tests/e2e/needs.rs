//! Needs and the service types that address them: a reference mapping every install
//! has, read on each NEED term, changed by the regional administration alone.

use melt_tests::{Role, TestApp, first_error_code, on_every_engine, user_errors};
use serde_json::{Value, json};

const NEEDS: &str = "query($first: Int) { terms(filter: {taxonomies: [NEED]}, first: $first) {
  nodes { id code rowVersion serviceTypes { code taxonomy } } } }";

const SET: &str =
    "mutation($input: SetNeedServiceTypesInput!) { setNeedServiceTypes(input: $input) {
  term { code rowVersion serviceTypes { code } } userErrors { field code message } } }";

async fn needs(app: &TestApp) -> Vec<Value> {
    let body = app.query(NEEDS, json!({ "first": 100 })).await;
    body["data"]["terms"]["nodes"]
        .as_array()
        .cloned()
        .unwrap_or_else(|| panic!("needs: {body}"))
}

fn codes(types: &Value) -> Vec<&str> {
    types
        .as_array()
        .map(|t| t.iter().filter_map(|t| t["code"].as_str()).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn every_need_is_addressed_by_service_types_and_only_the_region_changes_them() {
    on_every_engine(async |engine, app| {
        let all = needs(&app).await;
        assert!(all.len() >= 12, "[{engine:?}] {all:?}");
        for need in &all {
            let types = &need["serviceTypes"];
            assert!(!codes(types).is_empty(), "[{engine:?}] {need}");
            assert!(
                types.as_array().is_some_and(|t| t.iter().all(|t| t["taxonomy"] == "SERVICE_TYPE")),
                "[{engine:?}] {need}"
            );
        }
        let language = all.iter().find(|n| n["code"] == "LANGUAGE").cloned().unwrap_or_default();
        assert_eq!(codes(&language["serviceTypes"]), vec!["ITALIAN_LANGUAGE_COURSE"], "[{engine:?}]");
        // The demo catalogue has a service for it.
        let body = app
            .query("{ services(filter: {serviceTypes: [\"ITALIAN_LANGUAGE_COURSE\"]}) { totalCount } }", json!({}))
            .await;
        assert!(
            body["data"]["services"]["totalCount"].as_u64() >= Some(1),
            "[{engine:?}] {body}"
        );
        let employment = all.iter().find(|n| n["code"] == "EMPLOYMENT").cloned().unwrap_or_default();
        assert!(codes(&employment["serviceTypes"]).contains(&"JOB_ORIENTATION"));

        // Other terms have none.
        let body = app
            .query("{ terms(filter: {taxonomies: [SERVICE_TYPE]}, first: 1) { nodes { id rowVersion serviceTypes { code } } } }", json!({}))
            .await;
        let service_type = body["data"]["terms"]["nodes"][0].clone();
        assert_eq!(service_type["serviceTypes"], json!([]), "[{engine:?}] {body}");

        let admin = app.token(None, &[Role::RegionalAdmin]);
        let set = |need: &Value, version: &Value, types: Value| {
            json!({ "input": { "id": need, "expectedVersion": version, "serviceTypes": types } })
        };
        let wanted = json!(["ITALIAN_LANGUAGE_COURSE", "lep_training_referral"]);
        // Only the region.
        let pisa = app.organization_id("Centro per l'impiego di Pisa").await;
        for token in [app.token(Some(pisa), &[Role::OrgAdmin]), app.token(Some(pisa), &[Role::Operator])] {
            let (_, body) = app
                .query_as(&token, SET, set(&language["id"], &language["rowVersion"], wanted.clone()))
                .await;
            assert_eq!(first_error_code(&body), "FORBIDDEN", "[{engine:?}] {body}");
        }
        // Field by field: an unknown code, a term that is not a need.
        let (_, body) = app
            .query_as(&admin, SET, set(&language["id"], &language["rowVersion"], json!(["NOT_A_TYPE"])))
            .await;
        assert_eq!(
            user_errors(&body["data"]["setNeedServiceTypes"]),
            vec![(json!(["input", "serviceTypes"]), "INVALID".to_owned())],
            "[{engine:?}] {body}"
        );
        let (_, body) = app
            .query_as(&admin, SET, set(&service_type["id"], &service_type["rowVersion"], wanted.clone()))
            .await;
        assert_eq!(
            user_errors(&body["data"]["setNeedServiceTypes"]),
            vec![(json!(["input", "need"]), "INVALID".to_owned())],
            "[{engine:?}] {body}"
        );
        // Set, then a stale version conflicts.
        let (_, body) = app
            .query_as(&admin, SET, set(&language["id"], &language["rowVersion"], wanted.clone()))
            .await;
        let term = &body["data"]["setNeedServiceTypes"]["term"];
        assert_eq!(
            codes(&term["serviceTypes"]),
            vec!["ITALIAN_LANGUAGE_COURSE", "LEP_TRAINING_REFERRAL"],
            "[{engine:?}] {body}"
        );
        assert_ne!(term["rowVersion"], language["rowVersion"]);
        let (_, body) = app
            .query_as(&admin, SET, set(&language["id"], &language["rowVersion"], json!([])))
            .await;
        assert_eq!(first_error_code(&body), "CONFLICT", "[{engine:?}] {body}");
        let now = needs(&app).await;
        let language = now.iter().find(|n| n["code"] == "LANGUAGE").cloned().unwrap_or_default();
        assert_eq!(codes(&language["serviceTypes"]).len(), 2, "[{engine:?}] stored");

        // Audited with the codes before and after.
        let auditor = app.token(None, &[Role::Auditor]);
        let (_, body) = app
            .query_as(&auditor, "{ auditLog(first: 100) { nodes { operation before after } } }", json!({}))
            .await;
        let entry = body["data"]["auditLog"]["nodes"]
            .as_array()
            .and_then(|n| n.iter().find(|e| e["operation"] == "setNeedServiceTypes").cloned())
            .unwrap_or_default();
        assert_eq!(entry["before"]["serviceTypes"], json!(["ITALIAN_LANGUAGE_COURSE"]), "[{engine:?}] {body}");
        assert_eq!(entry["after"]["serviceTypes"], json!(["ITALIAN_LANGUAGE_COURSE", "LEP_TRAINING_REFERRAL"]));
    })
    .await;
}

#[tokio::test]
async fn the_service_types_of_a_page_of_needs_load_in_one_statement() {
    on_every_engine(async |engine, app| {
        let mut counts = Vec::new();
        for first in [2, 12] {
            let before = app.statement_count();
            let body = app.query(NEEDS, json!({ "first": first })).await;
            assert_eq!(
                body["data"]["terms"]["nodes"].as_array().map(Vec::len),
                Some(first),
                "[{engine:?}] {body}"
            );
            counts.push(app.statement_count() - before);
        }
        assert_eq!(
            counts[0], counts[1],
            "[{engine:?}] statements for 2 and 12 needs: {counts:?}"
        );
    })
    .await;
}
