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
      kind
      description
      specifiedByURL
      fields(includeDeprecated: true) {
        name
        description
        args(includeDeprecated: true) { name description type { kind } }
      }
      inputFields(includeDeprecated: true) { name description type { kind } }
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

/// The types of the schema, by introspection (built-in scalars and `__` types left out).
async fn schema_types() -> Vec<Value> {
    let response = bare_schema().execute(INTROSPECTION).await;
    assert!(response.errors.is_empty(), "{:?}", response.errors);
    let data = response.data.into_json().unwrap_or_default();
    let types = data["__schema"]["types"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(types.len() > 20, "introspection returned the types");
    types
        .into_iter()
        .filter(|ty| {
            let name = ty["name"].as_str().unwrap_or_default();
            !name.starts_with("__") && !BUILT_IN.contains(&name)
        })
        .collect()
}

/// Every input value of the schema (field arguments and input fields), as
/// `(coordinate, value)`, e.g. `("Query.persons(first:)", …)`.
fn input_values(types: &[Value]) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for ty in types {
        let name = ty["name"].as_str().unwrap_or_default();
        for field in ty["fields"].as_array().into_iter().flatten() {
            let field_name = field["name"].as_str().unwrap_or_default();
            for arg in field["args"].as_array().into_iter().flatten() {
                let arg_name = arg["name"].as_str().unwrap_or_default();
                out.push((format!("{name}.{field_name}({arg_name}:)"), arg.clone()));
            }
        }
        for input in ty["inputFields"].as_array().into_iter().flatten() {
            let input_name = input["name"].as_str().unwrap_or_default();
            out.push((format!("{name}.{input_name}"), input.clone()));
        }
    }
    out
}

#[tokio::test]
async fn every_type_field_argument_input_field_and_enum_value_has_a_description() {
    let types = schema_types().await;
    let mut missing = Vec::new();
    for ty in &types {
        let name = ty["name"].as_str().unwrap_or_default();
        if !documented(ty) {
            missing.push(name.to_owned());
        }
        for list in ["fields", "enumValues"] {
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
    for (coordinate, value) in input_values(&types) {
        if !documented(&value) {
            missing.push(coordinate);
        }
    }
    assert!(missing.is_empty(), "undocumented: {missing:#?}");
}

/// Whether a description says the value must be given ("required", "Required.").
fn says_required(description: &str) -> bool {
    description
        .split(|c: char| !c.is_alphanumeric())
        .any(|word| word.eq_ignore_ascii_case("required"))
}

#[tokio::test]
async fn an_argument_or_input_field_described_as_required_is_non_null() {
    let types = schema_types().await;
    let loose: Vec<String> = input_values(&types)
        .into_iter()
        .filter(|(_, value)| {
            says_required(value["description"].as_str().unwrap_or_default())
                && value["type"]["kind"] != "NON_NULL"
        })
        .map(|(coordinate, _)| coordinate)
        .collect();
    assert!(
        loose.is_empty(),
        "described as required but nullable: {loose:#?}"
    );
}

#[test]
fn the_required_walker_reads_the_word_not_a_part_of_one() {
    assert!(says_required("Required: the service."));
    assert!(says_required("The reason (required on REJECT)."));
    assert!(!says_required("Requirements of the service."));
}

#[tokio::test]
async fn every_custom_scalar_has_a_description_and_a_specification() {
    let types = schema_types().await;
    let scalars: Vec<&Value> = types.iter().filter(|ty| ty["kind"] == "SCALAR").collect();
    let names: Vec<&str> = scalars
        .iter()
        .map(|ty| ty["name"].as_str().unwrap_or_default())
        .collect();
    for expected in ["DateTime", "Date", "JSON"] {
        assert!(
            names.contains(&expected),
            "{expected} is a scalar: {names:?}"
        );
    }
    for ty in scalars {
        let description = ty["description"].as_str().unwrap_or_default();
        assert!(
            !description.contains("Implement the") && description.len() > 30,
            "{}: a real description, not {description:?}",
            ty["name"]
        );
        assert!(
            ty["specifiedByURL"]
                .as_str()
                .is_some_and(|url| url.starts_with("https://")),
            "{} has @specifiedBy",
            ty["name"]
        );
    }
    assert!(sdl().contains("scalar DateTime @specifiedBy(url: "));
}
