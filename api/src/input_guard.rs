//! The boundary check of every operation: before anything runs, every string in the
//! variables and in the inline arguments (at any depth, JSON object keys included) is
//! refused with `BAD_USER_INPUT` when it holds a control character (C0 other than tab,
//! line feed and carriage return; DEL; C1 — so NUL and the ESC of ANSI escapes) or is
//! longer than [`MAX_STRING_CHARS`]. Per-field rules (visible names, caps, search
//! length) are in [`crate::validation`].

use async_graphql::parser::types::{
    Directive, ExecutableDocument, Selection, SelectionSet, VariableDefinition,
};
use async_graphql::{Name, Positioned, ServerError, ServerResult, Value, Variables};

/// The longest string any argument may hold, in characters (the longest field, a
/// service description, takes 10,000).
pub const MAX_STRING_CHARS: usize = 16_384;

/// True for a character no text input may hold: C0 controls except `\t`, `\n` and
/// `\r`, DEL, and C1 controls.
pub fn is_forbidden_control(c: char) -> bool {
    c.is_control() && !matches!(c, '\t' | '\n' | '\r')
}

/// What is wrong with a string, if anything.
pub fn string_problem(value: &str) -> Option<String> {
    if let Some(c) = value.chars().find(|c| is_forbidden_control(*c)) {
        return Some(format!(
            "must not contain control characters (found U+{:04X})",
            u32::from(c)
        ));
    }
    if value.chars().nth(MAX_STRING_CHARS).is_some() {
        return Some(format!("must be at most {MAX_STRING_CHARS} characters"));
    }
    None
}

fn refuse(place: &str, problem: &str) -> ServerError {
    let mut error = ServerError::new(format!("`{place}`: text {problem}"), None);
    let extensions = error.extensions.get_or_insert_with(Default::default);
    extensions.set("code", "BAD_USER_INPUT");
    extensions.set("argument", place);
    error
}

/// Checks every string in `value`; `place` names it in the error.
fn check_value(place: &str, value: &Value) -> ServerResult<()> {
    match value {
        Value::String(s) => match string_problem(s) {
            Some(problem) => Err(refuse(place, &problem)),
            None => Ok(()),
        },
        Value::List(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, item)| check_value(&format!("{place}.{i}"), item)),
        Value::Object(fields) => fields.iter().try_for_each(|(key, item)| {
            let place = format!("{place}.{key}");
            if let Some(problem) = string_problem(key) {
                return Err(refuse(&place, &format!("key {problem}")));
            }
            check_value(&place, item)
        }),
        _ => Ok(()),
    }
}

/// The constant part of inline arguments: variables inside are checked with the
/// variables, so they stand as null here.
macro_rules! constant_arguments {
    ($arguments:expr) => {
        $arguments.iter().map(|(name, value)| {
            let constant = value
                .node
                .clone()
                .into_const_with(|_| Ok::<_, std::convert::Infallible>(Value::Null))
                .unwrap_or(Value::Null);
            (name.node.clone(), constant)
        })
    };
}

fn check_arguments(
    owner: &str,
    arguments: impl Iterator<Item = (Name, Value)>,
) -> ServerResult<()> {
    arguments
        .into_iter()
        .try_for_each(|(name, value)| check_value(&format!("{owner}({name})"), &value))
}

fn check_directives(directives: &[Positioned<Directive>]) -> ServerResult<()> {
    directives.iter().try_for_each(|d| {
        check_arguments(
            &format!("@{}", d.node.name.node),
            constant_arguments!(d.node.arguments),
        )
    })
}

fn check_selection_set(set: &SelectionSet) -> ServerResult<()> {
    set.items.iter().try_for_each(|item| match &item.node {
        Selection::Field(field) => {
            let field = &field.node;
            check_arguments(&field.name.node, constant_arguments!(field.arguments))?;
            check_directives(&field.directives)?;
            check_selection_set(&field.selection_set.node)
        }
        Selection::FragmentSpread(spread) => check_directives(&spread.node.directives),
        Selection::InlineFragment(fragment) => {
            check_directives(&fragment.node.directives)?;
            check_selection_set(&fragment.node.selection_set.node)
        }
    })
}

fn check_variable_defaults(definitions: &[Positioned<VariableDefinition>]) -> ServerResult<()> {
    definitions
        .iter()
        .try_for_each(|d| match &d.node.default_value {
            Some(default) => check_value(&format!("${}", d.node.name.node), &default.node),
            None => Ok(()),
        })
}

/// Checks the variables and every inline argument of `document`.
pub fn check_request(document: &ExecutableDocument, variables: &Variables) -> ServerResult<()> {
    variables.iter().try_for_each(|(name, value)| {
        let place = format!("${name}");
        if let Some(problem) = string_problem(name) {
            return Err(refuse(&place, &format!("name {problem}")));
        }
        check_value(&place, value)
    })?;
    for (_, operation) in document.operations.iter() {
        check_variable_defaults(&operation.node.variable_definitions)?;
        check_directives(&operation.node.directives)?;
        check_selection_set(&operation.node.selection_set.node)?;
    }
    for fragment in document.fragments.values() {
        check_directives(&fragment.node.directives)?;
        check_selection_set(&fragment.node.selection_set.node)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(query: &str, variables: serde_json::Value) -> ServerResult<()> {
        let document = async_graphql::parser::parse_query(query).expect("parses");
        check_request(&document, &Variables::from_json(variables))
    }

    #[test]
    fn nul_and_escape_characters_are_refused_anywhere() {
        let inline = check(
            r#"{ a(filter: {search: "x\u0000"}) }"#,
            serde_json::json!({}),
        );
        assert!(inline.is_err());
        let nested = check(
            "query($i: I) { a(input: $i) }",
            serde_json::json!({ "i": { "list": ["ok", "\u{1b}[31mred"] } }),
        );
        let error = nested.expect_err("ESC is refused");
        assert!(error.message.contains("$i.list.1"), "{}", error.message);
        let fragment = check(
            "{ ...F } fragment F on Query { a(s: \"\\u0085\") }",
            serde_json::json!({}),
        );
        assert!(fragment.is_err(), "C1 controls in fragments are refused");
    }

    #[test]
    fn newlines_tabs_and_format_characters_pass() {
        let ok = check(
            "query($t: String) { a(t: $t, u: \"riga 1\\nriga 2\\t\") }",
            serde_json::json!({ "t": "Caf\u{e8} \u{200d}\u{202e}" }),
        );
        assert!(ok.is_ok());
    }

    #[test]
    fn over_long_strings_are_refused() {
        let long = "x".repeat(MAX_STRING_CHARS + 1);
        assert!(
            check(
                "query($t: String) { a(t: $t) }",
                serde_json::json!({ "t": long })
            )
            .is_err()
        );
        let longest = "è".repeat(MAX_STRING_CHARS);
        assert!(
            check(
                "query($t: String) { a(t: $t) }",
                serde_json::json!({ "t": longest })
            )
            .is_ok()
        );
    }
}
