//! The rows of new indicators and how a batch or a single publication writes them; each
//! backend's statements are in `write_sqlite.rs` and `write_pg.rs`.

use crate::{
    idempotency::{KeyRows, KeyWrite},
    outbox::{OutboxRow, OutboxWrite},
    tx::{WritePool, WriteTurn, WriteTx},
};

/// One new indicator's row.
#[derive(Debug)]
pub(crate) struct IndicatorRow<'a> {
    pub(crate) id: &'a str,
    pub(crate) source: &'a str,
    pub(crate) title: Option<&'a str>,
    pub(crate) description: Option<&'a str>,
    pub(crate) countermeasures: Option<&'a str>,
    /// The three texts above as search matches them (see `indicators::search_text`).
    pub(crate) search_text: Option<String>,
    pub(crate) category: Option<&'a str>,
    pub(crate) language: &'a str,
    pub(crate) first_seen_us: Option<i64>,
    pub(crate) valid_until_us: Option<i64>,
    pub(crate) confidence: i64,
    pub(crate) evaluation: Option<String>,
    pub(crate) tlp: &'a str,
    pub(crate) scope_kind: &'a str,
    pub(crate) scope_value: String,
    pub(crate) anonymous: bool,
}

/// A batch of new indicators of one publisher: their rows and their observables
/// (indicator id, ordinal, type, value).
#[derive(Debug)]
pub(crate) struct IndicatorRows<'a> {
    pub(crate) publisher: &'a str,
    pub(crate) created_us: i64,
    pub(crate) indicators: Vec<IndicatorRow<'a>>,
    pub(crate) observables: Vec<(&'a str, i64, &'a str, &'a str)>,
}

/// Inserts indicators; implemented for both pools in `write_sqlite.rs` and `write_pg.rs`.
pub(crate) trait IndicatorWrite: WritePool + KeyWrite + OutboxWrite {
    /// Inserts new indicators and their observables: a few statements per batch, not
    /// several per item.
    async fn insert_indicators(
        &self,
        tx: &mut WriteTx<Self::Db>,
        rows: &IndicatorRows<'_>,
    ) -> Result<(), sqlx::Error>;

    /// Stores one new indicator in one transaction: claims its idempotency key and, if
    /// it was free, inserts the indicator (`rows`) and the `outbox` rows. Returns whether
    /// the key was free; if not, nothing is written.
    async fn publish_one(
        &self,
        turn: &WriteTurn,
        keys: &KeyRows<'_>,
        rows: &IndicatorRows<'_>,
        outbox: &[OutboxRow<'_>],
    ) -> Result<bool, sqlx::Error> {
        let mut tx = self.begin_write(turn).await?;
        if self.claim_keys(&mut tx, keys).await?.is_empty() {
            tx.rollback().await?;
            return Ok(false);
        }
        self.insert_indicators(&mut tx, rows).await?;
        self.insert_outbox(&mut tx, outbox).await?;
        tx.commit().await?;
        Ok(true)
    }
}
