//! Installs the GraphiQL browser bundles from npm so the server can embed them.
//!
//! The HTTP module serves GraphiQL at `/` from files compiled into the binary, so
//! the page works with no internet access. Those files come from the npm packages
//! pinned in `graphiql/package-lock.json`. This script runs
//! `npm ci --no-audit --no-fund --ignore-scripts` in `graphiql/` when
//! `graphiql/node_modules` is missing or older than `package.json` or
//! `package-lock.json`, then passes these to the compiler:
//!
//! - `GRAPHIQL_ASSETS`: absolute path of `graphiql/node_modules`, used by
//!   `include_bytes!` in `src/http/graphiql.rs`.
//! - `GRAPHIQL_HASH_<ASSET>`: a content hash per file, put into the asset URL so
//!   the server can let browsers cache it for a year.
//! - the `stockroom_graphiql` cfg, set only when every file is present.
//!
//! A missing or failing npm never fails the build. The script prints a
//! `cargo:warning` and leaves the cfg unset, and the server then serves a short
//! page at `/` that says GraphiQL was not built and how to fix it.
//!
//! Set `STOCKROOM_SKIP_GRAPHIQL=1` to skip npm and build without GraphiQL.

use std::{
    env, fs,
    io::ErrorKind,
    path::{Path, PathBuf},
    process::Command,
    time::SystemTime,
};

/// Files the server embeds: the environment variable suffix for the hash, and
/// the path inside `node_modules`. Keep in step with `src/http/graphiql.rs`.
const ASSETS: [(&str, &str); 4] = [
    ("GRAPHIQL_JS", "graphiql/graphiql.min.js"),
    ("GRAPHIQL_CSS", "graphiql/graphiql.min.css"),
    ("REACT_JS", "react/umd/react.production.min.js"),
    ("REACT_DOM_JS", "react-dom/umd/react-dom.production.min.js"),
];

const SKIP_VARIABLE: &str = "STOCKROOM_SKIP_GRAPHIQL";

const NPM_FIX: &str = "install Node.js and npm, make sure the npm registry is reachable";

fn main() {
    let manifest_dir =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let package_dir = manifest_dir.join("graphiql");
    let node_modules = package_dir.join("node_modules");
    // npm writes this file at the end of every install, so its time stamp is
    // the time of the last complete install.
    let install_marker = node_modules.join(".package-lock.json");

    println!("cargo::rustc-check-cfg=cfg(stockroom_graphiql)");
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-changed=graphiql/package.json");
    println!("cargo::rerun-if-changed=graphiql/package-lock.json");
    println!("cargo::rerun-if-env-changed={SKIP_VARIABLE}");

    if env::var_os(SKIP_VARIABLE).is_some_and(|value| !value.is_empty() && value != "0") {
        warn_not_built(
            &format!("{SKIP_VARIABLE} is set"),
            &format!("unset {SKIP_VARIABLE}"),
        );
        return;
    }

    if install_is_stale(&package_dir, &install_marker)
        && let Err(reason) = run_npm_ci(&package_dir)
    {
        warn_not_built(&reason, NPM_FIX);
        return;
    }

    let mut hashes = Vec::with_capacity(ASSETS.len());
    for (name, relative_path) in ASSETS {
        let path = node_modules.join(relative_path);
        match fs::read(&path) {
            Ok(bytes) => hashes.push((name, fnv1a_64(&bytes))),
            Err(error) => {
                let reason = format!("reading {} failed ({error})", path.display());
                let fix = "pin versions in graphiql/package.json whose packages ship that file, \
                           then run `npm install` in graphiql/";
                warn_not_built(&reason, fix);
                return;
            }
        }
    }

    println!(
        "cargo::rustc-env=GRAPHIQL_ASSETS={}",
        node_modules.display()
    );
    for (name, hash) in hashes {
        println!("cargo::rustc-env=GRAPHIQL_HASH_{name}={hash:016x}");
    }
    println!("cargo::rustc-cfg=stockroom_graphiql");
}

/// Returns true when `npm ci` must run: nothing was installed yet, or the
/// package files changed after the last install.
fn install_is_stale(package_dir: &Path, install_marker: &Path) -> bool {
    let Some(installed_at) = modified_time(install_marker) else {
        return true;
    };
    ["package.json", "package-lock.json"]
        .iter()
        .filter_map(|name| modified_time(&package_dir.join(name)))
        .any(|changed_at| changed_at > installed_at)
}

fn modified_time(path: &Path) -> Option<SystemTime> {
    fs::metadata(path)
        .and_then(|metadata| metadata.modified())
        .ok()
}

/// Runs `npm ci` in `package_dir` and returns a description of the failure.
///
/// `--ignore-scripts` skips package install scripts, because the server only
/// needs files that the packages ship ready-made.
fn run_npm_ci(package_dir: &Path) -> Result<(), String> {
    // On Windows npm is a batch file, which `Command` finds only by its full name.
    let npm = if cfg!(windows) { "npm.cmd" } else { "npm" };
    let output = Command::new(npm)
        .args(["ci", "--no-audit", "--no-fund", "--ignore-scripts"])
        .current_dir(package_dir)
        .output()
        .map_err(|error| match error.kind() {
            ErrorKind::NotFound => format!("`{npm}` was not found on PATH"),
            _ => format!("running `{npm}` failed ({error})"),
        })?;
    if output.status.success() {
        return Ok(());
    }

    // npm prints the error code and message first, then a stack trace and the
    // fields of the error object, indented.
    let stderr = String::from_utf8_lossy(&output.stderr);
    let summary: Vec<&str> = stderr
        .lines()
        .filter_map(|line| line.strip_prefix("npm error "))
        .filter(|message| !message.starts_with(char::is_whitespace) && !message.is_empty())
        .take(4)
        .collect();
    Err(format!(
        "`{npm} ci` in {} failed with {}: {}",
        package_dir.display(),
        output.status,
        summary.join(" | ")
    ))
}

/// Prints the build warning for a build without GraphiQL, with the fix.
fn warn_not_built(reason: &str, fix: &str) {
    // Cargo treats a missing file as changed, so while node_modules is missing (npm failed or
    // is not installed) every build tries again. After a good install the marker is not
    // watched: npm writes it during the first build, which would force a second one.
    println!("cargo::rerun-if-changed=graphiql/node_modules/.package-lock.json");
    println!(
        "cargo::warning=GraphiQL was not built because {reason}. The server will serve a notice \
         at / in place of GraphiQL, and GraphQL over HTTP at /graphql still works. To get \
         GraphiQL, {fix}, and rebuild."
    );
}

/// Hashes `bytes` with 64-bit FNV-1a. The hash only needs to change when a
/// file changes, and unlike `DefaultHasher` it is the same on every Rust release.
fn fnv1a_64(bytes: &[u8]) -> u64 {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes.iter().fold(OFFSET_BASIS, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(PRIME)
    })
}
