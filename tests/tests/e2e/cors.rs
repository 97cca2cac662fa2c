//! Browsers of other origins (CORS): the origins of `MELT_CORS_ORIGINS` get their
//! preflights answered and the `Access-Control-Allow-*` headers; others get none.

use melt_tests::{Engine, TestApp, spawn_app, spawn_app_with};

const ALLOWED: &str = "https://portale.regione.toscana.it";
const REFUSED: &str = "https://evil.example.org";

async fn preflight(app: &TestApp, origin: &str) -> reqwest::Response {
    app.client
        .request(reqwest::Method::OPTIONS, format!("{}/graphql", app.address))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type",
        )
        .send()
        .await
        .expect("preflight")
}

async fn post(app: &TestApp, origin: &str) -> reqwest::Response {
    app.client
        .post(format!("{}/graphql", app.address))
        .header("origin", origin)
        .json(&serde_json::json!({ "query": "{ __typename }" }))
        .send()
        .await
        .expect("request")
}

fn header(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(", ")
        .to_ascii_lowercase()
}

#[tokio::test]
async fn an_allowed_origin_gets_its_preflight_answered_and_the_allow_headers() {
    let app = spawn_app_with(Engine::Sqlite, |s| {
        s.cors_origins = Some(format!("{ALLOWED}, http://localhost:5173"));
    })
    .await;
    let response = preflight(&app, ALLOWED).await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "access-control-allow-origin"), ALLOWED);
    let methods = header(&response, "access-control-allow-methods");
    assert!(
        methods.contains("post") && methods.contains("get"),
        "{methods}"
    );
    let headers = header(&response, "access-control-allow-headers");
    assert!(
        headers.contains("authorization") && headers.contains("content-type"),
        "{headers}"
    );
    assert_eq!(header(&response, "access-control-max-age"), "3600");
    assert!(header(&response, "vary").contains("origin"));
    assert!(header(&response, "access-control-allow-credentials").is_empty());

    let response = post(&app, ALLOWED).await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "access-control-allow-origin"), ALLOWED);
    assert!(header(&response, "vary").contains("origin"));
    assert!(header(&response, "access-control-expose-headers").contains("x-request-id"));
}

#[tokio::test]
async fn another_origin_gets_no_allow_header_and_its_preflight_is_refused() {
    let app = spawn_app_with(Engine::Sqlite, |s| {
        s.cors_origins = Some(ALLOWED.to_owned())
    })
    .await;
    let response = preflight(&app, REFUSED).await;
    assert!(response.status().is_client_error(), "{}", response.status());
    assert!(header(&response, "access-control-allow-origin").is_empty());
    // The request itself is served (a browser will not show it to the page).
    let response = post(&app, REFUSED).await;
    assert_eq!(response.status(), 200);
    assert!(header(&response, "access-control-allow-origin").is_empty());
}

#[tokio::test]
async fn without_the_setting_no_origin_gets_cors_headers() {
    let app = spawn_app(Engine::Sqlite).await;
    let response = post(&app, ALLOWED).await;
    assert_eq!(response.status(), 200);
    assert!(header(&response, "access-control-allow-origin").is_empty());
}

#[tokio::test]
async fn a_wildcard_allows_any_origin_without_credentials() {
    let app = spawn_app_with(Engine::Sqlite, |s| s.cors_origins = Some("*".to_owned())).await;
    let response = preflight(&app, REFUSED).await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "access-control-allow-origin"), "*");
    assert!(header(&response, "access-control-allow-credentials").is_empty());
}

#[tokio::test]
async fn a_malformed_origin_setting_stops_the_start_with_a_message_naming_it() {
    let mut settings = melt_tests::test_settings("sqlite::memory:");
    settings.cors_origins = Some("portale.regione.toscana.it".to_owned());
    let db = melt_api::db::connect(&settings).await.expect("connect");
    let error = melt_api::startup::Application::build_with_db(settings, db)
        .await
        .err()
        .expect("refused");
    let message = format!("{error:#}");
    assert!(message.contains("MELT_CORS_ORIGINS"), "{message}");
    assert!(message.contains("portale.regione.toscana.it"), "{message}");
}
