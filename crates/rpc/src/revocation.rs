//! Which certificates are revoked, in memory, for the TLS handshake and every call.
//!
//! Two sources:
//! - the operator's `RevokeCertificate` (fingerprints, in the directory's `certificates`
//!   table): added here at once by the node that took the call, and re-read from the
//!   database every [`Revocations::spawn_refresh`] interval for changes made on other nodes;
//! - the hub CA's CRL file (issuer and serial number), reloaded when the file changes; the
//!   TLS verifier checks it at the handshake, and calls on connections opened before the
//!   reload are checked here.
//!
//! Every change bumps a version that open streams watch, so they re-check their callers.

use std::{
    collections::HashSet,
    sync::{Arc, RwLock},
    time::Duration,
};

use liaison_auth::PeerIdentity;
use liaison_store::Store;
use tokio::sync::watch;

use crate::Shutdown;

/// The revoked certificates. Cheap to clone; clones share the state.
#[derive(Debug, Clone)]
pub struct Revocations {
    state: Arc<RwLock<State>>,
    version: Arc<watch::Sender<u64>>,
}

#[derive(Debug, Default)]
struct State {
    fingerprints: HashSet<String>,
    crl_entries: HashSet<(Vec<u8>, Vec<u8>)>,
}

impl Default for Revocations {
    fn default() -> Self {
        Self::new()
    }
}

impl Revocations {
    /// Nothing revoked.
    pub fn new() -> Self {
        Self {
            state: Arc::default(),
            version: Arc::new(watch::channel(0).0),
        }
    }

    fn change(&self, apply: impl FnOnce(&mut State) -> bool) {
        let changed = {
            let mut state = self
                .state
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            apply(&mut state)
        };
        if changed {
            self.version.send_modify(|version| *version += 1);
        }
    }

    /// Marks one fingerprint (SHA-256 hex of the DER certificate) revoked.
    pub fn revoke_fingerprint(&self, sha256: &str) {
        self.change(|state| state.fingerprints.insert(sha256.to_ascii_lowercase()));
    }

    /// Replaces the fingerprints with the directory's list.
    pub fn set_fingerprints(&self, fingerprints: impl IntoIterator<Item = String>) {
        let fresh: HashSet<String> = fingerprints.into_iter().collect();
        self.change(|state| {
            if state.fingerprints == fresh {
                return false;
            }
            state.fingerprints = fresh;
            true
        });
    }

    /// Replaces the CRL entries: (issuer DER, serial number bytes).
    pub fn set_crl_entries(&self, entries: HashSet<(Vec<u8>, Vec<u8>)>) {
        self.change(|state| {
            if state.crl_entries == entries {
                return false;
            }
            state.crl_entries = entries;
            true
        });
    }

    /// True when `sha256` (hex) is revoked by fingerprint.
    pub fn is_fingerprint_revoked(&self, sha256: &str) -> bool {
        self.state
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .fingerprints
            .contains(sha256)
    }

    /// True when the identity's certificate is revoked, by fingerprint or by the CRL.
    pub fn is_revoked(&self, identity: &PeerIdentity) -> bool {
        let state = self
            .state
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let (issuer, serial) = identity.issuer_and_serial();
        state.fingerprints.contains(identity.certificate_sha256())
            || state
                .crl_entries
                .contains(&(issuer.to_vec(), serial.to_vec()))
    }

    /// Follows changes: the version grows with every change.
    pub fn watch(&self) -> watch::Receiver<u64> {
        self.version.subscribe()
    }

    /// Loads the directory's revoked fingerprints now, then re-reads them every `every`
    /// until `stop`, so that revocations made on other nodes apply here too.
    pub async fn spawn_refresh(
        &self,
        store: Store,
        every: Duration,
        mut stop: Shutdown,
    ) -> Result<tokio::task::JoinHandle<()>, liaison_store::StoreError> {
        self.set_fingerprints(store.revoked_certificates().await?);
        let revocations = self.clone();
        Ok(tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = ticks.tick() => {}
                    () = stop.wait() => return,
                }
                match store.revoked_certificates().await {
                    Ok(fingerprints) => revocations.set_fingerprints(fingerprints),
                    Err(error) => tracing::warn!(%error, "could not re-read revoked certificates"),
                }
            }
        }))
    }
}
