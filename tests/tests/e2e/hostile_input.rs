//! Hostile text in every string argument, found from the schema itself: NUL, a bidi
//! override, an ANSI escape and an over-long value never cause an internal error, on
//! either engine, for a regional administrator and for an operator. And names made only
//! of invisible characters are refused.

use async_graphql::parser::types::{BaseType, Type, TypeKind};
use melt_tests::{
    Role, TestApp, engines, flow, in_own_process, named_type, schema_types, spawn_app_with,
};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tracing_subscriber::layer::SubscriberExt;

/// The values sent in each string argument.
fn hostile_values() -> Vec<(&'static str, String)> {
    vec![
        ("NUL", "Caritas\u{0}Pisa".to_owned()),
        ("bidi override", "\u{202E}asiP satiraC".to_owned()),
        ("ANSI escape", "\u{1b}[31mCaritas\u{1b}[0m".to_owned()),
        ("200,000 characters", "x".repeat(200_000)),
    ]
}

/// Counts ERROR events logged anywhere in this process (the app runs in it).
fn error_counter() -> Arc<AtomicUsize> {
    static COUNTER: std::sync::OnceLock<Arc<AtomicUsize>> = std::sync::OnceLock::new();
    COUNTER
        .get_or_init(|| {
            let counter = Arc::new(AtomicUsize::new(0));
            let layer = ErrorCount(counter.clone());
            let subscriber = tracing_subscriber::registry().with(layer);
            tracing::subscriber::set_global_default(subscriber).expect("one subscriber");
            counter
        })
        .clone()
}

struct ErrorCount(Arc<AtomicUsize>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for ErrorCount {
    fn on_event(
        &self,
        event: &tracing::Event<'_>,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        if *event.metadata().level() == tracing::Level::ERROR {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// The parts of the schema operations are built from.
struct Schema {
    types: HashMap<String, TypeKind>,
}

/// One string leaf: a root field and the path to the leaf from its arguments.
#[derive(Debug)]
struct Target {
    operation: &'static str,
    field: String,
    path: Vec<PathStep>,
}

#[derive(Clone, Debug)]
enum PathStep {
    Field(String),
    Item,
}

impl Schema {
    fn load() -> Self {
        Self {
            types: schema_types(),
        }
    }

    fn root_fields(&self, root: &str) -> Vec<async_graphql::parser::types::FieldDefinition> {
        match self.types.get(root) {
            Some(TypeKind::Object(object)) => {
                object.fields.iter().map(|f| f.node.clone()).collect()
            }
            _ => Vec::new(),
        }
    }

    /// Paths to every String/ID leaf of a value of type `ty`, through input objects
    /// (recursively, each input type once per path) and lists.
    fn string_paths(&self, ty: &Type, seen: &mut Vec<String>) -> Vec<Vec<PathStep>> {
        if let BaseType::List(inner) = &ty.base {
            return self
                .string_paths(inner, seen)
                .into_iter()
                .map(|mut path| {
                    path.insert(0, PathStep::Item);
                    path
                })
                .collect();
        }
        let name = named_type(ty);
        if matches!(name, "String" | "ID") {
            return vec![Vec::new()];
        }
        let Some(TypeKind::InputObject(input)) = self.types.get(name) else {
            return Vec::new();
        };
        if seen.iter().any(|s| s == name) {
            return Vec::new();
        }
        seen.push(name.to_owned());
        let mut paths = Vec::new();
        for field in &input.fields {
            for mut path in self.string_paths(&field.node.ty.node, seen) {
                path.insert(0, PathStep::Field(field.node.name.node.to_string()));
                paths.push(path);
            }
        }
        seen.pop();
        paths
    }

    /// A plausible value of type `ty` (required input fields filled).
    fn placeholder(&self, ty: &Type, id: &str) -> Value {
        if let BaseType::List(inner) = &ty.base {
            return json!([self.placeholder(inner, id)]);
        }
        match named_type(ty) {
            "ID" => json!(id),
            "String" => json!("Segnaposto"),
            "Int" => json!(1),
            "Float" => json!(1.5),
            "Boolean" => json!(false),
            "Date" => json!("2026-01-01"),
            "DateTime" => json!("2026-01-01T00:00:00Z"),
            "JSON" => json!({}),
            other => match self.types.get(other) {
                Some(TypeKind::Enum(e)) => json!(e.values[0].node.value.node.as_str()),
                Some(TypeKind::InputObject(input)) => {
                    let mut object = serde_json::Map::new();
                    for field in &input.fields {
                        let field = &field.node;
                        if !field.ty.node.nullable && field.default_value.is_none() {
                            object.insert(
                                field.name.node.to_string(),
                                self.placeholder(&field.ty.node, id),
                            );
                        }
                    }
                    Value::Object(object)
                }
                _ => Value::Null,
            },
        }
    }

    /// `value` with `path` (below a value of type `ty`) set to `hostile`.
    fn with_hostile(&self, ty: &Type, value: Value, path: &[PathStep], hostile: &str) -> Value {
        let Some((step, rest)) = path.split_first() else {
            return json!(hostile);
        };
        match (step, &ty.base) {
            (PathStep::Item, BaseType::List(inner)) => {
                let item = self.placeholder(inner, "");
                let item = value
                    .as_array()
                    .and_then(|items| items.first().cloned())
                    .unwrap_or(item);
                json!([self.with_hostile(inner, item, rest, hostile)])
            }
            (PathStep::Field(name), _) => {
                let Some(TypeKind::InputObject(input)) = self.types.get(named_type(ty)) else {
                    return value;
                };
                let field = input
                    .fields
                    .iter()
                    .find(|f| f.node.name.node.as_str() == name)
                    .expect("the field is in the input type");
                let mut object = value.as_object().cloned().unwrap_or_default();
                let current = object
                    .get(name)
                    .cloned()
                    .unwrap_or_else(|| self.placeholder(&field.node.ty.node, ""));
                object.insert(
                    name.clone(),
                    self.with_hostile(&field.node.ty.node, current, rest, hostile),
                );
                Value::Object(object)
            }
            _ => value,
        }
    }

    fn selection(&self, ty: &Type) -> &'static str {
        match self.types.get(named_type(ty)) {
            Some(TypeKind::Object(_) | TypeKind::Interface(_) | TypeKind::Union(_)) => {
                " { __typename }"
            }
            _ => "",
        }
    }

    /// Every target of every root field.
    fn targets(&self) -> Vec<Target> {
        let mut targets = Vec::new();
        for (operation, root) in [("query", "Query"), ("mutation", "Mutation")] {
            for field in self.root_fields(root) {
                for argument in &field.arguments {
                    for mut path in self.string_paths(&argument.node.ty.node, &mut Vec::new()) {
                        path.insert(0, PathStep::Field(argument.node.name.node.to_string()));
                        targets.push(Target {
                            operation,
                            field: field.name.node.to_string(),
                            path,
                        });
                    }
                }
            }
        }
        targets
    }

    /// The operation and variables sending `hostile` at `target`.
    fn operation(&self, target: &Target, hostile: &str, id: &str) -> (String, Value) {
        let root = if target.operation == "query" {
            "Query"
        } else {
            "Mutation"
        };
        let field = self
            .root_fields(root)
            .into_iter()
            .find(|f| f.name.node.as_str() == target.field)
            .expect("the root field exists");
        let Some((PathStep::Field(hit), rest)) = target.path.split_first() else {
            panic!("a target starts with an argument");
        };
        let (mut definitions, mut arguments) = (Vec::new(), Vec::new());
        let mut variables = serde_json::Map::new();
        for argument in &field.arguments {
            let argument = &argument.node;
            let name = argument.name.node.as_str();
            let ty = &argument.ty.node;
            let value = if name == hit {
                let base = self.placeholder(ty, id);
                self.with_hostile(ty, base, rest, hostile)
            } else if !ty.nullable && argument.default_value.is_none() {
                self.placeholder(ty, id)
            } else {
                continue;
            };
            definitions.push(format!("${name}: {ty}"));
            arguments.push(format!("{name}: ${name}"));
            variables.insert(name.to_owned(), value);
        }
        let query = format!(
            "{} Probe({}) {{ {}({}){} }}",
            target.operation,
            definitions.join(", "),
            target.field,
            arguments.join(", "),
            self.selection(&field.ty.node)
        );
        (query, Value::Object(variables))
    }
}

fn codes(body: &Value) -> Vec<String> {
    body["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| e["extensions"]["code"].as_str().unwrap_or("").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

async fn spawn(engine: melt_tests::Engine) -> TestApp {
    spawn_app_with(engine, |settings| {
        settings.rate_limit_client_per_minute = 0;
        settings.rate_limit_ip_per_minute = 0;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_text_in_any_string_argument_never_causes_an_internal_error() {
    // ERRORs are counted process-wide: alone, no other test's deliberate errors count.
    if !in_own_process(
        "hostile_input::hostile_text_in_any_string_argument_never_causes_an_internal_error",
    ) {
        return;
    }
    let errors_logged = error_counter();
    let schema = Schema::load();
    let targets = schema.targets();
    assert!(
        targets.len() > 50,
        "the schema has many string arguments: {}",
        targets.len()
    );
    assert!(
        targets.iter().any(|t| t.path.len() > 1),
        "fields nested in input objects are found"
    );
    for engine in engines() {
        let app = spawn(engine).await;
        let regione = app.organization_id("Regione Toscana").await;
        let pisa = app.organization_id("Centro per l'impiego di Pisa").await;
        let tokens = [
            (
                "REGIONAL_ADMIN",
                app.token(Some(regione), &[Role::RegionalAdmin]),
            ),
            ("OPERATOR", app.token(Some(pisa), &[Role::Operator])),
        ];
        let id = flow::gid(&app, "Caritas").await;
        let before = errors_logged.load(Ordering::SeqCst);
        let mut sent = 0;
        for target in &targets {
            for (label, hostile) in hostile_values() {
                let (query, variables) = schema.operation(target, &hostile, &id);
                for (role, token) in &tokens {
                    let (status, body) = app.query_as(token, &query, variables.clone()).await;
                    sent += 1;
                    let what = format!(
                        "[{engine:?}] {role} {} {} {:?} with {label}",
                        target.operation, target.field, target.path
                    );
                    assert!(status < 500, "{what}: HTTP {status}: {body}");
                    assert!(body.is_object(), "{what}: not JSON: {body}");
                    assert!(
                        !codes(&body).iter().any(|c| c == "INTERNAL_SERVER_ERROR"),
                        "{what}: {query}\n{body}"
                    );
                    if label == "NUL" || label == "ANSI escape" || label.starts_with("200,000") {
                        assert!(
                            codes(&body).iter().any(|c| c == "BAD_USER_INPUT"),
                            "{what}: refused at the boundary: {body}"
                        );
                    }
                }
            }
        }
        assert_eq!(
            errors_logged.load(Ordering::SeqCst),
            before,
            "[{engine:?}] no ERROR was logged in {sent} requests"
        );
    }
}

/// Names made only of characters that show nothing, or of escapes.
fn invisible_names() -> Vec<(&'static str, &'static str)> {
    vec![
        ("zero-width", "\u{200B}\u{200C}\u{200D}\u{2060}"),
        ("bidi", "\u{202E}\u{2066}\u{2069}\u{202C}"),
        ("zero-width and bidi", "\u{FEFF}\u{202D}\u{200B}"),
        ("ANSI", "\u{1b}[31m\u{1b}[0m"),
    ]
}

/// The refusal code: the userError's, or the boundary's BAD_USER_INPUT.
fn refusal(body: &Value, payload: &str, object: &str) -> String {
    let data = &body["data"][payload];
    if let Some(code) = data["userErrors"][0]["code"].as_str() {
        assert_eq!(
            data["userErrors"][0]["field"],
            json!(["input", "name"]),
            "{body}"
        );
        assert!(data[object].is_null(), "{body}");
        return code.to_owned();
    }
    codes(body).first().cloned().unwrap_or_default()
}

#[tokio::test]
async fn names_made_only_of_invisible_characters_are_refused() {
    for engine in engines() {
        let app = spawn(engine).await;
        let regione = app.organization_id("Regione Toscana").await;
        let token = app.token(Some(regione), &[Role::RegionalAdmin]);
        let caritas = flow::gid(&app, "Caritas").await;
        let caritas_admin = app.token(
            Some(app.organization_id("Caritas").await),
            &[Role::OrgAdmin],
        );
        for (label, name) in invisible_names() {
            let expected = if label == "ANSI" {
                "BAD_USER_INPUT"
            } else {
                "INVALID"
            };
            let create_org = "mutation($input: CreateOrganizationInput!) { createOrganization(input: $input) { organization { id } userErrors { field code message } } }";
            let (_, body) = app
                .query_as(
                    &token,
                    create_org,
                    json!({ "input": { "name": name, "kind": "MUNICIPALITY", "sector": "PUBLIC" } }),
                )
                .await;
            assert_eq!(
                refusal(&body, "createOrganization", "organization"),
                expected,
                "[{engine:?}] organization named {label}: {body}"
            );
            let create_service = "mutation($input: CreateServiceInput!) { createService(input: $input) { service { id } userErrors { field code message } } }";
            let (_, body) = app
                .query_as(
                    &caritas_admin,
                    create_service,
                    json!({ "input": { "provider": caritas, "name": name, "description": "Ascolto", "serviceTypes": ["JOB_ORIENTATION"], "serviceAreaIstatCodes": ["050026"] } }),
                )
                .await;
            assert_eq!(
                refusal(&body, "createService", "service"),
                expected,
                "[{engine:?}] service named {label}: {body}"
            );
            let create_site = "mutation($input: CreateLocationInput!) { createLocation(input: $input) { location { id } userErrors { field code message } } }";
            let (_, body) = app
                .query_as(
                    &caritas_admin,
                    create_site,
                    json!({ "input": { "organization": caritas, "name": name, "address": "Via del Seminario 1", "municipalityIstatCode": "050026" } }),
                )
                .await;
            assert_eq!(
                refusal(&body, "createLocation", "location"),
                expected,
                "[{engine:?}] site named {label}: {body}"
            );
        }
    }
}

/// Well-formed cursors of each kind a list can be ordered by: one text key, one time
/// key, one real number (a distance), and a rank with a time (the inbox's order).
fn cursors_of_every_kind() -> Vec<(&'static str, String)> {
    use melt_api::pagination::{Cursor, SortKey};
    let id = uuid::Uuid::from_u128(0x5eed);
    let time = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
        .expect("a time")
        .with_timezone(&chrono::Utc);
    vec![
        (
            "text",
            Cursor::new(SortKey::Text("Zeta".to_owned()), id).encode(),
        ),
        ("time", Cursor::new(SortKey::Time(time), id).encode()),
        ("distance", Cursor::new(SortKey::Real(1.5), id).encode()),
        (
            "rank and time",
            Cursor {
                keys: vec![SortKey::Int(1), SortKey::Time(time)],
                id,
            }
            .encode(),
        ),
    ]
}

/// A root list: its field, and each required argument's name, type and value.
type RootList = (String, Vec<(String, String, Value)>);

impl Schema {
    /// Root query fields that page with `after`, with the value of each required
    /// argument.
    fn root_lists(&self) -> Vec<RootList> {
        self.root_fields("Query")
            .into_iter()
            .filter(|field| field.arguments.iter().any(|a| a.node.name.node == "after"))
            .map(|field| {
                let required = field
                    .arguments
                    .iter()
                    .map(|a| &a.node)
                    .filter(|a| !a.ty.node.nullable && a.default_value.is_none())
                    .map(|a| {
                        let value = self.placeholder(&a.ty.node, "");
                        (a.name.node.to_string(), a.ty.node.to_string(), value)
                    })
                    .collect();
                (field.name.node.to_string(), required)
            })
            .collect()
    }

    /// Fields of objects below the root that page with `after`: (object, field).
    fn nested_lists(&self) -> Vec<(String, String)> {
        let mut lists = Vec::new();
        for (name, kind) in &self.types {
            let TypeKind::Object(object) = kind else {
                continue;
            };
            if matches!(name.as_str(), "Query" | "Mutation" | "Subscription") {
                continue;
            }
            for field in &object.fields {
                if field
                    .node
                    .arguments
                    .iter()
                    .any(|a| a.node.name.node == "after")
                {
                    lists.push((name.clone(), field.node.name.node.to_string()));
                }
            }
        }
        lists.sort();
        lists
    }
}

#[tokio::test]
async fn a_cursor_of_another_order_is_refused_by_every_list_never_an_internal_error() {
    let schema = Schema::load();
    let roots = schema.root_lists();
    let nested = schema.nested_lists();
    assert!(roots.len() >= 8, "the schema has root lists: {roots:?}");
    assert!(!nested.is_empty(), "the schema has nested lists");
    for engine in engines() {
        let app = spawn(engine).await;
        let regione = app.organization_id("Regione Toscana").await;
        let pisa = app.organization_id("Centro per l'impiego di Pisa").await;
        let tokens = [
            app.token(Some(regione), &[Role::RegionalAdmin, Role::Auditor]),
            app.token(Some(pisa), &[Role::Operator, Role::OrgAdmin, Role::Auditor]),
        ];
        // A webhook endpoint, so that its delivery log is probed too.
        let create = "mutation($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) { userErrors { message } } }";
        let (_, body) = app
            .query_as(
                &tokens[1],
                create,
                json!({ "input": { "url": "https://partner.example.org/hooks" } }),
            )
            .await;
        assert_eq!(
            body["data"]["createWebhookEndpoint"]["userErrors"],
            json!([]),
            "{body}"
        );
        // The root lists: each orders by keys of one kind signature, so of three
        // cursors of different kinds at least two are refused as bad input.
        for (field, required) in &roots {
            let mut definitions = vec!["$cursor: String".to_owned()];
            let mut arguments = vec!["after: $cursor".to_owned()];
            let mut variables = serde_json::Map::new();
            for (name, ty, value) in required {
                definitions.push(format!("${name}: {ty}"));
                arguments.push(format!("{name}: ${name}"));
                variables.insert(name.clone(), value.clone());
            }
            let query = format!(
                "query Probe({}) {{ {field}({}) {{ totalCount }} }}",
                definitions.join(", "),
                arguments.join(", ")
            );
            let mut refused = Vec::new();
            for (kind, cursor) in cursors_of_every_kind() {
                variables.insert("cursor".to_owned(), json!(cursor));
                for token in &tokens {
                    let (status, body) = app
                        .query_as(token, &query, Value::Object(variables.clone()))
                        .await;
                    let what = format!("[{engine:?}] {field} after a {kind} cursor");
                    assert!(status < 500, "{what}: HTTP {status}: {body}");
                    assert!(
                        !codes(&body).iter().any(|c| c == "INTERNAL_SERVER_ERROR"),
                        "{what}: {body}"
                    );
                    if codes(&body).iter().any(|c| c == "BAD_USER_INPUT") {
                        refused.push(kind);
                    }
                }
            }
            refused.dedup();
            assert!(
                refused.len() >= 2,
                "[{engine:?}] {field}: cursors of other kinds are refused, got {refused:?}"
            );
        }
        // The nested lists, reached through `node` on a row of each object type.
        for (object, field) in &nested {
            let list = roots
                .iter()
                .find(|(root, required)| {
                    required.is_empty()
                        && schema.root_fields("Query").iter().any(|f| {
                            f.name.node.as_str() == root
                                && named_type(&f.ty.node) == format!("{object}Connection")
                        })
                })
                .map(|(root, _)| root.clone())
                .unwrap_or_else(|| panic!("a root list of {object} to find one by"));
            // The first token that reads a row of it (webhook endpoints: their
            // organization's administrator).
            let mut found = None;
            for token in &tokens {
                let (_, body) = app
                    .query_as(
                        token,
                        &format!("{{ {list}(first: 1) {{ nodes {{ id }} }} }}"),
                        json!({}),
                    )
                    .await;
                if let Some(id) = body["data"][&list]["nodes"][0]["id"].as_str() {
                    found = Some((token.clone(), id.to_owned()));
                    break;
                }
            }
            let (token, id) = found.unwrap_or_else(|| panic!("a {object} in the demo network"));
            for (kind, cursor) in cursors_of_every_kind() {
                let query = format!(
                    "query Probe($id: ID!, $cursor: String) {{ node(id: $id) {{ \
                     ... on {object} {{ {field}(after: $cursor) {{ totalCount }} }} }} }}"
                );
                let (status, body) = app
                    .query_as(&token, &query, json!({"id": id, "cursor": cursor}))
                    .await;
                let what = format!("[{engine:?}] {object}.{field} after a {kind} cursor");
                assert!(status < 500, "{what}: HTTP {status}: {body}");
                assert_eq!(codes(&body), vec!["BAD_USER_INPUT"], "{what}: {body}");
            }
        }
    }
}

/// POSTs a raw JSON body (one serde_json cannot write, e.g. `1e999`); returns the HTTP
/// status and the body (null when it is not JSON).
async fn raw_post(app: &TestApp, body: &str) -> (u16, Value) {
    let response = app
        .client
        .post(format!("{}/graphql", app.address))
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The error code of a refusal, whether GraphQL's (`errors[0].extensions.code`) or
/// the HTTP layer's (`code` of the body).
fn refusal_code(body: &Value) -> String {
    codes(body)
        .first()
        .cloned()
        .or_else(|| body["code"].as_str().map(str::to_owned))
        .or_else(|| body["errors"][0]["code"].as_str().map(str::to_owned))
        .unwrap_or_default()
}

#[tokio::test]
async fn directory_filters_refuse_bad_territories_a_distance_without_a_point_and_impossible_coordinates_with_clear_codes()
 {
    let services = "query($filter: ServiceFilter, $orderBy: ServiceOrderBy) {
        services(filter: $filter, orderBy: $orderBy, first: 5) { totalCount edges { distanceKm } } }";
    let organizations = "query($filter: OrganizationFilter) {
        organizations(filter: $filter, first: 5) { totalCount } }";
    for engine in engines() {
        let app = spawn(engine).await;
        let caritas = flow::gid(&app, "Caritas").await;
        let forged_uuid = {
            use base64::Engine as _;
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("Territory:not-a-uuid")
        };
        // Territory ids: malformed, of another type, forged, huge (within and beyond
        // the boundary's cap), as services' and organizations' filters.
        let bad_ids = [
            ("empty", String::new()),
            ("garbage", "not an id".to_owned()),
            ("another type", caritas.clone()),
            ("forged uuid", forged_uuid),
            ("16,000 characters", "A".repeat(16_000)),
            ("100,000 characters", "A".repeat(100_000)),
        ];
        for (label, bad) in &bad_ids {
            for (query, what) in [(services, "services"), (organizations, "organizations")] {
                let body = app
                    .query(query, json!({ "filter": { "territory": bad } }))
                    .await;
                assert_eq!(
                    codes(&body),
                    vec!["BAD_USER_INPUT"],
                    "[{engine:?}] {what} in a territory with a {label} id: {body}"
                );
            }
        }
        // A territory that does not exist is an empty list, not an error.
        let missing = melt_tests::global_id("Territory", uuid::Uuid::from_u128(u128::MAX));
        for (query, what) in [(services, "services"), (organizations, "organizations")] {
            let body = app
                .query(query, json!({ "filter": { "territory": missing } }))
                .await;
            assert!(body["errors"].is_null(), "[{engine:?}] {what}: {body}");
            assert_eq!(body["data"][what]["totalCount"], 0, "[{engine:?}] {body}");
        }
        // DISTANCE without a point to measure from.
        for filter in [
            Value::Null,
            json!({}),
            json!({ "municipalityIstatCode": "050026" }),
        ] {
            let body = app
                .query(
                    services,
                    json!({ "filter": filter, "orderBy": { "field": "DISTANCE" } }),
                )
                .await;
            assert_eq!(
                codes(&body),
                vec!["BAD_USER_INPUT"],
                "[{engine:?}] {filter}: {body}"
            );
        }
        // Coordinates no point has, as variables.
        let near = |lat: f64, lon: f64, radius: f64| {
            json!({ "filter": { "near": { "latitude": lat, "longitude": lon, "radiusKm": radius } },
                    "orderBy": { "field": "DISTANCE" } })
        };
        for (label, variables) in [
            ("latitude 1e308", near(1e308, 10.0, 5.0)),
            ("latitude -90.0001", near(-90.0001, 10.0, 5.0)),
            ("longitude -1e308", near(43.0, -1e308, 5.0)),
            ("radius 0", near(43.0, 10.0, 0.0)),
            ("negative radius", near(43.0, 10.0, -1.0)),
            ("radius 1e308", near(43.0, 10.0, 1e308)),
            ("smallest radius", near(43.0, 10.0, f64::MIN_POSITIVE)),
        ] {
            let body = app.query(services, variables).await;
            let expected: Vec<&str> = if label == "smallest radius" {
                vec![]
            } else {
                vec!["BAD_USER_INPUT"]
            };
            assert_eq!(codes(&body), expected, "[{engine:?}] {label}: {body}");
        }
        // NaN, infinities and numbers beyond a double, where JSON or GraphQL can spell
        // them: a clear refusal of the whole request, never an internal error — the
        // document does not parse, the body is not JSON a double can hold (the HTTP
        // layer's BAD_REQUEST), or the value is no Float.
        let inline = |value: &str| {
            json!({ "query": format!(
                "{{ services(filter: {{near: {{latitude: {value}, longitude: 10, radiusKm: 5}}}}, \
                  orderBy: {{field: DISTANCE}}) {{ totalCount }} }}"
            ) })
            .to_string()
        };
        let variables = |value: &str| {
            format!(
                r#"{{"query": "query($f: ServiceFilter) {{ services(filter: $f) {{ totalCount }} }}",
                    "variables": {{"f": {{"near": {{"latitude": {value}, "longitude": 10, "radiusKm": 5}}}}}}}}"#
            )
        };
        let mut wrong = Vec::new();
        for (label, body, expected) in [
            ("inline 1e999", inline("1e999"), "GRAPHQL_PARSE_FAILED"),
            ("inline -1e999", inline("-1e999"), "GRAPHQL_PARSE_FAILED"),
            ("inline NaN", inline("NaN"), "GRAPHQL_VALIDATION_FAILED"),
            (
                "inline \"NaN\"",
                inline("\"NaN\""),
                "GRAPHQL_VALIDATION_FAILED",
            ),
            ("variable 1e999", variables("1e999"), "BAD_REQUEST"),
            ("variable NaN", variables("NaN"), "BAD_REQUEST"),
            (
                "variable \"NaN\"",
                variables("\"NaN\""),
                "GRAPHQL_VALIDATION_FAILED",
            ),
            (
                "variable \"Infinity\"",
                variables("\"Infinity\""),
                "GRAPHQL_VALIDATION_FAILED",
            ),
        ] {
            let (status, response) = raw_post(&app, &body).await;
            assert!(
                status < 500,
                "[{engine:?}] {label}: HTTP {status}: {response}"
            );
            let code = refusal_code(&response);
            if code != expected {
                wrong.push(format!(
                    "{label}: {code}, not {expected}: HTTP {status}: {response}"
                ));
            }
        }
        assert!(wrong.is_empty(), "[{engine:?}] {wrong:#?}");
    }
}
