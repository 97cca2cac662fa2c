//! The HSDS 3.0 export (`/hsds/...` and `melt export hsds`): every object of the demo
//! network valid against the official JSON Schemas (copied in `tests/hsds-3.0`),
//! paging, `modified_after` with tombstones, 404 and bad input, batched relations, and
//! the full dump.

use chrono::Utc;
use entity::enums::ServiceStatus;
use melt_api::events::service::Audience;
use melt_api::graphql::relay::NodeKind;
use melt_api::sync::service::{Reason, record};
use melt_tests::{TestApp, on_every_engine};
use sea_orm::{ActiveModelTrait, ActiveValue::Set};
use serde_json::{Value, json};
use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;

/// Base URI the official schemas are registered under (they `$ref` each other by file
/// name, so each gets an `$id` in one folder).
const BASE: &str = "https://schemas.melt.test/hsds/3.0/";

/// The lists of the API and the schema of their objects.
const LISTS: [(&str, &str); 6] = [
    ("services", "service.json"),
    ("organizations", "organization.json"),
    ("locations", "location.json"),
    ("service_at_locations", "service_at_location.json"),
    ("taxonomies", "taxonomy.json"),
    ("taxonomy_terms", "taxonomy_term.json"),
];

fn schema_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("hsds-3.0")
}

/// A schema file with its `$id`.
fn schema(file: &str) -> Value {
    let path = schema_dir().join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let mut value: Value = serde_json::from_str(&text).expect("schema JSON");
    value["$id"] = json!(format!("{BASE}{file}"));
    value
}

/// Validators of the official schemas, by file name, formats checked.
struct Schemas(HashMap<String, jsonschema::Validator>);

impl Schemas {
    fn load() -> Self {
        let files: Vec<String> = std::fs::read_dir(schema_dir())
            .expect("schema folder")
            .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
            .filter(|name| name.ends_with(".json"))
            .collect();
        assert!(
            files.len() >= 20,
            "the official schemas are in tests/hsds-3.0"
        );
        let mut builder = jsonschema::Registry::new();
        for file in &files {
            let resource = jsonschema::Resource::from_contents(schema(file));
            builder = builder
                .add(format!("{BASE}{file}"), resource)
                .expect("register schema");
        }
        let registry = builder.prepare().expect("schema registry");
        let mut validators = HashMap::new();
        for file in files {
            let validator = jsonschema::options()
                .with_registry(&registry)
                .should_validate_formats(true)
                .build(&schema(&file))
                .unwrap_or_else(|e| panic!("{file}: {e}"));
            validators.insert(file, validator);
        }
        Self(validators)
    }

    /// Panics with every error when `object` is not valid against `file`.
    fn check(&self, file: &str, object: &Value) {
        let validator = self.0.get(file).unwrap_or_else(|| panic!("no {file}"));
        let errors: Vec<String> = validator
            .iter_errors(object)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{file}: {errors:#?}\n{object:#}");
    }
}

/// GET `path` on the app: status and JSON body.
async fn get(app: &TestApp, path: &str) -> (u16, Value) {
    let response = app
        .client
        .get(format!("{}{path}", app.address))
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}

/// Every object of a list, page by page, checking the page fields on the way.
async fn all_pages(app: &TestApp, list: &str, query: &str, per_page: u64) -> Vec<Value> {
    let mut out = Vec::new();
    let mut page = 1;
    loop {
        let path = format!("/hsds/{list}?page={page}&per_page={per_page}{query}");
        let (status, body) = get(app, &path).await;
        assert_eq!(status, 200, "{path}: {body}");
        let contents = body["contents"].as_array().cloned().unwrap_or_default();
        let total = body["total_items"].as_u64().expect("total_items");
        assert_eq!(body["page_number"], json!(page), "{path}");
        assert_eq!(body["size"], json!(contents.len()), "{path}");
        assert_eq!(
            body["total_pages"],
            json!(total.div_ceil(per_page)),
            "{path}"
        );
        assert_eq!(body["first_page"], json!(page == 1), "{path}");
        assert_eq!(body["empty"], json!(total == 0), "{path}");
        out.extend(contents);
        if body["last_page"] == json!(true) {
            assert_eq!(out.len() as u64, total, "{path}: every object once");
            return out;
        }
        assert_eq!(
            contents_len(&body),
            per_page,
            "{path}: a full page before the last"
        );
        page += 1;
    }
}

fn contents_len(body: &Value) -> u64 {
    body["contents"].as_array().map_or(0, |c| c.len() as u64)
}

/// True when some object of `objects` has a non-empty `field`.
fn some_has(objects: &[Value], field: &str) -> bool {
    objects
        .iter()
        .any(|o| o[field].as_array().is_some_and(|a| !a.is_empty()) || o[field].is_string())
}

#[tokio::test]
async fn every_object_the_hsds_api_exports_of_the_demo_network_is_valid_against_the_official_schemas()
 {
    let schemas = Schemas::load();
    on_every_engine(async |_engine, app| {
        for (list, file) in LISTS {
            let objects = all_pages(&app, list, "", 100).await;
            assert!(!objects.is_empty(), "{list} of the demo network");
            let mut ids = BTreeSet::new();
            for object in &objects {
                schemas.check(file, object);
                let id = object["id"].as_str().expect("id").to_owned();
                assert!(ids.insert(id.clone()), "{list}: {id} twice");
            }
            // Each object by its id too (a sample: the first and the last).
            for object in [&objects[0], &objects[objects.len() - 1]] {
                let path = format!("/hsds/{list}/{}", object["id"].as_str().unwrap_or_default());
                let (status, body) = get(&app, &path).await;
                assert_eq!(status, 200, "{path}: {body}");
                schemas.check(file, &body);
                assert_eq!(&body, object, "{path} is the object of the list");
            }
        }
        // What the catalogue gained shows in the export of the demo network.
        let services = all_pages(&app, "services", "", 100).await;
        for field in [
            "phones",
            "contacts",
            "required_documents",
            "cost_options",
            "funding",
            "accreditations",
            "service_areas",
            "languages",
            "attributes",
        ] {
            assert!(some_has(&services, field), "a service with {field}");
        }
        let links: Vec<Value> = services
            .iter()
            .flat_map(|s| {
                s["service_at_locations"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
            })
            .collect();
        assert!(
            some_has(&links, "schedules"),
            "opening hours of a service at a site"
        );
        assert!(
            services
                .iter()
                .all(|s| s["status"] == "active" || s["status"] == "temporarily closed"),
            "only the active catalogue is public"
        );
        assert!(
            services.iter().all(|s| !s
                .as_object()
                .is_some_and(|o| o.values().any(Value::is_null))),
            "absent rather than null"
        );
        let locations = all_pages(&app, "locations", "", 100).await;
        assert!(
            some_has(&locations, "accessibility"),
            "a site with accessibility"
        );
        assert!(some_has(&locations, "phones"), "a site with a phone");
        assert!(locations.iter().all(|l| l["location_type"] == "physical"));
        let organizations = all_pages(&app, "organizations", "", 100).await;
        assert!(
            some_has(&organizations, "funding"),
            "an organization with funding"
        );
        assert!(
            organizations
                .iter()
                .flat_map(|o| o["phones"].as_array().cloned().unwrap_or_default())
                .all(|p| p["type"].is_string()),
            "phones have a type"
        );
    })
    .await;
}

#[tokio::test]
async fn hsds_pages_do_not_overlap_and_cover_the_whole_list() {
    on_every_engine(async |_engine, app| {
        for (list, _) in LISTS {
            let big = all_pages(&app, list, "", 100).await;
            let small = all_pages(&app, list, "", 7).await;
            let ids = |objects: &[Value]| -> Vec<String> {
                objects
                    .iter()
                    .map(|o| o["id"].as_str().unwrap_or_default().to_owned())
                    .collect()
            };
            assert_eq!(
                ids(&big),
                ids(&small),
                "{list}: the same objects in the same order"
            );
        }
        let (status, body) = get(&app, "/hsds/services?page=1000").await;
        assert_eq!(status, 200);
        assert_eq!(body["contents"], json!([]), "past the last page: nothing");
        assert_eq!(body["last_page"], json!(true));
    })
    .await;
}

#[tokio::test]
async fn bad_paging_values_are_refused_with_400_and_a_code() {
    on_every_engine(async |_engine, app| {
        for query in [
            "page=0",
            "page=-1",
            "page=abc",
            "per_page=0",
            "per_page=101",
            "modified_after=yesterday",
            "modified_after=2026-13-45",
            "search=lavoro",
            "page=18446744073709551615&per_page=100",
        ] {
            for list in ["services", "taxonomies", "service_at_locations"] {
                let path = format!("/hsds/{list}?{query}");
                let (status, body) = get(&app, &path).await;
                assert_eq!(status, 400, "{path}: {body}");
                assert_eq!(
                    body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
                    "{path}: {body}"
                );
                let message = body["errors"][0]["message"].as_str().unwrap_or_default();
                assert!(!message.is_empty() && !message.contains("SQL"), "{message}");
            }
        }
    })
    .await;
}

#[tokio::test]
async fn an_unknown_or_malformed_id_is_404() {
    on_every_engine(async |_engine, app| {
        let unknown = uuid::Uuid::now_v7();
        for (list, _) in LISTS {
            for id in [unknown.to_string(), "not-a-uuid".to_owned()] {
                let path = format!("/hsds/{list}/{id}");
                let (status, body) = get(&app, &path).await;
                assert_eq!(status, 404, "{path}: {body}");
                assert_eq!(body["errors"][0]["extensions"]["code"], "NOT_FOUND");
            }
        }
    })
    .await;
}

#[tokio::test]
async fn modified_after_lists_the_changes_and_tombstones_of_what_left_the_directory() {
    let schemas = Schemas::load();
    on_every_engine(async |_engine, app| {
        let services = all_pages(&app, "services", "", 100).await;
        let id =
            |v: &Value| uuid::Uuid::parse_str(v["id"].as_str().unwrap_or_default()).expect("uuid");
        let (changed, hidden) = (id(&services[0]), id(&services[1]));
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let since = Utc::now();
        let after = format!(
            "&modified_after={}",
            since
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
                .replace('+', "%2B")
        );

        // Nothing changed yet since `since`.
        assert!(all_pages(&app, "services", &after, 100).await.is_empty());

        // One service changes, another leaves the active catalogue, a site is deleted.
        let now = Utc::now();
        entity::service::ActiveModel {
            id: Set(changed),
            description: Set("Descrizione aggiornata".to_owned()),
            updated_at: Set(now),
            ..Default::default()
        }
        .update(&app.db)
        .await
        .expect("change a service");
        entity::service::ActiveModel {
            id: Set(hidden),
            status: Set(ServiceStatus::Inactive),
            updated_at: Set(now),
            ..Default::default()
        }
        .update(&app.db)
        .await
        .expect("hide a service");
        record(
            &app.db,
            (NodeKind::Service, hidden),
            Reason::Hidden,
            Audience::Public,
        )
        .await
        .expect("tombstone of the hidden service");
        let site = uuid::Uuid::now_v7();
        record(
            &app.db,
            (NodeKind::Location, site),
            Reason::Deleted,
            Audience::Public,
        )
        .await
        .expect("tombstone of a deleted site");
        // A tombstone for one organization only is not public.
        let pisa = app.organization_id("Centro per l'impiego di Pisa").await;
        record(
            &app.db,
            (NodeKind::Location, uuid::Uuid::now_v7()),
            Reason::Deleted,
            Audience::Organizations(vec![pisa]),
        )
        .await
        .expect("private tombstone");

        let listed = all_pages(&app, "services", &after, 1).await;
        assert_eq!(listed.len(), 2, "{listed:#?}");
        for object in &listed {
            schemas.check("service.json", object);
        }
        assert_eq!(id(&listed[0]), changed, "the live change first");
        assert_eq!(listed[0]["description"], "Descrizione aggiornata");
        assert!(listed[0]["metadata"].is_null());
        assert_eq!(id(&listed[1]), hidden, "then the tombstone");
        assert_eq!(listed[1]["status"], "inactive");
        assert_eq!(listed[1]["metadata"][0]["last_action_type"], "hidden");
        assert_eq!(
            listed[1]["metadata"][0]["resource_id"],
            json!(hidden.to_string())
        );

        let sites = all_pages(&app, "locations", &after, 100).await;
        assert_eq!(sites.len(), 1, "only the public tombstone: {sites:#?}");
        schemas.check("location.json", &sites[0]);
        assert_eq!(id(&sites[0]), site);
        assert_eq!(sites[0]["metadata"][0]["last_action_type"], "deleted");

        // Without modified_after: the directory as it is, no tombstones.
        let all = all_pages(&app, "services", "", 100).await;
        assert!(
            all.iter()
                .all(|s| id(s) != hidden && s["metadata"].is_null())
        );
        let (status, _) = get(&app, &format!("/hsds/services/{hidden}")).await;
        assert_eq!(
            status, 404,
            "a hidden service is not in the public directory"
        );

        // A service back in the catalogue has no tombstone any more.
        entity::service::ActiveModel {
            id: Set(hidden),
            status: Set(ServiceStatus::Active),
            updated_at: Set(Utc::now()),
            ..Default::default()
        }
        .update(&app.db)
        .await
        .expect("show the service again");
        let listed = all_pages(&app, "services", &after, 100).await;
        assert_eq!(listed.len(), 2);
        assert!(
            listed.iter().all(|s| s["metadata"].is_null()),
            "{listed:#?}"
        );
    })
    .await;
}

#[tokio::test]
async fn statements_per_hsds_page_do_not_grow_with_the_page_size() {
    on_every_engine(async |_engine, app| {
        for (list, _) in LISTS {
            let mut counts = Vec::new();
            for per_page in [2, 40] {
                let before = app.statement_count();
                let (status, body) = get(&app, &format!("/hsds/{list}?per_page={per_page}")).await;
                assert_eq!(status, 200, "{body}");
                counts.push(app.statement_count() - before);
            }
            assert_eq!(
                counts[0], counts[1],
                "{list}: statements for 2 and 40 objects"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn the_full_dump_is_valid_json_and_csv_with_the_hsds_tabular_headers() {
    use melt_api::hsds::dump::{Format, TABLES, read_all, write};
    let schemas = Schemas::load();
    on_every_engine(async |_engine, app| {
        let lists = read_all(&app.db).await.expect("read the directory");
        let dir = tempfile::tempdir().expect("dir");
        write(&lists, Format::Json, dir.path()).expect("JSON dump");
        for (list, file) in LISTS {
            let text = std::fs::read_to_string(dir.path().join(format!("{list}.json")))
                .expect("a file a list");
            let objects: Vec<Value> = serde_json::from_str(&text).expect("a JSON array");
            let (_, body) = get(&app, &format!("/hsds/{list}?per_page=1")).await;
            assert_eq!(
                objects.len() as u64,
                body["total_items"].as_u64().unwrap_or(0),
                "{list}"
            );
            for object in &objects {
                schemas.check(file, object);
            }
        }
        write(&lists, Format::Csv, dir.path()).expect("CSV dump");
        for (_, file, columns) in TABLES {
            let mut reader = csv::Reader::from_path(dir.path().join(file)).expect("CSV file");
            let headers: Vec<String> = reader
                .headers()
                .expect("headers")
                .iter()
                .map(str::to_owned)
                .collect();
            assert_eq!(headers, *columns, "{file}");
        }
        let rows = |file: &str| {
            csv::Reader::from_path(dir.path().join(file))
                .expect("CSV file")
                .records()
                .count()
        };
        let services = lists
            .iter()
            .find(|(n, _)| *n == "services")
            .map_or(0, |(_, v)| v.len());
        assert_eq!(rows("services.csv"), services);
        for file in [
            "phones.csv",
            "accessibility.csv",
            "cost_options.csv",
            "required_documents.csv",
            "funding.csv",
            "contacts.csv",
            "addresses.csv",
            "schedules.csv",
        ] {
            assert!(rows(file) > 0, "{file} has rows");
        }
    })
    .await;
}
