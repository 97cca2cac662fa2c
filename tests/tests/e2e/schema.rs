//! The exported SDL is committed and complete.

use melt_api::schema::{bare_schema, sdl};
use serde_json::Value;

/// The command that regenerates the committed schema.
const EXPORT: &str = "cargo run -p melt-api -- export-schema --output schema.graphql";

#[test]
fn the_committed_schema_graphql_is_up_to_date() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../schema.graphql");
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == sdl(),
        "schema.graphql is stale: run `{EXPORT}` and commit the result"
    );
}

const INTROSPECTION: &str = "{
  __schema {
    types {
      name
      description
      fields(includeDeprecated: true) { name description }
      inputFields { name description }
      enumValues(includeDeprecated: true) { name description }
    }
  }
}";

const BUILT_IN: &[&str] = &["String", "Int", "Float", "Boolean", "ID"];

fn documented(item: &Value) -> bool {
    item["description"]
        .as_str()
        .is_some_and(|d| !d.trim().is_empty())
}

#[tokio::test]
async fn every_type_field_and_enum_value_has_a_description() {
    let response = bare_schema().execute(INTROSPECTION).await;
    assert!(response.errors.is_empty(), "{:?}", response.errors);
    let data = response.data.into_json().unwrap_or_default();
    let types = data["__schema"]["types"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(types.len() > 20, "introspection returned the types");
    let mut missing = Vec::new();
    for ty in &types {
        let name = ty["name"].as_str().unwrap_or_default();
        if name.starts_with("__") || BUILT_IN.contains(&name) {
            continue;
        }
        if !documented(ty) {
            missing.push(name.to_owned());
        }
        for list in ["fields", "inputFields", "enumValues"] {
            for member in ty[list].as_array().into_iter().flatten() {
                if !documented(member) {
                    missing.push(format!(
                        "{name}.{}",
                        member["name"].as_str().unwrap_or_default()
                    ));
                }
            }
        }
    }
    assert!(missing.is_empty(), "undocumented: {missing:#?}");
}
