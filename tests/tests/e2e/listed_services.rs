//! Lists of services read only the head of each row (id, provider, name, status, the
//! keys they are ordered by) when the selection shows nothing else: every field of
//! `Service`, found from the schema, reads the same through each list as through the
//! service itself, and a list that shows only the head reads no other column.

use async_graphql::parser::types::{FieldDefinition, TypeKind};
use melt_tests::{TestApp, named_type, on_every_engine, row_id, schema_types};
use serde_json::{Value, json};
use std::collections::HashMap;

/// Every column beyond the head that a field shows, filled in, so that a list that
/// leaves one unread shows it.
const FILLED: &str = "UPDATE service SET alternate_name = 'Alt', \
     eligibility_description = 'Chi ha diritto', fees_description = 'Gratuito', \
     application_process = 'Su appuntamento', funding = 'FSE+', \
     description = 'Descrizione lunga', url = 'https://servizio.example.it', \
     email = 'servizio@example.it', minimum_age = 16, maximum_age = 64, \
     open_places = 3, waitlist_length = 7, typical_wait_days = 12, \
     capacity_updated_at = created_at WHERE id = ?";

/// The object types of the schema, by name, with their fields.
fn object_types() -> HashMap<String, Vec<FieldDefinition>> {
    schema_types()
        .into_iter()
        .filter_map(|(name, kind)| match kind {
            TypeKind::Object(object) => {
                Some((name, object.fields.into_iter().map(|f| f.node).collect()))
            }
            _ => None,
        })
        .collect()
}

/// A selection of each field of `Service` that takes no required argument: a leaf as
/// it is, an object with its own leaves (and `__typename` below them).
fn service_fields() -> Vec<(String, String)> {
    let objects = object_types();
    let takes_no_required = |field: &FieldDefinition| {
        field
            .arguments
            .iter()
            .all(|a| a.node.ty.node.nullable || a.node.default_value.is_some())
    };
    let mut selections = Vec::new();
    for field in &objects["Service"] {
        if !takes_no_required(field) {
            continue;
        }
        let name = field.name.node.to_string();
        let selection = match objects.get(named_type(&field.ty.node)) {
            None => name.clone(),
            Some(inner) => {
                let leaves: Vec<String> = inner
                    .iter()
                    .filter(|f| takes_no_required(f))
                    .map(|f| match objects.contains_key(named_type(&f.ty.node)) {
                        true => format!("{} {{ __typename }}", f.name.node),
                        false => f.name.node.to_string(),
                    })
                    .collect();
                format!("{name} {{ {} }}", leaves.join(" "))
            }
        };
        selections.push((name, selection));
    }
    selections
}

#[test]
fn the_filled_service_sets_every_column_beyond_the_head() {
    use sea_orm::{IdenStatic, Iterable};
    for column in entity::service::Column::iter() {
        let name = column.as_str();
        let head = entity::service::HEAD.iter().any(|c| c.as_str() == name);
        // `search_text` is no field's: the search reads it, in SQL.
        if head || name == "search_text" {
            continue;
        }
        assert!(
            FILLED.contains(&format!(" {name} = ")),
            "FILLED leaves `{name}` unset: a field reading it from a head would pass unseen"
        );
    }
}

/// A service of the demo network with every column filled in, and its provider.
async fn filled_service(app: &TestApp) -> (String, String) {
    let body = app
        .data(
            "{ services(first: 1) { nodes { id provider { id } } } }",
            json!({}),
        )
        .await;
    let node = &body["services"]["nodes"][0];
    let (Some(service), Some(provider)) = (node["id"].as_str(), node["provider"]["id"].as_str())
    else {
        panic!("no service in the demo network: {body}");
    };
    let changed = app.exec(FILLED, vec![row_id(service).into()]).await;
    assert_eq!(changed, 1);
    (service.to_owned(), provider.to_owned())
}

/// The entry for `service` in each list of the answer to `document`, and the service
/// read by itself.
fn readings<'a>(body: &'a Value, service: &str) -> Vec<(&'static str, &'a Value)> {
    let find = |list: &'a Value| -> &'a Value {
        list.as_array()
            .and_then(|items| {
                items
                    .iter()
                    .find(|item| item["id"] == service || item["node"]["id"] == service)
            })
            .map(|item| item.get("node").unwrap_or(item))
            .unwrap_or(&Value::Null)
    };
    let provider = &body["provider"];
    vec![
        ("node", &body["service"]),
        ("services.nodes", find(&body["services"]["nodes"])),
        ("services.edges", find(&body["services"]["edges"])),
        ("Organization.services", find(&provider["services"])),
        (
            "Organization.servicesConnection.nodes",
            find(&provider["servicesConnection"]["nodes"]),
        ),
        (
            "Organization.servicesConnection.edges",
            find(&provider["servicesConnection"]["edges"]),
        ),
    ]
}

#[tokio::test]
async fn every_field_of_a_service_reads_the_same_through_each_list_as_by_itself() {
    on_every_engine(async |engine, app| {
        let (service, provider) = filled_service(&app).await;
        let fields = service_fields();
        assert!(fields.len() > 20, "fields of Service: {fields:?}");
        for (name, selection) in fields {
            let item = format!("id {selection}");
            let document = format!(
                "query($service: ID!, $provider: ID!) {{ \
                 service: node(id: $service) {{ ... on Service {{ {item} }} }} \
                 services(first: 100, filter: {{provider: $provider}}) {{ \
                   nodes {{ {item} }} edges {{ node {{ {item} }} }} }} \
                 provider: node(id: $provider) {{ ... on Organization {{ \
                   services {{ {item} }} \
                   servicesConnection(first: 100) {{ nodes {{ {item} }} \
                     edges {{ node {{ {item} }} }} }} }} }} }}"
            );
            let body = app
                .query(
                    &document,
                    json!({ "service": service, "provider": provider }),
                )
                .await;
            assert!(body["errors"].is_null(), "[{engine:?}] {name}: {body}");
            let data = &body["data"];
            let readings = readings(data, &service);
            let (_, itself) = readings[0];
            assert_eq!(itself["id"], service, "[{engine:?}] {name}: {data}");
            for (list, reading) in &readings[1..] {
                assert_eq!(
                    reading, &itself,
                    "[{engine:?}] {name} through {list} differs from the service itself"
                );
            }
        }
    })
    .await;
}

#[tokio::test]
async fn a_list_of_services_that_shows_only_their_heads_reads_no_other_column() {
    on_every_engine(async |engine, app| {
        let (_, provider) = filled_service(&app).await;
        // The statements on the service table that read its rows whole, and those
        // that read only their heads (no column beyond it, long text or short).
        let readings = |app: &TestApp| {
            let on_services: Vec<bool> = app
                .recorded_statements()
                .iter()
                .filter(|s| s.sql.contains("FROM \"service\""))
                .map(|s| {
                    let whole = s.sql.contains("\"service\".\"description\"");
                    let beyond_head = ["url", "email", "minimum_age", "open_places"]
                        .iter()
                        .any(|c| s.sql.contains(&format!("\"service\".\"{c}\"")));
                    assert_eq!(whole, beyond_head, "{}", s.sql);
                    whole
                })
                .collect();
            let whole = on_services.iter().filter(|whole| **whole).count();
            (whole, on_services.len() - whole)
        };
        for (shows, document) in [
            (
                false,
                "query($p: ID!) { services(first: 20, filter: {provider: $p}) { nodes { name } } }",
            ),
            (
                false,
                "query($p: ID!) { node(id: $p) { ... on Organization { services { name } } } }",
            ),
            (
                false,
                "query($p: ID!) { services(first: 20, orderBy: {field: UPDATED_AT}, \
                 filter: {provider: $p}) { edges { cursor node { id status rowVersion \
                 deliveryMode createdAt updatedAt provider { name } } } } }",
            ),
            (
                true,
                "query($p: ID!) { node(id: $p) { ... on Organization { \
                 services { ... on Service { capacity { openPlaces } } } } } }",
            ),
            (
                true,
                "query($p: ID!) { services(first: 20, filter: {provider: $p}) { \
                 edges { node { ...Texts } } } } fragment Texts on Service { description }",
            ),
            (
                true,
                "query($p: ID!) { node(id: $p) { ... on Organization { \
                 servicesConnection(first: 5) { nodes { funding } } } } }",
            ),
        ] {
            app.record_statements();
            let body = app.query(document, json!({ "p": provider })).await;
            assert!(body["errors"].is_null(), "[{engine:?}] {document}: {body}");
            let (whole, listed) = readings(&app);
            if shows {
                // Read whole at once, not listed and then read again.
                assert_eq!((whole, listed), (1, 0), "[{engine:?}] {document}");
            } else {
                assert_eq!((whole, listed), (0, 1), "[{engine:?}] {document}");
            }
        }
    })
    .await;
}
