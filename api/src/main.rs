//! `melt`: thin entry point over the library (see [`melt_api::cli`]).

use clap::Parser;
use melt_api::cli::{Cli, Outcome, run};

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
