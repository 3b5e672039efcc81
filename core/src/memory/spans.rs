//! The per-node zone spans (Linux `zone_start_pfn`, `spanned_pages`,
//! `present_pages`): read without a lock, written under the zones lock.

use crate::addr::{Pfn, PfnRange};
use crate::capacity::MAX_NODES;
use crate::error::{Error, Result};
use crate::memory::zone::{Zone, ZoneSpan, NR_ZONES};
use crate::sync::atomic64::Atomic64;
use crate::sync::order::{OrderedLock, Proof, Zones as ZonesLevel};
use crate::sync::{array_of, maybe_const_fn};

#[derive(Debug)]
struct SpanCell {
    start: Atomic64,
    end: Atomic64,
    present: Atomic64,
}

impl SpanCell {
    maybe_const_fn! {
        fn new() -> Self {
            Self {
                start: Atomic64::new(0),
                end: Atomic64::new(0),
                present: Atomic64::new(0),
            }
        }
    }
}

/// Zone spans of every node. Readers load the three fields without a lock (a reader
/// racing a writer may mix fields of before and after, as docs/semantics.md, "Concurrency", allows for
/// multi-field results); writers serialise with `lock`.
#[derive(Debug)]
pub(crate) struct Zones {
    spans: [[SpanCell; NR_ZONES]; MAX_NODES],
    pub(crate) lock: OrderedLock<ZonesLevel>,
}

impl Zones {
    maybe_const_fn! {
        pub(crate) fn new() -> Self {
            Self {
                spans: array_of![array_of![SpanCell::new(); NR_ZONES]; MAX_NODES],
                lock: OrderedLock::new(),
            }
        }
    }

    fn cell(&self, nid: i32, zone: Zone) -> Result<&SpanCell> {
        let n = usize::try_from(nid).map_err(|_| Error::Inval)?;
        if zone == Zone::None {
            return Err(Error::Inval);
        }
        self.spans
            .get(n)
            .and_then(|z| z.get(zone as usize))
            .ok_or(Error::Inval)
    }

    /// The span of `zone` on `nid`; `Inval` for a bad nid or zone.
    pub(crate) fn get(&self, nid: i32, zone: Zone) -> Result<ZoneSpan> {
        let c = self.cell(nid, zone)?;
        Ok(ZoneSpan {
            start: Pfn(c.start.load()),
            end: Pfn(c.end.load()),
            present_pages: c.present.load(),
        })
    }

    /// Replaces a span; `_held` proves the caller holds `lock`. The fields are
    /// stored start, end, present (each Release), so a lock-free reader that loads
    /// `end` before `start` (see `covers`) never pairs a new end with an old start.
    pub(crate) fn set(
        &self,
        _held: &Proof<ZonesLevel>,
        nid: i32,
        zone: Zone,
        span: ZoneSpan,
    ) -> Result<()> {
        let c = self.cell(nid, zone)?;
        let span = if span.is_empty() {
            ZoneSpan {
                start: Pfn(0),
                end: Pfn(0),
                ..span
            }
        } else {
            span
        };
        c.start.store(span.start.0);
        c.end.store(span.end.0);
        c.present.store(span.present_pages);
        Ok(())
    }

    /// True when the span of `zone` on `nid` already covers `r`, read
    /// without the lock. Only for spans that never shrink between resets (ZONE_DEVICE):
    /// `end` is loaded before `start`, and both only move outward, so the span at the
    /// time `start` was read contains `r` as read, and every later span
    /// contains that one. A `true` answer is therefore true from then on.
    pub(crate) fn covers(&self, nid: i32, zone: Zone, r: PfnRange) -> bool {
        let Ok(c) = self.cell(nid, zone) else {
            return false;
        };
        let e = c.end.load();
        let s = c.start.load();
        s < e && s <= r.start.0 && r.end.0 <= e
    }

    /// Empties every span (init and restore only).
    pub(crate) fn reset(&self) {
        for node in &self.spans {
            for c in node {
                c.start.store(0);
                c.end.store(0);
                c.present.store(0);
            }
        }
    }
}
