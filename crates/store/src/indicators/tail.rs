//! The live tail of the indicator stream, shared by every subscriber of this process.
//!
//! Subscribers that have caught up all wake on the same new position. Without sharing,
//! each would read the same new events from the database: fifty subscribers, fifty reads
//! per publication. The tail keeps the events read last; one subscriber reads what is
//! new while the others wait for it (one lock), then each takes its part from memory.
//!
//! The tail only ever holds every indicator event in `(start, covered]`, so an answer
//! from it is exactly what the database would give. A reader behind `start` (catching
//! up, or slow) reads the database itself, as before: the tail is bounded (`TAIL_MAX`
//! events) and never holds anything for one reader.
//!
//! Events are the indicator as read; a revocation read into the tail updates the earlier
//! events of that indicator. Other changes (a link to a fraud method, or a change on
//! another replica) show after at most `FRESH`: older events leave the tail.

use std::{
    collections::VecDeque,
    time::{Duration, Instant},
};

use crate::{IndicatorEvent, IndicatorEventKind, Store, StoreError};

/// Most events the tail holds.
const TAIL_MAX: usize = 4_096;
/// Most events read from the database to extend the tail at once.
const FILL: u32 = 512;
/// How long an event read into the tail is served from it.
const FRESH: Duration = Duration::from_secs(1);

/// Every indicator event in `(start, covered]`, oldest first, with when it was read.
#[derive(Debug, Default)]
pub(crate) struct Tail {
    start: u64,
    covered: u64,
    events: VecDeque<(Instant, IndicatorEvent)>,
}

impl Tail {
    /// Forgets events read longer ago than `FRESH`, and the oldest beyond `TAIL_MAX`.
    fn expire(&mut self, now: Instant) {
        while let Some((read, event)) = self.events.front() {
            if now.duration_since(*read) <= FRESH && self.events.len() <= TAIL_MAX {
                break;
            }
            self.start = event.position;
            self.events.pop_front();
        }
        if self.events.is_empty() {
            // Nothing is held: the tail starts where its knowledge ends.
            self.start = self.covered;
        }
    }

    /// Appends events read after `covered`; `known` is a position the database had
    /// sequenced before the read began, so the read saw every event up to it.
    fn extend(&mut self, read: Vec<IndicatorEvent>, complete: bool, known: u64, now: Instant) {
        let last = read.last().map(|event| event.position);
        for event in read {
            if event.kind == IndicatorEventKind::Revoked {
                for (_, earlier) in self.events.iter_mut() {
                    if earlier.indicator.id == event.indicator.id {
                        earlier.indicator = event.indicator.clone();
                    }
                }
            }
            self.events.push_back((now, event));
        }
        if let Some(last) = last {
            self.covered = self.covered.max(last);
        }
        // A read cut short by its limit proves nothing beyond its last event.
        if complete {
            self.covered = self.covered.max(known);
        }
    }

    /// When a reader is past everything covered and nothing is held, the tail restarts at
    /// the reader, but never beyond `known`, what is sequenced: a cursor from the future
    /// must not move it where no reader will come for a long time.
    fn restart(&mut self, after: u64, known: u64) {
        if after > self.covered && self.events.is_empty() {
            self.start = after.min(known).max(self.covered);
            self.covered = self.start;
        }
    }

    /// The held events after `after`, at most `limit`.
    fn after(&self, after: u64, limit: usize) -> Vec<IndicatorEvent> {
        self.events
            .iter()
            .map(|(_, event)| event)
            .skip_while(|event| event.position <= after)
            .take(limit)
            .cloned()
            .collect()
    }
}

impl Store {
    /// The indicator events after position `after`, oldest first, at most `limit`. Only
    /// sequenced (hence committed) events exist to be read. Readers at the live tail are
    /// served from memory shared between them (see `tail.rs`); others read the database.
    pub async fn indicator_events_after(
        &self,
        after: u64,
        limit: u32,
    ) -> Result<Vec<IndicatorEvent>, StoreError> {
        {
            let mut tail = self.indicator_tail.lock().await;
            let now = Instant::now();
            tail.expire(now);
            let known = *self.signals.high_water.borrow();
            tail.restart(after, known);
            if after >= tail.start {
                if tail.covered < known {
                    let from = tail.covered;
                    let read = self.load_indicator_events_after(from, FILL).await?;
                    let complete = read.len() < FILL as usize;
                    tail.extend(read, complete, known, now);
                }
                if after <= tail.covered {
                    let events = tail.after(after, limit as usize);
                    // Served from the tail unless the reader needs more than it holds.
                    if !events.is_empty() || tail.covered >= known {
                        return Ok(events);
                    }
                }
            }
        }
        self.load_indicator_events_after(after, limit).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use liaison_core::{
        AgencyId, Indicator, NewIndicator, ObjectId, Observable, ObservableType, PrincipalId,
        PrincipalKind, PrincipalName, Scope, Timestamp, Tlp,
    };

    fn event(position: u64, kind: IndicatorEventKind, id: &ObjectId) -> IndicatorEvent {
        let agency = AgencyId::parse("UA-CERT").unwrap();
        IndicatorEvent {
            position,
            kind,
            time: Timestamp::from_micros(0),
            indicator: Indicator {
                id: id.clone(),
                source_agency: agency.clone(),
                publisher: PrincipalId::new(
                    agency.clone(),
                    PrincipalKind::System,
                    PrincipalName::parse("misp").unwrap(),
                ),
                content: NewIndicator {
                    fraud_method: None,
                    observables: vec![
                        Observable::parse(ObservableType::Domain, "пример.укр").unwrap(),
                    ],
                    language: "uk".into(),
                    first_seen: None,
                    valid_until: None,
                    confidence: 50,
                    evaluation: None,
                    tlp: Tlp::Green,
                    scope: Scope::AllMembers,
                    anonymous: false,
                },
                linked_fraud_method: None,
                created: Timestamp::from_micros(0),
                revoked: (kind == IndicatorEventKind::Revoked)
                    .then(|| (Timestamp::from_micros(1), "withdrawn".to_owned())),
            },
            correlation: None,
        }
    }

    #[test]
    fn serves_only_what_it_covers_and_forgets_by_age_and_size() {
        let now = Instant::now();
        let first = ObjectId::generate(ObjectId::INDICATOR);
        let mut tail = Tail::default();
        tail.extend(
            vec![
                event(3, IndicatorEventKind::Published, &first),
                event(7, IndicatorEventKind::Published, &first),
            ],
            true,
            9,
            now,
        );
        assert_eq!(tail.covered, 9, "a complete read covers what was sequenced");
        let positions = |events: Vec<IndicatorEvent>| -> Vec<u64> {
            events.iter().map(|event| event.position).collect()
        };
        assert_eq!(positions(tail.after(0, 10)), vec![3, 7]);
        assert_eq!(positions(tail.after(3, 10)), vec![7]);
        assert_eq!(positions(tail.after(0, 1)), vec![3]);
        // A read cut short covers only up to its last event.
        tail.extend(
            vec![event(12, IndicatorEventKind::Published, &first)],
            false,
            20,
            now,
        );
        assert_eq!(tail.covered, 12);
        // Age: everything read more than FRESH ago leaves, and start follows.
        tail.expire(now + FRESH + Duration::from_millis(1));
        assert!(tail.events.is_empty());
        assert_eq!(tail.start, 12);
        // Size: the oldest leave first.
        let many: Vec<IndicatorEvent> = (13..13 + TAIL_MAX as u64 + 5)
            .map(|position| event(position, IndicatorEventKind::Published, &first))
            .collect();
        tail.extend(many, true, 0, now);
        tail.expire(now);
        assert_eq!(tail.events.len(), TAIL_MAX);
        assert_eq!(tail.start, 17);
        assert_eq!(tail.after(0, 1)[0].position, 18);
    }

    #[test]
    fn restarts_at_a_reader_ahead_but_not_beyond_what_is_sequenced() {
        let mut tail = Tail::default();
        tail.restart(40, 50);
        assert_eq!((tail.start, tail.covered), (40, 40));
        tail.restart(1_000_000, 60);
        assert_eq!((tail.start, tail.covered), (60, 60));
        // Something held: no restart.
        let id = ObjectId::generate(ObjectId::INDICATOR);
        tail.extend(
            vec![event(61, IndicatorEventKind::Published, &id)],
            true,
            61,
            Instant::now(),
        );
        tail.restart(70, 80);
        assert_eq!((tail.start, tail.covered), (60, 61));
    }

    #[test]
    fn a_revocation_updates_the_earlier_events_of_its_indicator() {
        let now = Instant::now();
        let revoked = ObjectId::generate(ObjectId::INDICATOR);
        let other = ObjectId::generate(ObjectId::INDICATOR);
        let mut tail = Tail::default();
        tail.extend(
            vec![
                event(1, IndicatorEventKind::Published, &revoked),
                event(2, IndicatorEventKind::Published, &other),
            ],
            true,
            2,
            now,
        );
        tail.extend(
            vec![event(3, IndicatorEventKind::Revoked, &revoked)],
            true,
            3,
            now,
        );
        let events = tail.after(0, 10);
        assert!(events[0].indicator.revoked.is_some());
        assert!(events[1].indicator.revoked.is_none());
        assert!(events[2].indicator.revoked.is_some());
    }
}
