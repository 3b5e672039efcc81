//! Zones: their names, the address rule that puts boot RAM into DMA, DMA32 or Normal,
//! and the per-node zone spans (Linux `zone_start_pfn`, `spanned_pages`,
//! `present_pages`).

use crate::sync::{array_of, maybe_const_fn};
use core::fmt;

use crate::addr::Pfn;
use crate::atomic64::Atomic64;
use crate::capacity::MAX_NODES;
use crate::error::{Error, Result};
use crate::order::{OrderedLock, Proof, Zones as ZonesLevel};

/// A zone, with the values of `SMEM_ZONE_*`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[repr(u8)]
pub enum Zone {
    /// No zone: an offline block, or a block spanning several zones or nodes.
    #[default]
    None = 0,
    /// ZONE_DMA.
    Dma = 1,
    /// ZONE_DMA32.
    Dma32 = 2,
    /// ZONE_NORMAL.
    Normal = 3,
    /// ZONE_MOVABLE.
    Movable = 4,
    /// ZONE_DEVICE.
    Device = 5,
}

/// Number of zone values, `None` included.
pub(crate) const NR_ZONES: usize = 6;

impl Zone {
    /// Decodes a `SMEM_ZONE_*` value.
    pub const fn from_u8(v: u8) -> Option<Zone> {
        match v {
            0 => Some(Zone::None),
            1 => Some(Zone::Dma),
            2 => Some(Zone::Dma32),
            3 => Some(Zone::Normal),
            4 => Some(Zone::Movable),
            5 => Some(Zone::Device),
            _ => None,
        }
    }

    /// The Linux sysfs name (`"none"` for `None`).
    pub const fn name(self) -> &'static str {
        match self {
            Zone::None => "none",
            Zone::Dma => "DMA",
            Zone::Dma32 => "DMA32",
            Zone::Normal => "Normal",
            Zone::Movable => "Movable",
            Zone::Device => "Device",
        }
    }

    /// True for the zones the kernel itself allocates from (DMA, DMA32, Normal).
    pub const fn is_kernel(self) -> bool {
        matches!(self, Zone::Dma | Zone::Dma32 | Zone::Normal)
    }

    const ALL: [Zone; NR_ZONES] = [
        Zone::None,
        Zone::Dma,
        Zone::Dma32,
        Zone::Normal,
        Zone::Movable,
        Zone::Device,
    ];
}

impl fmt::Display for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of zones: bit `1 << zone` per member (the C `valid_zones` field).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct ZoneSet(pub u8);

impl ZoneSet {
    /// The empty set.
    pub const EMPTY: ZoneSet = ZoneSet(0);
    /// Adds a zone (`None` is never a member).
    pub const fn with(self, z: Zone) -> ZoneSet {
        if matches!(z, Zone::None) {
            return self;
        }
        ZoneSet(self.0 | 1 << (z as u8))
    }
    /// True when `z` is a member.
    pub const fn contains(self, z: Zone) -> bool {
        !matches!(z, Zone::None) && self.0 & (1 << (z as u8)) != 0
    }
    /// Number of members.
    pub const fn len(self) -> u32 {
        self.0.count_ones()
    }
    /// True when empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }
    /// The single member, if there is exactly one.
    pub fn single(self) -> Option<Zone> {
        if self.len() != 1 {
            return None;
        }
        self.iter().next()
    }
    /// Members in ascending zone order.
    pub fn iter(self) -> impl Iterator<Item = Zone> {
        Zone::ALL.into_iter().filter(move |z| self.contains(*z))
    }
}

/// The Linux `valid_zones` text of a block: the default zone first, then the other
/// members in ascending order; `"none"` when empty.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ValidZones {
    /// The zones listed.
    pub zones: ZoneSet,
    /// The zone listed first (the default zone of an offline block, the zone of an
    /// online one).
    pub first: Zone,
}

impl fmt::Display for ValidZones {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.zones.is_empty() {
            return f.write_str("none");
        }
        let mut sep = "";
        if self.zones.contains(self.first) {
            f.write_str(self.first.name())?;
            sep = " ";
        }
        for z in self.zones.iter().filter(|z| *z != self.first) {
            write!(f, "{sep}{}", z.name())?;
            sep = " ";
        }
        Ok(())
    }
}

/// A zone's span on one node: `[start, end)` in pfns and its present pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct ZoneSpan {
    /// First pfn of the span.
    pub start: Pfn,
    /// One past the last pfn of the span.
    pub end: Pfn,
    /// System RAM pages of the zone on the node (0 for ZONE_DEVICE).
    pub present_pages: u64,
}

impl ZoneSpan {
    /// True when the span covers no pfn.
    pub const fn is_empty(&self) -> bool {
        self.end.0 <= self.start.0
    }
    /// True when the span intersects `[start, end)`.
    pub const fn intersects(&self, start: Pfn, end: Pfn) -> bool {
        !self.is_empty() && self.start.0 < end.0 && start.0 < self.end.0
    }
    /// The span grown to cover `[start, end)` (Linux `resize_zone_range`).
    pub const fn grown(self, start: Pfn, end: Pfn) -> ZoneSpan {
        if self.is_empty() {
            return ZoneSpan {
                start,
                end,
                present_pages: self.present_pages,
            };
        }
        let s = if start.0 < self.start.0 {
            start
        } else {
            self.start
        };
        let e = if end.0 > self.end.0 { end } else { self.end };
        ZoneSpan {
            start: s,
            end: e,
            present_pages: self.present_pages,
        }
    }
}

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
/// racing a writer may mix fields of before and after, as c-api.md allows for
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

    /// True when the span of `zone` on `nid` already covers `[start, end)`, read
    /// without the lock. Only for spans that never shrink between resets (ZONE_DEVICE):
    /// `end` is loaded before `start`, and both only move outward, so the span at the
    /// time `start` was read contains `[start, end)` as read, and every later span
    /// contains that one. A `true` answer is therefore true from then on.
    pub(crate) fn covers(&self, nid: i32, zone: Zone, start: Pfn, end: Pfn) -> bool {
        let Ok(c) = self.cell(nid, zone) else {
            return false;
        };
        let e = c.end.load();
        let s = c.start.load();
        s < e && s <= start.0 && end.0 <= e
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

use crate::map::SparseMap;

/// The zones an online of a block could choose (Linux contig-zones policy).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ZoneChoice {
    /// What `online_kernel` chooses: the lowest of DMA, DMA32 whose span on the node
    /// intersects the block, else Normal.
    pub(crate) kernel: Zone,
    /// What a plain `online` chooses (Linux `default_zone_for_pfn`).
    pub(crate) default: Zone,
}

impl SparseMap {
    /// Linux `zone_for_pfn_range` for a block `[start, end)` on `nid`: the kernel zone
    /// and the default zone. With `Zone::None` for both when the nid is not a node.
    pub(crate) fn zone_choice(&self, nid: i32, start: Pfn, end: Pfn) -> ZoneChoice {
        let hits = |z: Zone| {
            self.zones
                .get(nid, z)
                .is_ok_and(|s| s.intersects(start, end))
        };
        if self.zones.get(nid, Zone::Normal).is_err() {
            return ZoneChoice {
                kernel: Zone::None,
                default: Zone::None,
            };
        }
        let kernel = [Zone::Dma, Zone::Dma32]
            .into_iter()
            .find(|z| hits(*z))
            .unwrap_or(Zone::Normal);
        let (k, m) = (hits(kernel), hits(Zone::Movable));
        let default = if k != m {
            if k {
                kernel
            } else {
                Zone::Movable
            }
        } else if self.config().movable_node {
            Zone::Movable
        } else {
            kernel
        };
        ZoneChoice { kernel, default }
    }

    /// Linux's per-node zone span `[start, end)` and present pages. `Inval` for a nid
    /// outside `0..MAX_NODES` or `Zone::None`; `NoEnt` when the span is empty.
    pub fn zone_span(&self, nid: i32, zone: Zone) -> Result<ZoneSpan> {
        let s = self.zones.get(nid, zone)?;
        if s.is_empty() {
            return Err(Error::NoEnt);
        }
        Ok(s)
    }
}
