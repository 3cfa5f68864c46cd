//! The hub's shutdown signal, for work that would otherwise outlive it (open streams).

use tokio::sync::watch;

/// Completes when the hub begins to shut down. Cheap to clone; every clone sees the signal.
#[derive(Debug, Clone)]
pub struct Shutdown(watch::Receiver<bool>);

impl Shutdown {
    /// A signal and the sender that triggers it (send `true`, or drop the sender).
    pub fn new() -> (watch::Sender<bool>, Self) {
        let (sender, receiver) = watch::channel(false);
        (sender, Self(receiver))
    }

    /// Waits for the signal.
    pub async fn wait(&mut self) {
        // An error means the sender is gone, which is shutdown too.
        let _ = self.0.wait_for(|stopping| *stopping).await;
    }

    /// True once shutdown has begun.
    pub fn is_triggered(&self) -> bool {
        *self.0.borrow()
    }
}
