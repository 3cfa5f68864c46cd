//! What every server stream that pages the sequenced `events` table does when it has
//! caught up: wait for new events, for shutdown, for the client to leave, or for a reason
//! to re-check its caller (revoked, suspended, a role withdrawn).

use std::time::Duration;

use liaison_auth::Caller;
use tokio::sync::{mpsc, watch};
use tonic::Status;

use crate::{AccessWatch, Authenticator, Shutdown};

/// How long a caught-up reader waits before it looks again without a wake-up: a backstop
/// against a notification lost with a database connection.
pub const BACKSTOP: Duration = Duration::from_secs(5);

/// The parts of a stream's task that the wait needs.
#[derive(Debug)]
pub struct StreamWait<'a> {
    /// The sequenced high-water mark.
    pub high_water: &'a mut watch::Receiver<u64>,
    /// The hub's shutdown signal.
    pub shutdown: &'a mut Shutdown,
    /// Directory and revocation changes.
    pub access: &'a mut AccessWatch,
    /// To re-check the caller.
    pub auth: &'a Authenticator,
    /// The stream's caller.
    pub caller: &'a Caller,
}

impl StreamWait<'_> {
    /// Waits until there may be events after `caught_up_at`. Returns false when the stream
    /// must end; the reason (shutdown, revocation) has then been sent to the client.
    pub async fn until_more<T>(
        &mut self,
        caught_up_at: u64,
        sender: &mpsc::Sender<Result<T, Status>>,
    ) -> bool {
        tokio::select! {
            changed = async { self.high_water.wait_for(|position| *position > caught_up_at).await.is_ok() } => changed,
            () = sender.closed() => false,
            () = self.shutdown.wait() => {
                let status = Status::unavailable("the hub is shutting down; resume from the last cursor");
                let _ = sender.send(Err(status)).await;
                false
            }
            () = tokio::time::sleep(BACKSTOP) => true,
            () = self.access.changed() => {
                // Revoked, suspended or a role withdrawn: the stream ends.
                match self.auth.recheck(self.caller).await {
                    Ok(()) => true,
                    Err(error) => {
                        let _ = sender.send(Err(error.into())).await;
                        false
                    }
                }
            }
        }
    }
}
