//! Integration tests of the GraphQL API: each test starts the real server on a fresh SQLite or
//! PostgreSQL database and talks to it over HTTP.
//!
//! Run them with `cargo test --test api`; `cargo test --test api sqlite` or `… postgres` runs
//! one database only. PostgreSQL must be reachable at `STOCKROOM_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`) by a user that may create databases.

#[macro_use]
mod helpers;

mod bad_input;
mod bulk;
mod catalog;
mod concurrency;
mod configuration;
mod delete_warehouse;
mod error_hygiene;
mod idempotency;
mod ledger;
mod links;
mod paging;
mod set_and_adjust;
mod statement_counts;
mod stock;
mod transfer;
mod bookings;
mod booking_concurrency;
mod replenishment;
mod estimates;
mod availability;
mod ws;
mod low_stock_events;
mod event_delivery;
mod event_paths;
mod limits;
mod auth;
mod operations;
