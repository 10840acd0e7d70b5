//! The in-process way to ask a running node something.
//!
//! Owns: [`NodeHandle`], a cloneable sender of typed requests that waits
//! for the typed reply within the request's timeout. Must not: know how the
//! node answers (the node's runtime owns the receiving end).

use super::reply::Reply;
use super::request::Request;
use tokio::sync::{mpsc, oneshot};

/// Where the answer to one request goes.
pub type ReplyTo = oneshot::Sender<Reply>;

/// A cheap, cloneable handle for talking to a running node.
#[derive(Debug, Clone)]
pub struct NodeHandle {
    requests: mpsc::Sender<(Request, ReplyTo)>,
}

impl NodeHandle {
    /// A handle sending into `requests` (the node keeps the receiver).
    pub fn new(requests: mpsc::Sender<(Request, ReplyTo)>) -> Self {
        Self { requests }
    }

    /// Sends a request and waits for the answer, up to
    /// [`Request::timeout`].
    pub async fn request(&self, request: impl Into<Request>) -> Reply {
        let request = request.into();
        let timeout = request.timeout();
        let (tx, rx) = oneshot::channel();
        if self.requests.send((request, tx)).await.is_err() {
            return Err("the node is stopping".into());
        }
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(reply)) => reply,
            Ok(Err(_)) => Err("the node stopped before answering".into()),
            Err(_) => Err(format!("no answer within {} ms", timeout.as_millis())),
        }
    }
}
