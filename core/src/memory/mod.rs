//! Memory as Linux's memory-hotplug code sees it: memory blocks and their states,
//! zones and the zone rules, the per-node zone spans, and the firmware's boot RAM
//! ranges. Plain data and rules; the map (`crate::map`) stores and changes them.

pub(crate) mod block;
pub(crate) mod boot_ranges;
pub(crate) mod group;
pub(crate) mod policy;
pub(crate) mod spans;
pub(crate) mod zone;
