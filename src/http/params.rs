//! Reading GraphQL request parameters from a POST body or a GET query string.
//!
//! Both forms carry the same four parameters: `query` (a string, required
//! unless `extensions.persistedQuery` carries the hash of a persisted query),
//! `operationName` (a string), `variables` and `extensions` (JSON objects).
//! In a POST body they are members of a JSON object. In a GET query string
//! `variables` and `extensions` are URL-encoded JSON text. A null parameter is
//! treated as absent, and unknown parameters are ignored.

use async_graphql::{BatchRequest, Extensions, Request, Value, Variables};
use serde_json::{Map, Value as JsonValue};

use super::{persisted::has_persisted_query, rejection::Rejection};

/// Parameters after type checks, before the conversion to a request.
struct Params {
    query: String,
    operation_name: Option<String>,
    variables: Option<Map<String, JsonValue>>,
    extensions: Option<Map<String, JsonValue>>,
}

/// Reads a POST body: one JSON object, or a JSON array of objects for a batch.
///
/// # Errors
///
/// Returns a 400 rejection for an empty body, invalid JSON, a body that is
/// neither an object nor an array of objects, or an invalid parameter. For a
/// batch, the message names the position of the first invalid request.
pub fn parse_json_body(body: &[u8]) -> Result<BatchRequest, Rejection> {
    if body.trim_ascii().is_empty() {
        return Err(Rejection::bad_request(
            "The request body is empty. Send a JSON object with the GraphQL document in `query`.",
        ));
    }

    let json: JsonValue = serde_json::from_slice(body).map_err(|error| {
        Rejection::bad_request(format!(
            "The request body is not valid JSON: {error}. Send a JSON object with the GraphQL \
             document in `query`."
        ))
    })?;

    match json {
        JsonValue::Object(object) => {
            let params = params_from_json_object(object).map_err(Rejection::bad_request)?;
            Ok(BatchRequest::Single(into_request(params)))
        }
        JsonValue::Array(items) if items.is_empty() => Err(Rejection::bad_request(
            "The request body is an empty batch. Send at least one request in the JSON array.",
        )),
        JsonValue::Array(items) => {
            let mut requests = Vec::with_capacity(items.len());
            for (index, item) in items.into_iter().enumerate() {
                let params = match item {
                    JsonValue::Object(object) => params_from_json_object(object),
                    other => Err(format!(
                        "The request must be a JSON object, but it is {}.",
                        json_type_name(&other)
                    )),
                };
                let params = params.map_err(|message| {
                    Rejection::bad_request(format!(
                        "Request {index} of the batch is invalid. {message}"
                    ))
                })?;
                requests.push(into_request(params));
            }
            Ok(BatchRequest::Batch(requests))
        }
        other => Err(Rejection::bad_request(format!(
            "The request body must be a JSON object, but it is {}. Send a JSON object with the \
             GraphQL document in `query`.",
            json_type_name(&other)
        ))),
    }
}

/// Reads the parameters of a GET request from its decoded query string pairs.
///
/// # Errors
///
/// Returns a 400 rejection when `query` is missing, a parameter is given more
/// than once, or `variables` or `extensions` is not a URL-encoded JSON object.
pub fn parse_query_pairs(pairs: Vec<(String, String)>) -> Result<Request, Rejection> {
    let mut query = None;
    let mut operation_name = None;
    let mut variables = None;
    let mut extensions = None;

    for (name, value) in pairs {
        let slot = match name.as_str() {
            "query" => &mut query,
            "operationName" => &mut operation_name,
            "variables" => &mut variables,
            "extensions" => &mut extensions,
            _ => continue,
        };
        if slot.is_some() {
            return Err(Rejection::bad_request(format!(
                "The `{name}` URL parameter is given more than once. Send it once."
            )));
        }
        *slot = Some(value);
    }

    let variables = variables
        .map(|text| object_from_url_parameter("variables", &text))
        .transpose()?;
    let extensions = extensions
        .map(|text| object_from_url_parameter("extensions", &text))
        .transpose()?;
    let query = match query {
        Some(query) => query,
        // A persisted query may come as its hash alone; the schema looks it up.
        None if extensions.as_ref().is_some_and(|extensions| has_persisted_query(extensions.keys())) => String::new(),
        None => {
            return Err(Rejection::bad_request(
                "The `query` parameter is missing. Send the GraphQL document in the `query` URL \
                 parameter, or open GraphiQL at `/`.",
            ));
        }
    };

    Ok(into_request(Params {
        query,
        operation_name,
        variables,
        extensions,
    }))
}

/// Decodes the JSON text of the `variables` or `extensions` URL parameter.
fn object_from_url_parameter(name: &str, text: &str) -> Result<Map<String, JsonValue>, Rejection> {
    let how_to_fix = format!("Send `{name}` as a URL-encoded JSON object, or leave it out.");
    let json: JsonValue = serde_json::from_str(text).map_err(|error| {
        Rejection::bad_request(format!(
            "The `{name}` URL parameter is not valid JSON: {error}. {how_to_fix}"
        ))
    })?;
    match json {
        JsonValue::Object(object) => Ok(object),
        other => Err(Rejection::bad_request(format!(
            "The `{name}` URL parameter must be a JSON object, but it is {}. {how_to_fix}",
            json_type_name(&other)
        ))),
    }
}

/// Checks the parameter types in one JSON request object.
fn params_from_json_object(mut object: Map<String, JsonValue>) -> Result<Params, String> {
    let sends_persisted_query = object
        .get("extensions")
        .and_then(JsonValue::as_object)
        .is_some_and(|extensions| has_persisted_query(extensions.keys()));
    let query = match object.remove("query") {
        // A persisted query may come as its hash alone; the schema looks it up.
        None | Some(JsonValue::Null) if sends_persisted_query => String::new(),
        None | Some(JsonValue::Null) => {
            return Err(
                "The `query` parameter is missing. Send the GraphQL document as a string \
                        in `query`."
                    .to_owned(),
            );
        }
        Some(JsonValue::String(query)) => query,
        Some(other) => {
            return Err(format!(
                "The `query` parameter must be a string, but it is {}.",
                json_type_name(&other)
            ));
        }
    };

    let operation_name = match object.remove("operationName") {
        None | Some(JsonValue::Null) => None,
        Some(JsonValue::String(name)) => Some(name),
        Some(other) => {
            return Err(format!(
                "The `operationName` parameter must be a string or null, but it is {}.",
                json_type_name(&other)
            ));
        }
    };

    let variables = optional_object(&mut object, "variables")?;
    let extensions = optional_object(&mut object, "extensions")?;
    Ok(Params {
        query,
        operation_name,
        variables,
        extensions,
    })
}

fn optional_object(
    object: &mut Map<String, JsonValue>,
    name: &str,
) -> Result<Option<Map<String, JsonValue>>, String> {
    match object.remove(name) {
        None | Some(JsonValue::Null) => Ok(None),
        Some(JsonValue::Object(value)) => Ok(Some(value)),
        Some(other) => Err(format!(
            "The `{name}` parameter must be a JSON object or null, but it is {}.",
            json_type_name(&other)
        )),
    }
}

fn into_request(params: Params) -> Request {
    let mut request = Request::new(params.query);
    if let Some(operation_name) = params.operation_name {
        request = request.operation_name(operation_name);
    }
    if let Some(variables) = params.variables {
        request = request.variables(Variables::from_value(object_to_value(variables)));
    }
    if let Some(extensions) = params.extensions {
        request.extensions = Extensions(
            extensions
                .into_iter()
                .map(|(name, value)| (name, json_to_value(value)))
                .collect(),
        );
    }
    request
}

fn object_to_value(object: Map<String, JsonValue>) -> Value {
    json_to_value(JsonValue::Object(object))
}

/// Converts JSON to a GraphQL value. async-graphql 7.2 maps every JSON value
/// to a GraphQL value, so the conversion does not fail.
fn json_to_value(json: JsonValue) -> Value {
    Value::from_json(json).expect("every JSON value converts to a GraphQL value")
}

/// Names the JSON type of `value` with an article, for error messages.
fn json_type_name(value: &JsonValue) -> &'static str {
    match value {
        JsonValue::Null => "null",
        JsonValue::Bool(_) => "a boolean",
        JsonValue::Number(_) => "a number",
        JsonValue::String(_) => "a string",
        JsonValue::Array(_) => "an array",
        JsonValue::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body_error(body: &str) -> String {
        parse_json_body(body.as_bytes())
            .unwrap_err()
            .message()
            .to_owned()
    }

    #[test]
    fn body_single_request_fields() {
        let body = r#"{"query": "query Q($n: Int) { a }", "operationName": "Q",
                       "variables": {"n": 3}, "extensions": {"trace": true}}"#;
        let BatchRequest::Single(request) = parse_json_body(body.as_bytes()).unwrap() else {
            panic!("expected a single request");
        };
        assert_eq!(request.query, "query Q($n: Int) { a }");
        assert_eq!(request.operation_name.as_deref(), Some("Q"));
        assert_eq!(request.variables.get("n"), Some(&Value::from(3)));
        assert_eq!(request.extensions.get("trace"), Some(&Value::from(true)));
    }

    #[test]
    fn body_null_parameters_are_absent() {
        let body =
            r#"{"query": "{ a }", "operationName": null, "variables": null, "extensions": null}"#;
        let BatchRequest::Single(request) = parse_json_body(body.as_bytes()).unwrap() else {
            panic!("expected a single request");
        };
        assert_eq!(request.operation_name, None);
        assert!(request.variables.is_empty());
        assert!(request.extensions.is_empty());
    }

    #[test]
    fn body_batch_keeps_order() {
        let body = r#"[{"query": "{ a }"}, {"query": "{ b }"}]"#;
        let BatchRequest::Batch(requests) = parse_json_body(body.as_bytes()).unwrap() else {
            panic!("expected a batch");
        };
        let queries: Vec<&str> = requests
            .iter()
            .map(|request| request.query.as_str())
            .collect();
        assert_eq!(queries, ["{ a }", "{ b }"]);
    }

    #[test]
    fn body_error_messages() {
        let cases = [
            ("", "The request body is empty."),
            ("{ \"not a JSON", "The request body is not valid JSON: "),
            (
                "\"text\"",
                "The request body must be a JSON object, but it is a string.",
            ),
            ("[]", "The request body is an empty batch."),
            ("{}", "The `query` parameter is missing."),
            (r#"{"qeury": "{ a }"}"#, "The `query` parameter is missing."),
            (r#"{"query": null}"#, "The `query` parameter is missing."),
            (
                r#"{"query": 0}"#,
                "The `query` parameter must be a string, but it is a number.",
            ),
            (
                r#"{"query": ["x"]}"#,
                "The `query` parameter must be a string, but it is an array.",
            ),
            (
                r#"{"query": "{ a }", "operationName": false}"#,
                "The `operationName` parameter must be a string or null, but it is a boolean.",
            ),
            (
                r#"{"query": "{ a }", "variables": "x"}"#,
                "The `variables` parameter must be a JSON object or null, but it is a string.",
            ),
            (
                r#"{"query": "{ a }", "extensions": []}"#,
                "The `extensions` parameter must be a JSON object or null, but it is an array.",
            ),
            (
                r#"[{"query": "{ a }"}, 3]"#,
                "Request 1 of the batch is invalid. The request must be a JSON object, but it is a number.",
            ),
        ];
        for (body, expected_start) in cases {
            let message = body_error(body);
            assert!(
                message.starts_with(expected_start),
                "body {body:?} gave message {message:?}"
            );
        }
    }

    #[test]
    fn persisted_query_hash_needs_no_query() {
        let body = r#"{"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "ab"}}}"#;
        let BatchRequest::Single(request) = parse_json_body(body.as_bytes()).unwrap() else {
            panic!("expected a single request");
        };
        assert_eq!(request.query, "");
        assert!(request.extensions.contains_key("persistedQuery"));

        let extensions = r#"{"persistedQuery": {"version": 1, "sha256Hash": "ab"}}"#;
        let request = parse_query_pairs(pairs(&[("extensions", extensions)])).unwrap();
        assert_eq!(request.query, "");
    }

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect()
    }

    #[test]
    fn query_string_request_fields() {
        let request = parse_query_pairs(pairs(&[
            ("query", "query Q($n: Int) { a }"),
            ("operationName", "Q"),
            ("variables", r#"{"n": 3}"#),
            ("other", "ignored"),
        ]))
        .unwrap();
        assert_eq!(request.query, "query Q($n: Int) { a }");
        assert_eq!(request.operation_name.as_deref(), Some("Q"));
        assert_eq!(request.variables.get("n"), Some(&Value::from(3)));
    }

    #[test]
    fn query_string_error_messages() {
        let cases: [(&[(&str, &str)], &str); 5] = [
            (&[], "The `query` parameter is missing."),
            (
                &[("query", "{ a }"), ("query", "{ b }")],
                "The `query` URL parameter is given more than once.",
            ),
            (
                &[("query", "{ a }"), ("variables", "{")],
                "The `variables` URL parameter is not valid JSON: ",
            ),
            (
                &[("query", "{ a }"), ("variables", "[1]")],
                "The `variables` URL parameter must be a JSON object, but it is an array.",
            ),
            (
                &[("query", "{ a }"), ("extensions", "1")],
                "The `extensions` URL parameter must be a JSON object, but it is a number.",
            ),
        ];
        for (items, expected_start) in cases {
            let message = parse_query_pairs(pairs(items))
                .unwrap_err()
                .message()
                .to_owned();
            assert!(
                message.starts_with(expected_start),
                "parameters {items:?} gave message {message:?}"
            );
        }
    }
}
