//! Zones as values: their names, sets of zones, the `valid_zones` text, and a zone's
//! span on a node. Which zone memory goes to is `policy`; the stored spans are `spans`.

use core::fmt;

use crate::addr::Pfn;
use crate::repr::u8_enum;

u8_enum! {
    /// A zone, with the values of `SMEM_ZONE_*`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
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
}

/// Number of zone values, `None` included.
pub(crate) const NR_ZONES: usize = 6;

impl Zone {
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
    /// The span with `pages` present pages.
    pub const fn with_present(self, pages: u64) -> ZoneSpan {
        ZoneSpan {
            present_pages: pages,
            ..self
        }
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
