//! The citizen's directory (issue 13): the zones and hub areas a service belongs to,
//! services ordered and paged by distance, `near` with coverage as one filter,
//! organizations by territory, services by their provider's kind.
//!
//! Expectations are derived from what the API says elsewhere (each service's area and
//! sites, each territory's municipalities and validity, each organization's sites and
//! kind), never copied from the seed.

use melt_tests::{Role, TestApp, first_error_code, on_every_engine, user_errors};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// Pages of services with what the new fields and filters are checked against.
const SERVICES: &str = "query($filter: ServiceFilter, $orderBy: ServiceOrderBy,
        $first: Int, $after: String, $last: Int, $before: String) {
    conn: services(filter: $filter, orderBy: $orderBy, first: $first, after: $after,
                   last: $last, before: $before) {
        totalCount
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
        edges { cursor distanceKm node {
            id name
            provider { id kind }
            serviceArea { id }
            locations { latitude longitude }
            zones { id kind code }
            hubAreas { id kind code }
        } }
    }
}";

const ORGANIZATIONS: &str = "query($filter: OrganizationFilter, $orderBy: OrganizationOrderBy,
        $first: Int, $after: String, $last: Int, $before: String) {
    conn: organizations(filter: $filter, orderBy: $orderBy, first: $first, after: $after,
                        last: $last, before: $before) {
        totalCount
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
        edges { cursor node { id name kind sector locations { municipality { id } } } }
    }
}";

const TERRITORIES: &str = "query($filter: TerritoryFilter,
        $first: Int, $after: String, $last: Int, $before: String) {
    conn: territories(filter: $filter, first: $first, after: $after, last: $last,
                      before: $before) {
        totalCount
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
        edges { cursor node { id kind code name validFrom validTo municipalities { id } } }
    }
}";

/// Pisa's centre.
const PISA: (f64, f64) = (43.7167, 10.4017);

/// Walks the connection `conn` of `query` to its end with pages of `size`, forwards
/// (`first`/`after`) or backwards (`last`/`before`), checking that `totalCount` stays
/// the same, that it is the number of edges walked and that no node comes twice.
/// Returns the edges in list order.
async fn walk(
    app: &TestApp,
    query: &str,
    variables: Value,
    size: usize,
    backward: bool,
) -> Vec<Value> {
    let engine = app.engine;
    let mut variables = variables;
    let mut edges: Vec<Value> = Vec::new();
    let mut cursor: Option<String> = None;
    let mut total = None;
    for _ in 0..1000 {
        let (count, position) = if backward {
            ("last", "before")
        } else {
            ("first", "after")
        };
        variables[count] = json!(size);
        variables[position] = json!(cursor);
        let body = app.query(query, variables.clone()).await;
        assert!(body["errors"].is_null(), "[{engine:?}] {variables}: {body}");
        let conn = &body["data"]["conn"];
        let page_total = conn["totalCount"].as_u64();
        assert!(page_total.is_some(), "[{engine:?}] no totalCount: {conn}");
        if total.is_some() {
            assert_eq!(
                total, page_total,
                "[{engine:?}] totalCount changed between pages"
            );
        }
        total = page_total;
        let page = conn["edges"].as_array().cloned().unwrap_or_default();
        assert!(
            page.len() <= size,
            "[{engine:?}] page of {} for {size}",
            page.len()
        );
        let more = if backward {
            conn["pageInfo"]["hasPreviousPage"].as_bool()
        } else {
            conn["pageInfo"]["hasNextPage"].as_bool()
        };
        let more = more.unwrap_or_else(|| panic!("[{engine:?}] no pageInfo: {conn}"));
        if more {
            assert_eq!(
                page.len(),
                size,
                "[{engine:?}] a page before the end is not full"
            );
        }
        if backward {
            edges.splice(0..0, page);
            cursor = conn["pageInfo"]["startCursor"].as_str().map(str::to_owned);
        } else {
            edges.extend(page);
            cursor = conn["pageInfo"]["endCursor"].as_str().map(str::to_owned);
        }
        if !more {
            assert_eq!(Some(edges.len() as u64), total, "[{engine:?}] totalCount");
            let distinct: BTreeSet<String> = edges.iter().map(|e| id(&e["node"])).collect();
            assert_eq!(
                distinct.len(),
                edges.len(),
                "[{engine:?}] a node came twice"
            );
            return edges;
        }
    }
    panic!("[{engine:?}] paging did not end after 1000 pages")
}

/// Every node of the list with this filter.
async fn nodes(app: &TestApp, query: &str, filter: Value) -> Vec<Value> {
    walk(app, query, json!({ "filter": filter }), 100, false)
        .await
        .into_iter()
        .map(|edge| edge["node"].clone())
        .collect()
}

fn id(node: &Value) -> String {
    node["id"]
        .as_str()
        .unwrap_or_else(|| panic!("node without id: {node}"))
        .to_owned()
}

fn ids(nodes: &[Value]) -> BTreeSet<String> {
    nodes.iter().map(id).collect()
}

/// The ids of the objects of a list field of `node`.
fn ids_in(node: &Value, field: &str) -> BTreeSet<String> {
    node[field]
        .as_array()
        .unwrap_or_else(|| panic!("no list {field} in {node}"))
        .iter()
        .map(id)
        .collect()
}

/// The ids of the municipalities where an organization has a site.
fn site_municipalities(organization: &Value) -> BTreeSet<String> {
    organization["locations"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|site| site["municipality"]["id"].as_str().map(str::to_owned))
        .collect()
}

/// Great-circle distance in km (not the API's projection: an independent measure).
fn haversine_km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (phi1, phi2) = (lat1.to_radians(), lat2.to_radians());
    let dphi = (lat2 - lat1).to_radians();
    let dlambda = (lon2 - lon1).to_radians();
    let a = (dphi / 2.0).sin().powi(2) + phi1.cos() * phi2.cos() * (dlambda / 2.0).sin().powi(2);
    2.0 * 6371.0 * a.sqrt().asin()
}

/// Great-circle distance in km from Pisa to a service's nearest located site.
fn nearest_site_km(node: &Value) -> Option<f64> {
    node["locations"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|site| Some((site["latitude"].as_f64()?, site["longitude"].as_f64()?)))
        .map(|(lat, lon)| haversine_km(PISA.0, PISA.1, lat, lon))
        .reduce(f64::min)
}

fn near_pisa(radius_km: f64) -> Value {
    json!({ "latitude": PISA.0, "longitude": PISA.1, "radiusKm": radius_km })
}

fn distance(edge: &Value) -> f64 {
    edge["distanceKm"]
        .as_f64()
        .unwrap_or_else(|| panic!("no distanceKm on {edge}"))
}

/// Every zone and hub area, with its municipalities and validity.
async fn groupings(app: &TestApp) -> Vec<Value> {
    nodes(app, TERRITORIES, json!({ "kinds": ["ZONE", "HUB_AREA"] })).await
}

/// Whether a grouping is in force today (dates are `YYYY-MM-DD`, compared as text).
fn in_force_today(grouping: &Value) -> bool {
    let today = chrono::Utc::now().date_naive().to_string();
    let from_ok = grouping["validFrom"]
        .as_str()
        .is_none_or(|from| from <= today.as_str());
    let to_ok = grouping["validTo"]
        .as_str()
        .is_none_or(|to| to >= today.as_str());
    from_ok && to_ok
}

/// A token of the regional administration.
async fn regional_admin(app: &TestApp) -> String {
    let regione = app.organization_id("Regione Toscana").await;
    app.token(Some(regione), &[Role::RegionalAdmin])
}

/// Creates a grouping of Pisa and Cascina through the API; returns its global ID.
async fn create_grouping(app: &TestApp, kind: &str, code: &str, dates: (Value, Value)) -> String {
    let mutation = "mutation($input: CreateTerritoryGroupingInput!) {
        createTerritoryGrouping(input: $input) { territory { id } userErrors { field code } } }";
    let input = json!({
        "kind": kind, "code": code, "name": format!("Prova {code}"),
        "validFrom": dates.0, "validTo": dates.1,
        "municipalityIstatCodes": ["050026", "050008"]
    });
    let token = regional_admin(app).await;
    let (_, body) = app
        .query_as(&token, mutation, json!({ "input": input }))
        .await;
    let payload = &body["data"]["createTerritoryGrouping"];
    assert_eq!(user_errors(payload), vec![], "[{:?}] {body}", app.engine);
    id(&payload["territory"])
}

// ---------------------------------------------------------------------------------
// Zones and hub areas of a service
// ---------------------------------------------------------------------------------

#[tokio::test]
async fn a_service_belongs_to_the_zones_and_hub_areas_in_force_that_its_area_reaches() {
    on_every_engine(async |engine, app| {
        // Groupings of Pisa: one in force, one expired, one not yet in force.
        let in_force =
            create_grouping(&app, "ZONE", "ZONA_IN_VIGORE", (json!(null), json!(null))).await;
        let expired = create_grouping(
            &app,
            "ZONE",
            "ZONA_SCADUTA",
            (json!("2001-01-01"), json!("2001-12-31")),
        )
        .await;
        let future = create_grouping(
            &app,
            "HUB_AREA",
            "AREA_FUTURA",
            (json!("2999-01-01"), json!(null)),
        )
        .await;
        let groupings = groupings(&app).await;
        let members: BTreeMap<String, (String, BTreeSet<String>)> = groupings
            .iter()
            .filter(|g| in_force_today(g))
            .map(|g| {
                (
                    id(g),
                    (
                        g["kind"].as_str().unwrap_or_default().to_owned(),
                        ids_in(g, "municipalities"),
                    ),
                )
            })
            .collect();
        assert!(
            members.contains_key(&in_force),
            "[{engine:?}] {groupings:?}"
        );
        assert!(!members.contains_key(&expired) && !members.contains_key(&future));

        let services = nodes(&app, SERVICES, Value::Null).await;
        let (mut with_zone, mut without_zone) = (0, 0);
        let mut hub_areas_shown = BTreeSet::new();
        for service in &services {
            let area = ids_in(service, "serviceArea");
            for (field, kind) in [("zones", "ZONE"), ("hubAreas", "HUB_AREA")] {
                let expected: BTreeSet<String> = members
                    .iter()
                    .filter(|(_, (k, municipalities))| {
                        k == kind && !municipalities.is_disjoint(&area)
                    })
                    .map(|(id, _)| id.clone())
                    .collect();
                let got = ids_in(service, field);
                assert_eq!(got, expected, "[{engine:?}] {field} of {}", service["name"]);
                let listed = service[field].as_array().cloned().unwrap_or_default();
                assert!(
                    listed.iter().all(|g| g["kind"] == kind),
                    "[{engine:?}] {listed:?}"
                );
                let codes: Vec<&str> = listed.iter().filter_map(|g| g["code"].as_str()).collect();
                assert!(codes.is_sorted(), "[{engine:?}] {field} by code: {codes:?}");
            }
            if service["zones"].as_array().is_some_and(|z| z.is_empty()) {
                without_zone += 1;
            } else {
                with_zone += 1;
            }
            hub_areas_shown.extend(ids_in(service, "hubAreas"));
        }
        assert!(
            with_zone > 0 && without_zone > 0,
            "[{engine:?}] some services are in a zone ({with_zone}), some in none ({without_zone})"
        );
        assert!(
            hub_areas_shown.len() >= 2,
            "[{engine:?}] services of several hub areas: {hub_areas_shown:?}"
        );
        let in_new_zone = services
            .iter()
            .filter(|s| ids_in(s, "zones").contains(&in_force))
            .count();
        assert!(in_new_zone > 0, "[{engine:?}] the new zone has services");
        assert!(
            services
                .iter()
                .all(|s| !ids_in(s, "zones").contains(&expired)),
            "[{engine:?}] an expired zone is still shown"
        );
    })
    .await;
}

#[tokio::test]
async fn the_services_of_a_zone_or_hub_area_are_those_that_list_it() {
    on_every_engine(async |engine, app| {
        let services = nodes(&app, SERVICES, Value::Null).await;
        let groupings = groupings(&app).await;
        assert!(
            groupings.len() >= 6,
            "[{engine:?}] zones and hub areas: {groupings:?}"
        );
        for grouping in &groupings {
            let field = if grouping["kind"] == "ZONE" {
                "zones"
            } else {
                "hubAreas"
            };
            let listing: BTreeSet<String> = services
                .iter()
                .filter(|s| ids_in(s, field).contains(&id(grouping)))
                .map(id)
                .collect();
            let filtered = nodes(&app, SERVICES, json!({ "territory": id(grouping) })).await;
            assert_eq!(ids(&filtered), listing, "[{engine:?}] {}", grouping["name"]);
            assert!(
                !listing.is_empty(),
                "[{engine:?}] {} has services",
                grouping["name"]
            );
        }
    })
    .await;
}

// ---------------------------------------------------------------------------------
// Distance
// ---------------------------------------------------------------------------------

#[tokio::test]
async fn services_ordered_by_distance_come_nearest_first_and_page_through_every_one_once() {
    on_every_engine(async |engine, app| {
        let filter = json!({ "near": near_pisa(40.0) });
        let unordered = walk(&app, SERVICES, json!({ "filter": filter }), 100, false).await;
        let by_name: BTreeMap<String, f64> = unordered
            .iter()
            .map(|e| (id(&e["node"]), distance(e)))
            .collect();
        assert!(
            unordered.len() > 6,
            "[{engine:?}] too few services near Pisa to page"
        );

        let ascending =
            json!({ "filter": filter, "orderBy": {"field": "DISTANCE", "direction": "ASC"} });
        let nearest_first = walk(&app, SERVICES, ascending.clone(), 3, false).await;
        let order: Vec<String> = nearest_first.iter().map(|e| id(&e["node"])).collect();
        assert_eq!(
            order.iter().cloned().collect::<BTreeSet<_>>(),
            by_name.keys().cloned().collect(),
            "[{engine:?}] the same services as the near filter in any order"
        );
        let distances: Vec<f64> = nearest_first.iter().map(distance).collect();
        assert!(
            distances.windows(2).all(|w| w[0] <= w[1]),
            "[{engine:?}] not nearest first: {distances:?}"
        );
        assert!(
            distances.first() < distances.last(),
            "[{engine:?}] {distances:?}"
        );
        for edge in &nearest_first {
            let shown = by_name[&id(&edge["node"])];
            assert!(
                (distance(edge) - shown).abs() <= 0.011,
                "[{engine:?}] {edge} vs {shown}"
            );
            // Against the great circle, independently of the API's projection.
            let great_circle = nearest_site_km(&edge["node"]).unwrap_or(f64::NAN);
            assert!(
                (distance(edge) - great_circle).abs() <= 0.05 + great_circle * 0.01,
                "[{engine:?}] {edge}: {great_circle} km by the great circle"
            );
        }
        // Backwards, the same list; descending, its reverse (ties broken by id both
        // ways).
        let backwards = walk(&app, SERVICES, ascending, 4, true).await;
        let backwards: Vec<String> = backwards.iter().map(|e| id(&e["node"])).collect();
        assert_eq!(backwards, order, "[{engine:?}] backward pages");
        let descending =
            json!({ "filter": filter, "orderBy": {"field": "DISTANCE", "direction": "DESC"} });
        let farthest_first = walk(&app, SERVICES, descending, 5, false).await;
        let mut reversed: Vec<String> = farthest_first.iter().map(|e| id(&e["node"])).collect();
        reversed.reverse();
        assert_eq!(reversed, order, "[{engine:?}] DESC is the reverse of ASC");
    })
    .await;
}

#[tokio::test]
async fn a_page_by_distance_starts_after_its_cursor_even_when_services_are_added_before_it() {
    on_every_engine(async |engine, app| {
        let variables = json!({
            "filter": { "near": near_pisa(40.0) },
            "orderBy": { "field": "DISTANCE" },
            "first": 4
        });
        let first = app.data(SERVICES, variables.clone()).await;
        let first_ids: Vec<String> = first["conn"]["edges"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| id(&e["node"]))
            .collect();
        let cursor = first["conn"]["pageInfo"]["endCursor"].clone();
        let mut next = variables.clone();
        next["after"] = cursor.clone();
        let before = app.data(SERVICES, next.clone()).await["conn"]["edges"].clone();
        // A new service at the very centre sorts first: the page after the cursor
        // does not change.
        let centre = ("050026", PISA.0, PISA.1);
        let created = service_at(&app, "Centro per l'impiego di Pisa", centre, &["050026"]).await;
        let first_again = app.data(SERVICES, variables).await;
        assert_eq!(
            id(&first_again["conn"]["edges"][0]["node"]),
            created,
            "[{engine:?}] the new service is the nearest"
        );
        let after = app.data(SERVICES, next).await["conn"]["edges"].clone();
        assert_eq!(
            after, before,
            "[{engine:?}] the page after the cursor moved"
        );
        assert!(!first_ids.contains(&created));
    })
    .await;
}

#[tokio::test]
async fn ordering_by_distance_without_near_is_bad_user_input() {
    on_every_engine(async |engine, app| {
        for direction in ["ASC", "DESC"] {
            let body = app
                .query(
                    SERVICES,
                    json!({ "filter": { "statuses": ["ACTIVE"] },
                            "orderBy": { "field": "DISTANCE", "direction": direction } }),
                )
                .await;
            assert_eq!(
                first_error_code(&body),
                "BAD_USER_INPUT",
                "[{engine:?}] {body}"
            );
            let message = body["errors"][0]["message"].as_str().unwrap_or_default();
            assert!(
                message.contains("near"),
                "[{engine:?}] says what is missing: {message}"
            );
        }
    })
    .await;
}

/// Creates, as `organization`'s administrator, a site at `(latitude, longitude)` in the
/// municipality `istat_code` and a service delivered there for `area`; returns the
/// service's global ID.
async fn service_at(
    app: &TestApp,
    organization: &str,
    (istat_code, latitude, longitude): (&str, f64, f64),
    area: &[&str],
) -> String {
    let admin = melt_tests::admin_of(app, organization).await;
    let organization = melt_tests::flow::gid(app, organization).await;
    let site = "mutation($input: CreateLocationInput!) { createLocation(input: $input) {
        location { id } userErrors { field code } } }";
    let (_, body) = app
        .query_as(
            &admin,
            site,
            json!({ "input": {
            "organization": organization, "name": format!("Sede {istat_code}"),
            "address": "Via Roma 1", "municipalityIstatCode": istat_code,
            "latitude": latitude, "longitude": longitude
        } }),
        )
        .await;
    let payload = &body["data"]["createLocation"];
    assert_eq!(user_errors(payload), vec![], "[{:?}] {body}", app.engine);
    let create = "mutation($input: CreateServiceInput!) { createService(input: $input) {
        service { id } userErrors { field code } } }";
    let (_, body) = app
        .query_as(
            &admin,
            create,
            json!({ "input": {
            "provider": organization, "name": format!("Servizio da {istat_code}"),
            "description": "Orientamento", "deliveryMode": "IN_PERSON",
            "serviceTypes": ["JOB_ORIENTATION"], "serviceAreaIstatCodes": area,
            "locations": [payload["location"]["id"]]
        } }),
        )
        .await;
    let payload = &body["data"]["createService"];
    assert_eq!(user_errors(payload), vec![], "[{:?}] {body}", app.engine);
    id(&payload["service"])
}

#[tokio::test]
async fn near_a_point_and_serving_a_municipality_is_one_filter() {
    on_every_engine(async |engine, app| {
        // A service delivered in Firenze for people of Cascina too (near Pisa): it
        // serves Cascina but is not near Pisa.
        let firenze = ("048017", 43.7696, 11.2558);
        service_at(&app, "Comune di Firenze", firenze, &["048017", "050008"]).await;
        let all = nodes(&app, SERVICES, Value::Null).await;
        let near: BTreeSet<String> =
            ids(&nodes(&app, SERVICES, json!({ "near": near_pisa(30.0) })).await);
        // A municipality served by some of the services near Pisa, and by some others.
        let serving = |municipality: &str| -> BTreeSet<String> {
            all.iter()
                .filter(|s| ids_in(s, "serviceArea").contains(municipality))
                .map(id)
                .collect()
        };
        let areas: BTreeSet<String> = all
            .iter()
            .filter(|s| near.contains(&id(s)))
            .flat_map(|s| ids_in(s, "serviceArea"))
            .collect();
        let (municipality, expected) = areas
            .iter()
            .map(|m| (m.clone(), serving(m)))
            .map(|(m, served)| {
                let both: BTreeSet<String> = served.intersection(&near).cloned().collect();
                (m, both, served)
            })
            .find(|(_, both, served)| {
                !both.is_empty() && both.len() < near.len() && both.len() < served.len()
            })
            .map(|(m, both, _)| (m, both))
            .unwrap_or_else(|| {
                panic!("[{engine:?}] no municipality tells the two conditions apart")
            });
        let filter = json!({ "near": near_pisa(30.0), "municipality": municipality });
        let got = nodes(&app, SERVICES, filter.clone()).await;
        assert_eq!(
            ids(&got),
            expected,
            "[{engine:?}] near AND serving {municipality}"
        );
        let ordered = walk(
            &app,
            SERVICES,
            json!({ "filter": filter, "orderBy": {"field": "DISTANCE"} }),
            2,
            false,
        )
        .await;
        let distances: Vec<f64> = ordered.iter().map(distance).collect();
        assert!(distances.is_sorted(), "[{engine:?}] {distances:?}");
        assert_eq!(
            ids(&ordered
                .iter()
                .map(|e| e["node"].clone())
                .collect::<Vec<_>>()),
            expected
        );
    })
    .await;
}

// ---------------------------------------------------------------------------------
// Organizations by territory, services by their provider's kind
// ---------------------------------------------------------------------------------

/// The one territory of `kind` whose name contains `search`.
async fn territory(app: &TestApp, kind: &str, search: &str) -> Value {
    let found = nodes(
        app,
        TERRITORIES,
        json!({ "kinds": [kind], "search": search }),
    )
    .await;
    assert_eq!(
        found.len(),
        1,
        "[{:?}] one {kind} {search:?}: {found:?}",
        app.engine
    );
    found[0].clone()
}

#[tokio::test]
async fn organizations_filtered_by_a_hub_area_zone_or_province_have_a_site_in_it() {
    on_every_engine(async |engine, app| {
        let all = nodes(&app, ORGANIZATIONS, Value::Null).await;
        for (kind, search) in [
            ("HUB_AREA", "area pisa"),
            ("HUB_AREA", "area firenze"),
            ("ZONE", "pisana"),
            ("PROVINCE", "pisa"),
            ("REGION", "toscana"),
        ] {
            let place = territory(&app, kind, search).await;
            let municipalities = ids_in(&place, "municipalities");
            let expected: BTreeSet<String> = all
                .iter()
                .filter(|o| !site_municipalities(o).is_disjoint(&municipalities))
                .map(id)
                .collect();
            let got = nodes(&app, ORGANIZATIONS, json!({ "territory": id(&place) })).await;
            assert_eq!(ids(&got), expected, "[{engine:?}] organizations in {search}");
            assert!(!expected.is_empty(), "[{engine:?}] {search} has organizations");
            if kind != "REGION" {
                assert!(expected.len() < all.len(), "[{engine:?}] {search} kept everyone");
            }
            // With kind and sector: every condition holds.
            let filter = json!({ "territory": id(&place), "kinds": ["EMPLOYMENT_CENTRE"], "sectors": ["PUBLIC"] });
            let narrowed = nodes(&app, ORGANIZATIONS, filter).await;
            let expected: BTreeSet<String> = all
                .iter()
                .filter(|o| expected.contains(&id(o)))
                .filter(|o| o["kind"] == "EMPLOYMENT_CENTRE" && o["sector"] == "PUBLIC")
                .map(id)
                .collect();
            assert_eq!(ids(&narrowed), expected, "[{engine:?}] centres in {search}");
        }
    })
    .await;
}

#[tokio::test]
async fn organizations_of_a_territory_that_does_not_exist_are_none_and_other_ids_are_refused() {
    on_every_engine(async |engine, app| {
        let missing = melt_tests::global_id("Territory", uuid::Uuid::now_v7());
        let body = app
            .query(ORGANIZATIONS, json!({ "filter": { "territory": missing } }))
            .await;
        assert!(body["errors"].is_null(), "[{engine:?}] {body}");
        assert_eq!(body["data"]["conn"]["totalCount"], 0, "[{engine:?}] {body}");
        let organization = melt_tests::flow::gid(&app, "Caritas").await;
        for wrong in [organization, "not an id".to_owned(), "x".repeat(10_000)] {
            let body = app
                .query(ORGANIZATIONS, json!({ "filter": { "territory": wrong } }))
                .await;
            assert_eq!(
                first_error_code(&body),
                "BAD_USER_INPUT",
                "[{engine:?}] {body}"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn services_filtered_by_provider_kind_are_those_of_providers_of_that_kind() {
    on_every_engine(async |engine, app| {
        let all = nodes(&app, SERVICES, Value::Null).await;
        let kind_of = |s: &Value| {
            s["provider"]["kind"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        };
        let kinds: BTreeSet<String> = all.iter().map(kind_of).collect();
        assert!(
            kinds.len() >= 3,
            "[{engine:?}] providers of several kinds: {kinds:?}"
        );
        let kinds: Vec<String> = kinds.into_iter().collect();
        for wanted in [
            vec![kinds[0].clone()],
            vec![kinds[1].clone(), kinds[2].clone()],
        ] {
            let expected: BTreeSet<String> = all
                .iter()
                .filter(|s| wanted.contains(&kind_of(s)))
                .map(id)
                .collect();
            let got = nodes(&app, SERVICES, json!({ "providerKinds": wanted })).await;
            assert_eq!(ids(&got), expected, "[{engine:?}] {wanted:?}");
            assert!(
                !expected.is_empty() && expected.len() < all.len(),
                "[{engine:?}] {wanted:?}"
            );
        }
        // With a territory: both hold.
        let zone = territory(&app, "ZONE", "pisana").await;
        let filter = json!({ "providerKinds": ["EMPLOYMENT_CENTRE"], "territory": id(&zone) });
        let got = nodes(&app, SERVICES, filter).await;
        let expected: BTreeSet<String> = all
            .iter()
            .filter(|s| {
                kind_of(s) == "EMPLOYMENT_CENTRE" && ids_in(s, "zones").contains(&id(&zone))
            })
            .map(id)
            .collect();
        assert_eq!(
            ids(&got),
            expected,
            "[{engine:?}] centres serving the Zona pisana"
        );
        assert!(
            !expected.is_empty(),
            "[{engine:?}] a centre serves the Zona pisana"
        );
    })
    .await;
}
