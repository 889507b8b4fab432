//! Stockroom: a GraphQL inventory server.
//!
//! A tour of the crate:
//! - [`cli`] parses the command line; `main.rs` only calls it.
//! - [`app`] builds the HTTP router from a configuration and a database, so tests and tools
//!   start the same server on any port.
//! - [`graphql`] holds the schema: thin resolvers that parse input into [`domain`] types and
//!   call one [`service`] function each, plus the DataLoaders that batch every relation.
//! - [`service`] holds every read and write of the inventory and owns the transactions.
//! - [`db`] connects to SQLite or PostgreSQL and runs transactions; entities and migrations
//!   live in the `entity` and `migration` crates.
//! - [`import`] loads real data sets through the services; [`demo`] writes a small demo
//!   inventory.
//! - [`error`] is the one error type clients see.
//! - [`limits`] bounds what one request may ask: query depth, size, aliases, page size, batch
//!   and body size.
//! - [`telemetry`] gives every request an id and a log span; [`metrics`] serves `/metrics`;
//!   [`shutdown`] is the signal that ends requests and WebSocket connections in order.
//! - [`auth`] holds API tokens and roles: it turns the token a request carries into a caller;
//!   `graphql::access` decides what each role may do.

pub mod db;
pub mod event_hub;
pub mod domain;
pub mod error;
pub mod auth;
pub mod ids;
pub mod limits;
pub mod service;
pub mod graphql;
pub mod app;
pub mod cli;
pub mod demo;
pub mod http;
pub mod import;
pub mod metrics;
pub mod shutdown;
pub mod telemetry;
