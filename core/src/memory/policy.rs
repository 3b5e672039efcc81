//! The zone rules, in one place: which zone boot RAM belongs to by address, and which
//! zones an online of a hot-added block may choose (Linux `zone_for_pfn_range` with
//! the contiguous-zones policy). See docs/semantics.md, "Zone choice when onlining".

use crate::addr::{Pfn, PfnRange};
use crate::memory::spans::Zones;
use crate::memory::zone::{Zone, ZoneSet};
use crate::sync::atomic64::Published64;

/// The address limits of ZONE_DMA and ZONE_DMA32, in pfns (0: the zone does not
/// exist). Written by `init` and `restore` only, which happen-before every other
/// call, so read without ordering or retry.
#[derive(Debug)]
pub(crate) struct AddrZones {
    dma_end: Published64,
    dma32_end: Published64,
}

impl AddrZones {
    crate::sync::maybe_const_fn! {
        pub(crate) fn new() -> Self {
            Self {
                dma_end: Published64::new(0),
                dma32_end: Published64::new(0),
            }
        }
    }

    /// Sets both limits (init only).
    pub(crate) fn set(&self, dma_end: Pfn, dma32_end: Pfn) {
        self.dma_end.store(dma_end.0);
        self.dma32_end.store(dma32_end.0);
    }

    /// The ZONE_DMA and ZONE_DMA32 limits.
    pub(crate) fn limits(&self) -> (Pfn, Pfn) {
        (Pfn(self.dma_end.load()), Pfn(self.dma32_end.load()))
    }

    /// The zone boot RAM at `pfn` belongs to, and where that zone ends (exclusive;
    /// `None` for Normal, which runs to the end of memory): DMA below `zone_dma_end`,
    /// DMA32 below `zone_dma32_end`, Normal above.
    pub(crate) fn zone_at(&self, pfn: Pfn) -> (Zone, Option<Pfn>) {
        let (dma, dma32) = self.limits();
        if dma.0 != 0 && pfn < dma {
            (Zone::Dma, Some(dma))
        } else if dma32.0 != 0 && pfn < dma32 {
            (Zone::Dma32, Some(dma32))
        } else {
            (Zone::Normal, None)
        }
    }

    /// The pieces of `r` in each address zone, with their zone, in ascending order.
    pub(crate) fn zones_in(&self, r: PfnRange) -> impl Iterator<Item = (Zone, PfnRange)> + '_ {
        r.split_at(move |p| self.zone_at(p).1)
            .map(move |piece| (self.zone_at(piece.start).0, piece))
    }

    /// True when `r` lies in one address zone: a kernel zone must hold a
    /// whole block.
    pub(crate) fn within_one(&self, r: PfnRange) -> bool {
        self.zone_at(r.start)
            .1
            .is_none_or(|zone_end| r.end <= zone_end)
    }
}

/// The zones an online of a block could choose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ZoneChoice {
    /// What `online_kernel` chooses: the lowest of DMA, DMA32 whose span on the node
    /// intersects the block, else Normal.
    pub(crate) kernel: Zone,
    /// What a plain `online` chooses (Linux `default_zone_for_pfn`).
    pub(crate) default: Zone,
}

impl ZoneChoice {
    /// Linux `zone_for_pfn_range` for a block on `nid`: the kernel zone
    /// and the default zone, or `Zone::None` for both when `nid` is not a node.
    /// `movable_node` is Linux's boot option: a plain online prefers ZONE_MOVABLE.
    pub(crate) fn for_block(
        spans: &Zones,
        nid: i32,
        block: PfnRange,
        movable_node: bool,
    ) -> ZoneChoice {
        let hits = |z: Zone| {
            spans
                .get(nid, z)
                .is_ok_and(|s| s.intersects(block.start, block.end))
        };
        if spans.get(nid, Zone::Normal).is_err() {
            return ZoneChoice {
                kernel: Zone::None,
                default: Zone::None,
            };
        }
        let kernel = [Zone::Dma, Zone::Dma32]
            .into_iter()
            .find(|z| hits(*z))
            .unwrap_or(Zone::Normal);
        let default = match (hits(kernel), hits(Zone::Movable)) {
            (true, false) => kernel,
            (false, true) => Zone::Movable,
            _ if movable_node => Zone::Movable,
            _ => kernel,
        };
        ZoneChoice { kernel, default }
    }

    /// Linux `valid_zones` of an offline block: the default zone, the kernel zone and
    /// ZONE_MOVABLE.
    pub(crate) fn valid_zones(self) -> ZoneSet {
        ZoneSet::EMPTY
            .with(self.default)
            .with(self.kernel)
            .with(Zone::Movable)
    }
}
