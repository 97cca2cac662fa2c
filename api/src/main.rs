//! `melt`: thin entry point over the library (see [`melt_api::cli`]).

use clap::Parser;
use melt_api::cli::{Cli, Outcome, run};

/// mimalloc: a GraphQL response is hundreds of small, short-lived allocations, where
/// it spends less CPU than the system allocator (figures in the README's Benchmark).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match run(Cli::parse()).await? {
        Outcome::Done => Ok(()),
        Outcome::Refused(error) => {
            // A command-line mistake: a plain message on stderr, no backtrace.
            eprintln!("error: {error:#}");
            std::process::exit(1)
        }
    }
}
