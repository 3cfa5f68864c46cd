//! End-to-end tests: each starts a real hub (`liaison-testkit`) on 127.0.0.1 with a fresh
//! PKI and database, and talks to it with real gRPC clients over mutual TLS. Every test
//! runs twice, on SQLite and on PostgreSQL.

mod support;

mod access;
mod admin;
mod adversarial;
mod audit;
mod authorization;
mod cbm;
mod directory;
mod exchange;
mod indicators;
mod lifecycle;
mod limits;
mod mla;
mod mla_keys;
mod mla_policy;
mod mla_transfers;
mod restart;
mod stix;
mod subscribe;
mod telemetry;
mod tls;
mod visibility;
mod witness;
