//! Partners upgrade by reading CHANGELOG.md: every breaking change of `schema.graphql`
//! since the last release (`releases/schema-<version>.graphql`, the version of the first
//! release heading of the CHANGELOG) must be named, by its schema coordinate in
//! backticks, in the CHANGELOG's "Unreleased" section.
//!
//! The diff is graphql-schema-diff's; which changes break a client is decided here:
//! anything removed; a field's type changed, except an output made non-null or an input
//! made nullable; a new input field or argument that is non-null without a default; a
//! default removed from an argument. New enum values, new fields and types do not
//! break (clients must tolerate enum values they do not know; the README says so).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed step should stop it

use async_graphql::parser::parse_schema;
use async_graphql::parser::types::{BaseType, Type, TypeKind, TypeSystemDefinition};
use graphql_schema_diff::ChangeKind;
use std::collections::HashMap;
use std::path::Path;

/// What a coordinate names, as far as breaking changes go.
#[derive(Debug, Clone)]
enum Item {
    /// A field of an object or interface (an output).
    Output(Type),
    /// A field of an input object, or an argument: its type and whether it has a default.
    Input(Type, bool),
}

/// Every field, input field and argument of a schema, by coordinate (`Type.field`,
/// `Type.field.argument`).
fn items(sdl: &str) -> HashMap<String, Item> {
    let document = parse_schema(sdl).expect("the SDL parses");
    let mut items = HashMap::new();
    for definition in document.definitions {
        let TypeSystemDefinition::Type(definition) = definition else {
            continue;
        };
        let name = definition.node.name.node.to_string();
        match definition.node.kind {
            TypeKind::Object(object) => {
                for field in object.fields {
                    add_field(&mut items, &name, &field.node);
                }
            }
            TypeKind::Interface(interface) => {
                for field in interface.fields {
                    add_field(&mut items, &name, &field.node);
                }
            }
            TypeKind::InputObject(input) => {
                for field in input.fields {
                    let field = field.node;
                    items.insert(
                        format!("{name}.{}", field.name.node),
                        Item::Input(field.ty.node, field.default_value.is_some()),
                    );
                }
            }
            _ => {}
        }
    }
    items
}

fn add_field(
    items: &mut HashMap<String, Item>,
    parent: &str,
    field: &async_graphql::parser::types::FieldDefinition,
) {
    let coordinate = format!("{parent}.{}", field.name.node);
    for argument in &field.arguments {
        items.insert(
            format!("{coordinate}.{}", argument.node.name.node),
            Item::Input(
                argument.node.ty.node.clone(),
                argument.node.default_value.is_some(),
            ),
        );
    }
    items.insert(coordinate, Item::Output(field.ty.node.clone()));
}

/// True when `looser` is `stricter` with some non-null markers taken off (nullable
/// where `stricter` is non-null, never non-null where `stricter` is nullable).
fn only_loosened(stricter: &Type, looser: &Type) -> bool {
    if stricter.nullable && !looser.nullable {
        return false;
    }
    match (&stricter.base, &looser.base) {
        (BaseType::Named(a), BaseType::Named(b)) => a == b,
        (BaseType::List(a), BaseType::List(b)) => only_loosened(a, b),
        _ => false,
    }
}

/// The breaking changes from `old` to `new`, as coordinates with the kind of change.
fn breaking_changes(old: &str, new: &str) -> Vec<(String, String)> {
    let changes = graphql_schema_diff::diff(old, new).expect("both schemas parse");
    let (before, after) = (items(old), items(new));
    let mut breaking = Vec::new();
    for change in changes {
        use ChangeKind::*;
        let path = change.path.clone();
        let breaks = match change.kind {
            RemoveObjectType
            | RemoveInterfaceImplementation
            | RemoveField
            | RemoveUnion
            | RemoveUnionMember
            | RemoveEnum
            | RemoveEnumValue
            | RemoveScalar
            | RemoveInterface
            | RemoveDirectiveDefinition
            | RemoveSchemaDefinition
            | RemoveInputObject
            | RemoveFieldArgument
            | ChangeQueryType
            | ChangeMutationType
            | ChangeSubscriptionType => true,
            RemoveFieldArgumentDefault => {
                matches!(after.get(&path), Some(Item::Input(ty, false)) if !ty.nullable)
            }
            AddField | AddFieldArgument => {
                matches!(after.get(&path), Some(Item::Input(ty, false)) if !ty.nullable)
            }
            ChangeFieldType | ChangeFieldArgumentType => {
                match (before.get(&path), after.get(&path)) {
                    (Some(Item::Output(old)), Some(Item::Output(new))) => !only_loosened(new, old),
                    (Some(Item::Input(old, _)), Some(Item::Input(new, _))) => {
                        !only_loosened(old, new)
                    }
                    _ => true,
                }
            }
            _ => false,
        };
        if breaks {
            breaking.push((path, change.kind.as_str().to_owned()));
        }
    }
    breaking.sort();
    breaking.dedup();
    breaking
}

/// The text of the CHANGELOG's "Unreleased" section, and the version of the first
/// release below it.
fn unreleased_and_last_release(changelog: &str) -> (String, String) {
    let mut sections = changelog.split("\n## ").skip(1);
    let unreleased = sections.next().expect("a first section");
    assert!(
        unreleased.starts_with("[Unreleased]"),
        "the CHANGELOG's first section must be `## [Unreleased]`"
    );
    let release = sections
        .next()
        .expect("a released version below Unreleased");
    let version = release
        .strip_prefix('[')
        .and_then(|r| r.split(']').next())
        .expect("a heading `## [x.y.z] - date`");
    (unreleased.to_owned(), version.to_owned())
}

#[test]
fn every_breaking_change_since_the_last_release_is_in_the_changelog() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let changelog = std::fs::read_to_string(root.join("CHANGELOG.md")).expect("CHANGELOG.md");
    let (unreleased, version) = unreleased_and_last_release(&changelog);
    let released = std::fs::read_to_string(root.join(format!("releases/schema-{version}.graphql")))
        .expect("the released schema of the last version in the CHANGELOG");
    let current = std::fs::read_to_string(root.join("schema.graphql")).expect("schema.graphql");
    let unlisted: Vec<_> = breaking_changes(&released, &current)
        .into_iter()
        .filter(|(coordinate, _)| !unreleased.contains(&format!("`{coordinate}`")))
        .collect();
    assert!(
        unlisted.is_empty(),
        "breaking changes since {version} not named in CHANGELOG.md's Unreleased section \
         (name each coordinate in backticks): {unlisted:#?}"
    );
}

const BEFORE: &str = r#"
type Query { a: String, b: Int!, list(first: Int, after: String): [String!] }
input Filter { name: String, code: String! }
enum Kind { ONE TWO }
type Gone { x: Int }
"#;

#[test]
fn removals_and_tightened_inputs_are_breaking() {
    let after = r#"
type Query { a: Int, list(first: Int!, after: String): [String!] }
input Filter { name: String!, code: String!, extra: Int! }
enum Kind { ONE }
"#;
    let coordinates: Vec<String> = breaking_changes(BEFORE, after)
        .into_iter()
        .map(|(c, _)| c)
        .collect();
    for expected in [
        "Query.a",          // String -> Int
        "Query.b",          // removed
        "Query.list.first", // argument made non-null
        "Filter.name",      // input made non-null
        "Filter.extra",     // new non-null input field without default
        "Kind.TWO",         // enum value removed
        "Gone",             // type removed
    ] {
        assert!(
            coordinates.iter().any(|c| c == expected),
            "{expected} not found in {coordinates:?}"
        );
    }
}

#[test]
fn additions_and_loosened_types_are_not_breaking() {
    let after = r#"
type Query { a: String!, b: Int!, c: Float, list(first: Int, after: String, last: Int): [String!] }
input Filter { name: String, code: String, extra: Int, more: Int! = 3 }
enum Kind { ONE TWO THREE }
type Gone { x: Int }
type New { y: Int }
"#;
    assert_eq!(breaking_changes(BEFORE, after), Vec::new());
}

#[test]
fn the_changelog_names_its_sections_as_the_check_expects() {
    let (unreleased, version) = unreleased_and_last_release(
        "# Changelog\n\n## [Unreleased]\n- `A.b`\n\n## [1.2.3] - 2026-01-01\n",
    );
    assert!(unreleased.contains("`A.b`"));
    assert_eq!(version, "1.2.3");
}
