//! The one delivery loop of every server stream that pages the sequenced `events` table
//! (indicators' Subscribe, CBM's WatchInbox, MLA's WatchRequests).
//!
//! A service says only what a stream reads and what each event becomes ([`EventFeed`]);
//! [`EventStream::spawn`] owns everything the security of a stream rests on, once:
//!
//! - pages of [`PAGE`] events after the cursor, and a wait on the high-water mark when
//!   caught up (for new events, shutdown, the client leaving, or a reason to re-check);
//! - the caller re-checked before each page is resolved, when the directory or the
//!   revocations changed: a suspended agency or a revoked principal receives nothing after
//!   the page it was reading (review findings H3 / M6);
//! - one audit record per page delivered, committed before the page leaves the hub;
//! - a bounded channel ([`CHANNEL`]) whose room is waited for with `reserve`, so that a
//!   client that does not read still has its stream ended by a revocation, and no message
//!   is lost when a re-check interrupts the wait;
//! - the task ends as soon as the client is gone, not only once caught up.
//!
//! No queue per subscriber is kept in the hub: a slow reader holds only its own page and
//! its own channel, and never slows the publisher or another reader.

use std::{future::Future, time::Duration};

use liaison_audit::{Access, ObjectAccess};
use liaison_auth::Caller;
use liaison_core::AgencyId;
use liaison_store::Store;
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Status, codegen::BoxStream};

use crate::{AccessWatch, Authenticator, Call, ServiceError, Shutdown};

/// How long a caught-up reader waits before it looks again without a wake-up: a backstop
/// against a notification lost with a database connection.
pub const BACKSTOP: Duration = Duration::from_secs(5);
/// Events read from the store per query.
pub const PAGE: u32 = 256;
/// Messages buffered per stream before the reader waits for the client.
pub const CHANNEL: usize = 64;

/// What one kind of stream reads and delivers; the loop around it is [`EventStream`]'s.
pub trait EventFeed: Send + Sync + 'static {
    /// An event as the store reads it.
    type Event: Send + Sync;
    /// A message of the stream's response body.
    type Message: Send + 'static;
    /// What a page gathers besides messages and audited objects, for [`EventFeed::commit`]
    /// (`()` for most streams).
    type Page: Send;

    /// Up to `limit` events after `cursor`, in order.
    fn read_after(
        &self,
        store: &Store,
        cursor: u64,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<Self::Event>, ServiceError>> + Send;

    /// The cursor of an event.
    fn position(event: &Self::Event) -> u64;

    /// A new page's state; opened after the caller's re-check for that page. `call` is
    /// the page's.
    fn open_page(&self, call: &Call) -> Self::Page;

    /// The event as the caller may receive it, with every object it delivers, or `None`
    /// to skip it. `call` is the page's: its caller and its (forked) audit context.
    fn resolve(
        &self,
        call: &Call,
        page: &mut Self::Page,
        event: &Self::Event,
    ) -> impl Future<Output = Result<Option<Delivery<Self::Message>>, ServiceError>> + Send;

    /// Commits the page's audit record (its objects are noted on `call.audit`) before the
    /// page is sent; by default as a read record.
    fn commit(
        &self,
        store: &Store,
        call: &Call,
        page: Self::Page,
    ) -> impl Future<Output = Result<(), ServiceError>> + Send {
        let _ = page;
        call.audit.commit_read(store)
    }
}

/// One message to deliver and the objects it delivers, for the page's audit record.
#[derive(Debug)]
pub struct Delivery<M> {
    /// The message.
    pub message: M,
    /// What it delivers, in the order the record lists them.
    pub objects: Vec<ObjectAccess>,
}

/// An object delivered to the caller: `owner` is its owning agency, `anonymous` hides it
/// from other agencies' auditors.
pub fn delivered(id: &str, owner: Option<&AgencyId>, anonymous: bool) -> ObjectAccess {
    ObjectAccess {
        id: id.to_owned(),
        access: Access::Deliver,
        owner_agency: owner.map(ToString::to_string),
        anonymous,
    }
}

/// The parts of a stream that do not depend on its kind.
#[derive(Debug)]
pub struct EventStream {
    /// The store, for the high-water mark and the audit records.
    pub store: Store,
    /// To re-check the caller.
    pub auth: Authenticator,
    /// The stream's caller and its call's audit context.
    pub call: Call,
    /// The hub's shutdown signal.
    pub shutdown: Shutdown,
    /// The cursor to deliver after.
    pub after: u64,
}

type Sender<M> = mpsc::Sender<Result<M, Status>>;

impl EventStream {
    /// Starts delivering `feed`; the returned stream is the response body.
    pub fn spawn<F: EventFeed>(self, feed: F) -> BoxStream<F::Message> {
        let (sender, receiver) = mpsc::channel(CHANNEL);
        tokio::spawn(self.deliver(feed, sender));
        Box::pin(ReceiverStream::new(receiver))
    }

    async fn deliver<F: EventFeed>(self, feed: F, sender: Sender<F::Message>) {
        let EventStream {
            store,
            auth,
            call,
            mut shutdown,
            after: mut cursor,
        } = self;
        let mut high_water = store.watch_high_water();
        let mut access = auth.watch_access();
        loop {
            let events = match feed.read_after(&store, cursor, PAGE).await {
                Ok(events) => events,
                Err(error) => return fail(&sender, error).await,
            };
            let Some(last) = events.last() else {
                let mut wait = StreamWait {
                    high_water: &mut high_water,
                    shutdown: &mut shutdown,
                    access: &mut access,
                    auth: &auth,
                    caller: &call.caller,
                };
                if !wait.until_more(cursor, &sender).await {
                    return;
                }
                continue;
            };
            cursor = F::position(last);
            // A client that went away ends its task here, not only once caught up: its
            // permit is already given back, and pages it would never read must not be
            // scanned.
            if sender.is_closed() {
                return;
            }
            // A change to the directory made here (a sharing group, a role, a suspension)
            // applies to this very page: the caller is re-checked before it is resolved.
            if let Err(error) = auth.recheck_if_changed(&mut access, &call.caller).await {
                return fail(&sender, error).await;
            }
            let page_call = call.fork();
            let batch = match resolve_page(&feed, &store, &page_call, &events).await {
                Ok(batch) => batch,
                Err(error) => return fail(&sender, error).await,
            };
            if !send_all(batch, &sender, &mut access, &auth, &call.caller).await {
                return;
            }
        }
    }
}

/// The page's messages, its audit record committed; empty when nothing is for the caller
/// (and then nothing is recorded).
async fn resolve_page<F: EventFeed>(
    feed: &F,
    store: &Store,
    call: &Call,
    events: &[F::Event],
) -> Result<Vec<F::Message>, ServiceError> {
    let mut page = feed.open_page(call);
    let mut batch = Vec::new();
    for event in events {
        if let Some(Delivery { message, objects }) = feed.resolve(call, &mut page, event).await? {
            call.audit.touch_all(objects);
            batch.push(message);
        }
    }
    if !batch.is_empty() {
        // One record per page delivered, committed before the page leaves the hub.
        feed.commit(store, call, page).await?;
    }
    Ok(batch)
}

/// Sends a page; false when the stream must end (the client left, or the caller lost
/// access while the client did not read).
async fn send_all<M>(
    batch: Vec<M>,
    sender: &Sender<M>,
    access: &mut AccessWatch,
    auth: &Authenticator,
    caller: &Caller,
) -> bool {
    for message in batch {
        // A client that does not read holds the stream here; a revocation or suspension
        // still ends it. Waiting for room (`reserve`) loses no message when a re-check
        // interrupts the wait.
        let permit = loop {
            tokio::select! {
                permit = sender.reserve() => match permit {
                    Ok(permit) => break permit,
                    Err(_) => return false,
                },
                () = access.changed() => {
                    if let Err(error) = auth.recheck(caller).await {
                        let _ = sender.try_send(Err(error.into()));
                        return false;
                    }
                }
            }
        };
        permit.send(Ok(message));
    }
    true
}

/// Ends the stream with `error`.
async fn fail<M>(sender: &Sender<M>, error: ServiceError) {
    let _ = sender.send(Err(error.into())).await;
}

/// The parts of a stream's task that the wait needs.
struct StreamWait<'a> {
    /// The sequenced high-water mark.
    high_water: &'a mut watch::Receiver<u64>,
    /// The hub's shutdown signal.
    shutdown: &'a mut Shutdown,
    /// Directory and revocation changes.
    access: &'a mut AccessWatch,
    /// To re-check the caller.
    auth: &'a Authenticator,
    /// The stream's caller.
    caller: &'a Caller,
}

impl StreamWait<'_> {
    /// Waits until there may be events after `caught_up_at`. Returns false when the stream
    /// must end; the reason (shutdown, revocation) has then been sent to the client.
    async fn until_more<T>(&mut self, caught_up_at: u64, sender: &Sender<T>) -> bool {
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
