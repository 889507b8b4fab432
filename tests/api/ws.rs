//! A GraphQL-over-WebSocket client for the tests, and tests that prove it works.
//!
//! [`Subscriptions`] opens one WebSocket on `GET /graphql` and speaks either
//! `graphql-transport-ws` (the protocol of the `graphql-ws` npm package) or the legacy
//! `graphql-ws` (the protocol of the `subscriptions-transport-ws` npm package).
//! Both protocols also run queries and mutations, which the tests here use because they need no
//! subscription field.

use std::{collections::VecDeque, time::Duration};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::{net::TcpStream, time::Instant};
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream,
    tungstenite::{
        Message,
        client::IntoClientRequest,
        http::{HeaderValue, header::SEC_WEBSOCKET_PROTOCOL},
        protocol::{CloseFrame, frame::coding::CloseCode},
    },
};

use crate::helpers::{assert_no_internal_text, pretty};

/// Maximum time from opening the socket to receiving `connection_ack`.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Maximum time [`Subscriptions::expect_data`] and [`Subscriptions::expect_errors`] wait.
const EXPECT_TIMEOUT: Duration = Duration::from_secs(15);

/// Maximum time [`Subscriptions::close`] waits for the server to finish the close handshake.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// The WebSocket connection type that `tokio_tungstenite::connect_async` returns.
type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// GraphQL-over-WebSocket subprotocol of a [`Subscriptions`] connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WsProtocol {
    /// `graphql-transport-ws`: `subscribe`, `next`, `error`, `complete`, `ping` and `pong`.
    TransportWs,
    /// Legacy `graphql-ws`: `start`, `data`, `error`, `complete`, `stop`, `ka` and
    /// `connection_terminate`.
    LegacyWs,
}

impl WsProtocol {
    /// Returns the `Sec-WebSocket-Protocol` value of the protocol.
    pub fn name(self) -> &'static str {
        match self {
            Self::TransportWs => "graphql-transport-ws",
            Self::LegacyWs => "graphql-ws",
        }
    }
}

/// Message of one operation received from the server.
#[derive(Clone, Debug, PartialEq)]
pub enum WsMessage {
    /// Execution result from `next` (transport-ws) or `data` (legacy), with `data` and/or
    /// `errors`.
    Payload { id: String, payload: Value },
    /// `error` message, which ends the operation. `payload` is the server's payload, unchanged.
    Error { id: String, payload: Value },
    /// `complete` message, after which the server sends no more results for the operation.
    Complete { id: String },
}

impl WsMessage {
    /// Returns the id of the operation the message belongs to.
    pub fn id(&self) -> &str {
        match self {
            Self::Payload { id, .. } | Self::Error { id, .. } | Self::Complete { id } => id,
        }
    }
}

/// One GraphQL WebSocket connection to a test server, past the `connection_ack`.
///
/// Every method panics when the server closes the socket, sends a frame that is not JSON text,
/// or sends a message type that the protocol does not define for the server.
pub struct Subscriptions {
    socket: Socket,
    protocol: WsProtocol,
    /// Messages received while a caller waited for another operation, oldest first.
    buffered: VecDeque<WsMessage>,
}

impl Subscriptions {
    /// Opens the socket on `graphql_url` (the `http://` URL of `/graphql`), sends
    /// `connection_init` and waits for `connection_ack`.
    ///
    /// Panics if the handshake fails, the server selects another subprotocol, the server
    /// replies anything but `connection_ack`, or the acknowledgement takes more than 10 s.
    pub async fn connect(graphql_url: &str, protocol: WsProtocol) -> Subscriptions {
        match Subscriptions::connect_with_payload(graphql_url, protocol, json!({})).await {
            Ok(connection) => connection,
            Err(reason) => panic!("the server refused the connection ({protocol:?}): {reason}"),
        }
    }

    /// Like [`Subscriptions::connect`], with `payload` in `connection_init` (where a client
    /// sends its API token). Returns the server's reason when it rejects the connection: the
    /// close frame's reason (transport-ws) or the `connection_error` message (legacy).
    pub async fn connect_with_payload(
        graphql_url: &str,
        protocol: WsProtocol,
        payload: Value,
    ) -> Result<Subscriptions, String> {
        let deadline = Instant::now() + CONNECT_TIMEOUT;
        let url = websocket_url(graphql_url);
        let mut request = url
            .as_str()
            .into_client_request()
            .unwrap_or_else(|err| panic!("invalid WebSocket URL {url}: {err}"));
        request.headers_mut().insert(
            SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_static(protocol.name()),
        );

        let handshake =
            tokio::time::timeout_at(deadline, tokio_tungstenite::connect_async(request));
        let (socket, response) = handshake
            .await
            .unwrap_or_else(|_| panic!("the WebSocket handshake with {url} timed out after 10 s"))
            .unwrap_or_else(|err| panic!("the WebSocket handshake with {url} failed: {err}"));
        let selected = response
            .headers()
            .get(SEC_WEBSOCKET_PROTOCOL)
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned());
        assert_eq!(
            selected.as_deref(),
            Some(protocol.name()),
            "the server selected another WebSocket subprotocol"
        );

        let mut connection = Subscriptions {
            socket,
            protocol,
            buffered: VecDeque::new(),
        };
        connection
            .send_json(json!({ "type": "connection_init", "payload": payload }))
            .await;
        let reply = tokio::time::timeout_at(deadline, connection.socket.next())
            .await
            .unwrap_or_else(|_| panic!("timed out after 10 s waiting for connection_ack from {url} ({protocol:?})"));
        let reply = match reply {
            Some(Ok(Message::Text(text))) => serde_json::from_str::<Value>(&text)
                .unwrap_or_else(|err| panic!("the server sent a text frame that is not JSON ({err}): {text}")),
            Some(Ok(Message::Close(frame))) => {
                return Err(frame.map(|frame| frame.reason.to_string()).unwrap_or_default());
            }
            other => panic!("expected connection_ack after connection_init, got {other:?}"),
        };
        match reply["type"].as_str() {
            Some("connection_ack") => Ok(connection),
            Some("connection_error") => Err(reply["payload"]["message"].as_str().unwrap_or_default().to_owned()),
            _ => panic!("expected connection_ack after connection_init, got {}", pretty(&reply)),
        }
    }

    /// Starts operation `id` by sending `subscribe` (transport-ws) or `start` (legacy) with
    /// `query` and `variables`. `Value::Null` sends no variables.
    pub async fn subscribe(&mut self, id: &str, query: &str, variables: Value) {
        let kind = match self.protocol {
            WsProtocol::TransportWs => "subscribe",
            WsProtocol::LegacyWs => "start",
        };
        let mut payload = json!({ "query": query });
        if !variables.is_null() {
            payload["variables"] = variables;
        }
        self.send_json(json!({ "id": id, "type": kind, "payload": payload }))
            .await;
    }

    /// Returns the next message of any operation, first from the buffer of messages that earlier
    /// calls skipped, or `None` when none arrives within `timeout`.
    ///
    /// While waiting it replies to `ping` with `pong` and skips `pong` and `ka`. Panics if an error
    /// message contains SQL or driver text.
    pub async fn next_message(&mut self, timeout: Duration) -> Option<WsMessage> {
        if let Some(message) = self.buffered.pop_front() {
            return Some(message);
        }
        self.read_message(Instant::now() + timeout).await
    }

    /// Waits up to 15 s for the next message of operation `id` and returns `payload["data"]`.
    ///
    /// Panics if no message arrives, the payload contains `errors`, or the message is an
    /// `error` or `complete`. Messages of other operations are buffered for later calls.
    pub async fn expect_data(&mut self, id: &str) -> Value {
        match self.expect_message(id).await {
            WsMessage::Payload { payload, .. } => {
                assert!(
                    !has_errors(&payload),
                    "operation {id} returned errors: {}",
                    pretty(&payload)
                );
                payload["data"].clone()
            }
            other => panic!("expected a payload of operation {id}, got {other:?}"),
        }
    }

    /// Waits up to 15 s for the next message of operation `id` and returns its GraphQL errors as
    /// a JSON array, from an `error` message or from a payload with `errors`.
    ///
    /// Panics if no message arrives, or the message is a payload without errors or a `complete`.
    /// Messages of other operations are buffered for later calls.
    pub async fn expect_errors(&mut self, id: &str) -> Value {
        match self.expect_message(id).await {
            WsMessage::Error { payload, .. } => errors_array(payload),
            WsMessage::Payload { payload, .. } if has_errors(&payload) => payload["errors"].clone(),
            other => panic!("expected errors of operation {id}, got {other:?}"),
        }
    }

    /// Asserts that no payload or `error` message of any operation arrives within `duration`,
    /// and that none is buffered from earlier calls.
    ///
    /// A `complete` that arrives meanwhile does not fail the assertion and is buffered for later
    /// calls, because async-graphql 7.2 replies with `complete` when the client stops a running
    /// operation.
    pub async fn expect_silence(&mut self, duration: Duration) {
        let buffered = self
            .buffered
            .iter()
            .find(|message| !matches!(message, WsMessage::Complete { .. }));
        if let Some(message) = buffered {
            panic!("expected no message, but {message:?} arrived earlier and is buffered");
        }

        let deadline = Instant::now() + duration;
        while let Some(message) = self.read_message(deadline).await {
            match message {
                WsMessage::Complete { .. } => self.buffered.push_back(message),
                other => panic!("expected no message for {duration:?}, got {other:?}"),
            }
        }
    }

    /// Stops operation `id` by sending `complete` (transport-ws) or `stop` (legacy).
    ///
    /// The server may reply with a `complete` for `id`, which later calls receive.
    pub async fn stop(&mut self, id: &str) {
        let kind = match self.protocol {
            WsProtocol::TransportWs => "complete",
            WsProtocol::LegacyWs => "stop",
        };
        self.send_json(json!({ "id": id, "type": kind })).await;
    }

    /// Closes the connection by sending `connection_terminate` (legacy only) and a close frame
    /// with code 1000, then waits up to 5 s for the server to close its side.
    pub async fn close(mut self) {
        if self.protocol == WsProtocol::LegacyWs {
            self.send_json(json!({ "type": "connection_terminate" }))
                .await;
        }

        // The server may drop the connection as soon as it reads `connection_terminate`, so a
        // failed close frame or a TCP reset here means the socket is closed already.
        let frame = CloseFrame {
            code: CloseCode::Normal,
            reason: "test finished".into(),
        };
        let _ = self.socket.close(Some(frame)).await;
        let drain = async { while let Some(Ok(_)) = self.socket.next().await {} };
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, drain).await;
    }

    /// Reads until the server closes the connection, for tests of a server that shuts down.
    /// Returns the `complete` ids and the other operation messages received first, buffered
    /// ones included, and the close frame (`None` for a close frame without a code).
    ///
    /// Panics if no close frame comes within 15 s or the socket ends without one.
    pub async fn expect_close(mut self) -> (Vec<WsMessage>, Option<CloseFrame>) {
        let deadline = Instant::now() + EXPECT_TIMEOUT;
        let mut received: Vec<WsMessage> = self.buffered.drain(..).collect();
        loop {
            let frame = tokio::time::timeout_at(deadline, self.socket.next())
                .await
                .unwrap_or_else(|_| panic!("no close frame within {EXPECT_TIMEOUT:?}; received {received:?}"));
            let text = match frame {
                Some(Ok(Message::Close(frame))) => return (received, frame),
                Some(Ok(Message::Text(text))) => text,
                Some(Ok(_)) => continue,
                Some(Err(err)) => panic!("reading the WebSocket failed before a close frame: {err}"),
                None => panic!("the server ended the WebSocket without a close frame; received {received:?}"),
            };
            let message: Value = serde_json::from_str(&text)
                .unwrap_or_else(|err| panic!("the server sent a text frame that is not JSON ({err}): {text}"));
            let id = message["id"].as_str().unwrap_or_default().to_owned();
            match message["type"].as_str().unwrap_or_default() {
                "complete" => received.push(WsMessage::Complete { id }),
                "next" | "data" => received.push(WsMessage::Payload { id, payload: message["payload"].clone() }),
                "error" => received.push(WsMessage::Error { id, payload: message["payload"].clone() }),
                // Keep-alives and pings belong to no operation, so they are skipped.
                _ => {}
            }
        }
    }

    /// Waits up to 15 s for the next message of operation `id`, first from the buffer, and
    /// buffers the messages of other operations that arrive meanwhile.
    async fn expect_message(&mut self, id: &str) -> WsMessage {
        let deadline = Instant::now() + EXPECT_TIMEOUT;
        if let Some(index) = self.buffered.iter().position(|message| message.id() == id) {
            return self
                .buffered
                .remove(index)
                .expect("the index comes from position()");
        }
        loop {
            let Some(message) = self.read_message(deadline).await else {
                panic!(
                    "timed out after {EXPECT_TIMEOUT:?} waiting for a message of operation \
                     {id}. Buffered messages of other operations: {:?}",
                    self.buffered
                );
            };
            if message.id() == id {
                return message;
            }
            self.buffered.push_back(message);
        }
    }

    /// Reads the socket until the next operation message, replying to `ping` and skipping
    /// `pong` and `ka`, or returns `None` at `deadline`.
    async fn read_message(&mut self, deadline: Instant) -> Option<WsMessage> {
        loop {
            let message = self.read_json(deadline).await?;
            let kind = message["type"].as_str().unwrap_or_default();
            match (self.protocol, kind) {
                (WsProtocol::TransportWs, "ping") => {
                    self.send_json(json!({ "type": "pong" })).await;
                    continue;
                }
                (WsProtocol::TransportWs, "pong") | (WsProtocol::LegacyWs, "ka") => continue,
                _ => {}
            }

            let id = || {
                message["id"]
                    .as_str()
                    .unwrap_or_else(|| panic!("the server sent {kind} without an id: {message}"))
                    .to_owned()
            };
            let parsed = match (self.protocol, kind) {
                (WsProtocol::TransportWs, "next") | (WsProtocol::LegacyWs, "data") => {
                    assert_no_internal_text(&message["payload"]);
                    WsMessage::Payload {
                        id: id(),
                        payload: message["payload"].clone(),
                    }
                }
                (_, "error") => {
                    let errors = errors_array(message["payload"].clone());
                    assert_no_internal_text(&json!({ "errors": errors }));
                    WsMessage::Error {
                        id: id(),
                        payload: message["payload"].clone(),
                    }
                }
                (_, "complete") => WsMessage::Complete { id: id() },
                (WsProtocol::LegacyWs, "connection_error") => {
                    panic!("the server rejected the connection: {}", pretty(&message))
                }
                _ => panic!(
                    "unexpected {protocol} message from the server: {}",
                    pretty(&message),
                    protocol = self.protocol.name()
                ),
            };
            return Some(parsed);
        }
    }

    /// Reads the next text frame as JSON, skipping WebSocket ping and pong frames, or returns
    /// `None` at `deadline`. Panics when the socket closes or fails.
    async fn read_json(&mut self, deadline: Instant) -> Option<Value> {
        loop {
            let frame = tokio::time::timeout_at(deadline, self.socket.next())
                .await
                .ok()?;
            let frame = match frame {
                Some(Ok(frame)) => frame,
                Some(Err(err)) => panic!("reading the WebSocket failed: {err}"),
                None => panic!("the server closed the WebSocket without a close frame"),
            };
            match frame {
                Message::Text(text) => {
                    return Some(serde_json::from_str(&text).unwrap_or_else(|err| {
                        panic!("the server sent a text frame that is not JSON ({err}): {text}")
                    }));
                }
                // tungstenite replies to ping frames itself.
                Message::Ping(_) | Message::Pong(_) => continue,
                Message::Close(frame) => panic!("the server closed the WebSocket: {frame:?}"),
                Message::Binary(_) | Message::Frame(_) => {
                    panic!("the server sent a non-text WebSocket frame: {frame:?}")
                }
            }
        }
    }

    /// Sends one protocol message as a text frame.
    async fn send_json(&mut self, message: Value) {
        let text = message.to_string();
        self.socket
            .send(Message::text(text))
            .await
            .unwrap_or_else(|err| panic!("sending {message} on the WebSocket failed: {err}"));
    }
}

/// Converts the `http://` or `https://` URL of `/graphql` to its `ws://` or `wss://` URL.
fn websocket_url(graphql_url: &str) -> String {
    if let Some(rest) = graphql_url.strip_prefix("http://") {
        format!("ws://{rest}")
    } else if let Some(rest) = graphql_url.strip_prefix("https://") {
        format!("wss://{rest}")
    } else {
        panic!("expected an http:// or https:// GraphQL URL, got {graphql_url}")
    }
}

/// Returns true when an execution result has a non-empty `errors` list.
fn has_errors(payload: &Value) -> bool {
    match &payload["errors"] {
        Value::Null => false,
        Value::Array(errors) => !errors.is_empty(),
        _ => true,
    }
}

/// Returns the errors of an `error` message as an array. The transport-ws protocol defines an
/// array of GraphQL errors, but legacy servers may also send one error object or a result with
/// `errors`.
fn errors_array(payload: Value) -> Value {
    match payload {
        Value::Array(_) => payload,
        Value::Object(ref object) if object.get("errors").is_some_and(Value::is_array) => {
            payload["errors"].clone()
        }
        other => json!([other]),
    }
}

// ---------------------------------------------------------------- tests of the client

/// Runs `query { __typename }` as operation "1" and checks that the result equals
/// `expected` and is followed by `complete`.
async fn check_typename_query(graphql_url: &str, protocol: WsProtocol, expected: &Value) {
    let mut socket = Subscriptions::connect(graphql_url, protocol).await;

    socket
        .subscribe("1", "query { __typename }", Value::Null)
        .await;
    let data = socket.expect_data("1").await;
    assert_eq!(&data, expected, "{protocol:?}");
    let after = socket.next_message(EXPECT_TIMEOUT).await;
    assert_eq!(
        after,
        Some(WsMessage::Complete { id: "1".to_owned() }),
        "{protocol:?}: the result must be followed by complete"
    );

    socket.close().await;
}

/// Runs two queries at once and reads the second one's result first, so that the first one's
/// result passes through the buffer when the server sends it first.
async fn check_buffering(graphql_url: &str, protocol: WsProtocol) {
    let mut socket = Subscriptions::connect(graphql_url, protocol).await;

    socket
        .subscribe("a", "query { __typename }", Value::Null)
        .await;
    socket
        .subscribe(
            "b",
            "query($name: String!) { __type(name: $name) { name } }",
            json!({ "name": "Boolean" }),
        )
        .await;
    let data = socket.expect_data("b").await;
    assert_eq!(
        data,
        json!({ "__type": { "name": "Boolean" } }),
        "{protocol:?} b"
    );
    let data = socket.expect_data("a").await;
    assert!(
        data["__typename"].is_string(),
        "{protocol:?} a: {}",
        pretty(&data)
    );

    let mut completed = Vec::new();
    while let Some(message) = socket.next_message(Duration::from_secs(2)).await {
        match message {
            WsMessage::Complete { id } => completed.push(id),
            other => panic!("{protocol:?}: expected only complete messages, got {other:?}"),
        }
    }
    completed.sort();
    assert_eq!(completed, ["a", "b"], "{protocol:?}");

    socket.expect_silence(Duration::from_millis(300)).await;

    // Stopping a finished operation must leave the connection usable.
    socket.stop("a").await;
    socket.expect_silence(Duration::from_millis(300)).await;
    socket
        .subscribe("c", "query { __typename }", Value::Null)
        .await;
    let data = socket.expect_data("c").await;
    assert!(
        data["__typename"].is_string(),
        "{protocol:?} c: {}",
        pretty(&data)
    );

    socket.close().await;
}

/// Runs an invalid query and checks that its errors come back.
async fn check_invalid_query(graphql_url: &str, protocol: WsProtocol) {
    let mut socket = Subscriptions::connect(graphql_url, protocol).await;

    socket
        .subscribe("bad", "query { noSuchField }", Value::Null)
        .await;
    let errors = socket.expect_errors("bad").await;
    let messages: Vec<&str> = errors
        .as_array()
        .unwrap_or_else(|| panic!("errors must be an array, got {}", pretty(&errors)))
        .iter()
        .map(|error| error["message"].as_str().unwrap_or_default())
        .collect();
    assert!(
        messages
            .iter()
            .any(|message| message.contains("noSuchField")),
        "{protocol:?}: the errors do not name the unknown field: {messages:?}"
    );

    socket.close().await;
}

const PROTOCOLS: [WsProtocol; 2] = [WsProtocol::TransportWs, WsProtocol::LegacyWs];

both_databases!(query_returns_typename, |app| async move {
    // The root type is named after the Rust type (`QueryRoot` at the time of writing), so the
    // socket's result is compared with the HTTP result instead of a fixed name.
    let expected = app.ok("query { __typename }", Value::Null).await;
    assert!(
        expected["__typename"].is_string(),
        "HTTP result: {}",
        pretty(&expected)
    );
    for protocol in PROTOCOLS {
        check_typename_query(&app.graphql_url(), protocol, &expected).await;
    }
});

both_databases!(buffers_other_operations, |app| async move {
    for protocol in PROTOCOLS {
        check_buffering(&app.graphql_url(), protocol).await;
    }
});

both_databases!(invalid_query_returns_errors, |app| async move {
    for protocol in PROTOCOLS {
        check_invalid_query(&app.graphql_url(), protocol).await;
    }
});

#[test]
fn websocket_url_replaces_scheme() {
    assert_eq!(
        websocket_url("http://127.0.0.1:4000/graphql"),
        "ws://127.0.0.1:4000/graphql"
    );
    assert_eq!(
        websocket_url("https://example.test/graphql"),
        "wss://example.test/graphql"
    );
}

#[test]
fn errors_array_accepts_both_shapes() {
    let error = json!({ "message": "boom" });
    assert_eq!(errors_array(json!([error])), json!([error]));
    assert_eq!(errors_array(error.clone()), json!([error]));
    assert_eq!(
        errors_array(json!({ "errors": [error], "data": null })),
        json!([error])
    );
}
