//! Every order and filter a list offers is served by an index.
//!
//! Each root connection of the schema is read, page by page (first page, the page after
//! its cursor, the last page), with each of its filters and orders in turn and with its
//! relations nested, on PostgreSQL. Every statement the application sends is then
//! EXPLAINed with sequential scans and sorts priced out (`enable_seqscan`,
//! `enable_sort` off): a plan that still scans a table of the network sequentially, or
//! sorts rows read from one, has no index to serve it. Which filters and orders exist
//! is read from the schema, so a new one without a case here fails the test.

use melt_tests::{Engine, Role, TestApp, engines, flow, spawn_app};
use sea_orm::{ConnectionTrait, DatabaseBackend, Statement, TransactionTrait};
use serde_json::{Value, json};
use std::collections::BTreeSet;

/// Tables small and bounded by nature (the geography of Tuscany, the taxonomies, the
/// migrations' own table): a sequential scan of them is no fault.
const SMALL_TABLES: &[&str] = &["territory", "territory_member", "term", "seaql_migrations"];

/// Whether a fault is the sort of the order by distance
/// (`services(orderBy: {field: DISTANCE})`): by the distance from a point the caller
/// gives, computed for each request — PostgreSQL shows the key as the column of the
/// joined `nearest` table or as the `min(...)` over the sites' coordinates it is,
/// depending on the plan. No B-tree index can hold such a key (a
/// nearest-neighbour index would need PostGIS, and SQLite has none), so the page sorts
/// the services inside the circle, and the page after a cursor filters them by it: that
/// sort, by that key first, is allowed, nothing else. The services inside the circle
/// are still read by index (their sites by the `(latitude, longitude)` range of the
/// circle's box), and a sequential scan there is a fault as anywhere.
fn sorts_by_distance(fault: &str) -> bool {
    let Some(keys) = fault.split_once("Sort by [").map(|(_, keys)| keys) else {
        return false;
    };
    let first_key = keys.split("\",\"").next().unwrap_or_default();
    let by_alias = first_key.starts_with("\"nearest.nearest_squared_km");
    let by_expression = first_key.starts_with("\"(min(")
        && first_key.contains("location.latitude")
        && first_key.contains("location.longitude");
    by_alias || by_expression
}

/// Who reads a list.
#[derive(Clone, Copy, Debug)]
enum Caller {
    Anonymous,
    /// An operator of the Pisa employment centre.
    Operator,
    /// An auditor of the Pisa employment centre.
    Auditor,
    /// An administrator of the Pisa employment centre.
    Admin,
}

/// One read of a list: `field(filter: $filter, orderBy: $order, ...)`.
struct Case {
    field: &'static str,
    filter_type: &'static str,
    filter: Value,
    order: Option<Value>,
    caller: Caller,
}

/// The nested selection read on each node of a list: every relation of the type.
fn selection(field: &str) -> &'static str {
    match field {
        "services" => {
            "id name provider { name } serviceTypes { code parent { code } } targetGroups { code }
             languages { code } serviceArea { name } locations { name } schedules { opensAt }
             zones { name } hubAreas { name }"
        }
        "organizations" => {
            "id name locationsConnection(first: 5) { nodes { name } } contacts { name }
             servicesConnection(first: 5) { nodes { name } }
             signatures { status protocol { title } } successions { predecessor { name } successor { name } }"
        }
        "protocols" => "id title supersedes { title } scope { name } signatories { status organization { name } }",
        "territories" => {
            "id name parent { name } municipalitiesConnection(first: 5) { nodes { name } }"
        }
        "terms" => "id code parent { code }",
        "persons" => "id givenName registeredBy { name } residenceMunicipality { name } languages { code } consents { purpose recipients { name } }",
        "referrals" => {
            "id status person { givenName } sender { name } receiverService { name } receiver { name }
             protocol { title } reroutedFrom { id } needs { code } consent { id }
             events { action actorOrganization { name } reason { code } }"
        }
        "auditLog" => "id operation actorOrganization { name }",
        "routingRules" => "id name need protocol { title } territory { name }",
        "workingGroups" => {
            "id name territory { name } lead { name } members { organization { name } }
             meetings { topics { title need { code } } attendance { organization { name } }
                        actions { owner { name } } }"
        }
        "events" => "eventId type subjectType subjectId occurredAt",
        "webhookEndpoints" => {
            "id url status organization { name } deliveries(first: 5) { nodes { state attempts { statusCode } } }"
        }
        "tombstones" => "subjectId subjectType reason removedAt",
        "locations" => "id name updatedAt municipality { name } organization { name }",
        "personAccessLog" => "personId purpose actorOrganization { name }",
        other => panic!("no selection for {other}"),
    }
}

/// The filter fields, orders and directions every root connection of the schema
/// offers, as `field`, `field.filter.<name>` and `field.orderBy.<FIELD>.<DIRECTION>`.
async fn offered(app: &TestApp) -> BTreeSet<String> {
    let type_ref = "name kind ofType { name kind ofType { name kind ofType { name kind } } }";
    let query = format!(
        "{{ __schema {{ queryType {{ fields {{ name type {{ {type_ref} }} args {{ name type {{ {type_ref} }} }} }} }} }}
           types: __schema {{ types {{ name inputFields {{ name type {{ {type_ref} }} }} enumValues {{ name }} }} }} }}"
    );
    let data = app.data(&query, json!({})).await;
    let named = |t: &Value| -> String {
        let mut t = t;
        while t["name"].is_null() {
            t = &t["ofType"];
        }
        t["name"].as_str().unwrap_or_default().to_owned()
    };
    let types = data["types"]["types"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let find = |name: &str| types.iter().find(|t| t["name"] == name).cloned();
    let mut offered = BTreeSet::new();
    for field in data["__schema"]["queryType"]["fields"]
        .as_array()
        .cloned()
        .unwrap_or_default()
    {
        if !named(&field["type"]).ends_with("Connection") {
            continue;
        }
        let name = field["name"].as_str().unwrap_or_default().to_owned();
        offered.insert(name.clone());
        for arg in field["args"].as_array().cloned().unwrap_or_default() {
            let input = find(&named(&arg["type"])).unwrap_or_default();
            match arg["name"].as_str() {
                Some("filter") => {
                    for f in input["inputFields"].as_array().cloned().unwrap_or_default() {
                        offered.insert(format!(
                            "{name}.filter.{}",
                            f["name"].as_str().unwrap_or_default()
                        ));
                    }
                }
                Some("orderBy") => {
                    let fields = input["inputFields"].as_array().cloned().unwrap_or_default();
                    let values = |input_field: &str| -> Vec<String> {
                        let t = fields
                            .iter()
                            .find(|f| f["name"] == input_field)
                            .map(|f| named(&f["type"]));
                        find(&t.unwrap_or_default()).unwrap_or_default()["enumValues"]
                            .as_array()
                            .cloned()
                            .unwrap_or_default()
                            .iter()
                            .map(|v| v["name"].as_str().unwrap_or_default().to_owned())
                            .collect()
                    };
                    for order in values("field") {
                        for direction in values("direction") {
                            offered.insert(format!("{name}.orderBy.{order}.{direction}"));
                        }
                    }
                }
                _ => {}
            }
        }
    }
    offered
}

/// What a case covers, in the terms of [`offered`].
fn covered(case: &Case) -> Vec<String> {
    let mut keys = vec![case.field.to_owned()];
    if let Some(filter) = case.filter.as_object() {
        keys.extend(filter.keys().map(|k| format!("{}.filter.{k}", case.field)));
    }
    if let Some(order) = &case.order {
        keys.push(format!(
            "{}.orderBy.{}.{}",
            case.field,
            order["field"].as_str().unwrap_or_default(),
            order["direction"].as_str().unwrap_or_default()
        ));
    }
    keys
}

/// Global IDs of demo rows the filters name.
struct Ids {
    organization: String,
    municipality: String,
    zone: String,
    hub_area: String,
    protocol: String,
    service: String,
    person: String,
}

async fn ids(app: &TestApp) -> Ids {
    let (person, _referral) = flow::sent_referral_for(app).await;
    // Tombstones to page through: public ones, and the Pisa employment centre's.
    let pisa = app.organization_id("Centro per l'impiego di Pisa").await;
    for _ in 0..3 {
        use melt_api::events::service::Audience;
        use melt_api::graphql::relay::NodeKind;
        use melt_api::sync::service::{Reason, record};
        let subject = (NodeKind::Service, uuid::Uuid::now_v7());
        record(&app.db, subject, Reason::Hidden, Audience::Public)
            .await
            .expect("public tombstone");
        let subject = (NodeKind::Referral, uuid::Uuid::now_v7());
        let audience = Audience::Organizations(vec![pisa]);
        record(&app.db, subject, Reason::Erased, audience)
            .await
            .expect("tombstone of an organization");
    }
    let data = app
        .data(
            r#"{ organizations(filter: {search: "Caritas"}, first: 1) { nodes { id } }
                 municipality(istatCode: "050026") { id }
                 territories(filter: {kinds: [ZONE]}, first: 1) { nodes { id } }
                 hubAreas: territories(filter: {kinds: [HUB_AREA]}, first: 1) { nodes { id } }
                 protocols(first: 1) { nodes { id } }
                 services(first: 1) { nodes { id } } }"#,
            json!({}),
        )
        .await;
    let id = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    Ids {
        organization: id(&data["organizations"]["nodes"][0]["id"]),
        municipality: id(&data["municipality"]["id"]),
        zone: id(&data["territories"]["nodes"][0]["id"]),
        hub_area: id(&data["hubAreas"]["nodes"][0]["id"]),
        protocol: id(&data["protocols"]["nodes"][0]["id"]),
        service: id(&data["services"]["nodes"][0]["id"]),
        person,
    }
}

fn cases(ids: &Ids) -> Vec<Case> {
    use Caller::{Admin, Anonymous, Auditor, Operator};
    let case = |field, filter_type, filter: Value, caller| Case {
        field,
        filter_type,
        filter,
        order: None,
        caller,
    };
    let mut cases = vec![
        case(
            "webhookEndpoints",
            "WebhookEndpointFilter",
            json!({}),
            Admin,
        ),
        case(
            "webhookEndpoints",
            "WebhookEndpointFilter",
            json!({"statuses": ["DISABLED"]}),
            Admin,
        ),
        case("events", "EventFilter", json!({}), Anonymous),
        case("events", "EventFilter", json!({}), Operator),
        case(
            "events",
            "EventFilter",
            json!({"types": ["referral.sent"]}),
            Operator,
        ),
        case("routingRules", "RoutingRuleFilter", json!({}), Anonymous),
        case("workingGroups", "WorkingGroupFilter", json!({}), Anonymous),
        case(
            "workingGroups",
            "WorkingGroupFilter",
            json!({"territory": ids.zone}),
            Anonymous,
        ),
        case(
            "workingGroups",
            "WorkingGroupFilter",
            json!({"organization": ids.organization}),
            Operator,
        ),
        case(
            "workingGroups",
            "WorkingGroupFilter",
            json!({"lead": ids.organization}),
            Anonymous,
        ),
        case(
            "workingGroups",
            "WorkingGroupFilter",
            json!({"statuses": ["ACTIVE"], "search": "tavolo"}),
            Anonymous,
        ),
        case(
            "routingRules",
            "RoutingRuleFilter",
            json!({"need": "EMPLOYMENT"}),
            Anonymous,
        ),
        case(
            "routingRules",
            "RoutingRuleFilter",
            json!({"protocol": ids.protocol}),
            Anonymous,
        ),
        case(
            "routingRules",
            "RoutingRuleFilter",
            json!({"regionWide": true}),
            Anonymous,
        ),
        case("territories", "TerritoryFilter", json!({}), Anonymous),
        case(
            "territories",
            "TerritoryFilter",
            json!({"kinds": ["ZONE"]}),
            Anonymous,
        ),
        case(
            "territories",
            "TerritoryFilter",
            json!({"search": "pisa"}),
            Anonymous,
        ),
        case(
            "territories",
            "TerritoryFilter",
            json!({"parent": ids.zone}),
            Anonymous,
        ),
        case(
            "territories",
            "TerritoryFilter",
            json!({"containsMunicipality": ids.municipality}),
            Anonymous,
        ),
        case(
            "terms",
            "TermFilter",
            json!({"taxonomies": ["NEED"]}),
            Anonymous,
        ),
        case(
            "terms",
            "TermFilter",
            json!({"search": "lavoro"}),
            Anonymous,
        ),
        case("organizations", "OrganizationFilter", json!({}), Anonymous),
        case(
            "organizations",
            "OrganizationFilter",
            json!({"kinds": ["EMPLOYMENT_CENTRE"]}),
            Anonymous,
        ),
        case(
            "organizations",
            "OrganizationFilter",
            json!({"sectors": ["THIRD_SECTOR"]}),
            Anonymous,
        ),
        case(
            "organizations",
            "OrganizationFilter",
            json!({"search": "pisa"}),
            Anonymous,
        ),
        case(
            "organizations",
            "OrganizationFilter",
            json!({"municipality": ids.municipality}),
            Anonymous,
        ),
        case(
            "organizations",
            "OrganizationFilter",
            json!({"signedProtocol": ids.protocol}),
            Anonymous,
        ),
        case(
            "organizations",
            "OrganizationFilter",
            json!({"territory": ids.zone}),
            Anonymous,
        ),
        case(
            "organizations",
            "OrganizationFilter",
            json!({"territory": ids.hub_area, "kinds": ["EMPLOYMENT_CENTRE"]}),
            Anonymous,
        ),
        case("protocols", "ProtocolFilter", json!({}), Anonymous),
        case(
            "protocols",
            "ProtocolFilter",
            json!({"statuses": ["IN_FORCE"]}),
            Anonymous,
        ),
        case(
            "protocols",
            "ProtocolFilter",
            json!({"organization": ids.organization}),
            Anonymous,
        ),
        case(
            "protocols",
            "ProtocolFilter",
            json!({"organization": ids.organization, "signatoryStatus": "SIGNED"}),
            Anonymous,
        ),
        case(
            "protocols",
            "ProtocolFilter",
            json!({"municipality": ids.municipality}),
            Anonymous,
        ),
        case(
            "protocols",
            "ProtocolFilter",
            json!({"search": "melt"}),
            Anonymous,
        ),
        case(
            "services",
            "ServiceFilter",
            json!({"serviceTypes": ["JOB_ORIENTATION"]}),
            Anonymous,
        ),
        case(
            "services",
            "ServiceFilter",
            json!({"targetGroups": ["FOREIGN_NATIONALS"]}),
            Anonymous,
        ),
        case(
            "services",
            "ServiceFilter",
            json!({"languages": ["it"]}),
            Anonymous,
        ),
        case(
            "services",
            "ServiceFilter",
            json!({"municipality": ids.municipality}),
            Anonymous,
        ),
        case(
            "services",
            "ServiceFilter",
            json!({"municipalityIstatCode": "050026"}),
            Anonymous,
        ),
        case(
            "services",
            "ServiceFilter",
            json!({"territory": ids.zone}),
            Anonymous,
        ),
        case(
            "services",
            "ServiceFilter",
            json!({"deliveryModes": ["IN_PERSON"]}),
            Anonymous,
        ),
        case(
            "services",
            "ServiceFilter",
            json!({"provider": ids.organization}),
            Anonymous,
        ),
        case(
            "services",
            "ServiceFilter",
            json!({"providerKinds": ["EMPLOYMENT_CENTRE", "THIRD_SECTOR_BODY"]}),
            Anonymous,
        ),
        case(
            "services",
            "ServiceFilter",
            json!({"statuses": ["ACTIVE"]}),
            Anonymous,
        ),
        case(
            "services",
            "ServiceFilter",
            json!({"hasOpenPlaces": true}),
            Anonymous,
        ),
        case(
            "services",
            "ServiceFilter",
            json!({"search": "lavoro"}),
            Anonymous,
        ),
        case(
            "services",
            "ServiceFilter",
            json!({"near": {"latitude": 43.716, "longitude": 10.401, "radiusKm": 25.0}}),
            Anonymous,
        ),
        case("persons", "PersonFilter", json!({}), Operator),
        case(
            "persons",
            "PersonFilter",
            json!({"codiceFiscale": "RSSMRA85T10A562S"}),
            Operator,
        ),
        case("auditLog", "AuditLogFilter", json!({}), Auditor),
        case(
            "auditLog",
            "AuditLogFilter",
            json!({"actor": "someone"}),
            Auditor,
        ),
        case(
            "auditLog",
            "AuditLogFilter",
            json!({"organization": ids.organization}),
            Auditor,
        ),
        case(
            "auditLog",
            "AuditLogFilter",
            json!({"object": ids.organization}),
            Auditor,
        ),
        case(
            "auditLog",
            "AuditLogFilter",
            json!({"operation": "createReferral"}),
            Auditor,
        ),
        case(
            "auditLog",
            "AuditLogFilter",
            json!({"from": "2020-01-01T00:00:00Z", "to": "2030-01-01T00:00:00Z"}),
            Auditor,
        ),
        case(
            "personAccessLog",
            "PersonAccessLogFilter",
            json!({}),
            Auditor,
        ),
        case(
            "personAccessLog",
            "PersonAccessLogFilter",
            json!({"person": ids.person}),
            Auditor,
        ),
        case(
            "personAccessLog",
            "PersonAccessLogFilter",
            json!({"actor": "someone"}),
            Auditor,
        ),
        case(
            "personAccessLog",
            "PersonAccessLogFilter",
            json!({"organization": ids.organization}),
            Auditor,
        ),
        case(
            "personAccessLog",
            "PersonAccessLogFilter",
            json!({"from": "2020-01-01T00:00:00Z", "to": "2030-01-01T00:00:00Z"}),
            Auditor,
        ),
    ];
    for direction in ["INBOX", "OUTBOX"] {
        for (key, value) in [
            ("direction", json!(direction)),
            ("statuses", json!(["SENT", "RECEIVED"])),
            ("service", json!(ids.service)),
            ("person", json!(ids.person)),
            ("dueBefore", json!("2030-01-01T00:00:00Z")),
            ("priorities", json!(["URGENT", "NORMAL"])),
        ] {
            let mut filter = json!({ "direction": direction });
            filter[key] = value;
            cases.push(case("referrals", "ReferralFilter!", filter, Operator));
        }
    }
    let since = "2020-01-01T00:00:00Z";
    for direction in ["INBOX", "OUTBOX"] {
        let filter = json!({ "direction": direction, "updatedSince": since });
        cases.push(case("referrals", "ReferralFilter!", filter, Operator));
    }
    cases.extend([
        case(
            "services",
            "ServiceFilter",
            json!({"updatedSince": since}),
            Anonymous,
        ),
        case(
            "organizations",
            "OrganizationFilter",
            json!({"updatedSince": since}),
            Anonymous,
        ),
        case(
            "protocols",
            "ProtocolFilter",
            json!({"updatedSince": since}),
            Anonymous,
        ),
        case("locations", "LocationFilter", json!({}), Anonymous),
        case(
            "locations",
            "LocationFilter",
            json!({"organization": ids.organization}),
            Anonymous,
        ),
        case(
            "locations",
            "LocationFilter",
            json!({"updatedSince": since}),
            Anonymous,
        ),
        case("tombstones", "TombstoneFilter", json!({}), Anonymous),
        case("tombstones", "TombstoneFilter", json!({}), Operator),
        case(
            "tombstones",
            "TombstoneFilter",
            json!({"types": ["REFERRAL"]}),
            Operator,
        ),
        case(
            "tombstones",
            "TombstoneFilter",
            json!({"since": since}),
            Operator,
        ),
    ]);
    let orders: [(&str, &str, Value, &[&str]); 5] = [
        (
            "services",
            "ServiceFilter",
            json!({}),
            &["NAME", "CREATED_AT", "UPDATED_AT"],
        ),
        (
            "organizations",
            "OrganizationFilter",
            json!({}),
            &["NAME", "UPDATED_AT"],
        ),
        (
            "protocols",
            "ProtocolFilter",
            json!({}),
            &["TITLE", "UPDATED_AT"],
        ),
        (
            "locations",
            "LocationFilter",
            json!({}),
            &["NAME", "UPDATED_AT"],
        ),
        (
            "referrals",
            "ReferralFilter!",
            json!({"direction": "INBOX"}),
            &["URGENCY", "UPDATED_AT"],
        ),
    ];
    for (field, filter_type, filter, fields) in orders {
        let caller = if field == "referrals" {
            Operator
        } else {
            Anonymous
        };
        for order in fields {
            for direction in ["ASC", "DESC"] {
                cases.push(Case {
                    order: Some(json!({ "field": order, "direction": direction })),
                    ..case(field, filter_type, filter.clone(), caller)
                });
            }
        }
    }
    // Services by distance: the order needs a `near` circle, alone and with coverage.
    let near = json!({"latitude": 43.716, "longitude": 10.401, "radiusKm": 25.0});
    for (filter, direction) in [
        (json!({ "near": near }), "ASC"),
        (json!({ "near": near }), "DESC"),
        (
            json!({ "near": near, "municipality": ids.municipality }),
            "ASC",
        ),
    ] {
        cases.push(Case {
            order: Some(json!({ "field": "DISTANCE", "direction": direction })),
            ..case("services", "ServiceFilter", filter, Anonymous)
        });
    }
    // The outbox in its orders too (the sender's indexes).
    for order in ["URGENCY", "UPDATED_AT"] {
        cases.push(Case {
            order: Some(json!({ "field": order, "direction": "ASC" })),
            ..case(
                "referrals",
                "ReferralFilter!",
                json!({"direction": "OUTBOX"}),
                Operator,
            )
        });
    }
    cases
}

/// The GraphQL type of a list's `orderBy` argument.
fn order_type(field: &str) -> &'static str {
    match field {
        "services" => "ServiceOrderBy",
        "organizations" => "OrganizationOrderBy",
        "protocols" => "ProtocolOrderBy",
        "locations" => "LocationOrderBy",
        "referrals" => "ReferralOrderBy",
        other => panic!("no order type for {other}"),
    }
}

/// The plan's faults: sequential scans of a network table anywhere, and sorts of rows
/// read from one below a LIMIT (a page whose order no index gives). Batch loads of a
/// page's relations may sort: they read a bounded set, by index, with no LIMIT.
/// Returns the network tables the node reads.
pub(crate) fn faults(plan: &Value, limited: bool, faults: &mut Vec<String>) -> BTreeSet<String> {
    let node = plan["Node Type"].as_str().unwrap_or_default();
    let limited = limited || node == "Limit";
    let mut scanned = BTreeSet::new();
    for child in plan["Plans"].as_array().into_iter().flatten() {
        scanned.extend(self::faults(child, limited, faults));
    }
    if let Some(relation) = plan["Relation Name"].as_str()
        && !SMALL_TABLES.contains(&relation)
    {
        if node == "Seq Scan" {
            faults.push(format!("sequential scan of {relation}"));
        }
        scanned.insert(relation.to_owned());
    }
    if limited && node.ends_with("Sort") && !scanned.is_empty() {
        faults.push(format!(
            "{node} by {} of rows of {scanned:?}",
            plan["Sort Key"]
        ));
    }
    scanned
}

/// EXPLAINs `statement` with sequential scans and sorts priced out.
pub(crate) async fn explain(app: &TestApp, statement: &Statement) -> Value {
    let txn = app.db.begin().await.expect("begin");
    txn.execute_unprepared("SET LOCAL enable_seqscan = off; SET LOCAL enable_sort = off")
        .await
        .expect("set planner options");
    let row = txn
        .query_one_raw(Statement {
            sql: format!("EXPLAIN (FORMAT JSON) {}", statement.sql),
            ..statement.clone()
        })
        .await
        .unwrap_or_else(|e| panic!("EXPLAIN {}: {e}", statement.sql))
        .expect("a plan");
    let plan: Value = row.try_get("", "QUERY PLAN").expect("JSON plan");
    txn.rollback().await.expect("rollback");
    plan[0]["Plan"].clone()
}

async fn token(app: &TestApp, caller: Caller) -> Option<String> {
    let pisa = app.organization_id("Centro per l'impiego di Pisa").await;
    match caller {
        Caller::Anonymous => None,
        Caller::Operator => Some(app.token(Some(pisa), &[Role::Operator])),
        Caller::Auditor => Some(app.token(Some(pisa), &[Role::Auditor])),
        Caller::Admin => Some(app.token(Some(pisa), &[Role::OrgAdmin])),
    }
}

/// True when some scan of the plan starts its index range at a row value (`ROW(...) >
/// ROW(...)` in its `Index Cond`): how a page after a cursor should read.
fn seeks_by_row_value(plan: &Value) -> bool {
    plan["Index Cond"]
        .as_str()
        .is_some_and(|condition| condition.contains("ROW("))
        || plan["Plans"]
            .as_array()
            .into_iter()
            .flatten()
            .any(seeks_by_row_value)
}

/// Reads the first page, the page after it and the last page of `case`; returns the
/// statements the application ran for them, each marked when it served the page after
/// the first page's cursor (none is when the list is empty: no cursor).
async fn read(app: &TestApp, case: &Case) -> Vec<(Statement, bool)> {
    let order = if case.order.is_some() {
        ", orderBy: $order"
    } else {
        ""
    };
    let order_var = if case.order.is_some() {
        format!(", $order: {}", order_type(case.field))
    } else {
        String::new()
    };
    let query = format!(
        "query($filter: {}{order_var}, $first: Int, $after: String, $last: Int) {{
           {}(filter: $filter{order}, first: $first, after: $after, last: $last) {{
             totalCount pageInfo {{ endCursor }} nodes {{ {} }} }} }}",
        case.filter_type,
        case.field,
        selection(case.field)
    );
    let token = token(app, case.caller).await;
    let run = async |variables: Value| -> Value {
        let body = match &token {
            Some(token) => app.query_as(token, &query, variables).await.1,
            None => app.query(&query, variables).await,
        };
        assert!(body["errors"].is_null(), "{}: {body}", case.field);
        body["data"][case.field].clone()
    };
    app.record_statements();
    let vars = |extra: Value| {
        let mut v = json!({ "filter": case.filter, "order": case.order });
        for (k, x) in extra.as_object().into_iter().flatten() {
            v[k] = x.clone();
        }
        v
    };
    let marked = |after_cursor: bool| {
        let statements = app.recorded_statements();
        app.record_statements();
        statements.into_iter().map(move |s| (s, after_cursor))
    };
    let first = run(vars(json!({ "first": 2 }))).await;
    let mut all: Vec<_> = marked(false).collect();
    let cursor = first["pageInfo"]["endCursor"].clone();
    run(vars(json!({ "first": 2, "after": cursor }))).await;
    all.extend(marked(!cursor.is_null()));
    run(vars(json!({ "last": 2 }))).await;
    all.extend(marked(false));
    all
}

/// The statement that reads a page (ordered and limited, not a lookup by key).
fn is_page(statement: &Statement) -> bool {
    let sql = statement.sql.to_ascii_uppercase();
    sql.trim_start().starts_with("SELECT") && sql.contains(" ORDER BY ") && sql.contains(" LIMIT ")
}

#[tokio::test]
async fn every_list_order_and_filter_is_served_by_an_index_on_postgresql() {
    if !engines().contains(&Engine::Postgres) {
        // The plans are PostgreSQL's; `.ci/run` always sets TEST_DATABASE_URL.
        return;
    }
    let app = spawn_app(Engine::Postgres).await;
    let ids = ids(&app).await;
    let cases = cases(&ids);

    let offered = offered(&app).await;
    let covered: BTreeSet<String> = cases.iter().flat_map(covered).collect();
    let missing: Vec<_> = offered.difference(&covered).collect();
    assert!(
        missing.is_empty(),
        "lists, filters or orders without a case here: {missing:?}"
    );

    let mut problems = BTreeSet::new();
    let mut explained = 0;
    let mut seeks = 0;
    for case in &cases {
        let by_distance = case
            .order
            .as_ref()
            .is_some_and(|order| order["field"] == "DISTANCE");
        for (statement, after_cursor) in read(&app, case).await {
            let sql = statement.sql.trim_start().to_ascii_uppercase();
            if !(sql.starts_with("SELECT") || sql.starts_with("UPDATE")) {
                continue;
            }
            assert_eq!(statement.db_backend, DatabaseBackend::Postgres);
            let plan = explain(&app, &statement).await;
            explained += 1;
            let mut found = Vec::new();
            let network_tables = faults(&plan, false, &mut found);
            // A page after a cursor starts where the cursor is, not at the list's
            // start (the small tables need no index).
            if by_distance {
                found.retain(|fault| !sorts_by_distance(fault));
            }
            if after_cursor && is_page(&statement) && !network_tables.is_empty() && !by_distance {
                seeks += 1;
                if !seeks_by_row_value(&plan) {
                    found.push("the page after a cursor does not seek to it in an index".into());
                }
            }
            for fault in found {
                problems.insert(format!(
                    "{} {}: {fault}\n    {}",
                    case.field, case.filter, statement.sql
                ));
            }
        }
    }
    assert!(
        explained > cases.len(),
        "only {explained} statements explained"
    );
    assert!(
        seeks * 2 > cases.len(),
        "only {seeks} pages after a cursor explained"
    );
    assert!(
        problems.is_empty(),
        "{} plans without an index:\n{}",
        problems.len(),
        problems.into_iter().collect::<Vec<_>>().join("\n")
    );
}

#[tokio::test]
async fn every_hsds_list_and_its_modified_after_filter_is_served_by_an_index_on_postgresql() {
    if !engines().contains(&Engine::Postgres) {
        return;
    }
    let app = spawn_app(Engine::Postgres).await;
    // Public tombstones for `modified_after` readers, of services and of sites.
    for kind in [
        melt_api::graphql::relay::NodeKind::Service,
        melt_api::graphql::relay::NodeKind::Location,
    ] {
        for _ in 0..3 {
            melt_api::sync::service::record(
                &app.db,
                (kind, uuid::Uuid::now_v7()),
                melt_api::sync::service::Reason::Deleted,
                melt_api::events::service::Audience::Public,
            )
            .await
            .expect("tombstone");
        }
    }
    let since = "modified_after=2020-01-01T00:00:00Z";
    let mut problems = BTreeSet::new();
    let mut explained = 0;
    for list in [
        "services",
        "organizations",
        "locations",
        "service_at_locations",
        "taxonomies",
        "taxonomy_terms",
    ] {
        // The first page, a later one, and with modified_after the page of live
        // objects and the page of tombstones past them.
        for query in [
            "per_page=2".to_owned(),
            "page=3&per_page=2".to_owned(),
            format!("per_page=2&{since}"),
            format!("page=5000&per_page=2&{since}"),
        ] {
            app.record_statements();
            let url = format!("{}/hsds/{list}?{query}", app.address);
            let response = app.client.get(&url).send().await.expect("request");
            assert_eq!(response.status().as_u16(), 200, "{url}");
            for statement in app.recorded_statements() {
                if !statement
                    .sql
                    .trim_start()
                    .to_ascii_uppercase()
                    .starts_with("SELECT")
                {
                    continue;
                }
                let plan = explain(&app, &statement).await;
                explained += 1;
                let mut found = Vec::new();
                faults(&plan, false, &mut found);
                for fault in found {
                    problems.insert(format!(
                        "/hsds/{list}?{query}: {fault}\n    {}",
                        statement.sql
                    ));
                }
            }
        }
    }
    assert!(explained > 24, "only {explained} statements explained");
    assert!(
        problems.is_empty(),
        "{} plans without an index:\n{}",
        problems.len(),
        problems.into_iter().collect::<Vec<_>>().join("\n")
    );
}

#[tokio::test]
async fn postgresql_sessions_plan_each_statement_with_its_values_and_without_jit() {
    if !engines().contains(&Engine::Postgres) {
        // Session settings of PostgreSQL; `.ci/run` always sets TEST_DATABASE_URL.
        return;
    }
    let app = spawn_app(Engine::Postgres).await;
    // Every connection of the pool, not only the first: four held at once.
    let txns = futures_util::future::join_all((0..4).map(|_| app.db.begin())).await;
    for txn in txns {
        let txn = txn.unwrap();
        for (name, wanted) in melt_api::db::POSTGRES_SESSION {
            let row = txn
                .query_one_raw(Statement::from_string(
                    DatabaseBackend::Postgres,
                    format!("SELECT current_setting('{name}') AS value"),
                ))
                .await
                .unwrap()
                .unwrap();
            let value: String = row.try_get("", "value").unwrap();
            assert_eq!(value, wanted, "{name}");
        }
        txn.rollback().await.unwrap();
    }
}
