//! Media types of GraphQL-over-HTTP requests and responses.
//!
//! The GraphQL-over-HTTP specification defines two response media types:
//! `application/graphql-response+json`, whose status codes tell request errors
//! (400) apart from execution results (200), and the older `application/json`,
//! which replies 200 to every well-formed request. Requests sent with POST must
//! carry their body as `application/json`.

use axum::http::{HeaderMap, StatusCode, header};
use mime::Mime;

use super::rejection::Rejection;

/// Media type of a GraphQL response body, chosen from the request's `Accept` header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResponseMediaType {
    /// `application/graphql-response+json`: request errors get status 400.
    GraphQLResponseJson,
    /// `application/json`: every well-formed GraphQL request gets status 200.
    Json,
}

impl ResponseMediaType {
    /// Value of the `Content-Type` header for a response body of this type.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::GraphQLResponseJson => "application/graphql-response+json; charset=utf-8",
            Self::Json => "application/json; charset=utf-8",
        }
    }
}

/// Specificity of an `Accept` entry's match with a media type, lowest first.
/// Among entries that match the same type, the most specific one sets its quality.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Specificity {
    AnyType,
    AnySubtype,
    Exact,
}

/// Quality and specificity of the best `Accept` entry for one media type.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Match {
    quality: f32,
    specificity: Specificity,
}

/// Chooses the response media type from the `Accept` header.
///
/// With no `Accept` header, or one that only has wildcards such as `*/*`, the
/// response is `application/json`, as the specification requires for clients
/// that predate `application/graphql-response+json`. When both types are
/// listed with the same quality, `application/graphql-response+json` wins.
/// Entries that cannot be parsed, and entries with a charset other than UTF-8,
/// are ignored.
///
/// # Errors
///
/// Returns a 406 Not Acceptable rejection when the header accepts neither type.
pub fn negotiate_response_type(headers: &HeaderMap) -> Result<ResponseMediaType, Rejection> {
    let values: Vec<&str> = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .filter(|value| !value.trim().is_empty())
        .collect();
    if values.is_empty() {
        return Ok(ResponseMediaType::Json);
    }

    let mut graphql_response_json: Option<Match> = None;
    let mut json: Option<Match> = None;
    for entry in values.iter().flat_map(|value| value.split(',')) {
        let Some((range, quality)) = parse_accept_entry(entry) else {
            continue;
        };
        let graphql_match = match_range(&range, "graphql-response+json");
        let json_match = match_range(&range, "json");
        update_best(&mut graphql_response_json, graphql_match, quality);
        update_best(&mut json, json_match, quality);
    }

    let graphql_quality = graphql_response_json.map_or(0.0, |found| found.quality);
    let json_quality = json.map_or(0.0, |found| found.quality);
    if graphql_quality <= 0.0 && json_quality <= 0.0 {
        let accept = values.join(", ");
        return Err(Rejection::new(
            StatusCode::NOT_ACCEPTABLE,
            format!(
                "The Accept header `{accept}` accepts no media type that this server can send. \
                 Accept `application/graphql-response+json` or `application/json`."
            ),
        ));
    }

    let chosen = match (graphql_response_json, json) {
        (Some(graphql), Some(json)) if graphql.quality == json.quality => {
            // Prefer `application/graphql-response+json` only when the client
            // named it, because a client that sent only a wildcard such as
            // `*/*` may not understand it.
            if graphql.specificity == Specificity::Exact {
                ResponseMediaType::GraphQLResponseJson
            } else {
                ResponseMediaType::Json
            }
        }
        _ if graphql_quality > json_quality => ResponseMediaType::GraphQLResponseJson,
        _ => ResponseMediaType::Json,
    };
    Ok(chosen)
}

/// Parses one `Accept` entry into its media range and quality value.
///
/// Returns `None` for entries that cannot be used: invalid syntax, an invalid
/// `q` value, or a charset other than UTF-8.
fn parse_accept_entry(entry: &str) -> Option<(Mime, f32)> {
    let range: Mime = entry.trim().parse().ok()?;
    if let Some(charset) = range.get_param(mime::CHARSET)
        && !charset.as_str().eq_ignore_ascii_case("utf-8")
    {
        return None;
    }
    let quality = match range.get_param("q") {
        Some(value) => value
            .as_str()
            .parse::<f32>()
            .ok()
            .filter(|q| (0.0..=1.0).contains(q))?,
        None => 1.0,
    };
    Some((range, quality))
}

/// Returns how specifically `range` matches `application/<subtype>`, if at all.
fn match_range(range: &Mime, subtype: &str) -> Option<Specificity> {
    if range.type_() == mime::STAR && range.subtype() == mime::STAR {
        return Some(Specificity::AnyType);
    }
    if range.type_() != mime::APPLICATION {
        return None;
    }
    if range.subtype() == mime::STAR {
        return Some(Specificity::AnySubtype);
    }
    // `Mime` splits `graphql-response+json` into subtype and suffix, so
    // compare the whole subtype text after the slash.
    let essence = range.essence_str();
    let range_subtype = &essence[essence.find('/').map_or(0, |slash| slash + 1)..];
    range_subtype
        .eq_ignore_ascii_case(subtype)
        .then_some(Specificity::Exact)
}

/// Keeps the match from the most specific entry, as RFC 9110 section 12.5.1
/// requires, and the higher quality among equally specific ones.
fn update_best(best: &mut Option<Match>, specificity: Option<Specificity>, quality: f32) {
    let Some(specificity) = specificity else {
        return;
    };
    let candidate = Match {
        quality,
        specificity,
    };
    let replace = match best {
        None => true,
        Some(current) => {
            specificity > current.specificity
                || (specificity == current.specificity && quality > current.quality)
        }
    };
    if replace {
        *best = Some(candidate);
    }
}

/// Checks that a POST request body is declared as UTF-8 `application/json`.
///
/// # Errors
///
/// Returns a 415 Unsupported Media Type rejection when the `Content-Type`
/// header is missing, invalid, another media type, or names another charset.
pub fn check_request_content_type(headers: &HeaderMap) -> Result<(), Rejection> {
    const HOW_TO_FIX: &str =
        "Send the GraphQL request as a JSON object with `Content-Type: application/json`.";

    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Err(Rejection::unsupported_media_type(format!(
            "The Content-Type header is missing. {HOW_TO_FIX}"
        )));
    };
    let text = String::from_utf8_lossy(value.as_bytes());
    let Ok(content_type) = text.parse::<Mime>() else {
        return Err(Rejection::unsupported_media_type(format!(
            "The Content-Type header `{text}` is not a valid media type. {HOW_TO_FIX}"
        )));
    };
    if content_type.essence_str() != "application/json" {
        return Err(Rejection::unsupported_media_type(format!(
            "The Content-Type `{text}` is not supported. {HOW_TO_FIX}"
        )));
    }
    if let Some(charset) = content_type.get_param(mime::CHARSET)
        && !charset.as_str().eq_ignore_ascii_case("utf-8")
    {
        return Err(Rejection::unsupported_media_type(format!(
            "The charset `{charset}` in Content-Type `{text}` is not supported. \
             Encode the request body as UTF-8."
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn negotiate(accept: &str) -> Result<ResponseMediaType, StatusCode> {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_str(accept).unwrap());
        negotiate_response_type(&headers).map_err(|rejection| rejection.status())
    }

    #[test]
    fn negotiate_without_accept_header() {
        let chosen = negotiate_response_type(&HeaderMap::new()).unwrap();
        assert_eq!(chosen, ResponseMediaType::Json);
    }

    #[test]
    fn negotiate_table() {
        use ResponseMediaType::{GraphQLResponseJson, Json};
        let cases: [(&str, Result<ResponseMediaType, StatusCode>); 14] = [
            ("application/graphql-response+json", Ok(GraphQLResponseJson)),
            ("application/json", Ok(Json)),
            ("*/*", Ok(Json)),
            ("application/*", Ok(Json)),
            (
                "application/graphql-response+json, application/json;q=0.9",
                Ok(GraphQLResponseJson),
            ),
            (
                "application/json, application/graphql-response+json",
                Ok(GraphQLResponseJson),
            ),
            (
                "application/graphql-response+json;q=0.5, application/json",
                Ok(Json),
            ),
            ("application/json, */*;q=0.8", Ok(Json)),
            ("application/json;q=0.5, */*", Ok(GraphQLResponseJson)),
            (
                "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
                Ok(Json),
            ),
            (
                "APPLICATION/GRAPHQL-RESPONSE+JSON; charset=UTF-8",
                Ok(GraphQLResponseJson),
            ),
            ("text/html", Err(StatusCode::NOT_ACCEPTABLE)),
            (
                "application/json;q=0, application/graphql-response+json;q=0",
                Err(StatusCode::NOT_ACCEPTABLE),
            ),
            (
                "application/json; charset=latin1",
                Err(StatusCode::NOT_ACCEPTABLE),
            ),
        ];
        for (accept, expected) in cases {
            assert_eq!(negotiate(accept), expected, "Accept: {accept}");
        }
    }

    #[test]
    fn negotiate_zero_quality_excludes_wildcard_match() {
        // `*/*` would allow application/json, but the exact entry with q=0 wins.
        assert_eq!(
            negotiate("application/json;q=0, */*"),
            Ok(ResponseMediaType::GraphQLResponseJson)
        );
    }

    fn content_type_status(content_type: Option<&str>) -> Option<StatusCode> {
        let mut headers = HeaderMap::new();
        if let Some(value) = content_type {
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_str(value).unwrap());
        }
        check_request_content_type(&headers)
            .err()
            .map(|rejection| rejection.status())
    }

    #[test]
    fn content_type_table() {
        let unsupported = Some(StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let cases = [
            (Some("application/json"), None),
            (Some("application/json; charset=utf-8"), None),
            (Some("Application/JSON; charset=UTF-8"), None),
            (None, unsupported),
            (Some("text/plain;charset=UTF-8"), unsupported),
            (Some("application/graphql"), unsupported),
            (Some("application/json; charset=iso-8859-1"), unsupported),
            (Some("not a media type"), unsupported),
        ];
        for (content_type, expected) in cases {
            assert_eq!(
                content_type_status(content_type),
                expected,
                "Content-Type: {content_type:?}"
            );
        }
    }
}
