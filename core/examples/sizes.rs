//! Prints the storage a map takes with the capacities this build was compiled with
//! (the README's footprint table comes from here).
fn main() {
    use sparsemem::capacity::*;
    println!(
        "SparseMap: {} bytes ({:.2} MiB)",
        sparsemem::SparseMap::BYTES,
        sparsemem::SparseMap::BYTES as f64 / (1 << 20) as f64
    );
    println!(
        "capacity: {MAX_SECTIONS} section slots in leaves of {SECTIONS_PER_LEAF}, section numbers < 2^{MAX_SECTION_NR_BITS}, \
         {MAX_SUBSECTIONS} sub-sections/section, {MAX_NODES} nodes, {MAX_BOOT_RANGES} boot ranges"
    );
    println!(
        "bytes per section slot: {:.1}",
        sparsemem::SparseMap::BYTES as f64 / MAX_SECTIONS as f64
    );
}
