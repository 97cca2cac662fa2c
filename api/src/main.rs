//! `melt`: thin entry point over the library (see [`melt_api::cli`]).

use clap::Parser;
use melt_api::cli::{Cli, Outcome, run};

/// jemalloc rather than the system's allocator (README "Benchmark"; its settings are
/// in `.cargo/config.toml`).
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() {
    match run(Cli::parse()).await {
        Ok(Outcome::Done) => {}
        // A mistake in the command line or the settings, or a failure to start: one
        // line on stderr with each cause once, no backtrace.
        Ok(Outcome::Refused(error)) | Err(error) => {
            eprintln!("error: {}", once_each(&error));
            std::process::exit(1)
        }
    }
}

/// The error and its causes, each said once (a cause whose words its effect already
/// carries is left out).
fn once_each(error: &anyhow::Error) -> String {
    let mut text = error.to_string();
    for cause in error.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}
