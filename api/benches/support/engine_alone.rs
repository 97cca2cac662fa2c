//! The GraphQL engine alone: the document of a scenario executed by async-graphql over
//! its answer already in memory, with no database, no HTTP and no extension.
//!
//! The types are the cheapest async-graphql offers (`SimpleObject`: a field is a read of
//! a struct member), filled from the floor's own JSON document of the first page. What
//! one execution and its serialization cost on one core is a lower bound of what any
//! server on this stack spends on the page before it reads a row or a socket; set
//! beside the CPU time that a share of the floor's throughput leaves per request, it
//! says whether that share can be reached on this machine at all.

use anyhow::{Context as _, Result};
use async_graphql::{EmptyMutation, EmptySubscription, Object, Schema, SimpleObject};
use serde::Deserialize;
use serde_json::Value;
use std::time::Duration;

/// `pageInfo`. The floor's cursor is a string on PostgreSQL and an array on SQLite:
/// whatever it is, it is answered as it came.
#[derive(SimpleObject, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PageInfo {
    end_cursor: Option<async_graphql::Json<Value>>,
}

/// A connection of `T` as the scenarios select it.
#[derive(SimpleObject, Deserialize)]
#[serde(rename_all = "camelCase")]
#[graphql(concrete(name = "ServiceConnection", params(Service)))]
#[graphql(concrete(name = "OrganizationConnection", params(Organization)))]
struct Connection<T: async_graphql::OutputType> {
    total_count: u64,
    page_info: PageInfo,
    nodes: Vec<T>,
}

/// A provider or an organization's name and kind.
#[derive(SimpleObject, Deserialize, Clone)]
struct Provider {
    name: String,
    kind: String,
}

/// A term with its label (service types).
#[derive(SimpleObject, Deserialize, Clone)]
struct LabelledTerm {
    code: String,
    label: String,
}

/// A term's code (languages).
#[derive(SimpleObject, Deserialize, Clone)]
struct Code {
    code: String,
}

/// A service of the catalogue page.
#[derive(SimpleObject, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Service {
    name: String,
    status: String,
    provider: Provider,
    service_types: Vec<LabelledTerm>,
    languages: Vec<Code>,
}

/// A site of the organizations page.
#[derive(SimpleObject, Deserialize)]
struct Location {
    name: String,
    address: Option<String>,
}

/// A service of the organizations page.
#[derive(SimpleObject, Deserialize)]
struct NamedService {
    name: String,
    status: String,
}

/// An organization of the organizations page.
#[derive(SimpleObject, Deserialize)]
struct Organization {
    name: String,
    kind: String,
    locations: Vec<Location>,
    services: Vec<NamedService>,
}

/// The root: the page in memory, whatever the arguments.
struct Query {
    services: Option<Connection<Service>>,
    organizations: Option<Connection<Organization>>,
}

#[Object]
impl Query {
    async fn services(
        &self,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<async_graphql::Json<Value>>,
    ) -> Option<&Connection<Service>> {
        let _ = (first, after, filter);
        self.services.as_ref()
    }

    async fn organizations(
        &self,
        first: Option<i32>,
        after: Option<String>,
    ) -> Option<&Connection<Organization>> {
        let _ = (first, after);
        self.organizations.as_ref()
    }
}

/// CPU time of one execution of `query` (with `$after` null) and the serialization of
/// its response, over `document` (the floor's answer of the same page, `{"data": …}`),
/// averaged over `runs` executions on this thread. Fails when the engine's answer is
/// not the floor's document.
pub fn cost_per_page(query: &str, field: &str, document: &Value, runs: usize) -> Result<Duration> {
    let list = document["data"][field].clone();
    let root = match field {
        "services" => Query {
            services: Some(serde_json::from_value(list).context("the floor's services")?),
            organizations: None,
        },
        "organizations" => Query {
            services: None,
            organizations: Some(serde_json::from_value(list).context("the floor's organizations")?),
        },
        other => anyhow::bail!("no engine-alone types for `{other}`"),
    };
    let schema = Schema::new(root, EmptyMutation, EmptySubscription);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .context("cannot build the engine's runtime")?;
    let execute = || -> Result<Vec<u8>> {
        let response = runtime.block_on(schema.execute(query));
        anyhow::ensure!(
            response.errors.is_empty(),
            "the engine alone answered {:?}",
            response.errors
        );
        serde_json::to_vec(&response).context("cannot serialize the engine's answer")
    };
    let answer: Value = serde_json::from_slice(&execute()?)?;
    anyhow::ensure!(
        answer["data"] == document["data"],
        "the engine alone answers another document than the floor's"
    );
    let started = thread_cpu().context("no CPU time for this thread")?;
    for _ in 0..runs {
        std::hint::black_box(execute()?);
    }
    let spent = thread_cpu()
        .context("no CPU time for this thread")?
        .saturating_sub(started);
    Ok(spent / u32::try_from(runs.max(1)).unwrap_or(u32::MAX))
}

/// User and system CPU time of the calling thread, from `/proc/thread-self/stat`.
fn thread_cpu() -> Option<Duration> {
    super::cpu_of("/proc/thread-self/stat")
}
