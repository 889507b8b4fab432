//! Cross-origin requests from browsers (CORS).
//!
//! By default the server sends no CORS headers, so only pages served from its own origin may
//! call it from a browser. `--cors-origin` names the web origins that may. `*` lets any page
//! call it, which suits development only.

use std::time::Duration;

use axum::http::{HeaderName, HeaderValue, Method, header};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::telemetry::REQUEST_ID_HEADER;

/// How long browsers may cache a preflight response.
const PREFLIGHT_MAX_AGE: Duration = Duration::from_secs(3600);

/// The web origins allowed to call the API from a browser.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum CorsOrigins {
    /// No CORS headers: same-origin pages only.
    #[default]
    SameOrigin,
    /// Any origin (`*`), for development.
    Any,
    /// These origins, such as `https://shop.example.com`.
    List(Vec<HeaderValue>),
}

impl CorsOrigins {
    /// Parses the `--cors-origin` values: `*` alone, or origins written as browsers send them
    /// (`scheme://host` with an optional port, no path and no trailing slash). No value
    /// means same-origin only.
    ///
    /// # Errors
    /// A message naming the first value that is not an origin.
    pub fn parse<S: AsRef<str>>(values: &[S]) -> Result<CorsOrigins, String> {
        let values: Vec<&str> = values.iter().map(|value| value.as_ref().trim()).filter(|value| !value.is_empty()).collect();
        if values.is_empty() {
            return Ok(CorsOrigins::SameOrigin);
        }
        if values.contains(&"*") {
            if values.len() > 1 {
                return Err("`*` allows every origin, so give it alone, without other origins".to_owned());
            }
            return Ok(CorsOrigins::Any);
        }
        values.into_iter().map(parse_origin).collect::<Result<_, _>>().map(CorsOrigins::List)
    }
}

/// Checks one origin and turns it into the header value browsers send.
fn parse_origin(value: &str) -> Result<HeaderValue, String> {
    let problem = |why: &str| format!("`{value}` is not a web origin: {why}; write it as a browser sends it, such as https://shop.example.com or http://localhost:3000");
    let Some((scheme, host)) = value.split_once("://") else {
        return Err(problem("it has no scheme"));
    };
    if scheme != "http" && scheme != "https" {
        return Err(problem("the scheme must be http or https"));
    }
    if host.is_empty() {
        return Err(problem("it has no host"));
    }
    if host.contains('/') {
        return Err(problem("an origin has no path, not even a trailing slash"));
    }
    if !host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']')) {
        return Err(problem("the host may only hold letters, digits, dots, hyphens and a port"));
    }
    HeaderValue::from_str(&value.to_ascii_lowercase()).map_err(|_| problem("it is not a valid header value"))
}

/// Builds the CORS layer for `origins`, or `None` when only same-origin pages may call the
/// API.
///
/// The layer responds to preflight requests, allows GET and POST with the headers GraphQL
/// clients send, and lets pages read the response's `x-request-id`.
pub fn layer(origins: &CorsOrigins) -> Option<CorsLayer> {
    let allow_origin = match origins {
        CorsOrigins::SameOrigin => return None,
        CorsOrigins::Any => AllowOrigin::any(),
        CorsOrigins::List(list) => AllowOrigin::list(list.iter().cloned()),
    };
    let allowed_headers: [HeaderName; 3] = [header::CONTENT_TYPE, header::AUTHORIZATION, REQUEST_ID_HEADER];
    Some(
        CorsLayer::new()
            .allow_origin(allow_origin)
            .allow_methods([Method::GET, Method::POST])
            .allow_headers(allowed_headers)
            .expose_headers([REQUEST_ID_HEADER])
            .max_age(PREFLIGHT_MAX_AGE),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_value_means_same_origin() {
        assert_eq!(CorsOrigins::parse::<&str>(&[]), Ok(CorsOrigins::SameOrigin));
        assert_eq!(CorsOrigins::parse(&[""]), Ok(CorsOrigins::SameOrigin));
    }

    #[test]
    fn star_alone_means_any() {
        assert_eq!(CorsOrigins::parse(&["*"]), Ok(CorsOrigins::Any));
        assert!(CorsOrigins::parse(&["*", "https://a.example"]).is_err());
    }

    #[test]
    fn origins_are_kept_in_lower_case() {
        let parsed = CorsOrigins::parse(&["https://Shop.Example.com", "http://localhost:3000"]);

        assert_eq!(
            parsed,
            Ok(CorsOrigins::List(vec![
                HeaderValue::from_static("https://shop.example.com"),
                HeaderValue::from_static("http://localhost:3000"),
            ]))
        );
    }

    #[test]
    fn paths_and_other_schemes_are_rejected() {
        for value in ["https://shop.example.com/", "shop.example.com", "ftp://shop.example.com", "https://", "https://a b"] {
            assert!(CorsOrigins::parse(&[value]).is_err(), "{value}");
        }
    }
}
