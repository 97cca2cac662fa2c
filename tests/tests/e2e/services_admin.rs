//! An organization's own sites, contacts and services: who may change them, validation,
//! concurrency, the catalogue filters that see the changes, and the audit log.

use melt_api::auth::token::TokenRequest;
use melt_api::auth::viewer::ViewerKind;
use melt_tests::{Role, TestApp, admin_of, first_error_code, on_every_engine, user_errors};
use serde_json::{Value, json};

const CREATE_SERVICE: &str = "mutation($input: CreateServiceInput!) {
  createService(input: $input) {
    service { id name rowVersion languages { code } serviceArea { code } locations { id } }
    userErrors { field code message }
  }
}";

const UPDATE_SERVICE: &str = "mutation($input: UpdateServiceInput!) {
  updateService(input: $input) {
    service { id name rowVersion minimumAge languages { code } }
    userErrors { field code message }
  }
}";

const CHANGE_STATUS: &str = "mutation($input: ChangeServiceStatusInput!) {
  changeServiceStatus(input: $input) {
    service { id status rowVersion }
    userErrors { field code message }
  }
}";

const UPDATE_CAPACITY: &str = "mutation($input: UpdateServiceCapacityInput!) {
  updateServiceCapacity(input: $input) {
    service { id rowVersion capacity { openPlaces waitlistLength typicalWaitDays updatedAt } }
    userErrors { field code message }
  }
}";

const CREATE_LOCATION: &str = "mutation($input: CreateLocationInput!) {
  createLocation(input: $input) {
    location { id name postalCode latitude longitude rowVersion municipality { code } }
    userErrors { field code message }
  }
}";

const UPDATE_LOCATION: &str = "mutation($input: UpdateLocationInput!) {
  updateLocation(input: $input) {
    location { id name address rowVersion }
    userErrors { field code message }
  }
}";

const DELETE_LOCATION: &str = "mutation($input: DeleteLocationInput!) {
  deleteLocation(input: $input) {
    deletedLocationId
    userErrors { field code message }
  }
}";

const CREATE_CONTACT: &str = "mutation($input: CreateContactInput!) {
  createContact(input: $input) {
    contact { id name email rowVersion }
    userErrors { field code message }
  }
}";

const UPDATE_CONTACT: &str = "mutation($input: UpdateContactInput!) {
  updateContact(input: $input) {
    contact { id name title email rowVersion }
    userErrors { field code message }
  }
}";

const DELETE_CONTACT: &str = "mutation($input: DeleteContactInput!) {
  deleteContact(input: $input) {
    deletedContactId
    userErrors { field code message }
  }
}";

const ORGANIZATION: &str = "query($name: String) {
  organizations(filter: {search: $name}, first: 1) {
    nodes {
      id
      locations { id rowVersion }
      contacts { id }
      services { id rowVersion }
    }
  }
}";

const AUDIT: &str = "query($id: ID!) {
  auditLog(filter: {object: $id}) { totalCount nodes { operation actorKind before after } }
}";

/// The demo organization `name`: its global id, its first site and its first service,
/// each with its row version.
struct Org {
    id: String,
    site: (String, i64),
    service: (String, i64),
}

async fn org(app: &TestApp, name: &str) -> Org {
    let data = app.data(ORGANIZATION, json!({ "name": name })).await;
    let node = &data["organizations"]["nodes"][0];
    let pair = |v: &Value| {
        (
            v["id"].as_str().unwrap_or_default().to_owned(),
            v["rowVersion"].as_i64().unwrap_or(-1),
        )
    };
    Org {
        id: node["id"].as_str().unwrap_or_default().to_owned(),
        site: pair(&node["locations"][0]),
        service: pair(&node["services"][0]),
    }
}

async fn client(app: &TestApp, name: &str, scope: &str) -> String {
    app.token_with(TokenRequest {
        subject: format!("client:test-{}", uuid::Uuid::now_v7()),
        kind: ViewerKind::Client,
        organization: Some(app.organization_id(name).await),
        roles: vec![],
        scopes: vec![scope.to_owned()],
        name: Some("Test client".to_owned()),
        ttl: std::time::Duration::from_secs(600),
    })
}

fn new_service(provider: &str, site: &str) -> Value {
    json!({
        "provider": provider,
        "name": "Laboratorio di ricerca attiva del lavoro per giovani",
        "description": "Incontri di gruppo su curriculum, colloqui e canali di ricerca del lavoro.",
        "minimumAge": 16,
        "maximumAge": 29,
        "url": "https://www.forium.it/laboratorio",
        "deliveryMode": "HYBRID",
        "serviceTypes": ["TUTORING", "COACHING"],
        "targetGroups": ["NEET_YOUTH"],
        "languages": ["it", "ar"],
        "serviceAreaIstatCodes": ["050026", "050008"],
        "locations": [site],
    })
}

fn payload<'a>(body: &'a Value, mutation: &str) -> &'a Value {
    &body["data"][mutation]
}

fn codes(list: &Value) -> Vec<String> {
    let mut out: Vec<String> = list
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|i| i["code"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

#[tokio::test]
async fn an_org_admin_creates_a_service_that_the_catalogue_finds_with_its_area_and_languages() {
    on_every_engine(async |engine, app| {
        let forium = org(&app, "Forium").await;
        let token = admin_of(&app, "Forium").await;
        let input = new_service(&forium.id, &forium.site.0);
        let (status, body) = app
            .query_as(&token, CREATE_SERVICE, json!({ "input": input }))
            .await;
        assert_eq!(status, 200, "[{engine:?}] {body}");
        let created = payload(&body, "createService");
        assert_eq!(created["userErrors"], json!([]), "[{engine:?}] {body}");
        assert_eq!(created["service"]["rowVersion"], 1);
        assert_eq!(created["service"]["locations"][0]["id"], forium.site.0);

        let query = "query($provider: ID!) {
          services(filter: {provider: $provider, serviceTypes: [\"TUTORING\"], search: \"ricerca attiva\"}) {
            totalCount
            nodes { id name deliveryMode minimumAge maximumAge url
                    serviceTypes { code } targetGroups { code } languages { code } serviceArea { code } }
          }
        }";
        let data = app.data(query, json!({ "provider": forium.id })).await;
        let found = &data["services"];
        assert_eq!(found["totalCount"], 1, "[{engine:?}] {data}");
        let service = &found["nodes"][0];
        assert_eq!(service["id"], created["service"]["id"]);
        assert_eq!(service["deliveryMode"], "HYBRID");
        assert_eq!(service["minimumAge"], 16);
        assert_eq!(service["maximumAge"], 29);
        assert_eq!(codes(&service["serviceTypes"]), ["COACHING", "TUTORING"]);
        assert_eq!(codes(&service["targetGroups"]), ["NEET_YOUTH"]);
        assert_eq!(codes(&service["languages"]), ["ar", "it"]);
        assert_eq!(codes(&service["serviceArea"]), ["050008", "050026"]);

        let in_cascina = "query($provider: ID!) {
          services(filter: {provider: $provider, municipalityIstatCode: \"050008\", languages: [\"ar\"]}) { totalCount }
        }";
        let data = app.data(in_cascina, json!({ "provider": forium.id })).await;
        assert_eq!(data["services"]["totalCount"], 1, "[{engine:?}] {data}");
    })
    .await;
}

#[tokio::test]
async fn only_the_providers_own_admin_may_create_a_service() {
    on_every_engine(async |engine, app| {
        let forium = org(&app, "Forium").await;
        let own = Some(app.organization_id("Forium").await);
        let other = Some(app.organization_id("CNA Pisa").await);
        let input = json!({ "input": new_service(&forium.id, &forium.site.0) });
        let cases = [
            app.token(other, &[Role::OrgAdmin]),
            app.token(own, &[Role::Operator]),
            app.token(own, &[Role::Auditor]),
            app.token(None, &[Role::RegionalAdmin]),
            client(&app, "Forium", "organization:write").await,
            client(&app, "CNA Pisa", "services:write").await,
        ];
        for token in cases {
            let (_, body) = app.query_as(&token, CREATE_SERVICE, input.clone()).await;
            assert_eq!(first_error_code(&body), "FORBIDDEN", "[{engine:?}] {body}");
        }
        let anonymous = app.query(CREATE_SERVICE, input.clone()).await;
        assert_eq!(
            first_error_code(&anonymous),
            "UNAUTHENTICATED",
            "[{engine:?}]"
        );
        let count = "query($p: ID!) { services(filter: {provider: $p}) { totalCount } }";
        let before = app.data(count, json!({ "p": forium.id })).await;
        let (_, body) = app
            .query_as(&admin_of(&app, "Forium").await, CREATE_SERVICE, input)
            .await;
        assert_eq!(
            payload(&body, "createService")["userErrors"],
            json!([]),
            "[{engine:?}] {body}"
        );
        let after = app.data(count, json!({ "p": forium.id })).await;
        assert_eq!(
            after["services"]["totalCount"].as_i64(),
            before["services"]["totalCount"].as_i64().map(|n| n + 1),
            "[{engine:?}] only the admin's attempt created a service"
        );
    })
    .await;
}

#[tokio::test]
async fn the_other_service_mutations_are_refused_to_everyone_but_the_provider() {
    on_every_engine(async |engine, app| {
        let forium = org(&app, "Forium").await;
        let own = Some(app.organization_id("Forium").await);
        let other = Some(app.organization_id("CNA Pisa").await);
        let service = forium.service.0.clone();
        let requests = [
            (
                UPDATE_SERVICE,
                json!({ "id": service, "expectedVersion": forium.service.1, "name": "Altro nome" }),
            ),
            (
                CHANGE_STATUS,
                json!({ "id": service, "expectedVersion": forium.service.1, "status": "INACTIVE" }),
            ),
            (
                UPDATE_CAPACITY,
                json!({ "id": service, "expectedVersion": forium.service.1, "openPlaces": 3 }),
            ),
        ];
        let tokens = [
            app.token(other, &[Role::OrgAdmin]),
            app.token(own, &[Role::Operator]),
            app.token(own, &[Role::Auditor]),
            app.token(None, &[Role::RegionalAdmin]),
        ];
        for (mutation, input) in &requests {
            for token in &tokens {
                let (_, body) = app
                    .query_as(token, mutation, json!({ "input": input }))
                    .await;
                assert_eq!(first_error_code(&body), "FORBIDDEN", "[{engine:?}] {body}");
            }
            let anonymous = app.query(mutation, json!({ "input": input })).await;
            assert_eq!(
                first_error_code(&anonymous),
                "UNAUTHENTICATED",
                "[{engine:?}]"
            );
        }
        assert_eq!(
            org(&app, "Forium").await.service.1,
            forium.service.1,
            "[{engine:?}] nothing changed"
        );
    })
    .await;
}

#[tokio::test]
async fn a_machine_client_needs_services_write_for_services_and_organization_write_for_sites() {
    on_every_engine(async |engine, app| {
        let forium = org(&app, "Forium").await;
        let services_client = client(&app, "Forium", "services:write").await;
        let sites_client = client(&app, "Forium", "organization:write").await;
        let capacity = json!({ "input": { "id": forium.service.0, "expectedVersion": forium.service.1, "openPlaces": 7 } });
        let site = json!({ "input": {
            "organization": forium.id, "name": "Aula distaccata", "address": "Via Roma 1",
            "postalCode": "56025", "municipalityIstatCode": "050029",
        }});

        let (_, body) = app
            .query_as(&services_client, UPDATE_CAPACITY, capacity.clone())
            .await;
        let updated = payload(&body, "updateServiceCapacity");
        assert_eq!(updated["userErrors"], json!([]), "[{engine:?}] {body}");
        assert_eq!(updated["service"]["capacity"]["openPlaces"], 7);
        let (_, body) = app.query_as(&sites_client, UPDATE_CAPACITY, capacity).await;
        assert_eq!(first_error_code(&body), "FORBIDDEN", "[{engine:?}] {body}");

        let (_, body) = app
            .query_as(&services_client, CREATE_LOCATION, site.clone())
            .await;
        assert_eq!(first_error_code(&body), "FORBIDDEN", "[{engine:?}] {body}");
        let (_, body) = app.query_as(&sites_client, CREATE_LOCATION, site).await;
        let created = payload(&body, "createLocation");
        assert_eq!(created["userErrors"], json!([]), "[{engine:?}] {body}");
        assert_eq!(created["location"]["municipality"]["code"], "050029");

        let auditor = app.token(None, &[Role::Auditor]);
        let (_, body) = app
            .query_as(&auditor, AUDIT, json!({ "id": forium.service.0 }))
            .await;
        let event = &body["data"]["auditLog"]["nodes"][0];
        assert_eq!(event["operation"], "updateServiceCapacity", "{body}");
        assert_eq!(event["actorKind"], "CLIENT");
    })
    .await;
}

#[tokio::test]
async fn invalid_service_input_is_reported_on_the_offending_fields_and_changes_nothing() {
    on_every_engine(async |engine, app| {
        let forium = org(&app, "Forium").await;
        let cna = org(&app, "CNA Pisa").await;
        let token = admin_of(&app, "Forium").await;
        let mut input = new_service(&forium.id, &forium.site.0);
        input["serviceAreaIstatCodes"] = json!(["050026", "999999", "12"]);
        input["serviceTypes"] = json!(["TUTORING", "NO_SUCH_TYPE"]);
        input["languages"] = json!(["it", "xx"]);
        input["minimumAge"] = json!(30);
        input["maximumAge"] = json!(18);
        input["url"] = json!("not a url");
        input["locations"] = json!([cna.site.0]);
        let (_, body) = app
            .query_as(&token, CREATE_SERVICE, json!({ "input": input }))
            .await;
        let result = payload(&body, "createService");
        assert!(result["service"].is_null(), "[{engine:?}] {body}");
        let mut errors = user_errors(result);
        errors.sort_by_key(|(field, _)| field.to_string());
        let expected = [
            (json!(["input", "languages", "1"]), "NOT_FOUND"),
            (json!(["input", "locations", "0"]), "INVALID"),
            (json!(["input", "maximumAge"]), "OUT_OF_RANGE"),
            (json!(["input", "serviceAreaIstatCodes", "1"]), "NOT_FOUND"),
            (json!(["input", "serviceAreaIstatCodes", "2"]), "INVALID"),
            (json!(["input", "serviceTypes", "1"]), "NOT_FOUND"),
            (json!(["input", "url"]), "INVALID"),
        ];
        let expected: Vec<(Value, String)> = expected
            .into_iter()
            .map(|(f, c)| (f, c.to_owned()))
            .collect();
        assert_eq!(errors, expected, "[{engine:?}] {body}");

        let mut empty = new_service(&forium.id, &forium.site.0);
        empty["serviceTypes"] = json!([]);
        empty["serviceAreaIstatCodes"] = json!([]);
        empty["name"] = json!("  ");
        let (_, body) = app
            .query_as(&token, CREATE_SERVICE, json!({ "input": empty }))
            .await;
        let mut errors = user_errors(payload(&body, "createService"));
        errors.sort_by_key(|(field, _)| field.to_string());
        assert_eq!(
            errors,
            vec![
                (json!(["input", "name"]), "REQUIRED".to_owned()),
                (
                    json!(["input", "serviceAreaIstatCodes"]),
                    "REQUIRED".to_owned()
                ),
                (json!(["input", "serviceTypes"]), "REQUIRED".to_owned()),
            ],
            "[{engine:?}] {body}"
        );

        let count = "query($p: ID!) { services(filter: {provider: $p}) { totalCount } }";
        let data = app.data(count, json!({ "p": forium.id })).await;
        assert_eq!(
            data["services"]["totalCount"], 1,
            "[{engine:?}] nothing created"
        );

        let update = json!({ "input": { "id": forium.service.0, "expectedVersion": forium.service.1, "minimumAge": 130, "serviceTypes": ["TUTORING", "NOPE"] } });
        let (_, body) = app.query_as(&token, UPDATE_SERVICE, update).await;
        let mut errors = user_errors(payload(&body, "updateService"));
        errors.sort_by_key(|(field, _)| field.to_string());
        assert_eq!(
            errors,
            vec![
                (json!(["input", "minimumAge"]), "OUT_OF_RANGE".to_owned()),
                (
                    json!(["input", "serviceTypes", "1"]),
                    "NOT_FOUND".to_owned()
                ),
            ],
            "[{engine:?}] {body}"
        );
        assert_eq!(org(&app, "Forium").await.service.1, forium.service.1);
    })
    .await;
}

#[tokio::test]
async fn an_update_replaces_the_given_lists_keeps_search_in_sync_and_is_audited() {
    on_every_engine(async |engine, app| {
        let forium = org(&app, "Forium").await;
        let token = admin_of(&app, "Forium").await;
        let (id, version) = forium.service.clone();
        let input = json!({
            "id": id, "expectedVersion": version, "name": "Bilancio delle competenze per la città",
            "minimumAge": null, "languages": ["it", "uk"],
        });
        let (_, body) = app
            .query_as(&token, UPDATE_SERVICE, json!({ "input": input }))
            .await;
        let updated = payload(&body, "updateService");
        assert_eq!(updated["userErrors"], json!([]), "[{engine:?}] {body}");
        assert_eq!(updated["service"]["rowVersion"].as_i64(), Some(version + 1));
        assert!(updated["service"]["minimumAge"].is_null(), "{body}");
        assert_eq!(codes(&updated["service"]["languages"]), ["it", "uk"]);

        let search = "query($p: ID!) {
          services(filter: {provider: $p, search: \"COMPETENZE PER LA CITTA\"}) {
            nodes { id serviceTypes { code } serviceArea { code } }
          }
        }";
        let data = app.data(search, json!({ "p": forium.id })).await;
        let found = &data["services"]["nodes"][0];
        assert_eq!(found["id"], id, "[{engine:?}] {data}");
        assert_eq!(
            codes(&found["serviceTypes"]),
            ["SKILLS_ASSESSMENT"],
            "lists not given stay"
        );
        assert!(!codes(&found["serviceArea"]).is_empty());

        let status = json!({ "input": { "id": id, "expectedVersion": version + 1, "status": "TEMPORARILY_CLOSED" } });
        let (_, body) = app.query_as(&token, CHANGE_STATUS, status).await;
        let changed = payload(&body, "changeServiceStatus");
        assert_eq!(changed["service"]["status"], "TEMPORARILY_CLOSED", "{body}");

        let auditor = app.token(None, &[Role::Auditor]);
        let (_, body) = app.query_as(&auditor, AUDIT, json!({ "id": id })).await;
        let log = &body["data"]["auditLog"];
        assert_eq!(log["totalCount"], 2, "[{engine:?}] {body}");
        let update = &log["nodes"][1];
        assert_eq!(update["operation"], "updateService");
        assert_eq!(update["before"]["languages"], json!(["en", "fr", "it"]));
        assert_eq!(update["after"]["languages"], json!(["it", "uk"]));
        assert_eq!(
            update["after"]["name"],
            "Bilancio delle competenze per la città"
        );
        assert_eq!(log["nodes"][0]["operation"], "changeServiceStatus");
        assert_eq!(log["nodes"][0]["after"]["status"], "TEMPORARILY_CLOSED");
    })
    .await;
}

#[tokio::test]
async fn a_stale_expected_version_is_a_conflict_for_services_and_sites() {
    on_every_engine(async |engine, app| {
        let forium = org(&app, "Forium").await;
        let token = admin_of(&app, "Forium").await;
        let (id, version) = forium.service.clone();
        let first =
            json!({ "input": { "id": id, "expectedVersion": version, "waitlistLength": 4 } });
        let (_, body) = app.query_as(&token, UPDATE_CAPACITY, first.clone()).await;
        assert_eq!(
            payload(&body, "updateServiceCapacity")["userErrors"],
            json!([]),
            "[{engine:?}] {body}"
        );
        let stale = [
            (UPDATE_CAPACITY, first),
            (
                UPDATE_SERVICE,
                json!({ "input": { "id": id, "expectedVersion": version, "name": "X" } }),
            ),
            (
                CHANGE_STATUS,
                json!({ "input": { "id": id, "expectedVersion": version, "status": "INACTIVE" } }),
            ),
        ];
        for (mutation, input) in stale {
            let (_, body) = app.query_as(&token, mutation, input).await;
            assert_eq!(first_error_code(&body), "CONFLICT", "[{engine:?}] {body}");
        }
        let (site, site_version) = forium.site.clone();
        let stale =
            json!({ "input": { "id": site, "expectedVersion": site_version + 1, "name": "Sede" } });
        let (_, body) = app.query_as(&token, UPDATE_LOCATION, stale).await;
        assert_eq!(first_error_code(&body), "CONFLICT", "[{engine:?}] {body}");
        assert_eq!(org(&app, "Forium").await.site.1, site_version);
    })
    .await;
}

#[tokio::test]
async fn a_capacity_update_shows_in_the_open_places_filter() {
    on_every_engine(async |engine, app| {
        let forium = org(&app, "Forium").await;
        let token = admin_of(&app, "Forium").await;
        let filter = "query($p: ID!, $open: Boolean) {
          services(filter: {provider: $p, hasOpenPlaces: $open}) { totalCount nodes { id } }
        }";
        let full = json!({ "input": { "id": forium.service.0, "expectedVersion": forium.service.1, "openPlaces": 0, "waitlistLength": 12, "typicalWaitDays": 30 } });
        let (_, body) = app.query_as(&token, UPDATE_CAPACITY, full).await;
        let capacity = &payload(&body, "updateServiceCapacity")["service"]["capacity"];
        assert_eq!(capacity["openPlaces"], 0, "[{engine:?}] {body}");
        assert_eq!(capacity["waitlistLength"], 12);
        assert!(capacity["updatedAt"].is_string(), "{body}");
        let data = app
            .data(filter, json!({ "p": forium.id, "open": true }))
            .await;
        assert_eq!(data["services"]["totalCount"], 0, "[{engine:?}] {data}");
        let data = app
            .data(filter, json!({ "p": forium.id, "open": false }))
            .await;
        assert_eq!(data["services"]["nodes"][0]["id"], forium.service.0);

        let version = org(&app, "Forium").await.service.1;
        let open = json!({ "input": { "id": forium.service.0, "expectedVersion": version, "openPlaces": 5 } });
        let (_, body) = app.query_as(&token, UPDATE_CAPACITY, open).await;
        let capacity = &payload(&body, "updateServiceCapacity")["service"]["capacity"];
        assert_eq!(capacity["openPlaces"], 5, "[{engine:?}] {body}");
        assert_eq!(capacity["waitlistLength"], 12, "omitted figures stay");
        let data = app
            .data(filter, json!({ "p": forium.id, "open": true }))
            .await;
        assert_eq!(data["services"]["nodes"][0]["id"], forium.service.0);

        let bad = json!({ "input": { "id": forium.service.0, "expectedVersion": version, "openPlaces": -1, "typicalWaitDays": 100001 } });
        let (_, body) = app.query_as(&token, UPDATE_CAPACITY, bad).await;
        let errors = user_errors(payload(&body, "updateServiceCapacity"));
        assert_eq!(
            errors,
            vec![
                (json!(["input", "openPlaces"]), "OUT_OF_RANGE".to_owned()),
                (
                    json!(["input", "typicalWaitDays"]),
                    "OUT_OF_RANGE".to_owned()
                ),
            ],
            "[{engine:?}] {body}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_site_is_created_validated_changed_and_deleted_unless_a_service_is_delivered_there() {
    on_every_engine(async |engine, app| {
        let forium = org(&app, "Forium").await;
        let token = admin_of(&app, "Forium").await;

        let in_use = json!({ "input": { "id": forium.site.0, "expectedVersion": forium.site.1 } });
        let (_, body) = app.query_as(&token, DELETE_LOCATION, in_use).await;
        let refused = payload(&body, "deleteLocation");
        assert!(
            refused["deletedLocationId"].is_null(),
            "[{engine:?}] {body}"
        );
        assert_eq!(
            user_errors(refused),
            vec![(json!(["input", "id"]), "INVALID_STATE".to_owned())]
        );
        assert_eq!(org(&app, "Forium").await.site.0, forium.site.0);

        let bad = json!({ "input": {
            "organization": forium.id, "name": "", "address": "Via Roma 1", "postalCode": "5612",
            "municipalityIstatCode": "099999", "latitude": 95.0,
        }});
        let (_, body) = app.query_as(&token, CREATE_LOCATION, bad).await;
        let mut errors = user_errors(payload(&body, "createLocation"));
        errors.sort_by_key(|(field, _)| field.to_string());
        assert_eq!(
            errors,
            vec![
                (json!(["input", "latitude"]), "OUT_OF_RANGE".to_owned()),
                (json!(["input", "longitude"]), "REQUIRED".to_owned()),
                (
                    json!(["input", "municipalityIstatCode"]),
                    "NOT_FOUND".to_owned()
                ),
                (json!(["input", "name"]), "REQUIRED".to_owned()),
                (json!(["input", "postalCode"]), "INVALID".to_owned()),
            ],
            "[{engine:?}] {body}"
        );

        let good = json!({ "input": {
            "organization": forium.id, "name": "Aula di Cascina", "address": "Corso Matteotti 10",
            "postalCode": "56021", "municipalityIstatCode": "050008",
            "latitude": 43.676, "longitude": 10.553,
        }});
        let (_, body) = app.query_as(&token, CREATE_LOCATION, good).await;
        let created = &payload(&body, "createLocation")["location"];
        assert_eq!(
            created["municipality"]["code"], "050008",
            "[{engine:?}] {body}"
        );
        assert_eq!(created["latitude"], 43.676);
        let site = created["id"].as_str().unwrap_or_default().to_owned();

        let rename =
            json!({ "input": { "id": site, "expectedVersion": 1, "name": "Aula Cascina" } });
        let (_, body) = app.query_as(&token, UPDATE_LOCATION, rename).await;
        let renamed = &payload(&body, "updateLocation")["location"];
        assert_eq!(renamed["name"], "Aula Cascina", "[{engine:?}] {body}");
        assert_eq!(renamed["address"], "Corso Matteotti 10");
        assert_eq!(renamed["rowVersion"], 2);

        let other = app.token(
            Some(app.organization_id("CNA Pisa").await),
            &[Role::OrgAdmin],
        );
        let delete = json!({ "input": { "id": site, "expectedVersion": 2 } });
        let (_, body) = app.query_as(&other, DELETE_LOCATION, delete.clone()).await;
        assert_eq!(first_error_code(&body), "FORBIDDEN", "[{engine:?}] {body}");
        let (_, body) = app.query_as(&token, DELETE_LOCATION, delete).await;
        assert_eq!(
            payload(&body, "deleteLocation")["deletedLocationId"],
            site,
            "[{engine:?}] {body}"
        );

        let auditor = app.token(None, &[Role::Auditor]);
        let (_, body) = app.query_as(&auditor, AUDIT, json!({ "id": site })).await;
        let log = &body["data"]["auditLog"];
        let operations: Vec<&str> = log["nodes"]
            .as_array()
            .map(|n| n.iter().filter_map(|e| e["operation"].as_str()).collect())
            .unwrap_or_default();
        assert_eq!(
            operations,
            ["deleteLocation", "updateLocation", "createLocation"],
            "[{engine:?}] {body}"
        );
        assert!(log["nodes"][0]["after"].is_null());
        assert_eq!(log["nodes"][0]["before"]["name"], "Aula Cascina");
    })
    .await;
}

#[tokio::test]
async fn an_org_admin_manages_the_contacts_of_their_own_organization() {
    on_every_engine(async |engine, app| {
        let forium = org(&app, "Forium").await;
        let token = admin_of(&app, "Forium").await;
        let other = app.token(
            Some(app.organization_id("CNA Pisa").await),
            &[Role::OrgAdmin],
        );
        let input = json!({ "input": {
            "organization": forium.id, "name": "Ufficio orientamento", "email": "orientamento@forium.it",
        }});
        for token in [
            other.clone(),
            app.token(None, &[Role::RegionalAdmin]),
            client(&app, "Forium", "services:write").await,
        ] {
            let (_, body) = app.query_as(&token, CREATE_CONTACT, input.clone()).await;
            assert_eq!(first_error_code(&body), "FORBIDDEN", "[{engine:?}] {body}");
        }
        let anonymous = app.query(CREATE_CONTACT, input.clone()).await;
        assert_eq!(first_error_code(&anonymous), "UNAUTHENTICATED");

        let bad = json!({ "input": { "organization": forium.id, "name": "x", "email": "nobody", "phone": "1".repeat(33) } });
        let (_, body) = app.query_as(&token, CREATE_CONTACT, bad).await;
        assert_eq!(
            user_errors(payload(&body, "createContact")),
            vec![
                (json!(["input", "email"]), "INVALID".to_owned()),
                (json!(["input", "phone"]), "TOO_LONG".to_owned()),
            ],
            "[{engine:?}] {body}"
        );

        let (_, body) = app.query_as(&token, CREATE_CONTACT, input).await;
        let created = &payload(&body, "createContact")["contact"];
        assert_eq!(
            created["email"], "orientamento@forium.it",
            "[{engine:?}] {body}"
        );
        let id = created["id"].as_str().unwrap_or_default().to_owned();
        let data = app.data(ORGANIZATION, json!({ "name": "Forium" })).await;
        assert_eq!(
            data["organizations"]["nodes"][0]["contacts"]
                .as_array()
                .map(Vec::len),
            Some(2),
            "[{engine:?}] {data}"
        );

        let update = json!({ "input": { "id": id, "expectedVersion": 1, "title": "Responsabile", "email": "" } });
        let (_, body) = app.query_as(&token, UPDATE_CONTACT, update).await;
        let updated = &payload(&body, "updateContact")["contact"];
        assert_eq!(updated["title"], "Responsabile", "[{engine:?}] {body}");
        assert!(updated["email"].is_null(), "an empty string clears");
        assert_eq!(updated["name"], "Ufficio orientamento");

        let stale = json!({ "input": { "id": id, "expectedVersion": 1 } });
        let (_, body) = app.query_as(&token, DELETE_CONTACT, stale).await;
        assert_eq!(first_error_code(&body), "CONFLICT", "[{engine:?}] {body}");
        let delete = json!({ "input": { "id": id, "expectedVersion": 2 } });
        let (_, body) = app.query_as(&token, DELETE_CONTACT, delete).await;
        assert_eq!(
            payload(&body, "deleteContact")["deletedContactId"],
            id,
            "[{engine:?}] {body}"
        );

        let auditor = app.token(None, &[Role::Auditor]);
        let (_, body) = app.query_as(&auditor, AUDIT, json!({ "id": id })).await;
        assert_eq!(
            body["data"]["auditLog"]["totalCount"], 3,
            "[{engine:?}] {body}"
        );
    })
    .await;
}
