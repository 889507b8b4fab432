//! The `token` commands: create, list and revoke API tokens.

use std::fmt::Write as _;

use crate::{
    cli::{self, TokenCommand},
    ids::{NodeType, encode},
    service::tokens::{self, NewToken, TokenInfo},
};

use super::{ChannelScope, TOKEN_CACHE_TTL};

/// Runs a `token` command; results go to standard output, notes to standard error.
///
/// # Errors
/// Fails when the database cannot be opened, or with the service's message when the request
/// is rejected (an unknown channel, an unknown or revoked token).
pub async fn run(command: TokenCommand) -> anyhow::Result<()> {
    match command {
        TokenCommand::Create { role, channels, name, database } => {
            let db = cli::open(&database.database_url).await?;
            let created = tokens::create_token(&db, NewToken { role, channels, name }).await.map_err(rejected)?;
            // The secret alone on standard output, so scripts can capture it.
            println!("{}", created.secret);
            eprintln!(
                "Created API token {} ({}). Store it now: Stockroom keeps only its hash and cannot show it again.",
                created.token.id,
                describe_channels(role, &tokens::channel_scope(&created.token)),
            );
            Ok(())
        }
        TokenCommand::List { database } => {
            let db = cli::open(&database.database_url).await?;
            let listed = tokens::list_tokens(db.conn()).await.map_err(rejected)?;
            print!("{}", table(&listed));
            Ok(())
        }
        TokenCommand::Revoke { id, database } => {
            let db = cli::open(&database.database_url).await?;
            let revoked = tokens::revoke_token(&db, id).await.map_err(rejected)?;
            println!("Revoked API token {}.", revoked.id);
            eprintln!(
                "Running servers reject it within {} seconds; subscriptions opened with it end within {} seconds.",
                TOKEN_CACHE_TTL.as_secs(),
                2 * TOKEN_CACHE_TTL.as_secs()
            );
            Ok(())
        }
    }
}

fn rejected(err: crate::error::Error) -> anyhow::Error {
    anyhow::anyhow!(err.message())
}

fn describe_channels(role: super::Role, channels: &ChannelScope) -> String {
    match channels {
        ChannelScope::All if role.is_limited_by_channel() => format!("role {}, every channel", role.as_str()),
        ChannelScope::All => format!("role {}", role.as_str()),
        ChannelScope::Only(_) => format!("role {}, channels {}", role.as_str(), channel_list(channels)),
    }
}

fn channel_list(channels: &ChannelScope) -> String {
    match channels {
        ChannelScope::All => "all".to_owned(),
        ChannelScope::Only(ids) if ids.is_empty() => "none".to_owned(),
        ChannelScope::Only(ids) => ids.iter().map(|id| encode(NodeType::Channel, *id).to_string()).collect::<Vec<_>>().join(","),
    }
}

/// Formats the token list as aligned columns. It has no secret to show, because the database
/// stores none.
fn table(listed: &[TokenInfo]) -> String {
    let header = ["ID", "NAME", "ROLE", "CHANNELS", "CREATED", "REVOKED"].map(str::to_owned);
    let rows: Vec<[String; 6]> = listed
        .iter()
        .map(|token| {
            [
                token.id.to_string(),
                token.name.clone().unwrap_or_else(|| "-".to_owned()),
                token.role.map_or("unknown", |role| role.as_str()).to_owned(),
                channel_list(&token.channels),
                token.created_at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                token.revoked_at.map_or_else(|| "-".to_owned(), |at| at.format("%Y-%m-%dT%H:%M:%SZ").to_string()),
            ]
        })
        .collect();
    let mut widths = header.clone().map(|cell| cell.chars().count());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }

    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let cells: Vec<String> = row.iter().zip(widths).map(|(cell, width)| format!("{cell:<width$}")).collect();
        let _ = writeln!(out, "{}", cells.join("  ").trim_end());
    }
    if rows.is_empty() {
        out.push_str("(no API tokens yet: create one with `stockroom token create --role admin`)\n");
    }
    out
}
