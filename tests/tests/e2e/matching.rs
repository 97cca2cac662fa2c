//! `matchServices`: candidates ranked by an explained score whose weights are settings,
//! services excluded by a gate with their reasons, and a fixed number of statements
//! whatever the size of the catalogue.

use melt_tests::{TestApp, admin_of, engines, flow, on_every_engine, spawn_app_with};
use serde_json::{Value, json};

/// A service type no demo service has: only the services these tests create match it
/// (the TRANSPORT need maps to it).
pub const TYPE: &str = "LEP_MOBILITY";
pub const NEED: &str = "TRANSPORT";
pub const PISA: &str = "050026";
pub const LIVORNO: &str = "049009";

const CREATE_LOCATION: &str = "mutation($input: CreateLocationInput!) {
  createLocation(input: $input) { location { id } userErrors { field code message } } }";
const CREATE_SERVICE: &str = "mutation($input: CreateServiceInput!) {
  createService(input: $input) { service { id rowVersion } userErrors { field code message } } }";
const UPDATE_CAPACITY: &str = "mutation($input: UpdateServiceCapacityInput!) {
  updateServiceCapacity(input: $input) { service { id } userErrors { field code message } } }";

pub const MATCH: &str = "query($input: MatchServicesInput!, $first: Int) {
  matchServices(input: $input, first: $first) {
    candidateCount excludedCount
    candidates { rank score addresses service { id name }
      components { component value weight contribution explanation } }
    excluded { service { name } reasons { code message } } } }";

/// A site of Forium in the municipality with `istat`.
async fn site(app: &TestApp, token: &str, istat: &str) -> Value {
    let input = json!({
        "organization": flow::gid(app, "Forium").await, "name": format!("Sede {istat}"),
        "address": "Via Roma 1", "municipalityIstatCode": istat,
    });
    flow::ok(app, token, CREATE_LOCATION, input).await["createLocation"]["location"]["id"].clone()
}

/// Creates a Forium service of [`TYPE`] covering Pisa and Livorno; returns its id.
pub async fn service(app: &TestApp, name: &str, extra: Value) -> Value {
    let token = admin_of(app, "Forium").await;
    let mut input = json!({
        "provider": flow::gid(app, "Forium").await,
        "name": name,
        "description": "Accompagnamento alla mobilità casa-lavoro.",
        "serviceTypes": [TYPE],
        "serviceAreaIstatCodes": [PISA, LIVORNO],
    });
    if let (Some(input), Some(extra)) = (input.as_object_mut(), extra.as_object()) {
        for (key, value) in extra {
            input.insert(key.clone(), value.clone());
        }
    }
    let body = flow::ok(app, &token, CREATE_SERVICE, input).await;
    let created = &body["createService"];
    assert_eq!(created["userErrors"], json!([]), "{body}");
    created["service"]["id"].clone()
}

async fn wait(app: &TestApp, service: &Value, days: i64) {
    let token = admin_of(app, "Forium").await;
    let input = json!({ "id": service, "expectedVersion": 1, "typicalWaitDays": days });
    let body = flow::ok(app, &token, UPDATE_CAPACITY, input).await;
    assert_eq!(
        body["updateServiceCapacity"]["userErrors"],
        json!([]),
        "{body}"
    );
}

/// Three services of [`TYPE`] that differ in language, distance and wait:
/// "Lingua" speaks Arabic, sits in Grosseto, waits 15 days; "Vicino" speaks Italian,
/// sits in Pisa, waits 45 days; "Presto" speaks Italian, sits in Grosseto, waits 0.
pub async fn three_services(app: &TestApp) {
    let token = admin_of(app, "Forium").await;
    let (pisa, grosseto) = (
        site(app, &token, PISA).await,
        site(app, &token, "053011").await,
    );
    let lingua = service(
        app,
        "Lingua",
        json!({ "languages": ["it", "ar"], "locations": [grosseto] }),
    )
    .await;
    let vicino = service(
        app,
        "Vicino",
        json!({ "languages": ["it"], "locations": [pisa] }),
    )
    .await;
    let presto = service(
        app,
        "Presto",
        json!({ "languages": ["it"], "locations": [grosseto] }),
    )
    .await;
    for (service, days) in [(&lingua, 15), (&vicino, 45), (&presto, 0)] {
        wait(app, service, days).await;
    }
}

pub fn names(matches: &Value) -> Vec<String> {
    matches["candidates"]
        .as_array()
        .map(|c| {
            c.iter()
                .map(|c| c["service"]["name"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

async fn matched(app: &TestApp, input: Value) -> Value {
    app.data(MATCH, json!({ "input": input, "first": 20 }))
        .await["matchServices"]
        .clone()
}

#[tokio::test]
async fn language_distance_and_wait_change_the_order_as_the_weights_say() {
    // Each case: the weight of the wait, the person's municipality and languages, and
    // the expected order. With the default weights (language 2, distance 2, wait 1) the
    // scores differ only by those three components (every other is the same for the
    // three services).
    let cases: [(f64, &str, &[&str], [&str; 3]); 4] = [
        // Near beats a shorter wait.
        (1.0, PISA, &[], ["Vicino", "Presto", "Lingua"]),
        // Arabic outweighs nearness once the wait is counted.
        (1.0, PISA, &["ar"], ["Lingua", "Vicino", "Presto"]),
        // Nobody is near Livorno: the wait decides.
        (1.0, LIVORNO, &[], ["Presto", "Lingua", "Vicino"]),
        // A heavy wait weight puts the wait first even in Pisa.
        (10.0, PISA, &[], ["Presto", "Lingua", "Vicino"]),
    ];
    for engine in engines() {
        for (wait_weight, municipality, languages, expected) in cases {
            let app = spawn_app_with(engine, |s| s.match_weight_wait = wait_weight).await;
            three_services(&app).await;
            let matches = matched(
                &app,
                json!({ "needs": [NEED], "municipalityIstatCode": municipality, "languages": languages }),
            )
            .await;
            assert_eq!(
                names(&matches),
                expected,
                "[{engine:?}] wait weight {wait_weight}, {municipality}, {languages:?}: {matches}"
            );
            // The explanation adds up: the score is the sum of the contributions, each
            // value × weight ÷ the sum of the weights.
            for candidate in matches["candidates"].as_array().into_iter().flatten() {
                let components = candidate["components"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                assert_eq!(components.len(), 8, "[{engine:?}] {candidate}");
                let total: f64 = components.iter().filter_map(|c| c["weight"].as_f64()).sum();
                let sum: f64 = components
                    .iter()
                    .filter_map(|c| c["contribution"].as_f64())
                    .sum();
                let score = candidate["score"].as_f64().unwrap_or(-1.0);
                assert!((sum - score).abs() < 1e-9, "[{engine:?}] {candidate}");
                let wait = components
                    .iter()
                    .find(|c| c["component"] == "WAIT")
                    .cloned()
                    .unwrap_or_default();
                assert_eq!(
                    wait["weight"].as_f64(),
                    Some(wait_weight),
                    "[{engine:?}] {candidate}"
                );
                for c in &components {
                    let expected = c["value"].as_f64().unwrap_or(0.0)
                        * c["weight"].as_f64().unwrap_or(0.0)
                        / total;
                    assert!(
                        (c["contribution"].as_f64().unwrap_or(-1.0) - expected).abs() < 1e-9,
                        "{c}"
                    );
                    assert!(
                        !c["explanation"].as_str().unwrap_or_default().is_empty(),
                        "{c}"
                    );
                }
            }
        }
    }
}

#[tokio::test]
async fn a_service_a_gate_excludes_is_listed_with_every_reason_and_never_ranked() {
    on_every_engine(async |engine, app| {
        service(&app, "Aperto a tutti", json!({})).await;
        service(
            &app,
            "Solo giovani",
            json!({ "minimumAge": 16, "maximumAge": 29 }),
        )
        .await;
        service(&app, "Solo NEET", json!({ "targetGroups": ["NEET_YOUTH"] })).await;
        service(
            &app,
            "Solo Cascina",
            json!({ "serviceAreaIstatCodes": ["050008"] }),
        )
        .await;
        service(&app, "Chiuso", json!({ "status": "INACTIVE" })).await;
        service(
            &app,
            "Per stranieri",
            json!({ "targetGroups": ["FOREIGN_NATIONALS"] }),
        )
        .await;
        let matches = matched(
            &app,
            json!({ "needs": [NEED.to_lowercase()], "municipalityIstatCode": PISA, "age": 40,
                    "targetGroups": ["FOREIGN_NATIONALS"] }),
        )
        .await;
        assert_eq!(
            names(&matches),
            ["Per stranieri", "Aperto a tutti"],
            "[{engine:?}] a service for the person's group ranks above one open to all: {matches}"
        );
        assert_eq!(matches["candidateCount"], 2);
        assert_eq!(matches["candidates"][0]["addresses"], json!([NEED]));
        let reasons: Vec<(String, Vec<String>)> = matches["excluded"]
            .as_array()
            .map(|e| {
                e.iter()
                    .map(|e| {
                        let codes = e["reasons"].as_array().map(|r| {
                            r.iter()
                                .map(|r| r["code"].as_str().unwrap_or_default().to_owned())
                                .collect()
                        });
                        (
                            e["service"]["name"].as_str().unwrap_or_default().to_owned(),
                            codes.unwrap_or_default(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let expect = |name: &str, code: &str| (name.to_owned(), vec![code.to_owned()]);
        assert_eq!(
            reasons,
            vec![
                expect("Chiuso", "SERVICE_NOT_ACTIVE"),
                expect("Solo Cascina", "OUTSIDE_SERVICE_AREA"),
                expect("Solo giovani", "OUTSIDE_AGE_RANGE"),
                expect("Solo NEET", "OUTSIDE_TARGET_GROUPS"),
            ],
            "[{engine:?}] by name: {matches}"
        );
        assert_eq!(matches["excludedCount"], 4);

        // Without age and groups, only the closed one and the one elsewhere are out.
        // The deprecated `municipality` still takes the ISTAT code.
        let matches = matched(&app, json!({ "needs": [NEED], "municipality": PISA })).await;
        assert_eq!(matches["candidateCount"], 4, "[{engine:?}] {matches}");
    })
    .await;
}

#[tokio::test]
async fn matching_costs_the_same_statements_for_three_services_as_for_twelve() {
    on_every_engine(async |engine, app| {
        let input =
            json!({ "needs": [NEED], "municipalityIstatCode": PISA, "languages": ["ar"], "age": 30 });
        let count = async |app: &TestApp| {
            let before = app.statement_count();
            let matches = matched(app, input.clone()).await;
            (
                app.statement_count() - before,
                matches["candidateCount"].clone(),
            )
        };
        three_services(&app).await;
        let (few, found) = count(&app).await;
        assert_eq!(found, 3, "[{engine:?}]");
        for i in 0..9 {
            service(
                &app,
                &format!("Altro {i}"),
                json!({ "languages": ["it", "fr"] }),
            )
            .await;
        }
        let (many, found) = count(&app).await;
        assert_eq!(found, 12, "[{engine:?}]");
        assert_eq!(
            few, many,
            "[{engine:?}] statements do not grow with the catalogue"
        );
    })
    .await;
}

#[tokio::test]
async fn bad_match_input_is_refused_with_bad_user_input_naming_the_field() {
    on_every_engine(async |engine, app| {
        let cases = [
            (json!({ "needs": [], "municipalityIstatCode": PISA }), "needs"),
            (
                json!({ "needs": ["NOT_A_NEED"], "municipalityIstatCode": PISA }),
                "needs",
            ),
            (
                json!({ "needs": [NEED], "municipality": "999999" }),
                "municipality",
            ),
            (
                json!({ "needs": [NEED], "municipality": "Pisa\u{0007}" }),
                "municipality",
            ),
            (
                json!({ "needs": [NEED], "municipalityIstatCode": PISA, "age": 300 }),
                "age",
            ),
            (
                json!({ "needs": [NEED], "municipalityIstatCode": PISA, "languages": ["xx"] }),
                "languages",
            ),
            (
                json!({ "needs": [NEED], "municipalityIstatCode": PISA, "targetGroups": ["NOBODY"] }),
                "targetGroups",
            ),
            (
                json!({ "needs": vec![NEED; 31], "municipalityIstatCode": PISA }),
                "needs",
            ),
            (
                json!({ "needs": [NEED], "municipalityIstatCode": PISA, "sender": "bm9wZQ" }),
                "valid ID",
            ),
        ];
        for (input, field) in cases {
            let body = app.query(MATCH, json!({ "input": input })).await;
            let error = &body["errors"][0];
            assert_eq!(
                error["extensions"]["code"], "BAD_USER_INPUT",
                "[{engine:?}] {input}: {body}"
            );
            assert!(
                error["message"]
                    .as_str()
                    .unwrap_or_default()
                    .contains(field),
                "[{engine:?}] {input}: {body}"
            );
        }
        let body = app
            .query(
                MATCH,
                json!({ "input": { "needs": [NEED], "municipalityIstatCode": PISA }, "first": 101 }),
            )
            .await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "[{engine:?}] {body}"
        );
    })
    .await;
}

#[tokio::test]
async fn the_protocol_component_counts_only_a_protocol_in_force_with_the_sender() {
    on_every_engine(async |engine, app| {
        service(&app, "Forium mobilità", json!({})).await;
        let protocol = |matches: &Value| {
            matches["candidates"][0]["components"]
                .as_array()
                .and_then(|c| c.iter().find(|c| c["component"] == "PROTOCOL").cloned())
                .unwrap_or_default()["value"]
                .clone()
        };
        let ask = async |sender: Option<String>| {
            let mut input = json!({ "needs": [NEED], "municipalityIstatCode": PISA });
            if let Some(sender) = sender {
                input["sender"] = json!(sender);
            }
            matched(&app, input).await
        };
        // Both signed the regional protocol: 1. ARCI Prato is only invited: 0.
        let signed = ask(Some(flow::gid(&app, "impiego di Pisa").await)).await;
        assert_eq!(protocol(&signed), json!(1.0), "[{engine:?}] {signed}");
        let invited = ask(Some(
            flow::gid(&app, "ARCI Comitato territoriale di Prato").await,
        ))
        .await;
        assert_eq!(protocol(&invited), json!(0.0), "[{engine:?}] {invited}");
        let nobody = ask(None).await;
        assert_eq!(protocol(&nobody), json!(0.0), "[{engine:?}] {nobody}");
    })
    .await;
}
