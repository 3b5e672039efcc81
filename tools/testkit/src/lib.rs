//! What sparsemem's tests share: the core's integration tests, its benchmarks and the
//! cargo-fuzz targets depend on this crate instead of including each other's files.
//!
//! - [`seeds`]: the seeded generator and the seed and size variables of randomised tests;
//! - [`machines`]: the x86-64 maps the behaviour tests start from;
//! - [`dump`]: everything a query can see of a map, as text to compare;
//! - [`flat`]: `pfn_valid` (the flat valid bitmap) against the table's answers;
//! - [`model`]: the reference model and the differential driver that runs an operation
//!   sequence on it and on sparsemem;
//! - `hostile` (feature `c-abi`): sessions of hostile calls into every C function of
//!   `sparsemem-ffi`.

pub mod dump;
pub mod flat;
#[cfg(feature = "c-abi")]
pub mod hostile;
pub mod machines;
pub mod model;
pub mod seeds;
