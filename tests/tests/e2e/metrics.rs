//! Prometheus metrics on their own listener (`MELT_METRICS_ADDR`): after a flow they
//! count requests by operation name and status, errors by code and rate-limit refusals,
//! show the pool and the outbox, and carry no personal value.

use melt_tests::flow::gid;
use melt_tests::{Role, TestApp, codice_fiscale, engines, first_error_code, spawn_app_with};
use serde_json::{Value, json};

const DIRECTORY: &str = "query Directory { organizations(first: 2) { nodes { name } } }";

const REGISTER: &str = "mutation RegisterPerson($input: RegisterPersonInput!) {
  registerPerson(input: $input) { person { id } userErrors { field code message } }
}";

const REGISTER_ANONYMOUSLY: &str = "mutation RegisterAnonymously($input: RegisterPersonInput!) {
  registerPerson(input: $input) { person { id } }
}";

fn person(org: &str, cf: &str) -> Value {
    json!({
        "organization": org,
        "codiceFiscale": cf,
        "givenName": "Gianfranca",
        "familyName": "Vespucciani",
        "birthDate": "1985-12-10",
        "gender": "FEMALE",
        "citizenship": "IT",
        "residenceMunicipalityIstatCode": "050026",
        "languages": ["it"],
        "contacts": { "email": "gianfranca.vespucciani@example.it" },
        "contactChannel": "EMAIL"
    })
}

async fn post(app: &TestApp, query: &str, variables: Value) -> (u16, Value) {
    let response = app
        .client
        .post(format!("{}/graphql", app.address))
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn scrape(app: &TestApp) -> String {
    let url = app.metrics_url.as_deref().expect("a metrics listener");
    let response = app.client.get(url).send().await.expect("scrape");
    assert_eq!(response.status(), 200);
    response.text().await.expect("metrics text")
}

/// The value of the sample whose line starts with `series` (name and labels).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
}

#[tokio::test]
async fn after_a_flow_the_metrics_count_operations_codes_and_refusals_without_personal_values() {
    for engine in engines() {
        let app = spawn_app_with(engine, |settings| {
            settings.metrics_addr = Some("127.0.0.1:0".to_owned());
            // Anonymous requests share the address's bucket: the lookup of the
            // organization's ID (an anonymous operation), two queries and the refused
            // mutation pass, the fifth request is refused.
            settings.rate_limit_ip_per_minute = 4;
        })
        .await;
        let organization = app.organization_id("Forium").await;
        let org = gid(&app, "Forium").await;
        let cf = codice_fiscale("VSPGFR85T50G702");
        let input = json!({ "input": person(&org, &cf) });

        // An anonymous query, an authenticated mutation, a refused mutation, and a
        // request over the rate limit.
        let (status, body) = post(&app, DIRECTORY, json!({})).await;
        assert_eq!(status, 200, "[{engine:?}] {body}");
        let token = app.token(Some(organization), &[Role::Operator]);
        let (status, body) = app.query_as(&token, REGISTER, input.clone()).await;
        assert_eq!(status, 200, "[{engine:?}] {body}");
        assert_eq!(
            body["data"]["registerPerson"]["userErrors"],
            json!([]),
            "{body}"
        );
        let (_, body) = post(&app, REGISTER_ANONYMOUSLY, input.clone()).await;
        let refused_code = first_error_code(&body);
        assert!(!refused_code.is_empty(), "[{engine:?}] {body}");
        let (status, _) = post(&app, DIRECTORY, json!({})).await;
        assert_eq!(status, 200, "[{engine:?}]");
        let (status, _) = post(&app, DIRECTORY, json!({})).await;
        assert_eq!(status, 429, "[{engine:?}]");

        let text = scrape(&app).await;
        let expected = [
            (
                r#"melt_http_requests_total{route="/graphql",operation="Directory",status="200"}"#,
                2.0,
            ),
            (
                r#"melt_http_requests_total{route="/graphql",operation="RegisterPerson",status="200"}"#,
                1.0,
            ),
            (
                r#"melt_http_requests_total{route="/graphql",operation="anonymous",status="200"}"#,
                1.0,
            ),
            (
                r#"melt_http_requests_total{route="/graphql",operation="none",status="429"}"#,
                1.0,
            ),
            (
                r#"melt_http_request_duration_seconds_count{route="/graphql",operation="Directory"}"#,
                2.0,
            ),
            (r#"melt_rate_limit_refusals_total{payer="address"}"#, 1.0),
            ("melt_db_pool_max_connections", 5.0),
            ("melt_outbox_pending_deliveries", 0.0),
            ("melt_outbox_lag_events", 0.0),
        ];
        for (series, value) in expected {
            assert_eq!(
                sample(&text, series),
                Some(value),
                "[{engine:?}] {series}\n{text}"
            );
        }
        let refused = format!(
            r#"melt_graphql_errors_total{{operation="RegisterAnonymously",code="{refused_code}"}}"#
        );
        assert_eq!(
            sample(&text, &refused),
            Some(1.0),
            "[{engine:?}] {refused}\n{text}"
        );
        assert!(
            sample(&text, r#"melt_db_pool_connections{state="idle"}"#).is_some(),
            "[{engine:?}] {text}"
        );
        // Families with no sample yet (job runs, webhook attempts: none in this flow)
        // are left out; gauges are always there.
        assert_eq!(
            sample(&text, "melt_outbox_oldest_pending_age_seconds"),
            Some(0.0),
            "{text}"
        );
        assert!(
            sample(&text, "melt_outbox_latest_position").is_some_and(|p| p >= 0.0),
            "{text}"
        );
        for personal in [
            cf.as_str(),
            "Gianfranca",
            "Vespucciani",
            "gianfranca.vespucciani",
            "test-user-",
            "127.0.0.1",
        ] {
            assert!(
                !text.contains(personal),
                "[{engine:?}] {personal} in\n{text}"
            );
        }
    }
}
