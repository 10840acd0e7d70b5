//! Releasing retired plugin instances off the node's thread.
//!
//! Owns: [`Releaser`], one long-lived thread that drops what it is handed.
//! Dropping a wasm instance resets its pool slot (a memset of the pages kept
//! resident, megabytes for a plugin that held a large state), which is work
//! the node's actor must not wait for during a hot swap. A thread started
//! per swap cost the swap its start-up time; this one is started once.
//!
//! Must not: hold anything the node still uses, or delay a drop that
//! matters for correctness (only memory is released here).

use std::sync::mpsc;

/// Sends values to a thread that drops them. Clones share the thread.
pub struct Releaser<T: Send + 'static> {
    queue: Option<mpsc::Sender<T>>,
}

impl<T: Send + 'static> Clone for Releaser<T> {
    fn clone(&self) -> Self {
        Self { queue: self.queue.clone() }
    }
}

impl<T: Send + 'static> Releaser<T> {
    /// Starts the releasing thread, named `name`. If the thread cannot be
    /// started, values are dropped where they are released instead.
    pub fn start(name: &str) -> Self {
        let (queue, incoming) = mpsc::channel::<T>();
        let started = std::thread::Builder::new().name(name.to_string()).spawn(move || {
            for value in incoming {
                drop(value);
            }
        });
        match started {
            Ok(_) => Self { queue: Some(queue) },
            Err(e) => {
                tracing::warn!("cannot start the {name} thread ({e}); instances are released on the node's thread");
                Self { queue: None }
            }
        }
    }

    /// Drops `value` on the releasing thread (or here, if it is gone).
    pub fn release(&self, value: T) {
        if let Some(queue) = &self.queue
            && let Err(mpsc::SendError(value)) = queue.send(value)
        {
            drop(value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::{Duration, Instant};

    struct Counted(Arc<AtomicUsize>, std::thread::ThreadId);

    impl Drop for Counted {
        fn drop(&mut self) {
            assert_ne!(std::thread::current().id(), self.1, "dropped on the releasing side");
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn values_are_dropped_on_the_releasing_thread() {
        let releaser = Releaser::start("test-release");
        let dropped = Arc::new(AtomicUsize::new(0));
        for _ in 0..3 {
            releaser.release(Counted(dropped.clone(), std::thread::current().id()));
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while dropped.load(Ordering::SeqCst) < 3 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(dropped.load(Ordering::SeqCst), 3);
    }
}
