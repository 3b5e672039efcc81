//! Whole-map counters (the C `smem_stats`), computed by one walk of the populated
//! table: nothing is counted on the hot paths.

use crate::addr::Pfn;
use crate::map::SparseMap;
use crate::memory::block::BlockState;
use crate::section::{SectionFlags, SubState};

/// Whole-map counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Sections with PRESENT, device-only ones included.
    pub present_sections: u64,
    /// Sections with ONLINE.
    pub online_sections: u64,
    /// Memory blocks that exist.
    pub blocks: u64,
    /// Blocks in state ONLINE.
    pub online_blocks: u64,
    /// System RAM pages, online or offline.
    pub ram_pages: u64,
    /// System RAM pages of online blocks, less those the page allocator never gets
    /// (memmap_on_memory pages).
    pub online_pages: u64,
    /// Pages of active device sub-sections.
    pub device_pages: u64,
}

impl SparseMap {
    /// Counts sections, blocks and pages.
    pub fn stats(&self) -> Stats {
        let g = self.geometry();
        let pps = g.pages_per_subsection();
        let last = g.subsections_per_section().wrapping_sub(1);
        let mut st = Stats::default();
        self.table.for_each(|nr, sec| {
            let f = sec.flags();
            if !f.contains(SectionFlags::PRESENT) {
                return;
            }
            st.present_sections = st.present_sections.wrapping_add(1);
            if f.contains(SectionFlags::ONLINE) {
                st.online_sections = st.online_sections.wrapping_add(1);
            }
            let dev = u64::from(sec.count_in(0, last, |s| s == SubState::Device));
            st.device_pages = st.device_pages.wrapping_add(dev.wrapping_mul(pps));
            let ram = if f.contains(SectionFlags::EARLY) {
                let start = g.section_start(nr).unwrap_or(Pfn(0));
                self.boot
                    .pages_in(start, Pfn(start.0.saturating_add(g.pages_per_section())))
            } else {
                u64::from(sec.count_in(0, last, |s| s == SubState::Ram)).wrapping_mul(pps)
            };
            st.ram_pages = st.ram_pages.wrapping_add(ram);
        });
        for b in self.blocks() {
            st.blocks = st.blocks.wrapping_add(1);
            if b.state == BlockState::Online {
                st.online_blocks = st.online_blocks.wrapping_add(1);
                let pages = b.present_pages.saturating_sub(b.vmemmap_pages);
                st.online_pages = st.online_pages.wrapping_add(pages);
            }
        }
        st
    }
}
