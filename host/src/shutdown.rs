//! The node-wide stop signal: a `watch` channel that turns `true` once.

use tokio::sync::watch;

/// Resolves when `signal` turns true (or its sender is gone). The borrow of
/// the value is released before returning, so the future stays `Send`.
pub async fn stopped(signal: &mut watch::Receiver<bool>) {
    let _ = signal.wait_for(|stop| *stop).await;
}
