//! A fresh, empty database for one benchmark run, removed afterwards: an SQLite file in a new
//! temporary folder, or a PostgreSQL database named `stockroom_bench_<random>`.

use std::path::PathBuf;

use anyhow::Context as _;
use sea_orm::{ConnectionTrait, Database};
use serde::{Deserialize, Serialize};

/// The database systems the benchmark runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// Returns the name used in tables and messages.
    pub fn label(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        }
    }
}

/// A database created for this run.
pub struct Store {
    pub backend: Backend,
    /// The URL the server and the benchmark connect to.
    pub url: String,
    /// A folder for the server's log (and the SQLite file), removed with the store.
    pub folder: PathBuf,
    /// The PostgreSQL admin URL and database name to drop; `None` for SQLite.
    postgres: Option<(String, String)>,
}

impl Store {
    /// Creates an empty store. For PostgreSQL, `admin_url` must allow `CREATE DATABASE`.
    pub async fn create(backend: Backend, admin_url: &str) -> anyhow::Result<Store> {
        let suffix = uuid::Uuid::new_v4().simple().to_string();
        let folder = std::env::temp_dir().join(format!("stockroom_bench_{suffix}"));
        std::fs::create_dir_all(&folder).with_context(|| format!("failed to create {}", folder.display()))?;

        match backend {
            Backend::Sqlite => {
                let url = format!("sqlite://{}?mode=rwc", folder.join("bench.db").display());
                Ok(Store { backend, url, folder, postgres: None })
            }
            Backend::Postgres => {
                let name = format!("stockroom_bench_{suffix}");
                let admin = Database::connect(admin_url).await.with_context(|| {
                    format!(
                        "failed to connect to PostgreSQL at {}: start it, or pass --postgres-url with a user that may create databases",
                        stockroom::db::redact(admin_url)
                    )
                })?;
                admin
                    .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                    .await
                    .with_context(|| format!("failed to create database {name}"))?;
                admin.close().await.ok();
                let url = with_database(admin_url, &name);
                Ok(Store { backend, url, folder, postgres: Some((admin_url.to_owned(), name)) })
            }
        }
    }

    /// Drops the PostgreSQL database (closing any connection still open) and removes the folder.
    pub async fn remove(self) -> anyhow::Result<()> {
        if let Some((admin_url, name)) = &self.postgres {
            let admin = Database::connect(admin_url.as_str()).await.context("failed to reconnect to drop the database")?;
            admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .await
                .with_context(|| format!("failed to drop database {name}: drop it by hand"))?;
            admin.close().await.ok();
        }
        std::fs::remove_dir_all(&self.folder).with_context(|| format!("failed to remove {}", self.folder.display()))
    }
}

/// Replaces the database name of a PostgreSQL URL, keeping user, host, port and parameters.
fn with_database(url: &str, name: &str) -> String {
    let (base, parameters) = match url.split_once('?') {
        Some((base, parameters)) => (base, Some(parameters)),
        None => (url, None),
    };
    let (scheme, rest) = base.split_once("://").unwrap_or(("postgres", base));
    let authority = rest.split('/').next().unwrap_or(rest);
    match parameters {
        Some(parameters) => format!("{scheme}://{authority}/{name}?{parameters}"),
        None => format!("{scheme}://{authority}/{name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn database_name_replaced() {
        assert_eq!(with_database("postgres://postgres@127.0.0.1:5432/postgres", "b"), "postgres://postgres@127.0.0.1:5432/b");
    }

    #[test]
    fn parameters_kept() {
        assert_eq!(with_database("postgres://u:p@h/db?sslmode=disable", "b"), "postgres://u:p@h/b?sslmode=disable");
    }

    #[test]
    fn url_without_database() {
        assert_eq!(with_database("postgres://u@h:5432", "b"), "postgres://u@h:5432/b");
    }
}
