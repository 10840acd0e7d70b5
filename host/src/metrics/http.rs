//! The `/metrics` HTTP endpoint: just enough HTTP/1.1 for a Prometheus
//! scraper (GET, one request per connection, `Connection: close`).
//!
//! Owns: the listener task and parsing one request line. Must not: block
//! the node (each connection is its own task, reads are bounded in size and
//! time) or render metrics itself (it asks the node through its handle).

use crate::control::{Answer, NodeHandle, Query};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const MAX_REQUEST: usize = 8 * 1024;
const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// The metrics address could not be bound.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {addr}: {source}")]
pub struct BindError {
    /// The address.
    pub addr: SocketAddr,
    /// What failed.
    pub source: std::io::Error,
}

/// Binds `addr`; errors name the address.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, BindError> {
    TcpListener::bind(addr).await.map_err(|source| BindError { addr, source })
}

/// Serves scrapes until the task is aborted.
pub async fn serve(listener: TcpListener, node: NodeHandle) {
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let node = node.clone();
        tokio::spawn(async move {
            let _ = tokio::time::timeout(READ_TIMEOUT, answer(stream, node)).await;
        });
    }
}

async fn answer(mut stream: tokio::net::TcpStream, node: NodeHandle) -> std::io::Result<()> {
    let mut request = Vec::new();
    let mut buf = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < MAX_REQUEST {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        request.extend_from_slice(&buf[..n]);
    }
    let line = request.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut parts = line.split_whitespace();
    let (status, body, kind) = match (parts.next(), parts.next()) {
        (Some("GET"), Some(path)) if path == "/metrics" || path.starts_with("/metrics?") => {
            match node.request(Query::Metrics).await {
                Ok(Answer::Metrics(text)) => ("200 OK", text, "text/plain; version=0.0.4; charset=utf-8"),
                Ok(other) => ("500 Internal Server Error", format!("unexpected answer {other:?}\n"), "text/plain"),
                Err(e) => ("503 Service Unavailable", e, "text/plain"),
            }
        }
        (Some("GET"), Some(_)) => ("404 Not Found", "only /metrics is served here\n".to_string(), "text/plain"),
        _ => ("400 Bad Request", "expected GET /metrics\n".to_string(), "text/plain"),
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body.as_bytes()).await?;
    stream.shutdown().await
}
