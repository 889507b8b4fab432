//! The life of one GraphQL WebSocket connection around async-graphql's protocol handling: its
//! id and its connect and disconnect log lines, the count of its running operations, and its
//! close when the server shuts down.
//!
//! At shutdown the event hub ends every subscription, so async-graphql sends `complete` for
//! each. Once no operation of the connection runs any more, or at the shutdown's deadline,
//! the connection stops reading the client's messages, which ends async-graphql's loop. It
//! then sends a close frame (1001, going away). Its reason tells the client to reconnect and
//! names the sequence to resume after.

use std::{
    pin::Pin,
    sync::{Arc, Mutex},
    task::{Context, Poll},
    time::Duration,
};

use axum::{
    Error,
    extract::ws::{CloseFrame, Message, WebSocket, close_code},
    http::Extensions,
};
use futures_util::{
    Sink, SinkExt as _, StreamExt as _,
    stream::{BoxStream, SplitSink, SplitStream},
};
use tokio::{sync::watch, time::Instant};
use tracing::Instrument as _;

use crate::{
    event_hub::ResumePoint,
    shutdown::Shutdown,
    telemetry::{RequestId, RequestScope},
};

/// How long a connection closed by the server waits for the client's reply to its close frame.
const CLOSE_REPLY_TIMEOUT: Duration = Duration::from_secs(1);

/// The messages a client sends, until the connection stops reading them.
pub type ClientMessages = BoxStream<'static, Result<Message, Error>>;

/// One WebSocket connection, before it is served.
pub struct Connection {
    id: RequestId,
    protocol: &'static str,
    shutdown: Shutdown,
}

impl Connection {
    /// Creates a connection for the upgrade request with these extensions. It takes the
    /// request's id and the server's [`Shutdown`], or a new id and a shutdown that never comes
    /// when the router runs without them.
    pub fn new(extensions: &Extensions, protocol: &'static str) -> Connection {
        Connection {
            id: extensions.get::<RequestId>().cloned().unwrap_or_else(RequestId::generate),
            protocol,
            shutdown: extensions.get::<Shutdown>().cloned().unwrap_or_default(),
        }
    }

    /// Serves the connection: `graphql` speaks the GraphQL protocol over the sending half and
    /// the client's messages it is given, and returns when the client leaves or its messages
    /// end. At shutdown the connection then closes with a close frame.
    pub async fn run<F, Fut>(self, socket: WebSocket, graphql: F)
    where
        F: FnOnce(ConnectionSink, ClientMessages) -> Fut,
        Fut: Future<Output = ()>,
    {
        let span = tracing::info_span!("websocket", connection_id = %self.id);
        self.serve(socket, graphql).instrument(span).await;
    }

    async fn serve<F, Fut>(self, socket: WebSocket, graphql: F)
    where
        F: FnOnce(ConnectionSink, ClientMessages) -> Fut,
        Fut: Future<Output = ()>,
    {
        let _open = self.shutdown.track_connection();
        let opened = Instant::now();
        tracing::info!(protocol = self.protocol, "WebSocket connected");

        let (sink, stream) = socket.split();
        let sink = ConnectionSink(Arc::new(Mutex::new(sink)));
        let stream = Arc::new(tokio::sync::Mutex::new(stream));
        let operations = Arc::new(watch::Sender::new(0));
        let messages = client_messages(Arc::clone(&stream), self.shutdown.clone(), operations.subscribe());
        let resume = ResumePoint::default();
        let scope = RequestScope::websocket(self.id.clone(), operations);
        resume.scope(scope.run(graphql(sink.clone(), messages))).await;

        let shut_down = self.shutdown.is_started();
        if shut_down {
            close_for_shutdown(sink, &stream, resume.sequence()).await;
        }
        let duration_ms = u64::try_from(opened.elapsed().as_millis()).unwrap_or(u64::MAX);
        tracing::info!(duration_ms, shut_down, "WebSocket disconnected");
    }
}

/// Returns the client's messages until the client stops sending, or until the server shuts
/// down and no operation of the connection runs any more.
fn client_messages(
    stream: Arc<tokio::sync::Mutex<SplitStream<WebSocket>>>,
    shutdown: Shutdown,
    operations: watch::Receiver<usize>,
) -> ClientMessages {
    async_stream::stream! {
        let drained = drained(shutdown, operations);
        tokio::pin!(drained);
        loop {
            let next = async { stream.lock().await.next().await };
            let message = tokio::select! {
                message = next => message,
                () = &mut drained => None,
            };
            match message {
                Some(message) => yield message,
                None => return,
            }
        }
    }
    .boxed()
}

/// Completes once the shutdown has started and the connection's operations have ended, or
/// at the shutdown's deadline. Subscriptions end when the event hub shuts down, queries and
/// mutations when they finish.
async fn drained(shutdown: Shutdown, mut operations: watch::Receiver<usize>) {
    let deadline = shutdown.started().await;
    let ended = tokio::time::timeout_at(deadline, operations.wait_for(|count| *count == 0)).await.is_ok();
    if !ended {
        tracing::warn!(running = *operations.borrow(), "WebSocket operations still running at the end of the shutdown grace period are cut off");
    }
}

/// Sends the shutdown close frame and waits briefly for the client's reply.
async fn close_for_shutdown(
    mut sink: ConnectionSink,
    stream: &tokio::sync::Mutex<SplitStream<WebSocket>>,
    resume_after: Option<i64>,
) {
    let reason = match resume_after {
        Some(sequence) => format!("server shutting down; reconnect with after: {sequence}"),
        None => "server shutting down; reconnect".to_owned(),
    };
    let frame = CloseFrame { code: close_code::AWAY, reason: reason.into() };
    if sink.send(Message::Close(Some(frame))).await.is_err() {
        // The client is gone already.
        return;
    }
    let reply = async {
        let mut stream = stream.lock().await;
        while let Some(Ok(message)) = stream.next().await {
            if let Message::Close(_) = message {
                return;
            }
        }
    };
    let _ = tokio::time::timeout(CLOSE_REPLY_TIMEOUT, reply).await;
}

/// The sending half of a connection, shared by async-graphql's loop and the close that
/// follows it.
#[derive(Clone)]
pub struct ConnectionSink(Arc<Mutex<SplitSink<WebSocket, Message>>>);

impl ConnectionSink {
    fn locked<T>(&self, f: impl FnOnce(&mut SplitSink<WebSocket, Message>) -> T) -> T {
        f(&mut self.0.lock().expect("BUG: the lock is never held across a panic"))
    }
}

impl Sink<Message> for ConnectionSink {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.locked(|sink| sink.poll_ready_unpin(cx))
    }

    fn start_send(self: Pin<&mut Self>, message: Message) -> Result<(), Error> {
        self.locked(|sink| sink.start_send_unpin(message))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.locked(|sink| sink.poll_flush_unpin(cx))
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.locked(|sink| sink.poll_close_unpin(cx))
    }
}
