//! The admin socket server: a Unix socket (mode 0600) in front of the node.
//!
//! Owns: binding the socket safely (refuse if another node answers on it,
//! remove a stale file otherwise; created private, never world-reachable
//! for an instant), the line protocol, and the connection limits: at most
//! [`MAX_CONNECTIONS`] served at once (one more is told so and closed), an
//! idle one closed after [`IDLE_TIMEOUT`], and an `accept` that fails (out
//! of file descriptors, say) retried with backoff and logged once, never
//! the end of the admin socket. Requests go to the node through
//! [`NodeHandle`]; the server never touches node state itself.

use crate::control::{MAX_LINE, NodeHandle, Request, Response};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::Semaphore;

/// Admin connections served at once.
pub const MAX_CONNECTIONS: usize = 64;
/// An admin connection that sends nothing for this long is closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// First pause after a failed `accept`; it doubles up to [`ACCEPT_BACKOFF_MAX`].
const ACCEPT_BACKOFF_FIRST: Duration = Duration::from_millis(10);
/// Longest pause between `accept` attempts while they fail.
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);

/// The admin socket could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("admin socket {path}: {message}")]
pub struct AdminError {
    /// Socket path.
    pub path: PathBuf,
    /// What went wrong.
    pub message: String,
}

/// Binds the socket at `path` with mode 0600.
pub async fn bind(path: &Path) -> Result<UnixListener, AdminError> {
    let error = |message: String| AdminError { path: path.to_path_buf(), message };
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if !std::os::unix::fs::FileTypeExt::is_socket(&meta.file_type()) {
            return Err(error("a file that is not a socket is in the way; refusing to replace it".into()));
        }
        if UnixStream::connect(path).await.is_ok() {
            return Err(error("another node is already listening here".into()));
        }
        std::fs::remove_file(path).map_err(|e| error(format!("cannot remove the stale socket file: {e}")))?;
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| error(format!("cannot create its directory: {e}")))?;
    }
    // Created 0600 from the start: chmod after bind would leave a window at
    // the umask's permissions.
    let listener = {
        let _private = crate::files::PrivateUmask::set();
        UnixListener::bind(path).map_err(|e| error(e.to_string()))?
    };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(|e| error(e.to_string()))?;
    Ok(listener)
}

/// Serves requests until the node stops (it aborts this task). A failed
/// `accept` (no file descriptors left, say) is retried with backoff.
pub async fn serve(listener: UnixListener, node: NodeHandle) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut backoff = ACCEPT_BACKOFF_FIRST;
    let mut failing = false;
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                if !failing {
                    tracing::warn!(error = %e, "the admin socket cannot accept connections; retrying");
                    failing = true;
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(ACCEPT_BACKOFF_MAX);
                continue;
            }
        };
        if std::mem::take(&mut failing) {
            tracing::info!("the admin socket accepts connections again");
        }
        backoff = ACCEPT_BACKOFF_FIRST;
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            tokio::spawn(refuse(stream));
            continue;
        };
        let node = node.clone();
        tokio::spawn(async move {
            let _permit = permit;
            if let Err(e) = serve_connection(stream, node).await {
                tracing::debug!("admin connection ended: {e}");
            }
        });
    }
}

/// Tells a connection over the limit why it is closed.
async fn refuse(mut stream: UnixStream) {
    let response =
        Response::failure(format!("too many admin connections ({MAX_CONNECTIONS} open); close some and try again"));
    let mut text = serde_json::to_string(&response).unwrap_or_else(|_| r#"{"ok":false}"#.into());
    text.push('\n');
    let _ = tokio::time::timeout(Duration::from_secs(1), stream.write_all(text.as_bytes())).await;
}

async fn serve_connection(stream: UnixStream, node: NodeHandle) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    let mut line = String::new();
    loop {
        line.clear();
        let mut limited = (&mut lines).take(MAX_LINE as u64 + 1);
        let Ok(n) = tokio::time::timeout(IDLE_TIMEOUT, limited.read_line(&mut line)).await else {
            return Ok(()); // idle: free the slot
        };
        let n = n?;
        if n == 0 {
            return Ok(());
        }
        let response = if n > MAX_LINE {
            Response::failure(format!("request longer than {MAX_LINE} bytes"))
        } else {
            match serde_json::from_str::<Request>(&line) {
                Ok(request) => Response::from(node.request(request).await),
                Err(e) => Response::failure(format!("bad request: {e}")),
            }
        };
        let mut text = serde_json::to_string(&response).unwrap_or_else(|_| r#"{"ok":false}"#.into());
        text.push('\n');
        write.write_all(text.as_bytes()).await?;
        if n > MAX_LINE {
            return Ok(());
        }
    }
}
