//! The client side of the admin socket, used by `weft ctl`.

use crate::control::{MAX_LINE, Request, Response};
use std::path::Path;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

/// Sends one request and waits up to `timeout` for the response.
pub async fn request(socket: &Path, request: &Request, timeout: Duration) -> Result<Response, String> {
    let exchange = async {
        let mut stream = UnixStream::connect(socket).await.map_err(|e| {
            format!("cannot reach the node at {}: {e} (is `weft run` running with this config?)", socket.display())
        })?;
        let mut line = serde_json::to_string(request).map_err(|e| e.to_string())?;
        line.push('\n');
        stream.write_all(line.as_bytes()).await.map_err(|e| e.to_string())?;
        let mut reader = BufReader::new(stream).take(MAX_LINE as u64);
        let mut answer = String::new();
        reader.read_line(&mut answer).await.map_err(|e| e.to_string())?;
        if answer.is_empty() {
            return Err("the node closed the connection without answering".to_string());
        }
        serde_json::from_str::<Response>(&answer).map_err(|e| format!("unreadable answer from the node: {e}"))
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| format!("no answer from {} within {} ms", socket.display(), timeout.as_millis()))?
}
