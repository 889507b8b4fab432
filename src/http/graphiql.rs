//! GraphiQL at `GET /`, served entirely from the binary.
//!
//! `build.rs` installs the npm packages pinned in `graphiql/package-lock.json`
//! and sets the `stockroom_graphiql` cfg when their browser bundles are present.
//! The bundles are then compiled in with `include_bytes!` and served under
//! `/graphiql/`, so the page needs no CDN and works offline. Without the cfg,
//! `/` serves a notice that GraphiQL was not built.

use axum::{
    Router,
    extract::Path,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};

/// URL path under which the asset files are served.
const ASSET_PATH_PREFIX: &str = "/graphiql/";

/// Builds the routes for the GraphiQL page at `/` and its files under `/graphiql/`.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new().route("/", get(graphiql_page)).route(
        &format!("{ASSET_PATH_PREFIX}{{file_name}}"),
        get(graphiql_asset),
    )
}

/// A browser bundle compiled into the binary.
struct Asset {
    /// File name in the URL, with a content hash so browsers may cache it for a year.
    file_name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

/// Declares an embedded file from `graphiql/node_modules`, with the hash
/// variable that `build.rs` sets for it.
#[cfg(stockroom_graphiql)]
macro_rules! asset {
    ($stem:literal, $hash_variable:literal, $extension:literal, $content_type:literal, $path:literal) => {
        Asset {
            file_name: concat!($stem, ".", env!($hash_variable), ".", $extension),
            content_type: $content_type,
            bytes: include_bytes!(concat!(env!("GRAPHIQL_ASSETS"), "/", $path)),
        }
    };
}

/// The embedded files. Keep the paths in step with `ASSETS` in `build.rs`.
#[cfg(stockroom_graphiql)]
static ASSETS: [Asset; 4] = [
    asset!(
        "graphiql.min",
        "GRAPHIQL_HASH_GRAPHIQL_JS",
        "js",
        "text/javascript; charset=utf-8",
        "graphiql/graphiql.min.js"
    ),
    asset!(
        "graphiql.min",
        "GRAPHIQL_HASH_GRAPHIQL_CSS",
        "css",
        "text/css; charset=utf-8",
        "graphiql/graphiql.min.css"
    ),
    asset!(
        "react.production.min",
        "GRAPHIQL_HASH_REACT_JS",
        "js",
        "text/javascript; charset=utf-8",
        "react/umd/react.production.min.js"
    ),
    asset!(
        "react-dom.production.min",
        "GRAPHIQL_HASH_REACT_DOM_JS",
        "js",
        "text/javascript; charset=utf-8",
        "react-dom/umd/react-dom.production.min.js"
    ),
];

#[cfg(not(stockroom_graphiql))]
static ASSETS: [Asset; 0] = [];

/// The page template. Each placeholder is the index of an entry in `ASSETS`.
#[cfg(stockroom_graphiql)]
const PAGE_TEMPLATE: &str = include_str!("../../graphiql/index.html");

#[cfg(stockroom_graphiql)]
const PLACEHOLDERS: [(&str, usize); 4] = [
    ("{{GRAPHIQL_JS}}", 0),
    ("{{GRAPHIQL_CSS}}", 1),
    ("{{REACT_JS}}", 2),
    ("{{REACT_DOM_JS}}", 3),
];

/// The GraphiQL page with the asset URLs filled in, built on first use.
#[cfg(stockroom_graphiql)]
static PAGE: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    PLACEHOLDERS
        .iter()
        .fold(PAGE_TEMPLATE.to_owned(), |page, (placeholder, index)| {
            page.replace(
                placeholder,
                &format!("{ASSET_PATH_PREFIX}{}", ASSETS[*index].file_name),
            )
        })
});

/// Shown at `/` when the build had no npm to fetch the GraphiQL packages.
#[cfg(not(stockroom_graphiql))]
const NOT_BUILT_PAGE: &str = r#"<!doctype html>
<html lang="en">
  <head><meta charset="utf-8"><title>Stockroom: GraphiQL not built</title></head>
  <body>
    <h1>GraphiQL was not built</h1>
    <p>This server was compiled without GraphiQL because npm was not available or failed
      during the build, or because STOCKROOM_SKIP_GRAPHIQL was set.
      To get GraphiQL here, install Node.js and npm, then rebuild the server with cargo.</p>
    <p>The GraphQL API works as usual: send queries and mutations with
      <code>POST /graphql</code> as a JSON body such as
      <code>{"query": "{ __typename }"}</code> with
      <code>Content-Type: application/json</code>.</p>
  </body>
</html>
"#;

/// Serves the GraphiQL page, or the notice that GraphiQL was not built.
async fn graphiql_page() -> Response {
    #[cfg(stockroom_graphiql)]
    let page: &str = &PAGE;
    #[cfg(not(stockroom_graphiql))]
    let page: &str = NOT_BUILT_PAGE;

    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            // The page names the current asset hashes, so browsers must
            // revalidate it to pick up new assets after an upgrade.
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        page,
    )
        .into_response()
}

/// Serves one embedded asset file by name.
async fn graphiql_asset(Path(file_name): Path<String>) -> Response {
    let Some(asset) = ASSETS.iter().find(|asset| asset.file_name == file_name) else {
        return (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"))],
            format!("No GraphiQL asset is named `{file_name}`. Reload `/` to get the current asset URLs.\n"),
        )
            .into_response();
    };

    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(asset.content_type),
            ),
            // The file name changes whenever the content does.
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            ),
        ],
        asset.bytes,
    )
        .into_response()
}

/// Returns the URL paths of the embedded asset files, for tests.
#[cfg(test)]
pub fn asset_paths() -> Vec<String> {
    ASSETS
        .iter()
        .map(|asset| format!("{ASSET_PATH_PREFIX}{}", asset.file_name))
        .collect()
}
