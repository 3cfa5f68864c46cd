//! The indicator stream's events as read back: each with its indicator as it is now, and
//! for a correlation the correlation.

use liaison_core::{Indicator, ObjectId, Timestamp};

use super::{TOPIC, correlations::CorrelationRecord};
use crate::{Store, StoreError};

/// What happened to an indicator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndicatorEventKind {
    /// Published.
    Published,
    /// Revoked by its publisher.
    Revoked,
    /// Another agency published an observable this one holds (see `correlation`).
    Correlation,
}

impl IndicatorEventKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            IndicatorEventKind::Published => "published",
            IndicatorEventKind::Revoked => "revoked",
            IndicatorEventKind::Correlation => "correlation",
        }
    }
}

/// A sequenced event of the indicator stream, with the indicator as it is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndicatorEvent {
    /// Stream position.
    pub position: u64,
    /// What happened.
    pub kind: IndicatorEventKind,
    /// When it happened.
    pub time: Timestamp,
    /// The indicator; for a correlation, the target agency's own indicator.
    pub indicator: Indicator,
    /// For a correlation event: which agency to tell, and the other indicator.
    pub correlation: Option<CorrelationRecord>,
}

impl Store {
    /// The indicator events after position `after`, oldest first, at most `limit`, read
    /// from the database. Only sequenced (hence committed) events exist to be read.
    pub(crate) async fn load_indicator_events_after(
        &self,
        after: u64,
        limit: u32,
    ) -> Result<Vec<IndicatorEvent>, StoreError> {
        let rows = self.events_after(TOPIC, after, limit).await?;
        // Each row's kind, indicator and correlation; the indicators are read together.
        let mut parsed = Vec::with_capacity(rows.len());
        for (position, kind, object_id, created_us) in rows {
            let kind = match kind.as_str() {
                "published" => IndicatorEventKind::Published,
                "revoked" => IndicatorEventKind::Revoked,
                "correlation" => IndicatorEventKind::Correlation,
                _ => return Err(StoreError::corrupt("event kind", &kind)),
            };
            let (indicator_id, correlation) = if kind == IndicatorEventKind::Correlation {
                let correlation = self
                    .get_correlation(&object_id)
                    .await?
                    .ok_or_else(|| StoreError::corrupt("correlation", &object_id))?;
                (correlation.own_indicator.clone(), Some(correlation))
            } else {
                let id = ObjectId::parse(ObjectId::INDICATOR, &object_id)
                    .map_err(|_| StoreError::corrupt("indicator id", &object_id))?;
                (id, None)
            };
            let position = u64::try_from(position)
                .map_err(|_| StoreError::corrupt("position", &position.to_string()))?;
            parsed.push((position, kind, created_us, indicator_id, correlation));
        }
        let ids: Vec<ObjectId> = parsed.iter().map(|row| row.3.clone()).collect();
        let indicators = self.get_indicators(&ids).await?;
        parsed
            .into_iter()
            .map(|(position, kind, created_us, indicator_id, correlation)| {
                let indicator = indicators.get(&indicator_id).cloned().ok_or_else(|| {
                    StoreError::corrupt("missing indicator", indicator_id.as_str())
                })?;
                Ok(IndicatorEvent {
                    position,
                    kind,
                    time: Timestamp::from_micros(created_us),
                    indicator,
                    correlation,
                })
            })
            .collect()
    }
}
