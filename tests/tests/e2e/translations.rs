//! Multilingual text: each text in the language asked for (argument, else
//! `Accept-Language`, else Italian) saying which language it is in; translations edited
//! by whoever may change the object, validated, versioned, audited; on both engines.

use melt_tests::{Role, TestApp, admin_of, first_error_code, on_every_engine, user_errors};
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

const COUNSELLING: &str = "Counselling orientativo";
const SHELTER: &str = "Centro d'ascolto per persone senza dimora";
const VALDARNO: &str = "Orientamento al lavoro in Valdarno, Casentino e Valdichiana";

const LOCALIZED: &str = "query($search: String, $language: String) {
  services(filter: {search: $search}, first: 1) {
    nodes {
      id name rowVersion
      localized(language: $language) {
        name { text language }
        description { text language }
        eligibilityDescription { text language }
        applicationProcess { text language }
        feesDescription { text language }
        alternateName { text language }
      }
      translations { language name rowVersion }
      provider { id localized(language: $language) { name { text language } } }
      serviceTypes { code localized(language: $language) { label { text language } } }
    }
  }
}";

const SET: &str = "mutation($input: SetTranslationInput!) {
  setTranslation(input: $input) {
    translation { language name description rowVersion updatedAt }
    userErrors { field code message }
  }
}";

const REMOVE: &str = "mutation($input: RemoveTranslationInput!) {
  removeTranslation(input: $input) { removedLanguage userErrors { field code message } }
}";

/// POSTs `query` with an `Accept-Language` header; returns the JSON body.
async fn query_in(app: &TestApp, accept_language: &str, query: &str, variables: Value) -> Value {
    let response = app
        .client
        .post(format!("{}/graphql", app.address))
        .header("accept-language", accept_language)
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200, "[{:?}]", app.engine);
    response.json().await.expect("JSON body")
}

/// The first service whose name contains `search`, read in `language` with the
/// `Accept-Language` header `header` (empty: none).
async fn service_in(app: &TestApp, search: &str, language: Option<&str>, header: &str) -> Value {
    let variables = json!({ "search": search, "language": language });
    let body = if header.is_empty() {
        app.query(LOCALIZED, variables).await
    } else {
        query_in(app, header, LOCALIZED, variables).await
    };
    assert!(body.get("errors").is_none(), "[{:?}] {body}", app.engine);
    body["data"]["services"]["nodes"][0].clone()
}

/// `(text, language)` of a localized text.
fn text(value: &Value) -> (String, String) {
    (
        value["text"].as_str().unwrap_or_default().to_owned(),
        value["language"].as_str().unwrap_or_default().to_owned(),
    )
}

/// How many rows `sql` (with `?` placeholders) counts.
async fn count(app: &TestApp, sql: &str, values: Vec<sea_orm::Value>) -> i64 {
    let backend = app.db.get_database_backend();
    let mut text = String::new();
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' && backend == sea_orm::DatabaseBackend::Postgres {
            n += 1;
            text.push_str(&format!("${n}"));
        } else {
            text.push(c);
        }
    }
    let row = app
        .db
        .query_one_raw(sea_orm::Statement::from_sql_and_values(
            backend, text, values,
        ))
        .await
        .expect("count")
        .expect("a row");
    row.try_get_by_index::<i64>(0).expect("a count")
}

#[tokio::test]
async fn without_a_translation_in_the_language_asked_for_each_text_is_italian_and_says_so() {
    on_every_engine(async |engine, app| {
        // Counselling is translated into Ukrainian and English, not Arabic.
        let service = service_in(&app, COUNSELLING, Some("ar"), "").await;
        let localized = &service["localized"];
        assert_eq!(
            text(&localized["name"]),
            (COUNSELLING.to_owned(), "it".to_owned()),
            "[{engine:?}] {service}"
        );
        assert_eq!(text(&localized["description"]).1, "it", "[{engine:?}]");
        // No language asked for and no header: Italian.
        let service = service_in(&app, COUNSELLING, None, "").await;
        assert_eq!(text(&service["localized"]["name"]).1, "it", "[{engine:?}]");
        // Ukrainian exists: every field in Ukrainian.
        let service = service_in(&app, COUNSELLING, Some("uk"), "").await;
        let (name, language) = text(&service["localized"]["name"]);
        assert_eq!(language, "uk", "[{engine:?}] {service}");
        assert_eq!(name, "Консультування з професійної орієнтації");
        assert_eq!(text(&service["localized"]["applicationProcess"]).1, "uk");
        // The original fields keep their meaning.
        assert_eq!(service["name"], COUNSELLING, "[{engine:?}]");
        // Each field falls back on its own: Valdarno's application process has no
        // Romanian text, its name does.
        let service = service_in(&app, VALDARNO, Some("ro"), "").await;
        assert_eq!(text(&service["localized"]["name"]).1, "ro", "[{engine:?}]");
        assert_eq!(
            text(&service["localized"]["applicationProcess"]).1,
            "it",
            "[{engine:?}] {service}"
        );
        // A field the service does not have at all stays null in every language.
        assert_eq!(service["localized"]["alternateName"], Value::Null);
        // The translations list every stored language, Italian not among them.
        let shelter = service_in(&app, SHELTER, None, "").await;
        let languages: Vec<&str> = shelter["translations"]
            .as_array()
            .map(|all| all.iter().filter_map(|t| t["language"].as_str()).collect())
            .unwrap_or_default();
        assert_eq!(languages, ["ar", "en", "ro"], "[{engine:?}]");
    })
    .await;
}

#[tokio::test]
async fn accept_language_weights_choose_the_best_language_each_text_has() {
    on_every_engine(async |engine, app| {
        // The shelter has Arabic, Romanian and English: Ukrainian is preferred but
        // missing, Romanian (0.5) beats Arabic (0.3).
        let header = "ar;q=0.3, uk-UA;q=0.9, ro-RO;q=0.5";
        let service = service_in(&app, SHELTER, None, header).await;
        let (name, language) = text(&service["localized"]["name"]);
        assert_eq!(language, "ro", "[{engine:?}] {service}");
        assert_eq!(name, "Centru de ascultare pentru persoanele fără adăpost");
        // The header reaches nested objects too: the provider and the service types.
        let service = service_in(&app, SHELTER, None, "ar-EG, en;q=0.8").await;
        assert_eq!(text(&service["localized"]["name"]).1, "ar", "[{engine:?}]");
        let types = service["serviceTypes"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let reception = types
            .iter()
            .find(|t| t["code"] == "RECEPTION_INFORMATION")
            .cloned()
            .unwrap_or_default();
        assert_eq!(
            text(&reception["localized"]["label"]),
            ("الاستقبال والمعلومات".to_owned(), "ar".to_owned()),
            "[{engine:?}] {service}"
        );
        // A language refused with q=0 is never chosen; the wildcard means Italian.
        let service = service_in(&app, SHELTER, None, "ar;q=0, en;q=0.2").await;
        assert_eq!(text(&service["localized"]["name"]).1, "en", "[{engine:?}]");
        let service = service_in(&app, SHELTER, None, "fr, *;q=0.5, ar;q=0.1").await;
        assert_eq!(text(&service["localized"]["name"]).1, "it", "[{engine:?}]");
        // A term's English label is its own labelEn.
        let service = service_in(&app, SHELTER, None, "en").await;
        let types = service["serviceTypes"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let reception = types
            .iter()
            .find(|t| t["code"] == "RECEPTION_INFORMATION")
            .cloned()
            .unwrap_or_default();
        assert_eq!(
            text(&reception["localized"]["label"]),
            ("Reception and information".to_owned(), "en".to_owned()),
            "[{engine:?}]"
        );
        // A malformed header is ignored, never an error.
        let service = service_in(&app, SHELTER, None, ";;q=,, -x;q=1.5, q=, ar;q=0.5.5").await;
        assert_eq!(text(&service["localized"]["name"]).1, "it", "[{engine:?}]");
    })
    .await;
}

#[tokio::test]
async fn the_language_argument_overrides_the_accept_language_header() {
    on_every_engine(async |engine, app| {
        let service = service_in(&app, SHELTER, Some("en"), "ar").await;
        assert_eq!(
            text(&service["localized"]["name"]),
            (
                "Listening centre for homeless people".to_owned(),
                "en".to_owned()
            ),
            "[{engine:?}] {service}"
        );
        // The argument asks for Ukrainian, which the shelter lacks: Italian, although the
        // header would have had Arabic.
        let service = service_in(&app, SHELTER, Some("UK"), "ar").await;
        assert_eq!(text(&service["localized"]["name"]).1, "it", "[{engine:?}]");
        // A language argument that is no ISO 639-1 code is a bad input.
        let body = app
            .query(LOCALIZED, json!({ "search": SHELTER, "language": "xx" }))
            .await;
        assert_eq!(
            first_error_code(&body),
            "BAD_USER_INPUT",
            "[{engine:?}] {body}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_providers_administrator_edits_its_translations_and_another_organizations_is_forbidden() {
    on_every_engine(async |engine, app| {
        let service = service_in(&app, COUNSELLING, None, "").await;
        let id = service["id"].clone();
        let owner = admin_of(&app, "Centro per l'impiego di Livorno").await;
        let stranger = admin_of(&app, "Caritas diocesana di Pisa").await;
        let input = json!({ "input": {
            "id": id, "language": "sq", "name": "Këshillim për orientim profesional"
        }});

        let (_, body) = app.query_as(&stranger, SET, input.clone()).await;
        assert_eq!(first_error_code(&body), "FORBIDDEN", "[{engine:?}] {body}");
        let body = app.query(SET, input.clone()).await;
        assert_eq!(first_error_code(&body), "UNAUTHENTICATED", "[{engine:?}]");

        let (_, body) = app.query_as(&owner, SET, input.clone()).await;
        let set = &body["data"]["setTranslation"];
        assert_eq!(set["userErrors"], json!([]), "[{engine:?}] {body}");
        assert_eq!(set["translation"]["rowVersion"], 1);
        let service = service_in(&app, COUNSELLING, Some("sq"), "").await;
        assert_eq!(
            text(&service["localized"]["name"]),
            (
                "Këshillim për orientim profesional".to_owned(),
                "sq".to_owned()
            ),
            "[{engine:?}]"
        );
        assert_eq!(text(&service["localized"]["description"]).1, "it");

        // Adding the same language again, or changing it from a stale version: CONFLICT.
        let (_, body) = app.query_as(&owner, SET, input.clone()).await;
        assert_eq!(first_error_code(&body), "CONFLICT", "[{engine:?}] {body}");
        let mut change = input.clone();
        change["input"]["expectedVersion"] = json!(1);
        change["input"]["description"] = json!("Takime këshillimi për orientim profesional.");
        let (_, body) = app.query_as(&owner, SET, change.clone()).await;
        let set = &body["data"]["setTranslation"];
        assert_eq!(set["userErrors"], json!([]), "[{engine:?}] {body}");
        assert_eq!(set["translation"]["rowVersion"], 2);
        assert_eq!(
            set["translation"]["name"],
            "Këshillim për orientim profesional"
        );
        let (_, body) = app.query_as(&owner, SET, change).await;
        assert_eq!(first_error_code(&body), "CONFLICT", "[{engine:?}] {body}");

        // Audited against the service, and raised as a change of the service.
        let service_row = melt_tests::row_id(id.as_str().unwrap_or_default());
        let audited = count(
            &app,
            "SELECT COUNT(*) FROM audit_event WHERE operation = 'setTranslation' AND object_id = ?",
            vec![service_row.into()],
        )
        .await;
        assert_eq!(audited, 2, "[{engine:?}]");
        let events = count(
            &app,
            "SELECT COUNT(*) FROM event WHERE event_type = 'service.changed' AND subject_id = ?",
            vec![service_row.into()],
        )
        .await;
        assert_eq!(events, 2, "[{engine:?}]");

        // Removal: by the stranger refused, by the owner from the version read.
        let remove = json!({ "input": { "id": id, "language": "sq", "expectedVersion": 2 } });
        let (_, body) = app.query_as(&stranger, REMOVE, remove.clone()).await;
        assert_eq!(first_error_code(&body), "FORBIDDEN", "[{engine:?}] {body}");
        let (_, body) = app.query_as(&owner, REMOVE, remove.clone()).await;
        let removed = &body["data"]["removeTranslation"];
        assert_eq!(removed["removedLanguage"], "sq", "[{engine:?}] {body}");
        let service = service_in(&app, COUNSELLING, Some("sq"), "").await;
        assert_eq!(text(&service["localized"]["name"]).1, "it", "[{engine:?}]");
        let (_, body) = app.query_as(&owner, REMOVE, remove).await;
        assert_eq!(
            user_errors(&body["data"]["removeTranslation"]),
            vec![(json!(["input", "language"]), "NOT_FOUND".to_owned())],
            "[{engine:?}] {body}"
        );
    })
    .await;
}

#[tokio::test]
async fn terms_are_translated_by_the_regional_administration_and_organizations_by_themselves() {
    on_every_engine(async |engine, app| {
        let query =
            "{ terms(filter: {taxonomies: [TARGET_GROUP]}, first: 100) { nodes { id code } } }";
        let data = app.data(query, json!({})).await;
        let term = data["terms"]["nodes"]
            .as_array()
            .and_then(|all| all.iter().find(|t| t["code"] == "NEET_YOUTH"))
            .map(|t| t["id"].clone())
            .unwrap_or_default();
        let input = json!({ "input": { "id": term, "language": "bn", "name": "NEET যুবক" } });
        let admin = admin_of(&app, "Forium").await;
        let (_, body) = app.query_as(&admin, SET, input.clone()).await;
        assert_eq!(first_error_code(&body), "FORBIDDEN", "[{engine:?}] {body}");
        let regional = app.token(None, &[Role::RegionalAdmin]);
        let (_, body) = app.query_as(&regional, SET, input).await;
        assert_eq!(
            body["data"]["setTranslation"]["translation"]["name"], "NEET যুবক",
            "[{engine:?}] {body}"
        );

        // An organization's own administrator translates its name; another's may not.
        let forium = melt_tests::global_id("Organization", app.organization_id("Forium").await);
        let input = json!({ "input": { "id": forium, "language": "ur", "name": "فوریم" } });
        let other = admin_of(&app, "Copernico").await;
        let (_, body) = app.query_as(&other, SET, input.clone()).await;
        assert_eq!(first_error_code(&body), "FORBIDDEN", "[{engine:?}] {body}");
        let (_, body) = app.query_as(&admin, SET, input).await;
        assert_eq!(
            body["data"]["setTranslation"]["userErrors"],
            json!([]),
            "[{engine:?}] {body}"
        );
        let query = "query($id: ID!) { node(id: $id) { ... on Organization {
            localized(language: \"ur\") { name { text language } description { language } } } } }";
        let data = app.data(query, json!({ "id": forium })).await;
        assert_eq!(
            text(&data["node"]["localized"]["name"]),
            ("فوریم".to_owned(), "ur".to_owned()),
            "[{engine:?}] {data}"
        );
    })
    .await;
}

#[tokio::test]
async fn bad_languages_oversized_texts_and_control_characters_are_user_errors() {
    on_every_engine(async |engine, app| {
        let service = service_in(&app, COUNSELLING, None, "").await;
        let id = service["id"].clone();
        let owner = admin_of(&app, "Centro per l'impiego di Livorno").await;
        let refused = async |input: Value| -> Vec<(Value, String)> {
            let (_, body) = app.query_as(&owner, SET, json!({ "input": input })).await;
            let set = &body["data"]["setTranslation"];
            assert_eq!(set["translation"], Value::Null, "[{engine:?}] {body}");
            user_errors(set)
        };
        let field = |name: &str| json!(["input", name]);
        for language in ["xx", "ara", "a", "", "it", "IT", "ar-EG", "\u{202E}ra"] {
            let errors = refused(json!({ "id": id, "language": language, "name": "Nome" })).await;
            assert_eq!(
                errors,
                vec![(field("language"), "INVALID".to_owned())],
                "[{engine:?}] {language:?}"
            );
        }
        let cases = [
            (json!({ "name": "x".repeat(301) }), "name", "TOO_LONG"),
            (
                json!({ "description": "x".repeat(10_001) }),
                "description",
                "TOO_LONG",
            ),
            (json!({ "name": "riga\nriga" }), "name", "INVALID"),
            (json!({ "name": "\u{202E}emoN" }), "name", "INVALID"),
            (
                json!({ "feesDescription": "\u{200B}\u{200C}" }),
                "feesDescription",
                "INVALID",
            ),
            (json!({}), "name", "REQUIRED"),
            (json!({ "name": "   " }), "name", "REQUIRED"),
        ];
        for (texts, name, code) in cases {
            let mut input = texts.clone();
            input["id"] = id.clone();
            input["language"] = json!("ar");
            assert_eq!(
                refused(input).await,
                vec![(field(name), code.to_owned())],
                "[{engine:?}] {texts}"
            );
        }
        // C0 and C1 controls (NUL, BEL, the ESC of ANSI escapes) are refused at the
        // boundary, before any mutation runs, as for every input.
        for texts in [
            json!({ "name": "Nome\u{7}" }),
            json!({ "description": "testo \u{1b}[31m" }),
            json!({ "name": "Nome" , "language": "a\u{0}" }),
        ] {
            let mut input = json!({ "id": id, "language": "ar" });
            for (key, value) in texts.as_object().cloned().unwrap_or_default() {
                input[key] = value;
            }
            let (_, body) = app.query_as(&owner, SET, json!({ "input": input })).await;
            assert_eq!(
                first_error_code(&body),
                "BAD_USER_INPUT",
                "[{engine:?}] {body}"
            );
        }
        // A site has no description to translate.
        let site =
            "{ organizations(filter: {search: \"Centro per l'impiego di Livorno\"}, first: 1) {
            nodes { locationsConnection(first: 1) { nodes { id } } } } }";
        let data = app.data(site, json!({})).await;
        let site =
            data["organizations"]["nodes"][0]["locationsConnection"]["nodes"][0]["id"].clone();
        let input = json!({ "id": site, "language": "ar", "name": "موقع", "description": "وصف" });
        assert_eq!(
            refused(input).await,
            vec![(field("description"), "INVALID".to_owned())],
            "[{engine:?}]"
        );
        // Nothing was stored by any of them.
        let after = service_in(&app, COUNSELLING, None, "").await;
        assert_eq!(
            after["translations"], service["translations"],
            "[{engine:?}]"
        );
        // An ID of an object that has no text to translate is a bad input.
        let person = melt_tests::global_id("Person", uuid::Uuid::now_v7());
        let input = json!({ "input": { "id": person, "language": "ar", "name": "x" } });
        let (_, body) = app.query_as(&owner, SET, input).await;
        assert_eq!(
            first_error_code(&body),
            "BAD_USER_INPUT",
            "[{engine:?}] {body}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_sites_translations_are_deleted_with_it() {
    on_every_engine(async |engine, app| {
        let admin = admin_of(&app, "Forium").await;
        let forium = melt_tests::global_id("Organization", app.organization_id("Forium").await);
        let create = "mutation($input: CreateLocationInput!) {
            createLocation(input: $input) { location { id rowVersion } userErrors { code } } }";
        let input = json!({ "input": { "organization": forium, "name": "Sede temporanea",
            "address": "Via Roma 1", "municipalityIstatCode": "050026" } });
        let (_, body) = app.query_as(&admin, create, input).await;
        let site = body["data"]["createLocation"]["location"]["id"].clone();
        let input =
            json!({ "input": { "id": site, "language": "en", "name": "Temporary office" } });
        let (_, body) = app.query_as(&admin, SET, input).await;
        assert_eq!(
            body["data"]["setTranslation"]["userErrors"],
            json!([]),
            "[{engine:?}] {body}"
        );
        let site_row = melt_tests::row_id(site.as_str().unwrap_or_default());
        let stored = "SELECT COUNT(*) FROM translation WHERE subject_id = ?";
        assert_eq!(count(&app, stored, vec![site_row.into()]).await, 1);
        // The translation stamped the site's updatedAt, not its version.
        let delete = "mutation($input: DeleteLocationInput!) {
            deleteLocation(input: $input) { deletedLocationId userErrors { code } } }";
        let input = json!({ "input": { "id": site, "expectedVersion": 1 } });
        let (_, body) = app.query_as(&admin, delete, input).await;
        assert_eq!(
            body["data"]["deleteLocation"]["deletedLocationId"], site,
            "[{engine:?}] {body}"
        );
        assert_eq!(
            count(&app, stored, vec![site_row.into()]).await,
            0,
            "[{engine:?}]"
        );
    })
    .await;
}
