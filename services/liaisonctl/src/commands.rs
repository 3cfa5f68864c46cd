//! The command groups, one file each: each holds its clap subcommands, a short `run`
//! that dispatches them, and one function per subcommand. They share only the leaf
//! modules (`call`, `failure`, `parse`, `output`, `progress`), never each other.

pub mod admin;
pub mod audit;
pub mod cbm;
pub mod config;
pub mod directory;
pub mod inbox;
pub mod indicators;
pub mod mla;
