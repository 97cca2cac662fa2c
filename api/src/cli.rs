//! The `melt` command line.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// MeLT network API: the GraphQL backbone of Tuscany's labour and social inclusion
/// network. Settings come from the environment (see the README).
#[derive(Parser, Debug)]
#[command(name = "melt", version, about)]
pub struct Cli {
    /// What to do (default: serve).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the HTTP server (applies migrations, loads the demo network when enabled).
    Serve,
    /// Manage database migrations.
    Migrate {
        /// What to do.
        #[command(subcommand)]
        action: MigrateAction,
    },
    /// Load the demo network (once; later runs change nothing).
    Seed,
    /// Print the GraphQL schema (SDL).
    ExportSchema {
        /// Write to this file instead of stdout.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
}

/// Migration actions.
#[derive(Subcommand, Debug, Clone, Copy)]
pub enum MigrateAction {
    /// Apply every pending migration.
    Up,
    /// Roll back the last migration.
    Down,
    /// List migrations and whether each is applied.
    Status,
}
