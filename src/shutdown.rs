//! The shutdown of a running server, as seen by the parts that must end with it.
//!
//! [`crate::app::serve_with`] starts the shutdown when its signal arrives, giving it a
//! deadline. axum then stops accepting connections and lets in-flight requests finish. A
//! WebSocket connection leaves axum once upgraded, so each one watches this signal itself and
//! closes when its operations have ended. Each is counted here, so the server can wait for
//! the last one.

use std::sync::Arc;

use tokio::{sync::watch, time::Instant};

/// A shutdown signal with its deadline, and the count of open WebSocket connections.
///
/// Clones share the signal. [`Shutdown::default`] makes one that only fires when
/// [`Shutdown::begin`] is called, for routers served without [`crate::app::serve_with`].
#[derive(Clone, Debug, Default)]
pub struct Shutdown {
    /// `None` until the shutdown starts, then the instant by which everything must have ended.
    deadline: Arc<watch::Sender<Option<Instant>>>,
    connections: Arc<watch::Sender<usize>>,
}

impl Shutdown {
    /// Starts the shutdown. Work still running at `deadline` is cut off. Calling it again
    /// keeps the first deadline.
    pub fn begin(&self, deadline: Instant) {
        self.deadline.send_if_modified(|current| {
            if current.is_some() {
                return false;
            }
            *current = Some(deadline);
            true
        });
    }

    /// Returns whether the shutdown has started.
    pub fn is_started(&self) -> bool {
        self.deadline.borrow().is_some()
    }

    /// Waits for the shutdown to start and returns its deadline.
    pub async fn started(&self) -> Instant {
        let mut deadline = self.deadline.subscribe();
        let started = deadline.wait_for(Option::is_some).await;
        // `self` owns the sender, so the channel cannot close while this waits.
        let deadline = started.expect("BUG: the shutdown sender lives as long as `self`");
        deadline.expect("BUG: wait_for returned a deadline that is not set")
    }

    /// Counts a WebSocket connection as open until the returned guard is dropped.
    pub fn track_connection(&self) -> OpenConnection {
        self.connections.send_modify(|count| *count += 1);
        OpenConnection { connections: Arc::clone(&self.connections) }
    }

    /// Returns the number of open WebSocket connections.
    pub fn open_connections(&self) -> usize {
        *self.connections.borrow()
    }

    /// Waits until no WebSocket connection is open.
    pub async fn connections_closed(&self) {
        let mut connections = self.connections.subscribe();
        // The sender lives in `self`, so the channel cannot close while this waits.
        let _ = connections.wait_for(|count| *count == 0).await;
    }
}

/// An open WebSocket connection, counted by its [`Shutdown`] until dropped.
#[derive(Debug)]
pub struct OpenConnection {
    connections: Arc<watch::Sender<usize>>,
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.connections.send_modify(|count| *count -= 1);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn started_returns_the_first_deadline() {
        let shutdown = Shutdown::default();
        let first = Instant::now() + Duration::from_secs(5);
        shutdown.begin(first);
        shutdown.begin(first + Duration::from_secs(5));

        assert_eq!(shutdown.started().await, first);
    }

    #[tokio::test]
    async fn connections_closed_waits_for_the_last_connection() {
        let shutdown = Shutdown::default();
        let open = shutdown.track_connection();
        assert_eq!(shutdown.open_connections(), 1);

        let waiting = tokio::spawn({
            let shutdown = shutdown.clone();
            async move { shutdown.connections_closed().await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiting.is_finished(), "a connection is still open");

        drop(open);
        tokio::time::timeout(Duration::from_secs(1), waiting).await.expect("closed in time").unwrap();
    }
}
