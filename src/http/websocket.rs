//! GraphQL subscriptions over WebSocket on `GET /graphql`.
//!
//! The connection speaks whichever subprotocol the client offers first among
//! `graphql-transport-ws` (the `graphql-ws` npm package, used by GraphiQL) and
//! the older `graphql-ws` (the `subscriptions-transport-ws` npm package).
//! async-graphql-axum's `GraphQLWebSocket` implements both.

use std::str::FromStr;

use async_graphql::{Executor, http::WebSocketProtocols};
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::{
    extract::{FromRequestParts, WebSocketUpgrade},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};

use super::{auth, connection::Connection, rejection::Rejection};

/// Bytes read from a WebSocket at a time.
const WEBSOCKET_READ_BUFFER: usize = 4096;

/// Returns true when the request has an `Upgrade: websocket` header.
pub fn is_websocket_upgrade(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::UPGRADE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|protocol| protocol.trim().eq_ignore_ascii_case("websocket"))
}

/// Completes the WebSocket handshake and serves GraphQL subscriptions, queries
/// and mutations on the connection until the client closes it.
///
/// The `connection_init` payload carries the API token when the app asks for
/// tokens; a rejected token closes the connection (see `auth`).
pub async fn serve_websocket<E: Executor>(
    executor: E,
    request: axum::extract::Request,
) -> Response {
    let (mut parts, _body) = request.into_parts();

    let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
        Ok(upgrade) => upgrade,
        Err(rejection) => {
            return Rejection::new(
                rejection.status(),
                format!(
                    "The WebSocket handshake is invalid: {}",
                    rejection.body_text()
                ),
            )
            .into_response();
        }
    };
    let protocol = GraphQLProtocol::from_request_parts(&mut parts, &()).await;
    let protocol = (protocol, selected_protocol_name(&parts.headers));
    let (Ok(protocol), Some(protocol_name)) = protocol else {
        let offered = parts
            .headers
            .get(header::SEC_WEBSOCKET_PROTOCOL)
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
            .unwrap_or_default();
        return Rejection::new(
            StatusCode::BAD_REQUEST,
            format!(
                "The WebSocket subprotocols `{offered}` include no GraphQL protocol. Offer \
                 `graphql-transport-ws` or `graphql-ws` in the Sec-WebSocket-Protocol header."
            ),
        )
        .into_response();
    };

    // The connection's id, its close at shutdown and its log lines; see `connection`.
    let connection = Connection::new(&parts.extensions, protocol_name);
    // The token comes in `connection_init`; see `auth`.
    let on_connection_init = auth::on_connection_init(&parts.extensions);

    // Announce the subprotocol that `GraphQLProtocol` chose. `protocols` picks
    // by the order of its argument, which could differ from the client's order.
    upgrade
        .protocols([protocol_name])
        // tungstenite fills the whole read buffer with zeros before every read, so its 128 KiB
        // default costs each subscriber that much memory and most of its CPU; larger client
        // messages still arrive, in several reads.
        .read_buffer_size(WEBSOCKET_READ_BUFFER)
        .on_failed_upgrade(|error| tracing::warn!(%error, "GraphQL WebSocket upgrade failed"))
        .on_upgrade(move |socket| {
            connection.run(socket, move |sink, messages| {
                GraphQLWebSocket::new_with_pair(sink, messages, executor, protocol)
                    .on_connection_init(on_connection_init)
                    .serve()
            })
        })
}

/// Returns the subprotocol that `GraphQLProtocol` selects: the first entry of
/// the first `Sec-WebSocket-Protocol` header that async-graphql supports.
fn selected_protocol_name(headers: &HeaderMap) -> Option<&'static str> {
    headers
        .get(header::SEC_WEBSOCKET_PROTOCOL)?
        .to_str()
        .ok()?
        .split(',')
        .find_map(|name| WebSocketProtocols::from_str(name.trim()).ok())
        .map(|protocol| protocol.sec_websocket_protocol())
}
