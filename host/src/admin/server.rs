//! The admin socket server: a Unix socket (mode 0600) in front of the node.
//!
//! Owns: binding the socket safely (refuse if another node answers on it,
//! remove a stale file otherwise), the line protocol, and per-connection
//! limits. Requests go to the node through [`NodeHandle`]; the server never
//! touches node state itself.

use super::protocol::{MAX_LINE, Request, Response};
use crate::node::NodeHandle;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

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
    let listener = UnixListener::bind(path).map_err(|e| error(e.to_string()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(|e| error(e.to_string()))?;
    Ok(listener)
}

/// Serves requests until the listener fails (the node drops it on shutdown).
pub async fn serve(listener: UnixListener, node: NodeHandle) {
    loop {
        let Ok((stream, _)) = listener.accept().await else { return };
        let node = node.clone();
        tokio::spawn(async move {
            if let Err(e) = serve_connection(stream, node).await {
                tracing::debug!("admin connection ended: {e}");
            }
        });
    }
}

async fn serve_connection(stream: UnixStream, node: NodeHandle) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    let mut line = String::new();
    loop {
        line.clear();
        let n = (&mut lines).take(MAX_LINE as u64 + 1).read_line(&mut line).await?;
        if n == 0 {
            return Ok(());
        }
        let response = if n > MAX_LINE {
            Response::failure(format!("request longer than {MAX_LINE} bytes"))
        } else {
            match serde_json::from_str::<Request>(&line) {
                Ok(request) => node.request(request).await,
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
