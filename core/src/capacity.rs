//! Build-time capacity: how many sections, sub-sections, nodes and boot ranges a map
//! holds. Fixed when the crate is built (`build.rs`), because the map is one
//! fixed-size value with no heap; override with `SPARSEMEM_*` environment variables
//! (see the README, "Footprint"). `build.rs` rejects unknown `SPARSEMEM_*` variables.

include!(concat!(env!("OUT_DIR"), "/capacity.rs"));
