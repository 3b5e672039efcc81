//! Keeps the flat bitmaps in step with the table where the map does it itself: the
//! online bitmap (`section/flat_online.rs`) after and before every change of a page's
//! online answer, and both bitmaps wholesale for `init` and `restore`. The valid
//! bitmap's per-operation writes sit beside the table writes they follow
//! (`section/flat.rs`). Every caller holds the hotplug lock or runs alone (boot before
//! Running, `init`, `restore`), so nothing else changes a page's online answer meanwhile.

use crate::addr::{BlockId, Pfn, SectionNr};
use crate::map::SparseMap;
use crate::section::geometry::Geometry;
use crate::section::{Section, SectionFlags};

impl SparseMap {
    /// Sets the online bit of every sub-section of section `nr` whose pages the table
    /// answers online, all of them. Never clears a bit. Call after the table changed.
    pub(crate) fn publish_online(&self, g: &Geometry, nr: SectionNr) {
        if let Some(sec) = self.table.get(nr) {
            self.online_runs(g, nr, sec, |a, b| self.online.set_in(g, nr, a, b));
        }
    }

    /// `publish_online` by plain stores, for `boot_finish`'s commit, which no other
    /// writer of the bitmap runs beside.
    pub(crate) fn publish_online_alone(&self, g: &Geometry, nr: SectionNr) {
        if let Some(sec) = self.table.get(nr) {
            self.online_runs(g, nr, sec, |a, b| {
                self.online.write_alone(g, nr, a, b, true)
            });
        }
    }

    /// Calls `f(first, last)` for the runs of sub-sections of section `nr` every page of
    /// which is online: `Ram` sub-sections of a valid, online section, except those
    /// holding a block's own memmap or fake-offline marks.
    fn online_runs(&self, g: &Geometry, nr: SectionNr, sec: &Section, mut f: impl FnMut(u32, u32)) {
        let Some(start) = g.section_start(nr).filter(|_| self.online.covers(g, nr)) else {
            return;
        };
        let word = sec.word();
        if !word
            .flags()
            .contains(SectionFlags::VALID | SectionFlags::ONLINE)
        {
            return;
        }
        let top = g.subsections_per_section().wrapping_sub(1);
        sec.for_each_ram_run(top, |first, last| {
            if !word.withholds() {
                f(first, last);
                return;
            }
            // The rare path: a sub-section at a time, as `pfn_online` decides it.
            for i in first..=last {
                let pfn = Pfn(start
                    .0
                    .wrapping_add(u64::from(i) << g.pfn_subsection_shift()));
                if !self.in_block_memmap(pfn) && !self.fake_marked(pfn) {
                    f(i, i);
                }
            }
        });
    }

    /// `publish_online` for every section of block `id` (after it went online).
    pub(crate) fn publish_block_online(&self, id: BlockId) {
        let g = self.geometry();
        for nr in block_sections(&g, id) {
            self.publish_online(&g, nr);
        }
    }

    /// Clears the online bits of every section of block `id` (before it goes offline
    /// or away).
    pub(crate) fn retract_block_online(&self, id: BlockId) {
        let g = self.geometry();
        for nr in block_sections(&g, id) {
            self.online.clear_section(&g, nr);
        }
    }

    /// Clears both bitmaps' bits of every valid section of the table, laid out by `g`:
    /// all their bits, since they hold no others (`init` and `restore`, alone, before
    /// they reset the table). Plain stores; costs in proportion to the populated table.
    pub(crate) fn forget_flat_bitmaps(&self, g: &Geometry) {
        let top = g.subsections_per_section().wrapping_sub(1);
        self.table.for_each(|nr, sec| {
            if sec.flags().contains(SectionFlags::VALID) {
                self.flat.write_alone(g, nr, 0, top, false);
                self.online.write_alone(g, nr, 0, top, false);
            }
        });
    }

    /// Sets both bitmaps from the table in one pass (`restore`, alone, after it wrote
    /// the table): a valid section's early or active sub-sections, an online section's
    /// wholly online ones. Plain stores; costs in proportion to the populated table.
    pub(crate) fn load_flat_bitmaps(&self, g: &Geometry) {
        let top = g.subsections_per_section().wrapping_sub(1);
        self.table.for_each(|nr, sec| {
            let f = sec.flags();
            if !f.contains(SectionFlags::VALID) {
                return;
            }
            if f.contains(SectionFlags::EARLY) {
                self.flat.write_alone(g, nr, 0, top, true);
            } else {
                sec.for_each_active_run(top, |a, b| self.flat.write_alone(g, nr, a, b, true));
            }
            self.online_runs(g, nr, sec, |a, b| {
                self.online.write_alone(g, nr, a, b, true)
            });
        });
    }
}

/// The section numbers of block `id`.
fn block_sections(g: &Geometry, id: BlockId) -> impl Iterator<Item = SectionNr> {
    let first = g.block_first_section(id);
    let n = if first.is_some() {
        g.sections_per_block()
    } else {
        0
    };
    (0..n).filter_map(move |i| Some(SectionNr(first?.0.wrapping_add(i))))
}
