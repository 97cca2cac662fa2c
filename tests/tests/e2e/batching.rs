//! Relations load in batches: SQL statements per request follow the nesting depth,
//! never the page size.

use melt_tests::{TestApp, on_every_engine};
use sea_orm::ConnectionTrait;
use serde_json::json;

/// Copies every demo service until there are at least `n`, with their links.
async fn grow_catalogue(app: &TestApp, n: usize) {
    let backend = app.db.get_database_backend();
    let count = || async {
        let rows = app
            .db
            .query_all_raw(sea_orm::Statement::from_string(
                backend,
                "SELECT id FROM service",
            ))
            .await
            .expect("count services");
        rows.len()
    };
    while count().await < n {
        let ids: Vec<uuid::Uuid> = app
            .db
            .query_all_raw(sea_orm::Statement::from_string(
                backend,
                "SELECT id FROM service",
            ))
            .await
            .expect("services")
            .iter()
            .map(|row| row.try_get::<uuid::Uuid>("", "id").expect("id"))
            .collect();
        for id in ids {
            copy_service(app, id).await;
        }
    }
}

async fn copy_service(app: &TestApp, id: uuid::Uuid) {
    let backend = app.db.get_database_backend();
    let new_id = uuid::Uuid::now_v7();
    let p = |n: usize| match backend {
        sea_orm::DatabaseBackend::Postgres => format!("${n}"),
        _ => "?".to_owned(),
    };
    let columns = "organization_id, name, search_name, search_text, alternate_name, description, \
        status, eligibility_description, minimum_age, maximum_age, fees_description, \
        application_process, url, email, delivery_mode, funding, open_places, waitlist_length, \
        typical_wait_days, capacity_updated_at, created_at, updated_at";
    let statements = [
        format!(
            "INSERT INTO service (id, {columns}) SELECT {}, {columns} FROM service WHERE id = {}",
            p(1),
            p(2)
        ),
        format!(
            "INSERT INTO service_term (service_id, term_id, created_at) \
             SELECT {}, term_id, created_at FROM service_term WHERE service_id = {}",
            p(1),
            p(2)
        ),
        format!(
            "INSERT INTO service_area (service_id, municipality_id, created_at) \
             SELECT {}, municipality_id, created_at FROM service_area WHERE service_id = {}",
            p(1),
            p(2)
        ),
    ];
    for sql in statements {
        app.db
            .execute_raw(sea_orm::Statement::from_sql_and_values(
                backend,
                sql,
                [new_id.into(), id.into()],
            ))
            .await
            .expect("copy service");
    }
}

const NESTED: &str = "query($n: Int) {
  services(first: $n) {
    totalCount
    nodes {
      name
      provider { name locationsConnection(first: 5) { totalCount nodes { name municipality { name } } } }
      serviceTypes { code label }
      serviceArea { code }
      zones { code }
      hubAreas { code }
    }
  }
}";

async fn statements_for(app: &TestApp, page: usize) -> usize {
    let before = app.statement_count();
    let data = app.data(NESTED, json!({ "n": page })).await;
    let nodes = data["services"]["nodes"]
        .as_array()
        .map(Vec::len)
        .unwrap_or_default();
    assert_eq!(nodes, page, "[{:?}] the page is full", app.engine);
    app.statement_count() - before
}

#[tokio::test]
async fn statements_per_request_do_not_grow_with_the_page_size() {
    on_every_engine(async |engine, app| {
        grow_catalogue(&app, 100).await;
        let small = statements_for(&app, 5).await;
        let large = statements_for(&app, 100).await;
        assert_eq!(
            small, large,
            "[{engine:?}] 5 items: {small} statements, 100 items: {large}"
        );
        // One statement per relation and level, plus the page and its count.
        assert!(
            large <= 10,
            "[{engine:?}] {large} statements for a 100-item page"
        );
    })
    .await;
}

#[tokio::test]
async fn loader_caches_do_not_cross_requests() {
    on_every_engine(async |engine, app| {
        let query = "{ organizations(first: 1) { nodes { id name } } }";
        let first = app.data(query, json!({})).await;
        let id = first["organizations"]["nodes"][0]["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let node = "query($id: ID!) { node(id: $id) { ... on Organization { name } } }";
        let before = app.data(node, json!({ "id": id })).await;
        app.db
            .execute_unprepared("UPDATE organization SET name = 'Renamed between requests'")
            .await
            .expect("rename");
        let after = app.data(node, json!({ "id": id })).await;
        assert_ne!(before, after, "[{engine:?}]");
        assert_eq!(
            after["node"]["name"], "Renamed between requests",
            "[{engine:?}]"
        );
    })
    .await;
}

const INBOX: &str = "query($n: Int) {
  referrals(filter: {direction: INBOX}, first: $n) {
    nodes {
      id status person { givenName familyName codiceFiscale languages { code } }
      receiverService { name } needs { code label } consent { id }
      events { action actorKind actorOrganization { name } reason { code } }
    }
  }
}";

async fn inbox_statements(app: &TestApp, token: &str, page: usize) -> usize {
    let before = app.statement_count();
    let (_, body) = app.query_as(token, INBOX, json!({ "n": page })).await;
    let nodes = body["data"]["referrals"]["nodes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(nodes.len(), page, "[{:?}] {body}", app.engine);
    assert!(
        nodes.iter().all(|n| n["person"]["familyName"] == "Rossi"),
        "{body}"
    );
    app.statement_count() - before
}

#[tokio::test]
async fn reading_personal_fields_of_a_page_of_referrals_costs_the_same_for_any_page_size() {
    on_every_engine(async |engine, app| {
        for _ in 0..6 {
            melt_tests::flow::sent_referral_for(&app).await;
        }
        let caritas = app.organization_id("Caritas diocesana di Pisa").await;
        let token = app.token(Some(caritas), &[melt_tests::Role::Operator]);
        // The first read marks the referrals RECEIVED; measure the reads after it.
        inbox_statements(&app, &token, 6).await;
        let small = inbox_statements(&app, &token, 2).await;
        let large = inbox_statements(&app, &token, 6).await;
        assert_eq!(
            small, large,
            "[{engine:?}] 2 referrals: {small} statements, 6: {large}"
        );
    })
    .await;
}

const NESTED_PAGES: &str = "query($n: Int) {
  organizations(first: $n) {
    nodes {
      name
      servicesConnection(first: 2) { totalCount pageInfo { endCursor } nodes { name } }
      locationsConnection(last: 1) { nodes { name } }
    }
  }
  territories(filter: {kinds: [PROVINCE]}, first: $n) {
    nodes { municipalitiesConnection(first: 3) { totalCount nodes { code } } }
  }
}";

#[tokio::test]
async fn nested_connections_load_in_one_batch_whatever_the_page_size() {
    on_every_engine(async |engine, app| {
        let statements = async |n: usize| {
            let before = app.statement_count();
            let data = app.data(NESTED_PAGES, json!({ "n": n })).await;
            let organizations = data["organizations"]["nodes"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            assert_eq!(organizations.len(), n, "[{engine:?}] {data}");
            assert!(
                organizations.iter().all(|o| {
                    o["servicesConnection"]["nodes"]
                        .as_array()
                        .is_some_and(|s| s.len() <= 2)
                }),
                "[{engine:?}] {data}"
            );
            app.statement_count() - before
        };
        let small = statements(2).await;
        let large = statements(8).await;
        assert_eq!(
            small, large,
            "[{engine:?}] 2 parents: {small} statements, 8 parents: {large}"
        );
    })
    .await;
}

/// Localized text at three levels (services, their providers, the providers' sites),
/// and at the level of the services' types: the translations of each level are one
/// batch. (The two queries keep the providers and the types, both children of the
/// services, apart: their batches may merge or not depending on timing.)
const LOCALIZED: [&str; 2] = [
    "query($n: Int) {
  services(first: $n) {
    nodes {
      localized(language: \"ar\") { name { text language } description { language } }
      translations { language rowVersion }
      provider {
        localized(language: \"ar\") { name { text language } }
        locationsConnection(first: 5) { nodes { localized { name { language } } translations { language } } }
      }
    }
  }
}",
    "query($n: Int) {
  services(first: $n) {
    nodes {
      localized { name { text language } }
      serviceTypes { localized(language: \"ar\") { label { text language } } translations { language } }
    }
  }
}",
];

#[tokio::test]
async fn localized_text_and_translations_load_in_one_statement_per_level_whatever_the_page_size() {
    on_every_engine(async |engine, app| {
        grow_catalogue(&app, 100).await;
        for query in LOCALIZED {
            let statements = async |n: usize| {
                let before = app.statement_count();
                let data = app.data(query, json!({ "n": n })).await;
                let nodes = data["services"]["nodes"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                assert_eq!(nodes.len(), n, "[{engine:?}] the page is full");
                assert!(
                    nodes
                        .iter()
                        .all(|s| s["localized"]["name"]["language"].is_string()),
                    "[{engine:?}] {data}"
                );
                app.statement_count() - before
            };
            let small = statements(5).await;
            let large = statements(100).await;
            assert_eq!(
                small, large,
                "[{engine:?}] 5 services: {small} statements, 100 services: {large}\n{query}"
            );
            // The page and its relations, one statement per level and kind.
            assert!(large <= 8, "[{engine:?}] {large} statements\n{query}");
        }
    })
    .await;
}

const GROUPINGS: &str = "query($n: Int, $groupings: Boolean!) {
  services(first: $n) {
    nodes { name zones @include(if: $groupings) { code } hubAreas @include(if: $groupings) { code } }
  }
}";

#[tokio::test]
async fn the_zones_and_hub_areas_of_a_page_of_services_cost_one_statement_whatever_its_size() {
    on_every_engine(async |engine, app| {
        grow_catalogue(&app, 100).await;
        let statements = async |n: usize, groupings: bool| {
            let before = app.statement_count();
            let data = app
                .data(GROUPINGS, json!({ "n": n, "groupings": groupings }))
                .await;
            let nodes = data["services"]["nodes"].as_array().cloned();
            let nodes = nodes.unwrap_or_default();
            assert_eq!(nodes.len(), n, "[{engine:?}] the page is full");
            if groupings {
                assert!(
                    nodes.iter().any(|s| s["hubAreas"].as_array().is_some_and(|h| !h.is_empty())),
                    "[{engine:?}] some service of the page is in a hub area: {data}"
                );
            }
            app.statement_count() - before
        };
        for n in [3, 100] {
            let without = statements(n, false).await;
            let with = statements(n, true).await;
            assert_eq!(
                with,
                without + 1,
                "[{engine:?}] {n} services: {without} statements, {with} with their zones and hub areas"
            );
        }
    })
    .await;
}
