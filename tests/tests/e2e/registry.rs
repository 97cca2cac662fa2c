//! The regional administration's registry: territory groupings, taxonomy terms,
//! organizations and successions. Who may change them, validation, concurrency and
//! the audit log.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use melt_api::auth::token::TokenRequest;
use melt_api::auth::viewer::ViewerKind;
use melt_tests::{Role, TestApp, first_error_code, on_every_engine, user_errors};
use serde_json::{Value, json};

const CREATE_GROUPING: &str = "mutation($input: CreateTerritoryGroupingInput!) {
  createTerritoryGrouping(input: $input) {
    territory { id kind code name validFrom validTo rowVersion parent { kind name }
                municipalities { code } }
    userErrors { field code message }
  }
}";

const UPDATE_GROUPING: &str = "mutation($input: UpdateTerritoryGroupingInput!) {
  updateTerritoryGrouping(input: $input) {
    territory { id name validFrom validTo rowVersion municipalities { code } }
    userErrors { field code message }
  }
}";

const CREATE_TERM: &str = "mutation($input: CreateTermInput!) {
  createTerm(input: $input) {
    term { id taxonomy code label labelEn: label(language: EN) description rowVersion
           parent { code } }
    userErrors { field code message }
  }
}";

const UPDATE_TERM: &str = "mutation($input: UpdateTermInput!) {
  updateTerm(input: $input) {
    term { id code label labelEn: label(language: EN) description rowVersion }
    userErrors { field code message }
  }
}";

const CREATE_ORG: &str = "mutation($input: CreateOrganizationInput!) {
  createOrganization(input: $input) {
    organization { id name kind sector codiceFiscale partitaIva ipaCode runtsNumber
                   website email phone description rowVersion }
    userErrors { field code message }
  }
}";

const UPDATE_ORG: &str = "mutation($input: UpdateOrganizationInput!) {
  updateOrganization(input: $input) {
    organization { id name kind sector codiceFiscale partitaIva ipaCode website email
                   phone rowVersion }
    userErrors { field code message }
  }
}";

const RECORD_SUCCESSION: &str = "mutation($input: RecordSuccessionInput!) {
  recordSuccession(input: $input) {
    succession { predecessor { name } successor { name } effectiveOn note }
    organization { id name dissolvedOn rowVersion }
    userErrors { field code message }
  }
}";

const AUDIT: &str = "query($id: ID, $operation: String) {
  auditLog(filter: {object: $id, operation: $operation}) {
    totalCount nodes { operation objectType actorKind before after }
  }
}";

const ZONES: &str = "query($search: String) {
  territories(filter: {kinds: [ZONE, HUB_AREA], search: $search}) {
    totalCount nodes { id code name rowVersion municipalities { code } }
  }
}";

const TERMS: &str = "query($search: String) {
  terms(filter: {search: $search}) { totalCount nodes { id code label taxonomy rowVersion } }
}";

const ORGS: &str = "query($search: String) {
  organizations(filter: {search: $search}) {
    totalCount
    nodes { id name rowVersion dissolvedOn codiceFiscale
            successions { predecessor { name } successor { name } effectiveOn } }
  }
}";

fn admin(app: &TestApp) -> String {
    app.token(None, &[Role::RegionalAdmin])
}

fn auditor(app: &TestApp) -> String {
    app.token(None, &[Role::Auditor])
}

/// Asserts that `errors` holds an error on `field` (below `input`) with `code`.
fn assert_has_error(errors: &[(Value, String)], field: &[&str], code: &str, body: &Value) {
    let mut path = vec!["input"];
    path.extend_from_slice(field);
    assert!(
        errors.iter().any(|(f, c)| *f == json!(path) && c == code),
        "expected {code} on {path:?}, got {errors:?} in {body}"
    );
}

/// Runs `query` as every role that must be refused and checks the refusals.
async fn assert_only_regional_admin(app: &TestApp, query: &str, variables: Value) {
    let own = Some(app.organization_id("Regione Toscana").await);
    let client = app.token_with(TokenRequest {
        subject: "client:regional".to_owned(),
        kind: ViewerKind::Client,
        organization: own,
        roles: vec![Role::RegionalAdmin],
        scopes: vec!["organization:write".to_owned()],
        name: None,
        ttl: std::time::Duration::from_secs(600),
    });
    let cases = [
        ("ORG_ADMIN", app.token(own, &[Role::OrgAdmin])),
        ("OPERATOR", app.token(own, &[Role::Operator])),
        ("AUDITOR", app.token(None, &[Role::Auditor])),
        ("machine client", client),
    ];
    for (who, token) in cases {
        let (status, body) = app.query_as(&token, query, variables.clone()).await;
        assert_eq!(status, 200, "[{:?}] {who}: {body}", app.engine);
        assert_eq!(
            first_error_code(&body),
            "FORBIDDEN",
            "[{:?}] {who}: {body}",
            app.engine
        );
    }
    let anonymous = app.query(query, variables).await;
    assert_eq!(
        first_error_code(&anonymous),
        "UNAUTHENTICATED",
        "[{:?}] {anonymous}",
        app.engine
    );
}

async fn zone(app: &TestApp, search: &str) -> Value {
    app.data(ZONES, json!({ "search": search })).await["territories"]["nodes"][0].clone()
}

/// The term with exactly this code, among those whose code or label contains `search`
/// (searched by label: `_` in a code is a LIKE wildcard).
async fn term(app: &TestApp, search: &str, code: &str) -> Value {
    let data = app.data(TERMS, json!({ "search": search })).await;
    data["terms"]["nodes"]
        .as_array()
        .and_then(|nodes| nodes.iter().find(|t| t["code"] == code))
        .cloned()
        .unwrap_or_else(|| panic!("no term {code}: {data}"))
}

async fn organization(app: &TestApp, search: &str) -> Value {
    app.data(ORGS, json!({ "search": search })).await["organizations"]["nodes"][0].clone()
}

async fn audit(app: &TestApp, id: &Value, operation: Option<&str>) -> Value {
    let (_, body) = app
        .query_as(
            &auditor(app),
            AUDIT,
            json!({ "id": id, "operation": operation }),
        )
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    body["data"]["auditLog"].clone()
}

fn codes(territory: &Value) -> Vec<String> {
    territory["municipalities"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|m| m["code"].as_str().unwrap_or("").to_owned())
        .collect()
}

// ---------------------------------------------------------------------------------
// Territory groupings
// ---------------------------------------------------------------------------------

#[tokio::test]
async fn a_regional_admin_creates_and_reshapes_a_zone_and_both_changes_are_audited() {
    on_every_engine(async |engine, app| {
        let input = json!({
            "kind": "ZONE", "code": "ZONA_TEST", "name": "Zona di prova Città",
            "validFrom": "2026-01-01", "validTo": "2027-12-31",
            "municipalityIstatCodes": ["050026", "050003", "050026"]
        });
        let (status, body) = app
            .query_as(&admin(&app), CREATE_GROUPING, json!({ "input": input }))
            .await;
        assert_eq!(status, 200, "[{engine:?}] {body}");
        let created = &body["data"]["createTerritoryGrouping"];
        assert_eq!(created["userErrors"], json!([]), "[{engine:?}] {body}");
        let territory = &created["territory"];
        assert_eq!(territory["kind"], "ZONE");
        assert_eq!(territory["code"], "ZONA_TEST");
        assert_eq!(territory["validFrom"], "2026-01-01");
        assert_eq!(territory["validTo"], "2027-12-31");
        assert_eq!(territory["rowVersion"], 1);
        assert_eq!(territory["parent"]["kind"], "REGION", "{body}");
        let mut members = codes(territory);
        members.sort();
        assert_eq!(members, vec!["050003", "050026"], "[{engine:?}] {body}");

        // Visible in the public directory, found without the accent.
        let listed = zone(&app, "prova citta").await;
        assert_eq!(listed["id"], territory["id"], "[{engine:?}]");

        let id = territory["id"].clone();
        let update = json!({
            "id": id, "expectedVersion": 1, "name": "Zona di prova",
            "validTo": null, "municipalityIstatCodes": ["050037", "050008"]
        });
        let (_, body) = app
            .query_as(&admin(&app), UPDATE_GROUPING, json!({ "input": update }))
            .await;
        let updated = &body["data"]["updateTerritoryGrouping"];
        assert_eq!(updated["userErrors"], json!([]), "[{engine:?}] {body}");
        assert_eq!(updated["territory"]["name"], "Zona di prova");
        assert_eq!(updated["territory"]["validTo"], Value::Null);
        assert_eq!(updated["territory"]["validFrom"], "2026-01-01");
        assert_eq!(updated["territory"]["rowVersion"], 2);
        let mut members = codes(&updated["territory"]);
        members.sort();
        assert_eq!(members, vec!["050008", "050037"], "[{engine:?}] {body}");

        // The municipalities now resolve to the zone, and Pisa no longer does.
        let covering = "query($m: ID!) { territories(filter: {containsMunicipality: $m, kinds: [ZONE]}) { nodes { code } } }";
        let cascina = app
            .data("{ municipality(istatCode: \"050008\") { id } }", json!({}))
            .await["municipality"]["id"]
            .clone();
        let zones = app.data(covering, json!({ "m": cascina })).await;
        assert!(
            zones["territories"]["nodes"]
                .as_array()
                .is_some_and(|z| z.iter().any(|t| t["code"] == "ZONA_TEST")),
            "[{engine:?}] {zones}"
        );

        let log = audit(&app, &id, None).await;
        assert_eq!(log["totalCount"], 2, "[{engine:?}] {log}");
        let (update_event, create_event) = (&log["nodes"][0], &log["nodes"][1]);
        assert_eq!(create_event["operation"], "createTerritoryGrouping");
        assert_eq!(create_event["objectType"], "Territory");
        assert_eq!(create_event["before"], Value::Null);
        assert_eq!(create_event["after"]["code"], "ZONA_TEST");
        assert_eq!(update_event["operation"], "updateTerritoryGrouping");
        assert_eq!(update_event["actorKind"], "USER");
        assert_eq!(update_event["before"]["name"], "Zona di prova Città");
        assert_eq!(
            update_event["before"]["municipality_istat_codes"],
            json!(["050003", "050026"])
        );
        assert_eq!(update_event["after"]["name"], "Zona di prova");
        assert_eq!(
            update_event["after"]["municipality_istat_codes"],
            json!(["050008", "050037"])
        );
    })
    .await;
}

#[tokio::test]
async fn only_the_regional_administration_may_change_territory_groupings() {
    on_every_engine(async |engine, app| {
        let create = json!({ "input": {
            "kind": "HUB_AREA", "code": "AREA_X", "name": "Area X",
            "municipalityIstatCodes": ["050026"]
        }});
        assert_only_regional_admin(&app, CREATE_GROUPING, create).await;
        let pisana = zone(&app, "Zona pisana").await;
        let update = json!({ "input": {
            "id": pisana["id"], "expectedVersion": pisana["rowVersion"], "name": "Zona pisana (nuova)"
        } });
        assert_only_regional_admin(&app, UPDATE_GROUPING, update).await;
        assert_eq!(
            zone(&app, "Zona pisana").await["name"],
            "Zona pisana",
            "[{engine:?}] nothing changed"
        );
        assert_eq!(
            app.data(ZONES, json!({ "search": "Area X" })).await["territories"]["totalCount"],
            0,
            "[{engine:?}] nothing created"
        );
    })
    .await;
}

#[tokio::test]
async fn invalid_groupings_are_reported_as_user_errors_and_change_nothing() {
    on_every_engine(async |engine, app| {
        let before = app.data(ZONES, json!({})).await["territories"]["totalCount"].clone();
        let input = json!({
            "kind": "PROVINCE", "code": "ZONA_PISANA", "name": "  ",
            "validFrom": "2026-06-01", "validTo": "2026-01-01",
            "municipalityIstatCodes": ["050026", "999999", "50A26"]
        });
        let (_, body) = app
            .query_as(&admin(&app), CREATE_GROUPING, json!({ "input": input }))
            .await;
        let payload = &body["data"]["createTerritoryGrouping"];
        assert!(payload["territory"].is_null(), "[{engine:?}] {body}");
        let errors = user_errors(payload);
        assert_has_error(&errors, &["kind"], "INVALID", &body);
        assert_has_error(&errors, &["name"], "REQUIRED", &body);
        assert_has_error(&errors, &["validTo"], "OUT_OF_RANGE", &body);
        assert_has_error(
            &errors,
            &["municipalityIstatCodes", "1"],
            "NOT_FOUND",
            &body,
        );
        assert_has_error(&errors, &["municipalityIstatCodes", "2"], "INVALID", &body);
        assert_eq!(errors.len(), 5, "[{engine:?}] {body}");

        // The same code within a kind is taken; an empty member list is refused.
        let input = json!({
            "kind": "ZONE", "code": "ZONA_PISANA", "name": "Doppione",
            "municipalityIstatCodes": []
        });
        let (_, body) = app
            .query_as(&admin(&app), CREATE_GROUPING, json!({ "input": input }))
            .await;
        let errors = user_errors(&body["data"]["createTerritoryGrouping"]);
        assert_has_error(&errors, &["code"], "TAKEN", &body);
        assert_has_error(&errors, &["municipalityIstatCodes"], "REQUIRED", &body);
        assert_eq!(errors.len(), 2, "[{engine:?}] {body}");

        // On update, the stored validFrom counts; unknown codes are refused.
        let pisana = zone(&app, "Zona pisana").await;
        let update = json!({
            "id": pisana["id"], "expectedVersion": pisana["rowVersion"], "validTo": "2010-01-01",
            "municipalityIstatCodes": ["000000"]
        });
        let (_, body) = app
            .query_as(&admin(&app), UPDATE_GROUPING, json!({ "input": update }))
            .await;
        let errors = user_errors(&body["data"]["updateTerritoryGrouping"]);
        assert_has_error(&errors, &["validTo"], "OUT_OF_RANGE", &body);
        assert_has_error(
            &errors,
            &["municipalityIstatCodes", "0"],
            "NOT_FOUND",
            &body,
        );

        // A municipality is not a grouping.
        let pisa = app
            .data(
                "{ municipality(istatCode: \"050026\") { id rowVersion } }",
                json!({}),
            )
            .await["municipality"]
            .clone();
        let (_, body) = app
            .query_as(
                &admin(&app),
                UPDATE_GROUPING,
                json!({ "input": {
                    "id": pisa["id"], "expectedVersion": pisa["rowVersion"], "name": "Pisa"
                } }),
            )
            .await;
        let errors = user_errors(&body["data"]["updateTerritoryGrouping"]);
        assert_has_error(&errors, &["id"], "INVALID_STATE", &body);

        assert_eq!(
            app.data(ZONES, json!({})).await["territories"]["totalCount"],
            before,
            "[{engine:?}] nothing created"
        );
        let after = zone(&app, "Zona pisana").await;
        assert_eq!(after["rowVersion"], pisana["rowVersion"], "[{engine:?}]");
        assert_eq!(codes(&after).len(), 9, "[{engine:?}] members kept");
        assert_eq!(
            audit(&app, &pisana["id"], None).await["totalCount"],
            0,
            "[{engine:?}] nothing audited"
        );
    })
    .await;
}

#[tokio::test]
async fn a_stale_expected_version_of_a_grouping_is_a_conflict() {
    on_every_engine(async |engine, app| {
        let pisana = zone(&app, "Zona pisana").await;
        let input = json!({ "input": {
            "id": pisana["id"], "expectedVersion": pisana["rowVersion"], "name": "Zona pisana 2"
        }});
        let (_, body) = app
            .query_as(&admin(&app), UPDATE_GROUPING, input.clone())
            .await;
        assert_eq!(
            body["data"]["updateTerritoryGrouping"]["userErrors"],
            json!([]),
            "[{engine:?}] {body}"
        );
        let (_, body) = app.query_as(&admin(&app), UPDATE_GROUPING, input).await;
        assert_eq!(first_error_code(&body), "CONFLICT", "[{engine:?}] {body}");
    })
    .await;
}

// ---------------------------------------------------------------------------------
// Taxonomy terms
// ---------------------------------------------------------------------------------

#[tokio::test]
async fn a_regional_admin_creates_and_relabels_a_term_and_both_changes_are_audited() {
    on_every_engine(async |engine, app| {
        let parent = term(&app, "Bilancio di competenze", "SKILLS_ASSESSMENT").await;
        let input = json!({
            "taxonomy": "SERVICE_TYPE", "code": "SKILLS_ASSESSMENT_DIGITAL",
            "labelIt": "Bilancio delle competenze digitali",
            "labelEn": "Digital skills assessment",
            "description": "Competenze digitali di base.", "parent": parent["id"]
        });
        let (status, body) = app
            .query_as(&admin(&app), CREATE_TERM, json!({ "input": input }))
            .await;
        assert_eq!(status, 200, "[{engine:?}] {body}");
        let created = &body["data"]["createTerm"];
        assert_eq!(created["userErrors"], json!([]), "[{engine:?}] {body}");
        assert_eq!(created["term"]["taxonomy"], "SERVICE_TYPE");
        assert_eq!(created["term"]["labelEn"], "Digital skills assessment");
        assert_eq!(created["term"]["parent"]["code"], "SKILLS_ASSESSMENT");
        assert_eq!(created["term"]["rowVersion"], 1);
        let id = created["term"]["id"].clone();
        let listed = term(&app, "Digital", "SKILLS_ASSESSMENT_DIGITAL").await;
        assert_eq!(listed["id"], id, "[{engine:?}] visible in terms");

        let update = json!({
            "id": id, "expectedVersion": 1, "labelIt": "Competenze digitali",
            "description": ""
        });
        let (_, body) = app
            .query_as(&admin(&app), UPDATE_TERM, json!({ "input": update }))
            .await;
        let updated = &body["data"]["updateTerm"];
        assert_eq!(updated["userErrors"], json!([]), "[{engine:?}] {body}");
        assert_eq!(updated["term"]["label"], "Competenze digitali");
        assert_eq!(updated["term"]["labelEn"], "Digital skills assessment");
        assert_eq!(updated["term"]["description"], Value::Null, "cleared");
        assert_eq!(updated["term"]["rowVersion"], 2);
        assert_eq!(
            term(&app, "Digital", "SKILLS_ASSESSMENT_DIGITAL").await["label"],
            "Competenze digitali"
        );

        let log = audit(&app, &id, None).await;
        assert_eq!(log["totalCount"], 2, "[{engine:?}] {log}");
        let (update_event, create_event) = (&log["nodes"][0], &log["nodes"][1]);
        assert_eq!(create_event["operation"], "createTerm");
        assert_eq!(create_event["objectType"], "Term");
        assert_eq!(create_event["after"]["code"], "SKILLS_ASSESSMENT_DIGITAL");
        assert_eq!(update_event["operation"], "updateTerm");
        assert_eq!(
            update_event["before"]["label_it"],
            "Bilancio delle competenze digitali"
        );
        assert_eq!(update_event["after"]["label_it"], "Competenze digitali");
        assert_eq!(update_event["after"]["description"], Value::Null);
    })
    .await;
}

#[tokio::test]
async fn only_the_regional_administration_may_change_terms() {
    on_every_engine(async |engine, app| {
        let total = app.data(TERMS, json!({})).await["terms"]["totalCount"].clone();
        let create = json!({ "input": {
            "taxonomy": "NEED", "code": "NEW_NEED", "labelIt": "Nuovo", "labelEn": "New"
        }});
        assert_only_regional_admin(&app, CREATE_TERM, create).await;
        let existing = term(&app, "Bilancio di competenze", "SKILLS_ASSESSMENT").await;
        let update = json!({
            "input": { "id": existing["id"], "expectedVersion": existing["rowVersion"], "labelIt": "Altro" }
        });
        assert_only_regional_admin(&app, UPDATE_TERM, update).await;
        assert_eq!(
            app.data(TERMS, json!({})).await["terms"]["totalCount"],
            total,
            "[{engine:?}] nothing created"
        );
        assert_eq!(
            term(&app, "Bilancio di competenze", "SKILLS_ASSESSMENT").await["label"],
            existing["label"],
            "[{engine:?}] nothing changed"
        );
    })
    .await;
}

#[tokio::test]
async fn invalid_terms_are_reported_as_user_errors_and_change_nothing() {
    on_every_engine(async |engine, app| {
        let total = app.data(TERMS, json!({})).await["terms"]["totalCount"].clone();
        let service_type = term(&app, "Bilancio di competenze", "SKILLS_ASSESSMENT").await;
        // Duplicate code within the taxonomy; parent from another taxonomy; blank label.
        let input = json!({
            "taxonomy": "TARGET_GROUP", "code": "SKILLS_ASSESSMENT_X", "labelIt": "",
            "labelEn": "x".repeat(201), "parent": service_type["id"]
        });
        let (_, body) = app
            .query_as(&admin(&app), CREATE_TERM, json!({ "input": input }))
            .await;
        let payload = &body["data"]["createTerm"];
        assert!(payload["term"].is_null(), "[{engine:?}] {body}");
        let errors = user_errors(payload);
        assert_has_error(&errors, &["labelIt"], "REQUIRED", &body);
        assert_has_error(&errors, &["labelEn"], "TOO_LONG", &body);
        assert_has_error(&errors, &["parent"], "INVALID", &body);
        assert_eq!(errors.len(), 3, "[{engine:?}] {body}");

        let input = json!({
            "taxonomy": "SERVICE_TYPE", "code": "SKILLS_ASSESSMENT", "labelIt": "Doppio",
            "labelEn": "Duplicate"
        });
        let (_, body) = app
            .query_as(&admin(&app), CREATE_TERM, json!({ "input": input }))
            .await;
        let errors = user_errors(&body["data"]["createTerm"]);
        assert_eq!(errors.len(), 1, "[{engine:?}] {body}");
        assert_has_error(&errors, &["code"], "TAKEN", &body);

        let input = json!({
            "taxonomy": "SERVICE_TYPE", "code": "bad code!", "labelIt": "x", "labelEn": "x"
        });
        let (_, body) = app
            .query_as(&admin(&app), CREATE_TERM, json!({ "input": input }))
            .await;
        let errors = user_errors(&body["data"]["createTerm"]);
        assert_has_error(&errors, &["code"], "INVALID", &body);

        let input = json!({
            "taxonomy": "SERVICE_TYPE", "code": "X".repeat(65), "labelIt": "x", "labelEn": "x"
        });
        let (_, body) = app
            .query_as(&admin(&app), CREATE_TERM, json!({ "input": input }))
            .await;
        let errors = user_errors(&body["data"]["createTerm"]);
        assert_has_error(&errors, &["code"], "TOO_LONG", &body);

        let update = json!({
            "id": service_type["id"], "expectedVersion": service_type["rowVersion"], "labelEn": " "
        });
        let (_, body) = app
            .query_as(&admin(&app), UPDATE_TERM, json!({ "input": update }))
            .await;
        let errors = user_errors(&body["data"]["updateTerm"]);
        assert_has_error(&errors, &["labelEn"], "REQUIRED", &body);

        assert_eq!(
            app.data(TERMS, json!({})).await["terms"]["totalCount"],
            total,
            "[{engine:?}] nothing created"
        );
        assert_eq!(
            term(&app, "Bilancio di competenze", "SKILLS_ASSESSMENT").await["rowVersion"],
            service_type["rowVersion"],
            "[{engine:?}] nothing changed"
        );
    })
    .await;
}

#[tokio::test]
async fn a_stale_expected_version_of_a_term_is_a_conflict() {
    on_every_engine(async |engine, app| {
        let existing = term(&app, "Bilancio di competenze", "SKILLS_ASSESSMENT").await;
        let input = json!({ "input": {
            "id": existing["id"], "expectedVersion": existing["rowVersion"], "labelEn": "Skills"
        }});
        let (_, body) = app.query_as(&admin(&app), UPDATE_TERM, input.clone()).await;
        assert_eq!(
            body["data"]["updateTerm"]["userErrors"],
            json!([]),
            "[{engine:?}] {body}"
        );
        let (_, body) = app.query_as(&admin(&app), UPDATE_TERM, input).await;
        assert_eq!(first_error_code(&body), "CONFLICT", "[{engine:?}] {body}");
    })
    .await;
}

// ---------------------------------------------------------------------------------
// Organizations
// ---------------------------------------------------------------------------------

#[tokio::test]
async fn a_regional_admin_registers_and_updates_an_organization_and_both_changes_are_audited() {
    on_every_engine(async |engine, app| {
        let input = json!({
            "name": "Cooperativa Sociale Àncora", "kind": "SOCIAL_COOPERATIVE",
            "sector": "THIRD_SECTOR", "description": "Inserimento lavorativo.",
            "codiceFiscale": " rssmra85t10a562s ", "partitaIva": "01386030488",
            "ipaCode": "coop_ancora", "runtsNumber": "RUNTS-12345",
            "website": "https://ancora.example.it", "email": "info@ancora.example.it",
            "phone": "050 123456"
        });
        let (status, body) = app
            .query_as(&admin(&app), CREATE_ORG, json!({ "input": input }))
            .await;
        assert_eq!(status, 200, "[{engine:?}] {body}");
        let created = &body["data"]["createOrganization"];
        assert_eq!(created["userErrors"], json!([]), "[{engine:?}] {body}");
        let org = &created["organization"];
        assert_eq!(org["kind"], "SOCIAL_COOPERATIVE");
        assert_eq!(org["sector"], "THIRD_SECTOR");
        assert_eq!(org["codiceFiscale"], "RSSMRA85T10A562S", "normalised");
        assert_eq!(org["partitaIva"], "01386030488");
        assert_eq!(org["ipaCode"], "coop_ancora");
        assert_eq!(org["runtsNumber"], "RUNTS-12345");
        assert_eq!(org["rowVersion"], 1);
        let id = org["id"].clone();
        // Found in the directory by its name without accents.
        assert_eq!(organization(&app, "ancora").await["id"], id, "[{engine:?}]");

        let update = json!({
            "id": id, "expectedVersion": 1, "name": "Cooperativa Sociale Bussola",
            "kind": "THIRD_SECTOR_BODY", "ipaCode": "", "email": "", "phone": "050 654321"
        });
        let (_, body) = app
            .query_as(&admin(&app), UPDATE_ORG, json!({ "input": update }))
            .await;
        let updated = &body["data"]["updateOrganization"];
        assert_eq!(updated["userErrors"], json!([]), "[{engine:?}] {body}");
        let org = &updated["organization"];
        assert_eq!(org["name"], "Cooperativa Sociale Bussola");
        assert_eq!(org["kind"], "THIRD_SECTOR_BODY");
        assert_eq!(org["sector"], "THIRD_SECTOR", "unchanged");
        assert_eq!(org["ipaCode"], Value::Null, "cleared");
        assert_eq!(org["email"], Value::Null, "cleared");
        assert_eq!(org["website"], "https://ancora.example.it", "unchanged");
        assert_eq!(org["phone"], "050 654321");
        assert_eq!(org["rowVersion"], 2);
        // The search name follows the name.
        assert_eq!(
            organization(&app, "bussola").await["id"],
            id,
            "[{engine:?}]"
        );
        assert_eq!(
            app.data(ORGS, json!({ "search": "ancora" })).await["organizations"]["totalCount"],
            0,
            "[{engine:?}] the old name no longer matches"
        );

        let log = audit(&app, &id, None).await;
        assert_eq!(log["totalCount"], 2, "[{engine:?}] {log}");
        let (update_event, create_event) = (&log["nodes"][0], &log["nodes"][1]);
        assert_eq!(create_event["operation"], "createOrganization");
        assert_eq!(create_event["objectType"], "Organization");
        assert_eq!(create_event["before"], Value::Null);
        assert_eq!(create_event["after"]["codice_fiscale"], "RSSMRA85T10A562S");
        assert_eq!(update_event["operation"], "updateOrganization");
        assert_eq!(update_event["before"]["name"], "Cooperativa Sociale Àncora");
        assert_eq!(update_event["before"]["email"], "info@ancora.example.it");
        assert_eq!(update_event["after"]["name"], "Cooperativa Sociale Bussola");
        assert_eq!(update_event["after"]["email"], Value::Null);
    })
    .await;
}

#[tokio::test]
async fn only_the_regional_administration_may_change_the_registry_of_organizations() {
    on_every_engine(async |engine, app| {
        let create = json!({ "input": {
            "name": "Ente abusivo", "kind": "OTHER", "sector": "PRIVATE"
        }});
        assert_only_regional_admin(&app, CREATE_ORG, create).await;
        let forium = organization(&app, "Forium").await;
        // Even the organization's own administrator may not rename it here.
        let own = Some(app.organization_id("Forium").await);
        let update = json!({ "input": {
            "id": forium["id"], "expectedVersion": forium["rowVersion"], "name": "Forium 2"
        } });
        let (_, body) = app
            .query_as(
                &app.token(own, &[Role::OrgAdmin]),
                UPDATE_ORG,
                update.clone(),
            )
            .await;
        assert_eq!(first_error_code(&body), "FORBIDDEN", "[{engine:?}] {body}");
        assert_only_regional_admin(&app, UPDATE_ORG, update).await;
        let cna = organization(&app, "CNA Pisa").await;
        let succession = json!({ "input": {
            "predecessor": forium["id"], "successor": cna["id"], "effectiveOn": "2026-01-01"
        }});
        assert_only_regional_admin(&app, RECORD_SUCCESSION, succession).await;

        assert_eq!(
            app.data(ORGS, json!({ "search": "abusivo" })).await["organizations"]["totalCount"],
            0,
            "[{engine:?}] nothing created"
        );
        let after = organization(&app, "Forium").await;
        assert_eq!(after["name"], "Forium", "[{engine:?}]");
        assert_eq!(
            after["successions"],
            json!([]),
            "[{engine:?}] no succession"
        );
    })
    .await;
}

#[tokio::test]
async fn invalid_organizations_are_reported_as_user_errors_and_change_nothing() {
    on_every_engine(async |engine, app| {
        let total = app.data(ORGS, json!({})).await["organizations"]["totalCount"].clone();
        let input = json!({
            "name": " ", "kind": "EMPLOYER", "sector": "PRIVATE",
            "codiceFiscale": "RSSMRA85T10A562T", "partitaIva": "01386030487",
            "ipaCode": "bad-code", "runtsNumber": "R".repeat(33),
            "website": "ftp://example.it", "email": "not an email"
        });
        let (_, body) = app
            .query_as(&admin(&app), CREATE_ORG, json!({ "input": input }))
            .await;
        let payload = &body["data"]["createOrganization"];
        assert!(payload["organization"].is_null(), "[{engine:?}] {body}");
        let errors = user_errors(payload);
        assert_has_error(&errors, &["name"], "REQUIRED", &body);
        assert_has_error(&errors, &["codiceFiscale"], "INVALID", &body);
        assert_has_error(&errors, &["partitaIva"], "INVALID", &body);
        assert_has_error(&errors, &["ipaCode"], "INVALID", &body);
        assert_has_error(&errors, &["runtsNumber"], "TOO_LONG", &body);
        assert_has_error(&errors, &["website"], "INVALID", &body);
        assert_has_error(&errors, &["email"], "INVALID", &body);
        assert_eq!(errors.len(), 7, "[{engine:?}] {body}");

        let forium = organization(&app, "Forium").await;
        let update = json!({
            "id": forium["id"], "expectedVersion": forium["rowVersion"],
            "name": "x".repeat(301), "codiceFiscale": "01386030480",
            "ipaCode": "X".repeat(33)
        });
        let (_, body) = app
            .query_as(&admin(&app), UPDATE_ORG, json!({ "input": update }))
            .await;
        let errors = user_errors(&body["data"]["updateOrganization"]);
        assert_has_error(&errors, &["name"], "TOO_LONG", &body);
        assert_has_error(&errors, &["codiceFiscale"], "INVALID", &body);
        assert_has_error(&errors, &["ipaCode"], "TOO_LONG", &body);
        assert_eq!(errors.len(), 3, "[{engine:?}] {body}");

        assert_eq!(
            app.data(ORGS, json!({})).await["organizations"]["totalCount"],
            total,
            "[{engine:?}] nothing created"
        );
        let after = organization(&app, "Forium").await;
        assert_eq!(after["rowVersion"], forium["rowVersion"], "[{engine:?}]");
        assert_eq!(
            after["codiceFiscale"], forium["codiceFiscale"],
            "[{engine:?}]"
        );
    })
    .await;
}

#[tokio::test]
async fn a_stale_expected_version_of_an_organization_is_a_conflict() {
    on_every_engine(async |engine, app| {
        let forium = organization(&app, "Forium").await;
        let input = json!({ "input": {
            "id": forium["id"], "expectedVersion": forium["rowVersion"], "phone": "050 1"
        }});
        let (_, body) = app.query_as(&admin(&app), UPDATE_ORG, input.clone()).await;
        assert_eq!(
            body["data"]["updateOrganization"]["userErrors"],
            json!([]),
            "[{engine:?}] {body}"
        );
        let (_, body) = app.query_as(&admin(&app), UPDATE_ORG, input).await;
        assert_eq!(first_error_code(&body), "CONFLICT", "[{engine:?}] {body}");
    })
    .await;
}

// ---------------------------------------------------------------------------------
// Successions
// ---------------------------------------------------------------------------------

#[tokio::test]
async fn a_recorded_succession_dissolves_the_predecessor_and_is_audited() {
    on_every_engine(async |engine, app| {
        let copernico = organization(&app, "Copernico").await;
        let forium = organization(&app, "Forium").await;
        assert_eq!(copernico["dissolvedOn"], Value::Null);
        let input = json!({
            "predecessor": copernico["id"], "successor": forium["id"],
            "effectiveOn": "2026-03-01", "note": "Fusione per incorporazione.",
            "dissolvePredecessor": true
        });
        let (status, body) = app
            .query_as(&admin(&app), RECORD_SUCCESSION, json!({ "input": input }))
            .await;
        assert_eq!(status, 200, "[{engine:?}] {body}");
        let payload = &body["data"]["recordSuccession"];
        assert_eq!(payload["userErrors"], json!([]), "[{engine:?}] {body}");
        assert_eq!(
            payload["succession"]["predecessor"]["name"],
            copernico["name"]
        );
        assert_eq!(payload["succession"]["successor"]["name"], "Forium");
        assert_eq!(payload["succession"]["effectiveOn"], "2026-03-01");
        assert_eq!(payload["succession"]["note"], "Fusione per incorporazione.");
        assert_eq!(payload["organization"]["id"], copernico["id"]);
        assert_eq!(payload["organization"]["dissolvedOn"], "2026-03-01");
        assert_eq!(
            payload["organization"]["rowVersion"].as_i64(),
            copernico["rowVersion"].as_i64().map(|v| v + 1)
        );

        // Visible on both organizations.
        let successor = organization(&app, "Forium").await;
        assert!(
            successor["successions"].as_array().is_some_and(|s| s
                .iter()
                .any(|s| s["predecessor"]["name"] == copernico["name"]
                    && s["effectiveOn"] == "2026-03-01")),
            "[{engine:?}] {successor}"
        );
        let predecessor = organization(&app, "Copernico").await;
        assert_eq!(predecessor["dissolvedOn"], "2026-03-01");
        assert_eq!(
            predecessor["successions"][0]["successor"]["name"], "Forium",
            "[{engine:?}] {predecessor}"
        );

        // The dissolution is audited on the predecessor, the succession as its own object.
        let log = audit(&app, &copernico["id"], None).await;
        assert_eq!(log["totalCount"], 1, "[{engine:?}] {log}");
        let event = &log["nodes"][0];
        assert_eq!(event["operation"], "recordSuccession");
        assert_eq!(event["objectType"], "Organization");
        assert_eq!(event["before"]["dissolved_on"], Value::Null);
        assert_eq!(event["after"]["dissolved_on"], "2026-03-01");
        let log = audit(&app, &Value::Null, Some("recordSuccession")).await;
        assert_eq!(log["totalCount"], 2, "[{engine:?}] {log}");
        let succession_event = log["nodes"]
            .as_array()
            .and_then(|events| events.iter().find(|e| e["objectType"] == "Succession"))
            .cloned()
            .unwrap_or_default();
        assert_eq!(
            succession_event["before"],
            Value::Null,
            "[{engine:?}] {log}"
        );
        assert_eq!(
            succession_event["after"]["effective_on"], "2026-03-01",
            "[{engine:?}] {log}"
        );

        // The same pair twice is taken.
        let (_, body) = app
            .query_as(&admin(&app), RECORD_SUCCESSION, json!({ "input": input }))
            .await;
        let errors = user_errors(&body["data"]["recordSuccession"]);
        assert_eq!(errors.len(), 1, "[{engine:?}] {body}");
        assert_has_error(&errors, &["successor"], "TAKEN", &body);
    })
    .await;
}

#[tokio::test]
async fn a_succession_without_dissolution_leaves_the_predecessor_as_it_was() {
    on_every_engine(async |engine, app| {
        let cna = organization(&app, "CNA Pisa").await;
        let forium = organization(&app, "Forium").await;
        let input = json!({
            "predecessor": cna["id"], "successor": forium["id"], "effectiveOn": "2026-03-01"
        });
        let (_, body) = app
            .query_as(&admin(&app), RECORD_SUCCESSION, json!({ "input": input }))
            .await;
        let payload = &body["data"]["recordSuccession"];
        assert_eq!(payload["userErrors"], json!([]), "[{engine:?}] {body}");
        assert_eq!(payload["organization"]["dissolvedOn"], Value::Null);
        let after = organization(&app, "CNA Pisa").await;
        assert_eq!(after["rowVersion"], cna["rowVersion"], "[{engine:?}]");
        assert_eq!(after["successions"][0]["successor"]["name"], "Forium");
        assert_eq!(
            audit(&app, &cna["id"], None).await["totalCount"],
            0,
            "[{engine:?}] the predecessor itself did not change"
        );
    })
    .await;
}

#[tokio::test]
async fn invalid_successions_are_reported_as_user_errors_and_change_nothing() {
    on_every_engine(async |engine, app| {
        let forium = organization(&app, "Forium").await;
        // An organization cannot succeed itself.
        let input = json!({
            "predecessor": forium["id"], "successor": forium["id"],
            "effectiveOn": "2026-01-01", "dissolvePredecessor": true
        });
        let (_, body) = app
            .query_as(&admin(&app), RECORD_SUCCESSION, json!({ "input": input }))
            .await;
        let payload = &body["data"]["recordSuccession"];
        assert!(payload["succession"].is_null(), "[{engine:?}] {body}");
        let errors = user_errors(payload);
        assert_eq!(errors.len(), 1, "[{engine:?}] {body}");
        assert_has_error(&errors, &["successor"], "INVALID", &body);

        // Both must exist: a well-formed ID of a missing organization is NOT_FOUND.
        let missing = URL_SAFE_NO_PAD.encode(format!("Organization:{}", uuid::Uuid::nil()));
        let input = json!({
            "predecessor": missing, "successor": forium["id"], "effectiveOn": "2026-01-01"
        });
        let (_, body) = app
            .query_as(&admin(&app), RECORD_SUCCESSION, json!({ "input": input }))
            .await;
        let errors = user_errors(&body["data"]["recordSuccession"]);
        assert_eq!(errors.len(), 1, "[{engine:?}] {body}");
        assert_has_error(&errors, &["predecessor"], "NOT_FOUND", &body);

        let after = organization(&app, "Forium").await;
        assert_eq!(after["dissolvedOn"], Value::Null, "[{engine:?}]");
        assert_eq!(after["successions"], json!([]), "[{engine:?}]");
        let log = audit(&app, &Value::Null, Some("recordSuccession")).await;
        assert_eq!(log["totalCount"], 0, "[{engine:?}] nothing audited");
    })
    .await;
}
