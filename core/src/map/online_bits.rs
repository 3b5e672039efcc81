//! Keeps the flat online bitmap (`section/flat_online.rs`) in step with the table:
//! which sub-sections are wholly online, set after the table says so, cleared before
//! it stops. Every caller holds the hotplug lock or runs alone (boot before Running,
//! `init`, `restore`), so nothing else changes a page's online answer meanwhile.

use crate::addr::{BlockId, Pfn, SectionNr};
use crate::map::SparseMap;
use crate::section::geometry::Geometry;
use crate::section::table::Table;
use crate::section::SectionFlags;

impl SparseMap {
    /// Sets the online bit of every sub-section of section `nr` whose pages the table
    /// answers online, all of them: `Ram` sub-sections of a valid, online section,
    /// except those holding a block's own memmap or fake-offline marks. Never clears
    /// a bit. Call after the table changed.
    pub(crate) fn publish_online(&self, g: &Geometry, nr: SectionNr) {
        let (Some(sec), Some(start)) = (self.table.get(nr), g.section_start(nr)) else {
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
                self.online.set_in(g, nr, first, last);
                return;
            }
            // The rare path: a sub-section at a time, as `pfn_online` decides it.
            for i in first..=last {
                let pfn = Pfn(start
                    .0
                    .wrapping_add(u64::from(i) << g.pfn_subsection_shift()));
                if !self.in_block_memmap(pfn) && !self.fake_marked(pfn) {
                    self.online.set_in(g, nr, i, i);
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

    /// Clears the online bits of every valid section of `table`, laid out by `g`: the
    /// whole bitmap, since only valid sections have any (`init` and `restore`, alone,
    /// before they reset the table).
    pub(crate) fn forget_online(&self, g: &Geometry, table: &Table) {
        table.for_each(|nr, sec| {
            if sec.flags().contains(SectionFlags::VALID) {
                self.online.clear_section(g, nr);
            }
        });
    }

    /// Publishes the online bits of every section (`restore`, alone, after it wrote
    /// the table).
    pub(crate) fn load_online(&self, g: &Geometry) {
        self.table.for_each(|nr, _| self.publish_online(g, nr));
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
