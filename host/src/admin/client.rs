//! The client side of the admin socket, used by `weft ctl`.

use crate::control::{MAX_LINE, Request, Response};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

/// Why a request got no answer.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Nothing listens on the socket.
    #[error("cannot reach the node at {socket}: {source} (is `weft run` running with this config?)")]
    Unreachable {
        /// The admin socket.
        socket: PathBuf,
        /// What connecting said.
        source: std::io::Error,
    },
    /// Writing the request or reading the answer failed.
    #[error("admin socket: {0}")]
    Io(#[from] std::io::Error),
    /// The request could not be encoded.
    #[error("cannot encode the request: {0}")]
    Encode(serde_json::Error),
    /// The node hung up without a line.
    #[error("the node closed the connection without answering")]
    Closed,
    /// The answer is not a response.
    #[error("unreadable answer from the node: {0}")]
    Unreadable(serde_json::Error),
    /// No answer in time.
    #[error("no answer from {socket} within {ms} ms")]
    Timeout {
        /// The admin socket.
        socket: PathBuf,
        /// The time waited.
        ms: u128,
    },
}

/// Sends one request and waits up to `timeout` for the response.
pub async fn request(socket: &Path, request: &Request, timeout: Duration) -> Result<Response, ClientError> {
    let exchange = async {
        let mut stream = UnixStream::connect(socket)
            .await
            .map_err(|source| ClientError::Unreachable { socket: socket.to_path_buf(), source })?;
        let mut line = serde_json::to_string(request).map_err(ClientError::Encode)?;
        line.push('\n');
        stream.write_all(line.as_bytes()).await?;
        let mut reader = BufReader::new(stream).take(MAX_LINE as u64);
        let mut answer = String::new();
        reader.read_line(&mut answer).await?;
        if answer.is_empty() {
            return Err(ClientError::Closed);
        }
        serde_json::from_str::<Response>(&answer).map_err(ClientError::Unreadable)
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| ClientError::Timeout { socket: socket.to_path_buf(), ms: timeout.as_millis() })?
}
