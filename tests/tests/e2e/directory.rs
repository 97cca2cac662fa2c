//! The public directory's read API, end to end over HTTP: the filters of every list,
//! cursor pagination, relations navigated both ways, global IDs and the protocols.
//!
//! Expectations are derived, never copied from the seed: a filtered list is compared
//! with the unfiltered list filtered here by reading each node's fields, and counts are
//! checked against the database or the ISTAT table the migrations load.

use melt_tests::{TestApp, first_error_code, on_every_engine};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

// ---------------------------------------------------------------------------------
// Queries
// ---------------------------------------------------------------------------------

/// The fields of a service the filters are checked against.
macro_rules! service_fragment {
    () => {
        "fragment S on Service {
            id name alternateName description status deliveryMode
            capacity { openPlaces }
            provider { id name }
            serviceTypes { code }
            targetGroups { code }
            languages { code }
            serviceArea { id }
            locations { latitude longitude municipality { id name } }
        }"
    };
}

/// Pages of services; every list query aliases its connection `conn`.
const SERVICES: &str = concat!(
    "query($filter: ServiceFilter, $orderBy: ServiceOrderBy, $first: Int, $after: String) {
        conn: services(filter: $filter, orderBy: $orderBy, first: $first, after: $after) {
            totalCount
            pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
            edges { cursor distanceKm node { ...S } }
        }
    }",
    service_fragment!()
);

/// Pages of services, ids and names only, forwards or backwards.
const SERVICE_PAGE: &str = "query($filter: ServiceFilter, $orderBy: ServiceOrderBy,
        $first: Int, $after: String, $last: Int, $before: String) {
    conn: services(filter: $filter, orderBy: $orderBy, first: $first, after: $after,
                   last: $last, before: $before) {
        totalCount
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
        edges { cursor node { id name } }
    }
}";

const ORGANIZATIONS: &str = "query($filter: OrganizationFilter, $first: Int, $after: String) {
    conn: organizations(filter: $filter, first: $first, after: $after) {
        totalCount
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
        edges { cursor node {
            id name kind sector
            locations { municipality { id } }
            protocols { status protocol { id } }
        } }
    }
}";

const PROTOCOLS: &str = "query($filter: ProtocolFilter, $first: Int, $after: String) {
    conn: protocols(filter: $filter, first: $first, after: $after) {
        totalCount
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
        edges { cursor node {
            id title status
            scope { id municipalities { id } }
            signatories {
                id status role invitedAt signedAt signedByName withdrawnAt
                organization { id name }
            }
        } }
    }
}";

const TERMS: &str = "query($filter: TermFilter, $first: Int, $after: String) {
    conn: terms(filter: $filter, first: $first, after: $after) {
        totalCount
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
        edges { cursor node {
            id taxonomy code label labelIt: label(language: IT) labelEn: label(language: EN)
        } }
    }
}";

const TERRITORIES: &str = "query($filter: TerritoryFilter, $first: Int, $after: String) {
    conn: territories(filter: $filter, first: $first, after: $after) {
        totalCount
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
        edges { cursor node {
            id kind code name parent { id }
            municipalities { id code name parent { id } }
        } }
    }
}";

/// Any object by global ID, with one field per type to compare.
const NODE: &str = "query($id: ID!) {
    node(id: $id) {
        __typename id
        ... on Service { name }
        ... on Organization { name }
        ... on Territory { name }
        ... on Protocol { title }
        ... on Signatory { status }
        ... on Term { code }
        ... on Location { name }
        ... on Contact { name }
    }
}";

const NODES: &str = "query($ids: [ID!]!) {
    nodes(ids: $ids) {
        __typename id
        ... on Service { name }
        ... on Organization { name }
        ... on Territory { name }
        ... on Protocol { title }
    }
}";

// ---------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------

/// Walks a connection aliased `conn` with `first: page_size` until its end, checking
/// that `totalCount` is stable and equals the number of edges walked, that every page
/// but the last is full and that no node comes twice. Returns the edges.
async fn walk(app: &TestApp, query: &str, variables: Value, page_size: usize) -> Vec<Value> {
    let engine = app.engine;
    let mut variables = variables;
    let mut edges: Vec<Value> = Vec::new();
    let mut after: Option<String> = None;
    let mut total: Option<u64> = None;
    for _page in 0..1000 {
        variables["first"] = json!(page_size);
        variables["after"] = json!(after);
        let data = app.data(query, variables.clone()).await;
        let conn = &data["conn"];
        let page_total = conn["totalCount"]
            .as_u64()
            .unwrap_or_else(|| panic!("[{engine:?}] no totalCount in {conn}"));
        if let Some(total) = total {
            assert_eq!(
                total, page_total,
                "[{engine:?}] totalCount changed between pages"
            );
        }
        total = Some(page_total);
        let page = conn["edges"]
            .as_array()
            .unwrap_or_else(|| panic!("[{engine:?}] no edges in {conn}"))
            .clone();
        let has_next = conn["pageInfo"]["hasNextPage"]
            .as_bool()
            .unwrap_or_else(|| panic!("[{engine:?}] no hasNextPage in {conn}"));
        assert!(
            page.len() <= page_size,
            "[{engine:?}] a page of {} edges for first: {page_size}",
            page.len()
        );
        if has_next {
            assert_eq!(
                page.len(),
                page_size,
                "[{engine:?}] a page before the end is not full"
            );
        }
        edges.extend(page);
        if !has_next {
            let total = total.unwrap_or_default();
            assert_eq!(
                edges.len() as u64,
                total,
                "[{engine:?}] totalCount differs from the edges walked"
            );
            let distinct: BTreeSet<String> = edges.iter().map(|e| id(&e["node"])).collect();
            assert_eq!(
                distinct.len(),
                edges.len(),
                "[{engine:?}] a node came twice while paging"
            );
            return edges;
        }
        let end = conn["pageInfo"]["endCursor"]
            .as_str()
            .unwrap_or_else(|| panic!("[{engine:?}] hasNextPage without endCursor: {conn}"));
        after = Some(end.to_owned());
    }
    panic!("[{engine:?}] paging did not end after 1000 pages")
}

/// Every node of a connection aliased `conn`, with this filter.
async fn all_nodes(app: &TestApp, query: &str, filter: Value) -> Vec<Value> {
    walk(app, query, json!({ "filter": filter }), 100)
        .await
        .into_iter()
        .map(|edge| edge["node"].clone())
        .collect()
}

/// Every service edge (with `distanceKm`) matching the filter.
async fn service_edges(app: &TestApp, filter: Value) -> Vec<Value> {
    walk(app, SERVICES, json!({ "filter": filter }), 100).await
}

/// Every service matching the filter.
async fn service_nodes(app: &TestApp, filter: Value) -> Vec<Value> {
    all_nodes(app, SERVICES, filter).await
}

/// The global ID of a node.
fn id(node: &Value) -> String {
    node["id"]
        .as_str()
        .unwrap_or_else(|| panic!("node without id: {node}"))
        .to_owned()
}

/// The global IDs of nodes, as a set.
fn ids(nodes: &[Value]) -> BTreeSet<String> {
    nodes.iter().map(id).collect()
}

/// The global IDs of nodes, in list order.
fn id_list(nodes: &[Value]) -> Vec<String> {
    nodes.iter().map(id).collect()
}

/// A string field.
fn text<'a>(node: &'a Value, field: &str) -> &'a str {
    node[field]
        .as_str()
        .unwrap_or_else(|| panic!("no string {field} in {node}"))
}

/// The elements of a list field.
fn list<'a>(node: &'a Value, field: &str) -> &'a [Value] {
    node[field]
        .as_array()
        .unwrap_or_else(|| panic!("no list {field} in {node}"))
}

/// The codes of a list of terms of a service.
fn codes(node: &Value, field: &str) -> BTreeSet<String> {
    list(node, field)
        .iter()
        .map(|term| text(term, "code").to_owned())
        .collect()
}

/// The ids of the municipalities of a service's area.
fn area(node: &Value) -> BTreeSet<String> {
    list(node, "serviceArea").iter().map(id).collect()
}

/// Folds case and the accents of Latin letters, as the API's search promises to.
fn fold(text: &str) -> String {
    text.chars()
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => 'a',
            'è' | 'é' | 'ê' | 'ë' => 'e',
            'ì' | 'í' | 'î' | 'ï' => 'i',
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' => 'o',
            'ù' | 'ú' | 'û' | 'ü' => 'u',
            'ç' => 'c',
            'ñ' => 'n',
            '‘' | '’' => '\'',
            other => other,
        })
        .collect()
}

/// Whether a service's name, alternate name or description contains `term`, ignoring
/// case and accents.
fn service_mentions(node: &Value, term: &str) -> bool {
    let term = fold(term);
    ["name", "alternateName", "description"]
        .iter()
        .filter_map(|field| node[*field].as_str())
        .any(|value| fold(value).contains(&term))
}

/// Great-circle distance in km.
fn haversine_km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (phi1, phi2) = (lat1.to_radians(), lat2.to_radians());
    let dphi = (lat2 - lat1).to_radians();
    let dlambda = (lon2 - lon1).to_radians();
    let a = (dphi / 2.0).sin().powi(2) + phi1.cos() * phi2.cos() * (dlambda / 2.0).sin().powi(2);
    2.0 * 6371.0 * a.sqrt().asin()
}

/// Distance in km from a point to a service's nearest located site.
fn nearest_site_km(node: &Value, latitude: f64, longitude: f64) -> Option<f64> {
    list(node, "locations")
        .iter()
        .filter_map(|site| Some((site["latitude"].as_f64()?, site["longitude"].as_f64()?)))
        .map(|(lat, lon)| haversine_km(latitude, longitude, lat, lon))
        .reduce(f64::min)
}

/// Checks a filter of a list: what it returns satisfies `holds`, and is exactly what
/// `holds` keeps of `all` (the unfiltered list), and is not empty.
async fn assert_filter_matches(
    app: &TestApp,
    query: &str,
    all: &[Value],
    filter: Value,
    holds: impl Fn(&Value) -> bool,
) -> Vec<Value> {
    let engine = app.engine;
    let got = all_nodes(app, query, filter.clone()).await;
    assert!(!got.is_empty(), "[{engine:?}] nothing matches {filter}");
    for node in &got {
        assert!(
            holds(node),
            "[{engine:?}] {filter} returned a node that does not satisfy it: {node}"
        );
    }
    let expected: BTreeSet<String> = all.iter().filter(|node| holds(node)).map(id).collect();
    assert_eq!(
        ids(&got),
        expected,
        "[{engine:?}] {filter} does not return exactly the nodes that satisfy it"
    );
    got
}

/// Like [`assert_filter_matches`], and the filter must leave some nodes out.
async fn assert_filter_narrows(
    app: &TestApp,
    query: &str,
    all: &[Value],
    filter: Value,
    holds: impl Fn(&Value) -> bool,
) -> Vec<Value> {
    let got = assert_filter_matches(app, query, all, filter.clone(), holds).await;
    assert!(
        got.len() < all.len(),
        "[{:?}] {filter} kept all {} nodes",
        app.engine,
        all.len()
    );
    got
}

/// The one territory of this kind whose name contains `search`, with its municipalities.
async fn territory(app: &TestApp, kind: &str, search: &str) -> Value {
    let found = all_nodes(
        app,
        TERRITORIES,
        json!({ "kinds": [kind], "search": search }),
    )
    .await;
    assert_eq!(
        found.len(),
        1,
        "[{:?}] expected one {kind} matching {search:?}, got {found:?}",
        app.engine
    );
    found[0].clone()
}

/// A municipality by ISTAT code.
async fn municipality(app: &TestApp, istat_code: &str) -> Value {
    let data = app
        .data(
            "query($code: String!) { municipality(istatCode: $code) { id kind code name } }",
            json!({ "code": istat_code }),
        )
        .await;
    let found = data["municipality"].clone();
    assert_eq!(
        found["code"], istat_code,
        "[{:?}] municipality({istat_code}) returned {found}",
        app.engine
    );
    assert_eq!(found["kind"], "MUNICIPALITY", "[{:?}] {found}", app.engine);
    found
}

/// The protocol in force whose title names MeLT.
async fn melt_protocol(app: &TestApp) -> Value {
    let in_force = all_nodes(app, PROTOCOLS, json!({ "statuses": ["IN_FORCE"] })).await;
    in_force
        .into_iter()
        .find(|p| text(p, "title").contains("(MeLT)"))
        .unwrap_or_else(|| panic!("[{:?}] no MeLT protocol in force", app.engine))
}

/// The draft protocol of the Zona pisana.
async fn zona_pisana_draft(app: &TestApp) -> Value {
    let drafts = all_nodes(app, PROTOCOLS, json!({ "statuses": ["DRAFT"] })).await;
    drafts
        .into_iter()
        .find(|p| fold(text(p, "title")).contains("zona pisana"))
        .unwrap_or_else(|| panic!("[{:?}] no draft protocol of the Zona pisana", app.engine))
}

/// The first column of every row of a SQL query, as text.
async fn sql_texts(app: &TestApp, sql: &str) -> Vec<String> {
    let backend = app.db.get_database_backend();
    app.db
        .query_all_raw(Statement::from_string(backend, sql))
        .await
        .unwrap_or_else(|e| panic!("[{:?}] {sql}: {e}", app.engine))
        .iter()
        .map(|row| {
            row.try_get_by_index::<String>(0)
                .unwrap_or_else(|e| panic!("[{:?}] {sql}: {e}", app.engine))
        })
        .collect()
}

/// The count a `SELECT COUNT(*)` returns.
async fn sql_count(app: &TestApp, sql: &str) -> u64 {
    let backend = app.db.get_database_backend();
    let row = app
        .db
        .query_one_raw(Statement::from_string(backend, sql))
        .await
        .unwrap_or_else(|e| panic!("[{:?}] {sql}: {e}", app.engine))
        .unwrap_or_else(|| panic!("[{:?}] {sql}: no row", app.engine));
    let count = row
        .try_get_by_index::<i64>(0)
        .unwrap_or_else(|e| panic!("[{:?}] {sql}: {e}", app.engine));
    u64::try_from(count).unwrap_or_default()
}

/// `(istat_code, province_code)` of every row of the ISTAT table the migrations load.
fn istat_municipalities() -> Vec<(String, String)> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../migration/data/tuscany-municipalities.csv"
    );
    let csv = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut lines = csv.lines();
    let header = lines.next().unwrap_or_default();
    assert!(
        header.starts_with("istat_code,name,province_code"),
        "{header}"
    );
    lines
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let fields: Vec<&str> = line.split(',').collect();
            assert!(fields.len() >= 3, "bad line {line:?}");
            (fields[0].to_owned(), fields[2].to_owned())
        })
        .collect()
}

const BASE64URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Base64url without padding.
fn base64url_encode(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(char::from(BASE64URL[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

/// Decodes base64url without padding.
fn base64url_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let (mut bits, mut count) = (0u32, 0u32);
    for c in text.bytes() {
        let value = BASE64URL.iter().position(|&b| b == c)?;
        bits = (bits << 6) | u32::try_from(value).ok()?;
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push(u8::try_from((bits >> count) & 0xff).ok()?);
            bits &= (1 << count) - 1;
        }
    }
    Some(out)
}

/// A well-formed global ID of the same type as `real`, for a row that does not exist.
fn missing_id_like(real: &str) -> String {
    let raw = base64url_decode(real).and_then(|bytes| String::from_utf8(bytes).ok());
    let raw = raw.unwrap_or_else(|| panic!("{real} is not base64url text"));
    let (kind, uuid) = raw
        .split_once(':')
        .unwrap_or_else(|| panic!("{raw} is not Type:uuid"));
    assert!(
        uuid::Uuid::parse_str(uuid).is_ok(),
        "{raw} is not Type:uuid"
    );
    let fresh = uuid::Uuid::now_v7();
    base64url_encode(format!("{kind}:{fresh}").as_bytes())
}

// ---------------------------------------------------------------------------------
// Service filters
// ---------------------------------------------------------------------------------

#[tokio::test]
async fn services_filtered_by_service_type_are_those_tagged_with_it() {
    on_every_engine(async |engine, app| {
        let all = service_nodes(&app, Value::Null).await;
        let one = assert_filter_narrows(
            &app,
            SERVICES,
            &all,
            json!({ "serviceTypes": ["JOB_ORIENTATION"] }),
            |s| codes(s, "serviceTypes").contains("JOB_ORIENTATION"),
        )
        .await;
        let two = assert_filter_narrows(
            &app,
            SERVICES,
            &all,
            json!({ "serviceTypes": ["JOB_ORIENTATION", "COACHING"] }),
            |s| {
                let types = codes(s, "serviceTypes");
                types.contains("JOB_ORIENTATION") || types.contains("COACHING")
            },
        )
        .await;
        assert!(
            two.len() > one.len(),
            "[{engine:?}] a second service type should add services"
        );
    })
    .await;
}

#[tokio::test]
async fn services_filtered_by_target_group_are_those_meant_for_it() {
    on_every_engine(async |_, app| {
        let all = service_nodes(&app, Value::Null).await;
        assert_filter_narrows(
            &app,
            SERVICES,
            &all,
            json!({ "targetGroups": ["FOREIGN_NATIONALS"] }),
            |s| codes(s, "targetGroups").contains("FOREIGN_NATIONALS"),
        )
        .await;
        assert_filter_narrows(
            &app,
            SERVICES,
            &all,
            json!({ "targetGroups": ["HOMELESS_PEOPLE", "PEOPLE_LEAVING_PRISON"] }),
            |s| {
                let groups = codes(s, "targetGroups");
                groups.contains("HOMELESS_PEOPLE") || groups.contains("PEOPLE_LEAVING_PRISON")
            },
        )
        .await;
    })
    .await;
}

#[tokio::test]
async fn services_filtered_by_language_are_those_that_speak_it() {
    on_every_engine(async |_, app| {
        let all = service_nodes(&app, Value::Null).await;
        assert_filter_narrows(&app, SERVICES, &all, json!({ "languages": ["ar"] }), |s| {
            codes(s, "languages").contains("ar")
        })
        .await;
        assert_filter_narrows(
            &app,
            SERVICES,
            &all,
            json!({ "languages": ["zh", "uk"] }),
            |s| {
                let languages = codes(s, "languages");
                languages.contains("zh") || languages.contains("uk")
            },
        )
        .await;
    })
    .await;
}

#[tokio::test]
async fn services_filtered_by_municipality_are_those_whose_area_covers_it() {
    on_every_engine(async |engine, app| {
        let all = service_nodes(&app, Value::Null).await;
        for istat_code in ["050026", "048017"] {
            let town = municipality(&app, istat_code).await;
            let town_id = id(&town);
            let got = assert_filter_narrows(
                &app,
                SERVICES,
                &all,
                json!({ "municipality": town_id }),
                |s| area(s).contains(&town_id),
            )
            .await;
            // The same set, read from the tables.
            let mut from_db = sql_texts(
                &app,
                &format!(
                    "SELECT s.name FROM service s WHERE s.id IN (
                        SELECT sa.service_id FROM service_area sa
                        JOIN territory t ON t.id = sa.municipality_id
                        WHERE t.kind = 'MUNICIPALITY' AND t.code = '{istat_code}')"
                ),
            )
            .await;
            from_db.sort();
            let mut names: Vec<String> = got.iter().map(|s| text(s, "name").to_owned()).collect();
            names.sort();
            assert_eq!(
                names, from_db,
                "[{engine:?}] services covering {istat_code} differ from the database"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn services_filtered_by_istat_code_are_those_filtered_by_the_municipality_id() {
    on_every_engine(async |engine, app| {
        let all = service_nodes(&app, Value::Null).await;
        let pisa = municipality(&app, "050026").await;
        let pisa_id = id(&pisa);
        let by_code = assert_filter_narrows(
            &app,
            SERVICES,
            &all,
            json!({ "municipalityIstatCode": "050026" }),
            |s| area(s).contains(&pisa_id),
        )
        .await;
        let by_id = service_nodes(&app, json!({ "municipality": pisa_id })).await;
        assert_eq!(ids(&by_code), ids(&by_id), "[{engine:?}]");

        let body = app
            .query(
                "query { services(filter: { municipalityIstatCode: \"50026\" }) { totalCount } }",
                json!({}),
            )
            .await;
        assert_eq!(
            first_error_code(&body),
            "BAD_USER_INPUT",
            "[{engine:?}] a five-digit ISTAT code: {body}"
        );
    })
    .await;
}

#[tokio::test]
async fn services_filtered_by_territory_are_those_whose_area_meets_it() {
    on_every_engine(async |engine, app| {
        let all = service_nodes(&app, Value::Null).await;
        for (kind, search) in [
            ("ZONE", "pisana"),
            ("PROVINCE", "pisa"),
            ("HUB_AREA", "firenze"),
        ] {
            let place = territory(&app, kind, search).await;
            let members: BTreeSet<String> = list(&place, "municipalities").iter().map(id).collect();
            assert!(
                !members.is_empty(),
                "[{engine:?}] {place} has no municipality"
            );
            assert_filter_narrows(
                &app,
                SERVICES,
                &all,
                json!({ "territory": id(&place) }),
                |s| !area(s).is_disjoint(&members),
            )
            .await;
        }
        // The region: every service with an area.
        let region = territory(&app, "REGION", "").await;
        let got = service_nodes(&app, json!({ "territory": id(&region) })).await;
        let expected: BTreeSet<String> =
            all.iter().filter(|s| !area(s).is_empty()).map(id).collect();
        assert!(!expected.is_empty(), "[{engine:?}] no service has an area");
        assert_eq!(ids(&got), expected, "[{engine:?}] services in the region");
    })
    .await;
}

#[tokio::test]
async fn services_filtered_by_delivery_mode_are_delivered_that_way() {
    on_every_engine(async |_, app| {
        let all = service_nodes(&app, Value::Null).await;
        assert_filter_narrows(
            &app,
            SERVICES,
            &all,
            json!({ "deliveryModes": ["REMOTE"] }),
            |s| s["deliveryMode"] == "REMOTE",
        )
        .await;
        assert_filter_narrows(
            &app,
            SERVICES,
            &all,
            json!({ "deliveryModes": ["REMOTE", "HYBRID"] }),
            |s| s["deliveryMode"] == "REMOTE" || s["deliveryMode"] == "HYBRID",
        )
        .await;
    })
    .await;
}

#[tokio::test]
async fn services_filtered_by_provider_are_those_of_that_organization() {
    on_every_engine(async |engine, app| {
        let all = service_nodes(&app, Value::Null).await;
        let providers: BTreeSet<String> = all.iter().map(|s| id(&s["provider"])).collect();
        assert!(
            providers.len() > 1,
            "[{engine:?}] the catalogue has a single provider"
        );
        for provider in providers {
            assert_filter_narrows(&app, SERVICES, &all, json!({ "provider": provider }), |s| {
                s["provider"]["id"] == provider.as_str()
            })
            .await;
        }
    })
    .await;
}

#[tokio::test]
async fn services_filtered_by_status_have_that_status() {
    on_every_engine(async |_, app| {
        let all = service_nodes(&app, Value::Null).await;
        assert_filter_narrows(
            &app,
            SERVICES,
            &all,
            json!({ "statuses": ["ACTIVE"] }),
            |s| s["status"] == "ACTIVE",
        )
        .await;
        assert_filter_narrows(
            &app,
            SERVICES,
            &all,
            json!({ "statuses": ["INACTIVE", "TEMPORARILY_CLOSED"] }),
            |s| s["status"] == "INACTIVE" || s["status"] == "TEMPORARILY_CLOSED",
        )
        .await;
    })
    .await;
}

#[tokio::test]
async fn services_filtered_by_open_places_have_or_lack_open_places() {
    on_every_engine(async |engine, app| {
        let all = service_nodes(&app, Value::Null).await;
        let open = |s: &Value| s["capacity"]["openPlaces"].as_i64().is_some_and(|n| n > 0);
        let with =
            assert_filter_narrows(&app, SERVICES, &all, json!({ "hasOpenPlaces": true }), open)
                .await;
        let without = assert_filter_narrows(
            &app,
            SERVICES,
            &all,
            json!({ "hasOpenPlaces": false }),
            |s| !open(s),
        )
        .await;
        assert!(
            ids(&with).is_disjoint(&ids(&without)),
            "[{engine:?}] a service is both open and full"
        );
        assert_eq!(with.len() + without.len(), all.len(), "[{engine:?}]");
    })
    .await;
}

#[tokio::test]
async fn services_search_ignores_case_and_accents() {
    on_every_engine(async |engine, app| {
        let all = service_nodes(&app, Value::Null).await;
        let with_citta: BTreeSet<String> = all
            .iter()
            .filter(|s| text(s, "name").contains("Città"))
            .map(id)
            .collect();
        assert!(
            !with_citta.is_empty(),
            "[{engine:?}] no service name contains \"Città\""
        );
        for term in ["citta", "CITTÀ", "Città", "cItTa"] {
            let got = assert_filter_narrows(&app, SERVICES, &all, json!({ "search": term }), |s| {
                service_mentions(s, term)
            })
            .await;
            assert!(
                with_citta.is_subset(&ids(&got)),
                "[{engine:?}] searching {term:?} misses a service named with \"Città\""
            );
        }
        // A word of a description only.
        let described: Vec<&Value> = all
            .iter()
            .filter(|s| fold(text(s, "description")).contains("tirocini"))
            .collect();
        assert!(
            !described.is_empty(),
            "[{engine:?}] no description mentions tirocini"
        );
        assert_filter_narrows(&app, SERVICES, &all, json!({ "search": "TIROCINI" }), |s| {
            service_mentions(s, "tirocini")
        })
        .await;
        // LIKE wildcards are plain characters.
        for term in ["%", "_", "z%z"] {
            let got = service_nodes(&app, json!({ "search": term })).await;
            let expected: BTreeSet<String> = all
                .iter()
                .filter(|s| service_mentions(s, term))
                .map(id)
                .collect();
            assert_eq!(ids(&got), expected, "[{engine:?}] searching {term:?}");
        }
    })
    .await;
}

#[tokio::test]
async fn services_search_finds_a_service_by_its_alternate_name() {
    on_every_engine(async |engine, app| {
        let all = service_nodes(&app, Value::Null).await;
        let named: Vec<&Value> = all
            .iter()
            .filter(|s| s["alternateName"].is_string())
            .collect();
        assert!(
            !named.is_empty(),
            "[{engine:?}] no service has an alternate name"
        );
        for service in named {
            let alternate = text(service, "alternateName");
            let got = service_nodes(&app, json!({ "search": alternate })).await;
            assert!(
                ids(&got).contains(&id(service)),
                "[{engine:?}] searching the alternate name {alternate:?} misses {}",
                service["name"]
            );
        }
    })
    .await;
}

#[tokio::test]
async fn services_near_a_point_are_those_with_a_site_within_the_radius() {
    const PISA: (f64, f64) = (43.7167, 10.4017);
    const RADIUS_KM: f64 = 10.0;
    on_every_engine(async |engine, app| {
        let everything = service_edges(&app, Value::Null).await;
        for edge in &everything {
            assert!(
                edge["distanceKm"].is_null(),
                "[{engine:?}] distanceKm without near: {edge}"
            );
        }
        let all: Vec<Value> = everything.iter().map(|e| e["node"].clone()).collect();
        let filter = json!({ "near": {
            "latitude": PISA.0, "longitude": PISA.1, "radiusKm": RADIUS_KM
        } });
        let edges = service_edges(&app, filter).await;
        assert!(!edges.is_empty(), "[{engine:?}] nothing near Pisa");
        assert!(
            edges.len() < all.len(),
            "[{engine:?}] everything is near Pisa"
        );
        for edge in &edges {
            let node = &edge["node"];
            let km = edge["distanceKm"]
                .as_f64()
                .unwrap_or_else(|| panic!("[{engine:?}] no distanceKm with near: {edge}"));
            assert!(
                (0.0..=RADIUS_KM).contains(&km),
                "[{engine:?}] {} is {km} km away",
                node["name"]
            );
            let expected = nearest_site_km(node, PISA.0, PISA.1)
                .unwrap_or_else(|| panic!("[{engine:?}] {} has no located site", node["name"]));
            assert!(
                (km - expected).abs() <= 0.05 + expected * 0.01,
                "[{engine:?}] {}: distanceKm {km}, nearest site at {expected} km",
                node["name"]
            );
        }
        // Exactly the services with a site in the circle (away from its edge, where
        // the API's projection and the great circle may disagree).
        let got = ids(&edges.iter().map(|e| e["node"].clone()).collect::<Vec<_>>());
        for node in &all {
            match nearest_site_km(node, PISA.0, PISA.1) {
                Some(km) if km < RADIUS_KM * 0.98 => assert!(
                    got.contains(&id(node)),
                    "[{engine:?}] {} is {km} km away but missing",
                    node["name"]
                ),
                Some(km) if km <= RADIUS_KM * 1.02 => {}
                _ => assert!(
                    !got.contains(&id(node)),
                    "[{engine:?}] {} has no site near Pisa but is listed",
                    node["name"]
                ),
            }
        }
        // A service delivered only in Firenze is out.
        let in_firenze: Vec<&Value> = all
            .iter()
            .filter(|s| {
                let sites = list(s, "locations");
                !sites.is_empty()
                    && sites
                        .iter()
                        .all(|site| site["municipality"]["name"] == "Firenze")
            })
            .collect();
        assert!(
            !in_firenze.is_empty(),
            "[{engine:?}] no service is located in Firenze"
        );
        for service in in_firenze {
            assert!(
                !got.contains(&id(service)),
                "[{engine:?}] {} (Firenze) is listed near Pisa",
                service["name"]
            );
        }
    })
    .await;
}

#[tokio::test]
async fn services_filters_combine_as_a_conjunction() {
    on_every_engine(async |engine, app| {
        let all = service_nodes(&app, Value::Null).await;
        let zone = territory(&app, "ZONE", "pisana").await;
        let members: BTreeSet<String> = list(&zone, "municipalities").iter().map(id).collect();
        let parts = [
            json!({ "languages": ["en"] }),
            json!({ "territory": id(&zone) }),
            json!({ "statuses": ["ACTIVE"] }),
        ];
        let combined = assert_filter_narrows(
            &app,
            SERVICES,
            &all,
            json!({ "languages": ["en"], "territory": id(&zone), "statuses": ["ACTIVE"] }),
            |s| {
                codes(s, "languages").contains("en")
                    && !area(s).is_disjoint(&members)
                    && s["status"] == "ACTIVE"
            },
        )
        .await;
        let mut smaller_than_some_part = false;
        for part in parts {
            let alone = service_nodes(&app, part.clone()).await;
            assert!(
                ids(&combined).is_subset(&ids(&alone)),
                "[{engine:?}] the combined filter returns services {part} excludes"
            );
            smaller_than_some_part |= combined.len() < alone.len();
        }
        assert!(
            smaller_than_some_part,
            "[{engine:?}] combining filters narrowed nothing"
        );
    })
    .await;
}

// ---------------------------------------------------------------------------------
// Pagination
// ---------------------------------------------------------------------------------

/// One page of [`SERVICE_PAGE`].
async fn service_page(app: &TestApp, variables: Value) -> Value {
    app.data(SERVICE_PAGE, variables).await["conn"].clone()
}

#[tokio::test]
async fn services_forward_pagination_walks_every_service_once() {
    const PAGE: usize = 7;
    on_every_engine(async |engine, app| {
        let in_db = sql_count(&app, "SELECT COUNT(*) FROM service").await;
        assert!(
            in_db > PAGE as u64,
            "[{engine:?}] too few services ({in_db}) to page"
        );
        let mut walked: Vec<String> = Vec::new();
        let mut after: Option<String> = None;
        let mut pages = 0;
        loop {
            let conn = service_page(&app, json!({ "first": PAGE, "after": after })).await;
            pages += 1;
            assert!(pages <= 100, "[{engine:?}] paging does not end");
            assert_eq!(
                conn["totalCount"].as_u64(),
                Some(in_db),
                "[{engine:?}] totalCount"
            );
            let edges = list(&conn, "edges");
            let info = &conn["pageInfo"];
            assert_eq!(
                info["hasPreviousPage"],
                json!(after.is_some()),
                "[{engine:?}] hasPreviousPage of page {pages}"
            );
            assert_eq!(info["startCursor"], edges[0]["cursor"], "[{engine:?}]");
            assert_eq!(
                info["endCursor"],
                edges[edges.len() - 1]["cursor"],
                "[{engine:?}]"
            );
            walked.extend(edges.iter().map(|e| id(&e["node"])));
            let has_next = info["hasNextPage"].as_bool().unwrap_or_default();
            assert_eq!(
                has_next,
                (walked.len() as u64) < in_db,
                "[{engine:?}] hasNextPage after {} of {in_db}",
                walked.len()
            );
            if !has_next {
                break;
            }
            after = info["endCursor"].as_str().map(str::to_owned);
        }
        assert!(pages > 1, "[{engine:?}] one page only");
        let distinct: BTreeSet<String> = walked.iter().cloned().collect();
        assert_eq!(distinct.len(), walked.len(), "[{engine:?}] duplicates");
        assert_eq!(walked.len() as u64, in_db, "[{engine:?}] gaps");
        let one_page = service_page(&app, json!({ "first": 100 })).await;
        let one_page: Vec<String> = list(&one_page, "edges")
            .iter()
            .map(|e| id(&e["node"]))
            .collect();
        assert_eq!(
            walked, one_page,
            "[{engine:?}] small pages and one big page disagree"
        );

        // A filtered list pages the same way, with its own totalCount.
        let active = walk(
            &app,
            SERVICE_PAGE,
            json!({ "filter": { "statuses": ["ACTIVE"] } }),
            4,
        )
        .await;
        let active_in_db =
            sql_count(&app, "SELECT COUNT(*) FROM service WHERE status = 'ACTIVE'").await;
        assert_eq!(active.len() as u64, active_in_db, "[{engine:?}]");
        assert!(active_in_db < in_db, "[{engine:?}] every service is active");
    })
    .await;
}

#[tokio::test]
async fn services_backward_pagination_walks_the_same_services_in_reverse() {
    const PAGE: usize = 6;
    on_every_engine(async |engine, app| {
        let forward = id_list(
            &walk(&app, SERVICE_PAGE, json!({}), 100)
                .await
                .into_iter()
                .map(|e| e["node"].clone())
                .collect::<Vec<_>>(),
        );
        assert!(
            forward.len() > PAGE,
            "[{engine:?}] too few services to page"
        );
        let mut backward: Vec<String> = Vec::new();
        let mut before: Option<String> = None;
        let mut pages = 0;
        loop {
            let conn = service_page(&app, json!({ "last": PAGE, "before": before })).await;
            pages += 1;
            assert!(pages <= 100, "[{engine:?}] paging does not end");
            assert_eq!(
                conn["totalCount"].as_u64(),
                Some(forward.len() as u64),
                "[{engine:?}] totalCount"
            );
            let edges = list(&conn, "edges");
            let info = &conn["pageInfo"];
            assert_eq!(
                info["hasNextPage"],
                json!(before.is_some()),
                "[{engine:?}] hasNextPage of backward page {pages}"
            );
            backward.extend(edges.iter().rev().map(|e| id(&e["node"])));
            let has_previous = info["hasPreviousPage"].as_bool().unwrap_or_default();
            assert_eq!(
                has_previous,
                backward.len() < forward.len(),
                "[{engine:?}] hasPreviousPage after {} of {}",
                backward.len(),
                forward.len()
            );
            if !has_previous {
                break;
            }
            assert_eq!(
                edges.len(),
                PAGE,
                "[{engine:?}] short page before the start"
            );
            before = info["startCursor"].as_str().map(str::to_owned);
        }
        assert!(pages > 1, "[{engine:?}] one page only");
        let mut reversed = forward.clone();
        reversed.reverse();
        assert_eq!(
            backward, reversed,
            "[{engine:?}] backward paging is not forward paging reversed"
        );
    })
    .await;
}

#[tokio::test]
async fn services_ordered_descending_are_the_reverse_of_ascending() {
    on_every_engine(async |engine, app| {
        for field in ["NAME", "CREATED_AT", "UPDATED_AT"] {
            let read = |direction: &'static str| {
                let app = &app;
                async move {
                    let edges = walk(
                        app,
                        SERVICE_PAGE,
                        json!({ "orderBy": { "field": field, "direction": direction } }),
                        5,
                    )
                    .await;
                    edges
                        .iter()
                        .map(|e| id(&e["node"]))
                        .collect::<Vec<String>>()
                }
            };
            let ascending = read("ASC").await;
            let mut descending = read("DESC").await;
            assert!(ascending.len() > 1, "[{engine:?}] too few services");
            descending.reverse();
            assert_eq!(
                ascending, descending,
                "[{engine:?}] {field} DESC is not {field} ASC reversed"
            );
        }
        // Without orderBy, services come by name.
        let default_order = id_list(&service_nodes(&app, Value::Null).await);
        let by_name = walk(
            &app,
            SERVICE_PAGE,
            json!({ "orderBy": { "field": "NAME", "direction": "ASC" } }),
            100,
        )
        .await;
        let by_name: Vec<String> = by_name.iter().map(|e| id(&e["node"])).collect();
        assert_eq!(
            default_order, by_name,
            "[{engine:?}] the default order is not by name"
        );
        let names: Vec<String> = walk(
            &app,
            SERVICE_PAGE,
            json!({ "orderBy": { "field": "NAME", "direction": "ASC" } }),
            100,
        )
        .await
        .iter()
        .map(|e| fold(text(&e["node"], "name")))
        .collect();
        assert!(
            names.first() < names.last(),
            "[{engine:?}] names ascending run from {:?} to {:?}",
            names.first(),
            names.last()
        );
    })
    .await;
}

#[tokio::test]
async fn page_sizes_above_one_hundred_are_refused() {
    on_every_engine(async |engine, app| {
        for (query, variables) in [
            (SERVICE_PAGE, json!({ "first": 101 })),
            (SERVICE_PAGE, json!({ "last": 101 })),
            (SERVICE_PAGE, json!({ "first": -1 })),
            (SERVICE_PAGE, json!({ "first": 5, "last": 5 })),
            (ORGANIZATIONS, json!({ "first": 101 })),
            (TERRITORIES, json!({ "first": 101 })),
            (PROTOCOLS, json!({ "first": 101 })),
            (TERMS, json!({ "first": 101 })),
        ] {
            let body = app.query(query, variables.clone()).await;
            assert_eq!(
                first_error_code(&body),
                "BAD_USER_INPUT",
                "[{engine:?}] {variables}: {body}"
            );
            assert!(
                body["data"].is_null() || body["data"]["conn"].is_null(),
                "[{engine:?}] {variables} still returned data: {body}"
            );
        }
        let body = app.query(SERVICE_PAGE, json!({ "first": 100 })).await;
        assert!(
            body.get("errors").is_none(),
            "[{engine:?}] first: 100 is allowed: {body}"
        );
        assert!(
            !list(&body["data"]["conn"], "edges").is_empty(),
            "[{engine:?}]"
        );
    })
    .await;
}

#[tokio::test]
async fn a_garbage_cursor_is_refused() {
    on_every_engine(async |engine, app| {
        let valid = service_page(&app, json!({ "first": 2 })).await;
        let valid = text(&valid["pageInfo"], "endCursor").to_owned();
        let works = app
            .query(SERVICE_PAGE, json!({ "first": 2, "after": valid }))
            .await;
        assert!(
            works.get("errors").is_none(),
            "[{engine:?}] a real cursor is refused: {works}"
        );
        let not_a_cursor = base64url_encode(b"hello world");
        for variables in [
            json!({ "first": 2, "after": "garbage!!" }),
            json!({ "last": 2, "before": "garbage!!" }),
            json!({ "first": 2, "after": not_a_cursor }),
            json!({ "first": 2, "after": format!("{valid}$") }),
        ] {
            let body = app.query(SERVICE_PAGE, variables.clone()).await;
            assert_eq!(
                first_error_code(&body),
                "BAD_USER_INPUT",
                "[{engine:?}] {variables}: {body}"
            );
        }
        let body = app
            .query(ORGANIZATIONS, json!({ "first": 2, "after": "garbage!!" }))
            .await;
        assert_eq!(
            first_error_code(&body),
            "BAD_USER_INPUT",
            "[{engine:?}] {body}"
        );
    })
    .await;
}

// ---------------------------------------------------------------------------------
// Relations
// ---------------------------------------------------------------------------------

#[tokio::test]
async fn an_organizations_services_are_provided_by_it() {
    on_every_engine(async |engine, app| {
        let organizations = walk(
            &app,
            "query($first: Int, $after: String) {
                conn: organizations(first: $first, after: $after) {
                    totalCount pageInfo { hasNextPage endCursor }
                    edges { node { id services { id provider { id } } } }
                }
            }",
            json!({}),
            100,
        )
        .await;
        let mut listed: Vec<String> = Vec::new();
        for edge in &organizations {
            let org = &edge["node"];
            for service in list(org, "services") {
                assert_eq!(
                    service["provider"]["id"], org["id"],
                    "[{engine:?}] a service of an organization has another provider"
                );
                listed.push(id(service));
            }
        }
        let all = ids(&service_nodes(&app, Value::Null).await);
        assert!(!all.is_empty(), "[{engine:?}] no service");
        assert_eq!(
            listed.len(),
            all.len(),
            "[{engine:?}] every service is listed under exactly one organization"
        );
        assert_eq!(
            listed.into_iter().collect::<BTreeSet<_>>(),
            all,
            "[{engine:?}]"
        );
    })
    .await;
}

#[tokio::test]
async fn a_services_provider_lists_the_service() {
    on_every_engine(async |engine, app| {
        let services = walk(
            &app,
            "query($first: Int, $after: String) {
                conn: services(first: $first, after: $after) {
                    totalCount pageInfo { hasNextPage endCursor }
                    edges { node { id provider { id services { id } } } }
                }
            }",
            json!({}),
            100,
        )
        .await;
        assert!(!services.is_empty(), "[{engine:?}] no service");
        for edge in &services {
            let service = &edge["node"];
            let theirs = ids(list(&service["provider"], "services"));
            assert!(
                theirs.contains(&id(service)),
                "[{engine:?}] the provider of {service} does not list it"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn a_protocols_signatories_list_the_protocol_among_their_organizations_adherences() {
    on_every_engine(async |engine, app| {
        let protocols = walk(
            &app,
            "query($first: Int, $after: String) {
                conn: protocols(first: $first, after: $after) {
                    totalCount pageInfo { hasNextPage endCursor }
                    edges { node { id signatories {
                        id protocol { id }
                        organization { id protocols { id protocol { id } organization { id } } }
                    } } }
                }
            }",
            json!({}),
            100,
        )
        .await;
        let mut checked = 0;
        for edge in &protocols {
            let protocol = &edge["node"];
            for signatory in list(protocol, "signatories") {
                assert_eq!(
                    signatory["protocol"]["id"], protocol["id"],
                    "[{engine:?}] a signatory points at another protocol"
                );
                let organization = &signatory["organization"];
                let back = list(organization, "protocols")
                    .iter()
                    .find(|s| s["id"] == signatory["id"])
                    .unwrap_or_else(|| {
                        panic!("[{engine:?}] {organization} does not list {signatory}")
                    });
                assert_eq!(back["protocol"]["id"], protocol["id"], "[{engine:?}]");
                assert_eq!(
                    back["organization"]["id"], organization["id"],
                    "[{engine:?}]"
                );
                checked += 1;
            }
        }
        let in_db = sql_count(&app, "SELECT COUNT(*) FROM signatory").await;
        assert!(checked > 0, "[{engine:?}] no signatory");
        assert_eq!(checked, in_db, "[{engine:?}] signatories listed");
    })
    .await;
}

#[tokio::test]
async fn a_provinces_municipalities_are_its_children_as_listed_by_istat() {
    let istat = istat_municipalities();
    on_every_engine(async |engine, app| {
        let provinces = all_nodes(&app, TERRITORIES, json!({ "kinds": ["PROVINCE"] })).await;
        let codes_in_csv: BTreeSet<String> = istat.iter().map(|(_, p)| p.clone()).collect();
        let province_codes: BTreeSet<String> = provinces
            .iter()
            .map(|p| text(p, "code").to_owned())
            .collect();
        assert_eq!(province_codes, codes_in_csv, "[{engine:?}] provinces");
        for province in &provinces {
            let code = text(province, "code");
            let expected: BTreeSet<String> = istat
                .iter()
                .filter(|(_, p)| p == code)
                .map(|(m, _)| m.clone())
                .collect();
            let municipalities = list(province, "municipalities");
            let got: BTreeSet<String> = municipalities
                .iter()
                .map(|m| text(m, "code").to_owned())
                .collect();
            assert_eq!(
                municipalities.len(),
                expected.len(),
                "[{engine:?}] number of municipalities of province {code}"
            );
            assert_eq!(got, expected, "[{engine:?}] municipalities of {code}");
            for m in municipalities {
                assert_eq!(
                    m["parent"]["id"], province["id"],
                    "[{engine:?}] {m} is listed under province {code}"
                );
            }
            // The same as the territories whose parent is the province.
            let children = all_nodes(&app, TERRITORIES, json!({ "parent": id(province) })).await;
            assert_eq!(
                ids(&children),
                ids(municipalities),
                "[{engine:?}] children of {code}"
            );
        }
        let pisa = territory(&app, "PROVINCE", "pisa").await;
        let expected = istat.iter().filter(|(_, p)| p == "050").count();
        assert!(expected > 0, "no municipality of Pisa in the ISTAT table");
        assert_eq!(
            list(&pisa, "municipalities").len(),
            expected,
            "[{engine:?}] municipalities of the province of Pisa"
        );
    })
    .await;
}

#[tokio::test]
async fn the_region_is_made_of_every_tuscan_municipality() {
    let istat = istat_municipalities();
    let expected: BTreeSet<String> = istat.iter().map(|(m, _)| m.clone()).collect();
    assert_eq!(expected.len(), istat.len(), "duplicate ISTAT codes");
    on_every_engine(async |engine, app| {
        let region = territory(&app, "REGION", "").await;
        let municipalities = list(&region, "municipalities");
        assert_eq!(municipalities.len(), istat.len(), "[{engine:?}]");
        let got: BTreeSet<String> = municipalities
            .iter()
            .map(|m| text(m, "code").to_owned())
            .collect();
        assert_eq!(got, expected, "[{engine:?}]");
        let listed = all_nodes(&app, TERRITORIES, json!({ "kinds": ["MUNICIPALITY"] })).await;
        assert_eq!(ids(&listed), ids(municipalities), "[{engine:?}]");
    })
    .await;
}

#[tokio::test]
async fn the_zona_pisana_is_made_of_its_nine_municipalities() {
    // DESIGN.md §2.1.
    let expected: BTreeSet<String> = [
        "Pisa",
        "Calci",
        "Cascina",
        "Crespina Lorenzana",
        "Fauglia",
        "Orciano Pisano",
        "San Giuliano Terme",
        "Vecchiano",
        "Vicopisano",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    on_every_engine(async |engine, app| {
        let zone = territory(&app, "ZONE", "pisana").await;
        assert_eq!(zone["name"], "Zona pisana", "[{engine:?}]");
        let municipalities = list(&zone, "municipalities");
        assert_eq!(municipalities.len(), expected.len(), "[{engine:?}]");
        let names: BTreeSet<String> = municipalities
            .iter()
            .map(|m| text(m, "name").to_owned())
            .collect();
        assert_eq!(names, expected, "[{engine:?}]");
        // Pisa's zone lists it among the territories containing Pisa.
        let pisa = municipality(&app, "050026").await;
        let containing = all_nodes(
            &app,
            TERRITORIES,
            json!({ "containsMunicipality": id(&pisa) }),
        )
        .await;
        assert!(
            ids(&containing).contains(&id(&zone)),
            "[{engine:?}] the Zona pisana does not contain Pisa"
        );
        let firenze = municipality(&app, "048017").await;
        let containing = all_nodes(
            &app,
            TERRITORIES,
            json!({ "containsMunicipality": id(&firenze) }),
        )
        .await;
        assert!(
            !ids(&containing).contains(&id(&zone)),
            "[{engine:?}] the Zona pisana contains Firenze"
        );
    })
    .await;
}

// ---------------------------------------------------------------------------------
// Global IDs
// ---------------------------------------------------------------------------------

/// One object of each type: `(global ID, __typename, field, value)`.
async fn samples(app: &TestApp) -> Vec<(String, &'static str, &'static str, Value)> {
    let data = app
        .data(
            "query {
                services(first: 1) { nodes { id name } }
                organizations(first: 100) { nodes {
                    id name locations { id name } contacts { id name }
                } }
                municipality(istatCode: \"050026\") { id name }
                protocols(first: 100) { nodes { id title signatories { id status } } }
                terms(first: 1) { nodes { id code } }
            }",
            json!({}),
        )
        .await;
    let engine = app.engine;
    let first = |path: &[&str]| -> Value {
        let mut value = &data;
        for key in path {
            value = &value[*key];
        }
        value[0].clone()
    };
    let with = |list_of: &str, field: &str| -> Value {
        data[list_of]["nodes"]
            .as_array()
            .and_then(|nodes| nodes.iter().find(|n| n[field][0].is_object()))
            .cloned()
            .unwrap_or_else(|| panic!("[{engine:?}] no {list_of} with {field}: {data}"))
    };
    let service = first(&["services", "nodes"]);
    let organization = with("organizations", "contacts");
    let location = with("organizations", "locations")["locations"][0].clone();
    let contact = organization["contacts"][0].clone();
    let protocol = with("protocols", "signatories");
    let signatory = protocol["signatories"][0].clone();
    let term = first(&["terms", "nodes"]);
    let territory = data["municipality"].clone();
    let out = vec![
        (id(&service), "Service", "name", service["name"].clone()),
        (
            id(&organization),
            "Organization",
            "name",
            organization["name"].clone(),
        ),
        (
            id(&territory),
            "Territory",
            "name",
            territory["name"].clone(),
        ),
        (
            id(&protocol),
            "Protocol",
            "title",
            protocol["title"].clone(),
        ),
        (
            id(&signatory),
            "Signatory",
            "status",
            signatory["status"].clone(),
        ),
        (id(&term), "Term", "code", term["code"].clone()),
        (id(&location), "Location", "name", location["name"].clone()),
        (id(&contact), "Contact", "name", contact["name"].clone()),
    ];
    for (_, kind, field, value) in &out {
        assert!(
            value.is_string(),
            "[{engine:?}] no {kind}.{field} sample: {value}"
        );
    }
    out
}

#[tokio::test]
async fn node_refetches_every_kind_of_object() {
    on_every_engine(async |engine, app| {
        let samples = samples(&app).await;
        let distinct: BTreeSet<&String> = samples.iter().map(|(id, ..)| id).collect();
        assert_eq!(
            distinct.len(),
            samples.len(),
            "[{engine:?}] IDs are not unique"
        );
        for (global_id, typename, field, value) in samples {
            let data = app.data(NODE, json!({ "id": global_id })).await;
            let node = &data["node"];
            assert_eq!(node["__typename"], typename, "[{engine:?}] {global_id}");
            assert_eq!(node["id"], global_id.as_str(), "[{engine:?}] {typename}");
            assert_eq!(node[field], value, "[{engine:?}] {typename}.{field}");
        }
    })
    .await;
}

#[tokio::test]
async fn nodes_keep_the_order_of_ids_and_give_null_for_missing_rows() {
    on_every_engine(async |engine, app| {
        let samples = samples(&app).await;
        let find = |typename: &str| {
            samples
                .iter()
                .find(|(_, t, ..)| *t == typename)
                .map(|(id, ..)| id.clone())
                .unwrap_or_else(|| panic!("no {typename} sample"))
        };
        let (service, organization, territory, protocol) = (
            find("Service"),
            find("Organization"),
            find("Territory"),
            find("Protocol"),
        );
        let missing = missing_id_like(&service);
        assert_ne!(missing, service);

        let data = app.data(NODE, json!({ "id": missing })).await;
        assert!(data["node"].is_null(), "[{engine:?}] a missing row: {data}");

        let order = vec![
            service.clone(),
            organization.clone(),
            missing.clone(),
            territory.clone(),
            protocol.clone(),
            service.clone(),
        ];
        for asked_ids in [order.clone(), order.iter().rev().cloned().collect()] {
            let data = app.data(NODES, json!({ "ids": asked_ids })).await;
            let got = list(&data, "nodes");
            assert_eq!(got.len(), asked_ids.len(), "[{engine:?}]");
            for (asked, node) in asked_ids.iter().zip(got) {
                if *asked == missing {
                    assert!(node.is_null(), "[{engine:?}] a missing row: {node}");
                } else {
                    assert_eq!(node["id"], asked.as_str(), "[{engine:?}] order of nodes");
                }
            }
        }
        let data = app.data(NODES, json!({ "ids": [] })).await;
        assert_eq!(data["nodes"], json!([]), "[{engine:?}]");
    })
    .await;
}

#[tokio::test]
async fn a_malformed_id_is_refused() {
    on_every_engine(async |engine, app| {
        let samples = samples(&app).await;
        let real = samples[0].0.clone();
        let uuid = uuid::Uuid::now_v7();
        for bad in [
            "not an id".to_owned(),
            "garbage".to_owned(),
            String::new(),
            base64url_encode(b"Service:not-a-uuid"),
            base64url_encode(format!("Spaceship:{uuid}").as_bytes()),
            base64url_encode(uuid.to_string().as_bytes()),
        ] {
            let body = app.query(NODE, json!({ "id": bad })).await;
            assert_eq!(
                first_error_code(&body),
                "BAD_USER_INPUT",
                "[{engine:?}] node({bad:?}): {body}"
            );
            let body = app.query(NODES, json!({ "ids": [real, bad] })).await;
            assert_eq!(
                first_error_code(&body),
                "BAD_USER_INPUT",
                "[{engine:?}] nodes([real, {bad:?}]): {body}"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn an_id_of_another_type_is_refused_by_filters() {
    on_every_engine(async |engine, app| {
        let samples = samples(&app).await;
        let find = |typename: &str| {
            samples
                .iter()
                .find(|(_, t, ..)| *t == typename)
                .map(|(id, ..)| id.clone())
                .unwrap_or_else(|| panic!("no {typename} sample"))
        };
        let (service, organization, territory, protocol) = (
            find("Service"),
            find("Organization"),
            find("Territory"),
            find("Protocol"),
        );
        let cases = [
            (SERVICE_PAGE, json!({ "municipality": organization })),
            (SERVICE_PAGE, json!({ "territory": service })),
            (SERVICE_PAGE, json!({ "provider": territory })),
            (ORGANIZATIONS, json!({ "municipality": organization })),
            (ORGANIZATIONS, json!({ "signedProtocol": organization })),
            (PROTOCOLS, json!({ "organization": protocol })),
            (PROTOCOLS, json!({ "municipality": organization })),
            (TERRITORIES, json!({ "parent": service })),
            (TERRITORIES, json!({ "containsMunicipality": protocol })),
        ];
        for (query, filter) in cases {
            let body = app
                .query(query, json!({ "filter": filter, "first": 5 }))
                .await;
            assert_eq!(
                first_error_code(&body),
                "BAD_USER_INPUT",
                "[{engine:?}] {filter}: {body}"
            );
        }
        // The right types are accepted.
        let body = app
            .query(
                SERVICE_PAGE,
                json!({ "filter": { "municipality": territory, "provider": organization }, "first": 5 }),
            )
            .await;
        assert!(body.get("errors").is_none(), "[{engine:?}] {body}");
    })
    .await;
}

// ---------------------------------------------------------------------------------
// Organizations, protocols, terms
// ---------------------------------------------------------------------------------

#[tokio::test]
async fn organizations_filtered_by_kind_and_sector_have_them() {
    on_every_engine(async |_, app| {
        let all = all_nodes(&app, ORGANIZATIONS, Value::Null).await;
        assert_filter_narrows(
            &app,
            ORGANIZATIONS,
            &all,
            json!({ "kinds": ["EMPLOYMENT_CENTRE"] }),
            |o| o["kind"] == "EMPLOYMENT_CENTRE",
        )
        .await;
        assert_filter_narrows(
            &app,
            ORGANIZATIONS,
            &all,
            json!({ "kinds": ["SOCIAL_COOPERATIVE", "TRAINING_AGENCY"] }),
            |o| o["kind"] == "SOCIAL_COOPERATIVE" || o["kind"] == "TRAINING_AGENCY",
        )
        .await;
        assert_filter_narrows(
            &app,
            ORGANIZATIONS,
            &all,
            json!({ "sectors": ["THIRD_SECTOR"] }),
            |o| o["sector"] == "THIRD_SECTOR",
        )
        .await;
        assert_filter_narrows(
            &app,
            ORGANIZATIONS,
            &all,
            json!({ "kinds": ["EMPLOYMENT_CENTRE", "THIRD_SECTOR_BODY"], "sectors": ["PUBLIC"] }),
            |o| {
                (o["kind"] == "EMPLOYMENT_CENTRE" || o["kind"] == "THIRD_SECTOR_BODY")
                    && o["sector"] == "PUBLIC"
            },
        )
        .await;
    })
    .await;
}

#[tokio::test]
async fn organizations_search_ignores_case_and_accents() {
    on_every_engine(async |engine, app| {
        let all = all_nodes(&app, ORGANIZATIONS, Value::Null).await;
        let accented: BTreeSet<String> = all
            .iter()
            .filter(|o| text(o, "name").contains("Società"))
            .map(id)
            .collect();
        assert!(
            !accented.is_empty(),
            "[{engine:?}] no organization named with \"Società\""
        );
        for term in ["societa", "SOCIETÀ", "Società"] {
            let got =
                assert_filter_narrows(&app, ORGANIZATIONS, &all, json!({ "search": term }), |o| {
                    fold(text(o, "name")).contains(&fold(term))
                })
                .await;
            assert!(
                accented.is_subset(&ids(&got)),
                "[{engine:?}] {term:?} misses an organization named with \"Società\""
            );
        }
    })
    .await;
}

#[tokio::test]
async fn organizations_filtered_by_municipality_have_a_site_there() {
    on_every_engine(async |_, app| {
        let all = all_nodes(&app, ORGANIZATIONS, Value::Null).await;
        for istat_code in ["050026", "048017"] {
            let town = id(&municipality(&app, istat_code).await);
            assert_filter_narrows(
                &app,
                ORGANIZATIONS,
                &all,
                json!({ "municipality": town }),
                |o| {
                    list(o, "locations")
                        .iter()
                        .any(|site| site["municipality"]["id"] == town.as_str())
                },
            )
            .await;
        }
    })
    .await;
}

#[tokio::test]
async fn organizations_filtered_by_signed_protocol_are_those_that_signed_it() {
    on_every_engine(async |engine, app| {
        let all = all_nodes(&app, ORGANIZATIONS, Value::Null).await;
        let melt = melt_protocol(&app).await;
        let melt_id = id(&melt);
        let got = assert_filter_narrows(
            &app,
            ORGANIZATIONS,
            &all,
            json!({ "signedProtocol": melt_id }),
            |o| {
                list(o, "protocols")
                    .iter()
                    .any(|s| s["protocol"]["id"] == melt_id.as_str() && s["status"] == "SIGNED")
            },
        )
        .await;
        // The same organizations as the protocol's signatories that signed.
        let signed: BTreeSet<String> = list(&melt, "signatories")
            .iter()
            .filter(|s| s["status"] == "SIGNED")
            .map(|s| id(&s["organization"]))
            .collect();
        assert_eq!(ids(&got), signed, "[{engine:?}]");
        // Organizations only invited or withdrawn are out.
        let not_signed: BTreeSet<String> = list(&melt, "signatories")
            .iter()
            .filter(|s| s["status"] != "SIGNED")
            .map(|s| id(&s["organization"]))
            .collect();
        assert!(ids(&got).is_disjoint(&not_signed), "[{engine:?}]");
    })
    .await;
}

#[tokio::test]
async fn protocols_filtered_by_status_have_that_status() {
    on_every_engine(async |engine, app| {
        let all = all_nodes(&app, PROTOCOLS, Value::Null).await;
        for status in ["IN_FORCE", "DRAFT"] {
            let got = assert_filter_narrows(
                &app,
                PROTOCOLS,
                &all,
                json!({ "statuses": [status] }),
                |p| p["status"] == status,
            )
            .await;
            let in_db = sql_count(
                &app,
                &format!("SELECT COUNT(*) FROM protocol WHERE status = '{status}'"),
            )
            .await;
            assert_eq!(got.len() as u64, in_db, "[{engine:?}] {status}");
        }
        let both = all_nodes(
            &app,
            PROTOCOLS,
            json!({ "statuses": ["IN_FORCE", "DRAFT"] }),
        )
        .await;
        let expected: BTreeSet<String> = all
            .iter()
            .filter(|p| p["status"] == "IN_FORCE" || p["status"] == "DRAFT")
            .map(id)
            .collect();
        assert_eq!(ids(&both), expected, "[{engine:?}]");
    })
    .await;
}

#[tokio::test]
async fn protocols_filtered_by_organization_are_those_it_adheres_to() {
    on_every_engine(async |engine, app| {
        let all = all_nodes(&app, PROTOCOLS, Value::Null).await;
        let organizations: BTreeSet<String> = all
            .iter()
            .flat_map(|p| {
                list(p, "signatories")
                    .iter()
                    .map(|s| id(&s["organization"]))
            })
            .collect();
        let mut narrowed = false;
        for organization in organizations {
            let got = assert_filter_matches(
                &app,
                PROTOCOLS,
                &all,
                json!({ "organization": organization }),
                |p| {
                    list(p, "signatories")
                        .iter()
                        .any(|s| s["organization"]["id"] == organization.as_str())
                },
            )
            .await;
            narrowed |= got.len() < all.len();
        }
        assert!(
            narrowed,
            "[{engine:?}] every signatory adheres to every protocol"
        );
    })
    .await;
}

#[tokio::test]
async fn protocols_covering_a_municipality_have_it_in_their_scope() {
    on_every_engine(async |engine, app| {
        let all = all_nodes(&app, PROTOCOLS, Value::Null).await;
        let melt = id(&melt_protocol(&app).await);
        let draft = id(&zona_pisana_draft(&app).await);
        let covers = |p: &Value, town: &str| {
            list(p, "scope")
                .iter()
                .any(|t| list(t, "municipalities").iter().any(|m| m["id"] == town))
        };
        let pisa = id(&municipality(&app, "050026").await);
        let got = assert_filter_matches(
            &app,
            PROTOCOLS,
            &all,
            json!({ "municipality": pisa }),
            |p| covers(p, &pisa),
        )
        .await;
        assert!(ids(&got).contains(&melt), "[{engine:?}] MeLT covers Pisa");
        assert!(
            ids(&got).contains(&draft),
            "[{engine:?}] the draft covers Pisa"
        );

        let firenze = id(&municipality(&app, "048017").await);
        let got = assert_filter_narrows(
            &app,
            PROTOCOLS,
            &all,
            // The deprecated name filters the same way until it is removed.
            json!({ "coversMunicipality": firenze }),
            |p| covers(p, &firenze),
        )
        .await;
        assert!(
            ids(&got).contains(&melt),
            "[{engine:?}] MeLT covers Firenze"
        );
        assert!(
            !ids(&got).contains(&draft),
            "[{engine:?}] the Zona pisana draft covers Firenze"
        );
    })
    .await;
}

#[tokio::test]
async fn terms_filtered_by_taxonomy_belong_to_it() {
    on_every_engine(async |engine, app| {
        let all = all_nodes(&app, TERMS, Value::Null).await;
        let in_db = sql_count(&app, "SELECT COUNT(*) FROM term").await;
        assert_eq!(all.len() as u64, in_db, "[{engine:?}] terms");
        let mut sum = 0;
        // Every value of the schema's `Taxonomy` enum.
        let sdl = melt_api::schema::sdl();
        let document = async_graphql::parser::parse_schema(&sdl).expect("the SDL parses");
        let taxonomies: Vec<String> = document
            .definitions
            .into_iter()
            .find_map(|definition| match definition {
                async_graphql::parser::types::TypeSystemDefinition::Type(ty)
                    if ty.node.name.node == "Taxonomy" =>
                {
                    match ty.node.kind {
                        async_graphql::parser::types::TypeKind::Enum(e) => Some(
                            e.values
                                .iter()
                                .map(|v| v.node.value.node.to_string())
                                .collect(),
                        ),
                        _ => None,
                    }
                }
                _ => None,
            })
            .expect("the Taxonomy enum");
        assert!(taxonomies.len() >= 9, "{taxonomies:?}");
        for taxonomy in taxonomies.iter().map(String::as_str) {
            let got = assert_filter_narrows(
                &app,
                TERMS,
                &all,
                json!({ "taxonomies": [taxonomy] }),
                |t| t["taxonomy"] == taxonomy,
            )
            .await;
            let in_db = sql_count(
                &app,
                &format!("SELECT COUNT(*) FROM term WHERE taxonomy = '{taxonomy}'"),
            )
            .await;
            assert_eq!(got.len() as u64, in_db, "[{engine:?}] {taxonomy}");
            sum += got.len();
        }
        assert_eq!(
            sum,
            all.len(),
            "[{engine:?}] every term has one of the taxonomies"
        );
    })
    .await;
}

#[tokio::test]
async fn term_labels_are_given_in_italian_or_english() {
    on_every_engine(async |engine, app| {
        let all = all_nodes(&app, TERMS, Value::Null).await;
        let backend = app.db.get_database_backend();
        let rows = app
            .db
            .query_all_raw(Statement::from_string(
                backend,
                "SELECT taxonomy, code, label_it, label_en FROM term",
            ))
            .await
            .unwrap_or_else(|e| panic!("[{engine:?}] {e}"));
        let labels: BTreeMap<(String, String), (String, String)> = rows
            .iter()
            .map(|row| {
                let get = |i: usize| {
                    row.try_get_by_index::<String>(i)
                        .unwrap_or_else(|e| panic!("[{engine:?}] {e}"))
                };
                ((get(0), get(1)), (get(2), get(3)))
            })
            .collect();
        assert_eq!(labels.len(), all.len(), "[{engine:?}]");
        let mut translated = 0;
        for term in &all {
            let key = (
                text(term, "taxonomy").to_owned(),
                text(term, "code").to_owned(),
            );
            let (it, en) = labels
                .get(&key)
                .unwrap_or_else(|| panic!("[{engine:?}] {key:?} not in the database"));
            assert_eq!(
                term["label"],
                it.as_str(),
                "[{engine:?}] default label of {key:?}"
            );
            assert_eq!(term["labelIt"], it.as_str(), "[{engine:?}] {key:?}");
            assert_eq!(term["labelEn"], en.as_str(), "[{engine:?}] {key:?}");
            if term["labelEn"] != term["labelIt"] {
                translated += 1;
            }
        }
        assert!(translated > 0, "[{engine:?}] no label differs in English");
    })
    .await;
}

#[tokio::test]
async fn the_melt_protocol_in_force_shows_who_signed_it() {
    on_every_engine(async |engine, app| {
        let melt = melt_protocol(&app).await;
        assert_eq!(melt["status"], "IN_FORCE", "[{engine:?}]");
        let signatories = list(&melt, "signatories");
        let signed: Vec<&Value> = signatories
            .iter()
            .filter(|s| s["status"] == "SIGNED")
            .collect();
        assert!(!signed.is_empty(), "[{engine:?}] nobody signed MeLT");
        for s in &signed {
            let who = &s["organization"]["name"];
            assert!(
                who.is_string(),
                "[{engine:?}] a signatory without organization"
            );
            let signed_at = s["signedAt"].as_str().unwrap_or_default();
            assert!(
                signed_at.len() >= 20 && signed_at.contains('T'),
                "[{engine:?}] {who} signed at {signed_at:?}"
            );
            let by = s["signedByName"].as_str().unwrap_or_default();
            assert!(!by.trim().is_empty(), "[{engine:?}] {who}: no signedByName");
            assert!(s["withdrawnAt"].is_null(), "[{engine:?}] {who} withdrew");
            if let Some(invited) = s["invitedAt"].as_str() {
                assert!(
                    invited <= signed_at,
                    "[{engine:?}] {who} signed before being invited"
                );
            }
        }
        assert!(
            signed.iter().any(|s| s["role"] == "PROMOTER"),
            "[{engine:?}] no promoter signed MeLT"
        );
        for s in signatories {
            match s["status"].as_str() {
                Some("INVITED") => assert!(
                    s["signedAt"].is_null(),
                    "[{engine:?}] an invited signatory has signedAt: {s}"
                ),
                Some("WITHDRAWN") => assert!(
                    s["withdrawnAt"].is_string(),
                    "[{engine:?}] a withdrawn signatory has no withdrawnAt: {s}"
                ),
                _ => {}
            }
        }
        // The same signatures as in the database.
        let mut from_db = sql_texts(
            &app,
            "SELECT s.signed_by_name FROM signatory s JOIN protocol p ON p.id = s.protocol_id
             WHERE p.status = 'IN_FORCE' AND p.title LIKE '%(MeLT)%' AND s.status = 'SIGNED'",
        )
        .await;
        from_db.sort();
        let mut names: Vec<String> = signed
            .iter()
            .map(|s| text(s, "signedByName").to_owned())
            .collect();
        names.sort();
        assert_eq!(names, from_db, "[{engine:?}] who signed MeLT");
    })
    .await;
}

#[tokio::test]
async fn terms_search_ignores_case_and_treats_underscores_literally() {
    on_every_engine(async |engine, app| {
        let query = "query($s: String) { terms(filter: {search: $s}, first: 100) { nodes { code label } } }";
        let codes = |data: &Value| -> Vec<String> {
            data["terms"]["nodes"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|n| n["code"].as_str().map(str::to_owned))
                .collect()
        };
        let found = codes(&app.data(query, json!({ "s": "job_" })).await);
        assert!(
            found.contains(&"JOB_ORIENTATION".to_owned()),
            "[{engine:?}] {found:?}"
        );
        assert!(
            found.iter().all(|c| c.to_lowercase().contains("job_")),
            "[{engine:?}] {found:?}"
        );
        let by_label = codes(
            &app.data(query, json!({ "s": "ORIENTAMENTO AL LAVORO" }))
                .await,
        );
        assert!(
            by_label.contains(&"JOB_ORIENTATION".to_owned()),
            "[{engine:?}] {by_label:?}"
        );
    })
    .await;
}

const REGION_PAGE: &str = "query($after: String, $before: String, $first: Int, $last: Int) {
  territories(filter: {kinds: [REGION]}) { nodes {
    municipalities { code }
    municipalitiesConnection(first: $first, after: $after, last: $last, before: $before) {
      totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor } nodes { code }
    }
  } }
}";

#[tokio::test]
async fn the_region_s_municipalities_page_through_the_same_list_the_old_field_gives() {
    on_every_engine(async |engine, app| {
        let mut codes = Vec::new();
        let mut after: Option<String> = None;
        let whole = loop {
            let data = app
                .data(REGION_PAGE, json!({ "first": 100, "after": after }))
                .await;
            let region = &data["territories"]["nodes"][0];
            let whole = region["municipalities"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let page = &region["municipalitiesConnection"];
            assert_eq!(page["totalCount"], whole.len(), "[{engine:?}]");
            let nodes = page["nodes"].as_array().cloned().unwrap_or_default();
            assert!(nodes.len() <= 100, "[{engine:?}]");
            codes.extend(nodes.iter().map(|n| n["code"].clone()));
            if page["pageInfo"]["hasNextPage"] != true {
                break whole;
            }
            after = page["pageInfo"]["endCursor"].as_str().map(str::to_owned);
        };
        let expected: Vec<Value> = whole.iter().map(|n| n["code"].clone()).collect();
        assert_eq!(codes.len(), 273, "[{engine:?}]");
        assert_eq!(
            codes, expected,
            "[{engine:?}] pages in the order of the list"
        );

        // Backwards from the end: the last three, then the three before them.
        let data = app.data(REGION_PAGE, json!({ "last": 3 })).await;
        let page = &data["territories"]["nodes"][0]["municipalitiesConnection"];
        let tail: Vec<Value> = page["nodes"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|n| n["code"].clone())
            .collect();
        assert_eq!(tail, expected[270..].to_vec(), "[{engine:?}]");
        assert_eq!(page["pageInfo"]["hasPreviousPage"], true, "[{engine:?}]");
        let before = page["pageInfo"]["startCursor"].clone();
        let data = app
            .data(REGION_PAGE, json!({ "last": 3, "before": before }))
            .await;
        let page = &data["territories"]["nodes"][0]["municipalitiesConnection"];
        let earlier: Vec<Value> = page["nodes"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|n| n["code"].clone())
            .collect();
        assert_eq!(earlier, expected[267..270].to_vec(), "[{engine:?}]");
    })
    .await;
}

#[tokio::test]
async fn an_organization_s_services_and_sites_come_a_page_at_a_time() {
    on_every_engine(async |engine, app| {
        let query = "{ organizations(first: 50) { nodes { id
            services { id } locations { id }
            servicesConnection(first: 1) { totalCount pageInfo { hasNextPage endCursor } nodes { id } }
            locationsConnection(first: 20) { totalCount nodes { id } } } } }";
        let data = app.data(query, json!({})).await;
        let organizations = data["organizations"]["nodes"].as_array().cloned().unwrap_or_default();
        let with_two = organizations
            .iter()
            .position(|o| o["services"].as_array().is_some_and(|s| s.len() >= 2))
            .expect("a demo organization with two services");
        let organization = &organizations[with_two];
        let first = &organization["servicesConnection"];
        assert_eq!(
            first["totalCount"],
            organization["services"].as_array().map_or(0, Vec::len),
            "[{engine:?}]"
        );
        assert_eq!(first["nodes"][0]["id"], organization["services"][0]["id"], "[{engine:?}]");
        assert_eq!(first["pageInfo"]["hasNextPage"], true, "[{engine:?}]");
        assert_eq!(
            organization["locationsConnection"]["nodes"], organization["locations"],
            "[{engine:?}]"
        );

        let next = "query($id: ID!, $after: String) { node(id: $id) { ... on Organization {
            servicesConnection(first: 1, after: $after) { nodes { id } } } } }";
        let after = first["pageInfo"]["endCursor"].clone();
        let data = app
            .data(next, json!({ "id": organization["id"], "after": after }))
            .await;
        assert_eq!(
            data["node"]["servicesConnection"]["nodes"][0]["id"],
            organization["services"][1]["id"],
            "[{engine:?}]"
        );
        // The cursor of one organization's page is no position in another's list.
        let other = organizations
            .iter()
            .find(|o| o["id"] != organization["id"])
            .expect("another organization");
        let body = app.query(next, json!({ "id": other["id"], "after": after })).await;
        assert_eq!(first_error_code(&body), "BAD_USER_INPUT", "[{engine:?}] {body}");
    })
    .await;
}

#[tokio::test]
async fn a_nested_connection_is_costed_by_its_page_size() {
    on_every_engine(async |engine, app| {
        let query = |n: usize| {
            format!(
                "{{ organizations(first: 100) {{ nodes {{ servicesConnection(first: {n}) {{
                     nodes {{ name provider {{ name }} }} }} }} }} }}"
            )
        };
        let body = app.query(&query(100), json!({})).await;
        assert_eq!(
            first_error_code(&body),
            "QUERY_TOO_COMPLEX",
            "[{engine:?}] {body}"
        );
        let body = app.query(&query(5), json!({})).await;
        assert!(body["errors"].is_null(), "[{engine:?}] {body}");
    })
    .await;
}
