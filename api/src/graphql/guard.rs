//! The document guard: a parsed document is measured WITHOUT expanding its fragments,
//! and refused before async-graphql validates or runs it when it is too large, too
//! costly, too deep, cyclic, or asks for disabled introspection.
//!
//! Why in front of async-graphql: its recursion-depth and directive checks, its
//! complexity and depth visitors and its executor all walk the document with every
//! fragment spread expanded in place. A 1 KB document of 25 named fragments, each
//! spreading the next twice, expands to 2^24 fields: validation alone then takes tens
//! of seconds and gigabytes. Here each fragment is measured once and memoised, so a
//! document costs time linear in its text, whatever it expands to.
//!
//! The guard runs in the schema's gate (`crate::schema::gate`), before async-graphql
//! sees the request (HTTP POST, GET, each operation of a batch, websocket): it parses
//! the document itself, measures it, and hands the parsed document on, so it is parsed
//! once.
//!
//! Measures, over every operation of the document:
//! - **fields**: field selections once fragments are expanded (`__typename` included);
//! - **cost**: every field costs 1 plus its selection times a multiplier: `first`/`last`
//!   (default 20, at most 100) on a connection, the number of `ids` on `nodes`, and
//!   [`INTROSPECTION_LIST_FACTOR`] on the introspection fields that return lists
//!   (`types`, `fields`, `args`, ...). It is at least async-graphql's complexity for the
//!   same document, which stays as a second check.
//! - **recursion depth**: as async-graphql counts it (each field with a selection, each
//!   fragment spread and each inline fragment is one level).

use crate::graphql::connection::page_items;
use async_graphql::parser::types::{
    ExecutableDocument, Field, FragmentDefinition, Selection, SelectionSet,
};
use async_graphql::{Name, Positioned, ServerError, ServerResult, Value as ConstValue, Variables};
use std::collections::HashMap;

/// What one introspection list is assumed to hold when costing a query: the schema has
/// about 150 types of about 10 fields with a few arguments each, so 5 per level is an
/// under-estimate that still makes each nested list level count. With it the query
/// GraphiQL sends costs 7,519 and selects 199 fields (the default limits are 20,000 and
/// 5,000), and one `__schema { types { fields { args { name } } } }` costs 157, so a
/// thousand aliases of it cost 157,000.
pub const INTROSPECTION_LIST_FACTOR: u64 = 5;

/// Introspection fields that return lists.
const INTROSPECTION_LISTS: &[&str] = &[
    "types",
    "fields",
    "args",
    "interfaces",
    "possibleTypes",
    "enumValues",
    "inputFields",
    "directives",
    "locations",
];

/// The limits a document must respect.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Maximum field selections after fragment expansion.
    pub max_fields: u64,
    /// Maximum cost.
    pub max_cost: u64,
    /// Maximum recursion depth.
    pub max_depth: usize,
    /// Whether `__schema` and `__type` may be asked for.
    pub introspection: bool,
}

impl Limits {
    /// The limits of the settings.
    pub fn from_settings(settings: &crate::settings::Settings) -> Self {
        Self {
            max_fields: settings.max_query_fields as u64,
            max_cost: settings.max_query_complexity as u64,
            max_depth: settings.max_recursive_depth,
            introspection: settings.introspection,
        }
    }
}

/// The size of a document, or of a part of it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Measure {
    /// Field selections once fragments are expanded.
    pub fields: u64,
    /// Cost (see the module documentation).
    pub cost: u64,
}

/// Why a document is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// More field selections than allowed once fragments are expanded.
    TooManyFields {
        /// Fields counted (saturating).
        fields: u64,
        /// The limit.
        limit: u64,
    },
    /// A cost above the limit.
    TooCostly {
        /// Cost computed (saturating).
        cost: u64,
        /// The limit.
        limit: u64,
    },
    /// Nested deeper than the recursion limit.
    TooDeep {
        /// The limit.
        limit: usize,
    },
    /// A fragment spreads itself, directly or through others.
    FragmentCycle {
        /// A fragment of the cycle.
        fragment: String,
    },
    /// Introspection is disabled and the document asks for it.
    IntrospectionDisabled,
}

impl Refusal {
    /// The stable `extensions.code`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::TooManyFields { .. } | Self::TooCostly { .. } => "QUERY_TOO_COMPLEX",
            Self::TooDeep { .. } | Self::FragmentCycle { .. } => "GRAPHQL_VALIDATION_FAILED",
            Self::IntrospectionDisabled => "INTROSPECTION_DISABLED",
        }
    }

    /// The message for the client.
    pub fn message(&self) -> String {
        match self {
            Self::TooManyFields { fields, limit } => format!(
                "the query is too complex: it selects {} fields once its fragments are \
                 expanded, the limit is {limit}",
                display_count(*fields)
            ),
            Self::TooCostly { cost, limit } => format!(
                "the query is too complex: it costs {}, the limit is {limit}",
                display_count(*cost)
            ),
            Self::TooDeep { limit } => {
                format!("The recursion depth of the query cannot be greater than `{limit}`")
            }
            Self::FragmentCycle { fragment } => {
                format!("Cannot spread fragment \"{fragment}\" within itself")
            }
            Self::IntrospectionDisabled => "introspection is disabled on this server".to_owned(),
        }
    }

    /// The GraphQL error, with its code.
    pub fn into_server_error(self) -> ServerError {
        let mut error = ServerError::new(self.message(), None);
        error
            .extensions
            .get_or_insert_with(Default::default)
            .set("code", self.code());
        error
    }
}

/// A saturated count reads "more than 2^64".
fn display_count(n: u64) -> String {
    if n == u64::MAX {
        "more than 18446744073709551615".to_owned()
    } else {
        n.to_string()
    }
}

/// Measures a document and checks it against the limits.
pub fn check(
    doc: &ExecutableDocument,
    variables: &Variables,
    limits: &Limits,
) -> Result<Measure, Refusal> {
    let mut walker = Walker::new(doc, variables, limits);
    let mut total = Measure::default();
    for (_, operation) in doc.operations.iter() {
        let measured = walker.selection_set(&operation.node.selection_set.node, 0, false)?;
        total.fields = total.fields.saturating_add(measured.measure.fields);
        total.cost = total.cost.saturating_add(measured.measure.cost);
        walker.limit(total)?;
    }
    // Fragments no operation uses are still validated: measure them too, each alone.
    for (name, fragment) in &doc.fragments {
        let measured = walker.fragment(name, fragment, 1)?;
        walker.limit(measured.measure)?;
    }
    Ok(total)
}

/// A measured selection set: its size and how deep it nests below itself.
#[derive(Clone, Copy, Debug, Default)]
struct Measured {
    measure: Measure,
    height: usize,
}

/// A fragment being measured, or measured.
#[derive(Clone, Copy)]
enum Memo {
    InProgress,
    Done(Measured),
}

struct Walker<'a> {
    doc: &'a ExecutableDocument,
    variables: &'a Variables,
    /// Default values of the variables of every operation (the first one wins).
    defaults: HashMap<&'a str, &'a ConstValue>,
    limits: &'a Limits,
    memo: HashMap<&'a str, Memo>,
}

impl<'a> Walker<'a> {
    fn new(doc: &'a ExecutableDocument, variables: &'a Variables, limits: &'a Limits) -> Self {
        let mut defaults = HashMap::new();
        for (_, operation) in doc.operations.iter() {
            for definition in &operation.node.variable_definitions {
                if let Some(value) = &definition.node.default_value {
                    defaults
                        .entry(definition.node.name.node.as_str())
                        .or_insert(&value.node);
                }
            }
        }
        Self {
            doc,
            variables,
            defaults,
            limits,
            memo: HashMap::new(),
        }
    }

    /// Refuses a measure over the limits.
    fn limit(&self, measure: Measure) -> Result<(), Refusal> {
        if measure.fields > self.limits.max_fields {
            return Err(Refusal::TooManyFields {
                fields: measure.fields,
                limit: self.limits.max_fields,
            });
        }
        if measure.cost > self.limits.max_cost {
            return Err(Refusal::TooCostly {
                cost: measure.cost,
                limit: self.limits.max_cost,
            });
        }
        Ok(())
    }

    /// Measures a selection set at `depth` (the operation's is 0).
    fn selection_set(
        &mut self,
        set: &'a SelectionSet,
        depth: usize,
        introspection: bool,
    ) -> Result<Measured, Refusal> {
        if depth > self.limits.max_depth {
            return Err(Refusal::TooDeep {
                limit: self.limits.max_depth,
            });
        }
        let mut total = Measured::default();
        for selection in &set.items {
            let (part, nested) = match &selection.node {
                Selection::Field(field) => {
                    let measured = self.field(&field.node, depth, introspection)?;
                    (measured.measure, measured.height)
                }
                Selection::InlineFragment(inline) => {
                    let introspection = match &inline.node.type_condition {
                        Some(condition) => condition.node.on.node.starts_with("__"),
                        None => introspection,
                    };
                    let measured = self.selection_set(
                        &inline.node.selection_set.node,
                        depth + 1,
                        introspection,
                    )?;
                    (measured.measure, measured.height + 1)
                }
                Selection::FragmentSpread(spread) => {
                    let name = &spread.node.fragment_name.node;
                    match self.doc.fragments.get_key_value(name) {
                        // Unknown fragments are reported by async-graphql's validation.
                        None => (Measure::default(), 0),
                        Some((name, fragment)) => {
                            let measured = self.fragment(name, fragment, depth + 1)?;
                            (measured.measure, measured.height + 1)
                        }
                    }
                }
            };
            total.measure.fields = total.measure.fields.saturating_add(part.fields);
            total.measure.cost = total.measure.cost.saturating_add(part.cost);
            total.height = total.height.max(nested);
            // Stop as soon as one selection set alone is over the limits.
            self.limit(total.measure)?;
        }
        Ok(total)
    }

    /// Measures a named fragment whose selection set sits at `depth`: once, then from
    /// the memo.
    fn fragment(
        &mut self,
        name: &'a Name,
        fragment: &'a Positioned<FragmentDefinition>,
        depth: usize,
    ) -> Result<Measured, Refusal> {
        match self.memo.get(name.as_str()) {
            Some(Memo::Done(measured)) => {
                if depth + measured.height > self.limits.max_depth {
                    return Err(Refusal::TooDeep {
                        limit: self.limits.max_depth,
                    });
                }
                Ok(*measured)
            }
            Some(Memo::InProgress) => Err(Refusal::FragmentCycle {
                fragment: name.to_string(),
            }),
            None => {
                self.memo.insert(name.as_str(), Memo::InProgress);
                let introspection = fragment.node.type_condition.node.on.node.starts_with("__");
                let measured =
                    self.selection_set(&fragment.node.selection_set.node, depth, introspection)?;
                self.memo.insert(name.as_str(), Memo::Done(measured));
                Ok(measured)
            }
        }
    }

    /// Measures one field whose parent selection set sits at `depth`.
    fn field(
        &mut self,
        field: &'a Field,
        depth: usize,
        introspection: bool,
    ) -> Result<Measured, Refusal> {
        let name = field.name.node.as_str();
        let enters_introspection = name == "__schema" || name == "__type";
        if enters_introspection && !self.limits.introspection {
            return Err(Refusal::IntrospectionDisabled);
        }
        let introspection = introspection || enters_introspection;
        let children = if field.selection_set.node.items.is_empty() {
            Measured::default()
        } else {
            let measured =
                self.selection_set(&field.selection_set.node, depth + 1, introspection)?;
            Measured {
                height: measured.height + 1,
                ..measured
            }
        };
        let multiplier = if introspection && INTROSPECTION_LISTS.contains(&name) {
            INTROSPECTION_LIST_FACTOR
        } else {
            self.multiplier(field)
        };
        Ok(Measured {
            measure: Measure {
                fields: children.measure.fields.saturating_add(1),
                cost: children
                    .measure
                    .cost
                    .saturating_mul(multiplier)
                    .saturating_add(1),
            },
            height: children.height,
        })
    }

    /// How many times a field's selection is paid for: the page size of a connection
    /// (as `page_cost` counts it), the number of ids of `nodes`, else once.
    fn multiplier(&self, field: &'a Field) -> u64 {
        let first = self.argument(field, "first");
        let last = self.argument(field, "last");
        if first.is_some() || last.is_some() {
            let integer = |value: Option<ConstValue>| match value {
                Some(ConstValue::Number(n)) => n.as_i64(),
                _ => None,
            };
            return page_items(integer(first), integer(last));
        }
        match self.argument(field, "ids") {
            Some(ConstValue::List(ids)) => ids.len() as u64,
            _ => 1,
        }
    }

    /// The value of a field's argument, its variables replaced by the request's values
    /// (else their defaults, else null).
    fn argument(&self, field: &'a Field, name: &str) -> Option<ConstValue> {
        let value = field.get_argument(name)?.node.clone();
        let resolved = value.into_const_with(|variable| {
            let value = self
                .variables
                .get(&variable)
                .or_else(|| self.defaults.get(variable.as_str()).copied())
                .cloned()
                .unwrap_or(ConstValue::Null);
            Ok::<_, std::convert::Infallible>(value)
        });
        resolved.ok()
    }
}

/// Passes a parsed document that [`check`] admits, or refuses it (logged, as the
/// client's error). Applied by the schema's gate (`crate::schema::gate`) to the
/// document it parses once, before async-graphql sees the request; parse errors are
/// left to async-graphql, which reports them as it always has.
pub fn admit(doc: &ExecutableDocument, variables: &Variables, limits: &Limits) -> ServerResult<()> {
    check(doc, variables, limits).map(drop).map_err(|refusal| {
        tracing::info!(code = refusal.code(), reason = %refusal.message(), "document refused");
        refusal.into_server_error()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        max_fields: 5_000,
        max_cost: 20_000,
        max_depth: 32,
        introspection: true,
    };

    fn measure(query: &str) -> Result<Measure, Refusal> {
        let doc = async_graphql::parser::parse_query(query).expect("parses");
        check(&doc, &Variables::default(), &LIMITS)
    }

    /// `query { ...F0 }` where each fragment spreads the next twice: 2^levels fields.
    fn fragment_bomb(levels: usize) -> String {
        let mut query = String::from("query { ...F0 }\n");
        for level in 0..levels {
            let next = level + 1;
            query.push_str(&format!(
                "fragment F{level} on Query {{ ...F{next} ...F{next} }}\n"
            ));
        }
        query.push_str(&format!("fragment F{levels} on Query {{ __typename }}\n"));
        query
    }

    #[test]
    fn fragments_are_counted_as_if_expanded() {
        let measured = measure(&fragment_bomb(10)).expect("under the limits");
        assert_eq!(measured.fields, 1 << 10);
        assert_eq!(measured.cost, 1 << 10);
    }

    #[test]
    fn a_fragment_bomb_is_refused_without_being_expanded() {
        let refusal = measure(&fragment_bomb(24)).expect_err("refused");
        assert_eq!(refusal.code(), "QUERY_TOO_COMPLEX");
        // Far beyond anything one could expand: the count saturates, it does not hang.
        let refusal = measure(&fragment_bomb(90)).expect_err("refused");
        assert!(matches!(
            refusal,
            Refusal::TooDeep { .. } | Refusal::TooManyFields { .. }
        ));
    }

    #[test]
    fn fragment_cycles_are_refused() {
        let refusal = measure("{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }")
            .expect_err("refused");
        assert!(
            matches!(refusal, Refusal::FragmentCycle { .. }),
            "{refusal:?}"
        );
        let refusal =
            measure("{ __typename } fragment A on Query { ...A ...A }").expect_err("refused");
        assert!(
            matches!(refusal, Refusal::FragmentCycle { .. }),
            "{refusal:?}"
        );
    }

    #[test]
    fn unknown_fragments_are_left_to_validation() {
        assert_eq!(
            measure("{ __typename ...Missing }"),
            Ok(Measure { fields: 1, cost: 1 })
        );
    }

    #[test]
    fn connections_cost_their_page_size() {
        let measured = measure("{ services(first: 50) { nodes { name } } }").expect("ok");
        assert_eq!(measured.cost, 1 + 50 * 2);
        assert_eq!(measured.fields, 3);
        let doc = async_graphql::parser::parse_query(
            "query($n: Int = 7) { services(first: $n) { nodes { name } } }",
        )
        .expect("parses");
        let defaulted = check(&doc, &Variables::default(), &LIMITS).expect("ok");
        assert_eq!(defaulted.cost, 1 + 7 * 2);
        let given = Variables::from_json(serde_json::json!({ "n": 3 }));
        assert_eq!(check(&doc, &given, &LIMITS).expect("ok").cost, 1 + 3 * 2);
    }

    #[test]
    fn a_zero_page_still_counts_its_fields() {
        let query = format!(
            "{{ services(first: 0) {{ nodes {{ ...F0 }} }} }} {}",
            fragment_bomb(20).trim_start_matches("query { ...F0 }\n")
        );
        let refusal = measure(&query).expect_err("refused");
        assert!(
            matches!(refusal, Refusal::TooManyFields { .. }),
            "{refusal:?}"
        );
    }

    #[test]
    fn introspection_lists_are_multiplied() {
        let one = "{ a0: __schema { types { fields { args { name } } } } }";
        assert_eq!(measure(one).expect("ok").cost, 157);
        let aliases: String = (0..1_000)
            .map(|i| format!("a{i}: __schema {{ types {{ fields {{ args {{ name }} }} }} }} "))
            .collect();
        let refusal = measure(&format!("{{ {aliases} }}")).expect_err("refused");
        assert!(matches!(refusal, Refusal::TooCostly { .. }), "{refusal:?}");
        // The same field names outside introspection are ordinary fields.
        assert_eq!(
            measure("{ types { fields { args { name } } } }")
                .expect("ok")
                .cost,
            4
        );
    }

    #[test]
    fn disabled_introspection_refuses_schema_and_type() {
        let limits = Limits {
            introspection: false,
            ..LIMITS
        };
        for query in [
            "{ __schema { types { name } } }",
            "{ __type(name: \"Query\") { name } }",
        ] {
            let doc = async_graphql::parser::parse_query(query).expect("parses");
            assert_eq!(
                check(&doc, &Variables::default(), &limits),
                Err(Refusal::IntrospectionDisabled)
            );
        }
        let doc = async_graphql::parser::parse_query("{ __typename }").expect("parses");
        assert!(check(&doc, &Variables::default(), &limits).is_ok());
    }

    #[test]
    fn depth_counts_like_async_graphql() {
        let limits = Limits {
            max_depth: 2,
            ..LIMITS
        };
        let check_depth = |query: &str| {
            let doc = async_graphql::parser::parse_query(query).expect("parses");
            check(&doc, &Variables::default(), &limits)
        };
        assert!(check_depth("{ a { b { c } } }").is_ok());
        assert!(matches!(
            check_depth("{ a { b { c { d } } } }"),
            Err(Refusal::TooDeep { .. })
        ));
        // The memo must not forget depth: F is measured shallow, then used deeper.
        let query = "{ x { ...F } y { z { ...F } } } fragment F on T { w }";
        assert!(matches!(check_depth(query), Err(Refusal::TooDeep { .. })));
    }
}
