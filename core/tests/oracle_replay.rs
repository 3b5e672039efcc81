//! Replays traces that a real Linux 6.1 recorded under QEMU (tools/oracle/record.sh,
//! scenarios in core/tests/data/oracle/scenarios) on sparsemem, and compares every memory
//! block line (state, online, node, valid_zones), every zone span (start, end, spanned,
//! present) and every sysfs write result the trace shows, after every step, plus the
//! MemTotal change between snapshots against sparsemem's online pages.
//!
//! The machine is built from the trace: boot RAM from the first snapshot's `System RAM`
//! lines, split over the nodes of the header's `numa:` sizes; the policy from the kernel
//! command line. Each pc-dimm is what the ACPI driver makes of it: a static group of the
//! DIMM's size on its node and `add_memory_ex` with memmap_on_memory where supported; its
//! address is the one `info memory-devices` reports. A `device_del` that the trace shows
//! completed is `offline_and_remove_memory` and `group_unregister`. An nvdimm's devdax
//! namespace is device memory, and kmem's System RAM a static group (`apply_dax`). A
//! virtio-mem device runs a model of Linux 6.1's driver in sub-block mode (`VirtioMem`):
//! which blocks it adds, which sub-blocks it fake-offlines, when it removes a block; the
//! device's plugged size and the guest's sub-block maps are compared too.
//!
//! A disagreement with the kernel fails the test unless it is listed in `KNOWN`, with why;
//! a listed one that no longer happens fails too, so the list stays true.

use std::collections::{BTreeSet, HashMap};

use sparsemem::{
    AutoOnline, BlockId, BlockInfo, BlockState, Config, Error, MemEvent, MemmapOnMemory, MhpFlags,
    OnlinePolicy, OnlineType, SparseMap, Zone, NID_NONE,
};

/// Disagreements between Linux 6.1 and sparsemem that the library's owner has to decide
/// on: (the mismatch key `trace [step] what`, why it differs).
const KNOWN: &[(&str, &str)] = &[];

struct Step {
    n: usize,
    directive: String,
    out: Vec<String>,
}

struct Trace {
    name: String,
    /// Boot RAM per node, in bytes, in node order.
    numa: Vec<u64>,
    cmdline: String,
    /// The scenario's extra QEMU arguments (a virtio-mem device).
    qemu: String,
    steps: Vec<Step>,
}

fn size(s: &str) -> u64 {
    let (n, unit) = s.split_at(s.len() - 1);
    let mul = match unit {
        "M" => 1 << 20,
        "G" => 1 << 30,
        _ => return s.parse().unwrap(),
    };
    n.parse::<u64>().unwrap() * mul
}

fn load(name: &str) -> Trace {
    let path = format!(
        "{}/tests/data/oracle/{name}.txt",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    assert!(
        text.contains("# end of trace (complete)"),
        "{name}: incomplete trace"
    );
    let (mut numa, mut cmdline, mut steps) = (Vec::new(), String::new(), Vec::<Step>::new());
    let mut qemu = String::new();
    for line in text.lines() {
        if let Some(h) = line.strip_prefix("# numa: ") {
            let (sizes, cmd) = h.split_once(" | kernel cmdline: ").unwrap();
            numa = sizes.split_whitespace().map(size).collect();
            cmdline = cmd.to_string();
        } else if let Some(q) = line.strip_prefix("# qemu extra: ") {
            qemu = q.to_string();
        } else if let Some((n, d)) = line
            .strip_prefix('[')
            .and_then(|l| l.split_once("] "))
            .filter(|(n, _)| n.parse::<usize>().is_ok())
        {
            steps.push(Step {
                n: n.parse().unwrap(),
                directive: d.to_string(),
                out: Vec::new(),
            });
        } else if let Some(step) = steps.last_mut() {
            // Scenario comments, QMP events, kernel log and console noise are not state.
            let noise = ["# ", "event: ", "kmsg: ", "console: "];
            if !noise.iter().any(|p| line.starts_with(p)) {
                step.out.push(line.to_string());
            }
        }
    }
    Trace {
        name: name.to_string(),
        numa,
        cmdline,
        qemu,
        steps,
    }
}

/// `key=value` of a comma-separated QEMU argument list.
fn qemu_arg<'a>(args: &'a str, key: &str) -> Option<&'a str> {
    args.split(',')
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
}

fn config(cmdline: &str) -> Config {
    let mut cfg = Config::x86_64();
    for opt in cmdline.split_whitespace() {
        let Some((k, v)) = opt
            .strip_prefix("memory_hotplug.")
            .and_then(|o| o.split_once('='))
        else {
            continue;
        };
        match k {
            "online_policy" if v == "auto-movable" => cfg.online_policy = OnlinePolicy::AutoMovable,
            "auto_movable_ratio" => cfg.auto_movable_ratio = v.parse().unwrap(),
            "auto_movable_numa_aware" => cfg.auto_movable_numa_aware = v != "0",
            // Linux 6.1: only a one-block range carries its memmap.
            "memmap_on_memory" if v == "1" => cfg.memmap_on_memory = MemmapOnMemory::SingleBlock,
            _ => panic!("unmodelled option {opt}"),
        }
    }
    cfg
}

fn hex(s: &str) -> u64 {
    u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap()
}

/// The boot machine: each `System RAM` range of the first snapshot, cut at node borders
/// (QEMU gives node i the next `numa[i]` bytes of RAM).
fn boot(t: &Trace) -> Box<SparseMap> {
    let map = SparseMap::new_boxed(&config(&t.cmdline)).unwrap();
    let first = t
        .steps
        .iter()
        .find(|s| s.out.iter().any(|l| l.starts_with("iomem ")));
    for line in &first.expect("a snapshot with iomem").out {
        let Some(range) = line
            .strip_prefix("iomem ")
            .and_then(|l| l.strip_suffix(" : System RAM"))
        else {
            continue;
        };
        let (a, b) = range.split_once('-').unwrap();
        let (start, end) = (hex(a), hex(b) + 1);
        let mut node_start = 0u64;
        for (nid, len) in t.numa.iter().enumerate() {
            let (s, e) = (start.max(node_start), end.min(node_start + len));
            if s < e {
                map.boot_add_ram(nid as i32, s, e - s).unwrap();
            }
            node_start += len;
        }
    }
    map.boot_finish().unwrap();
    map
}

fn errno_name(r: Result<(), Error>) -> String {
    match r {
        Ok(()) => "OK".into(),
        Err(Error::Busy) => "EBUSY".into(),
        Err(Error::Inval) => "EINVAL".into(),
        Err(Error::NoEnt) => "ENOENT".into(),
        Err(e) => format!("{e:?}"),
    }
}

/// A block as the guest's `blk` prints it, less `phys_index` and `removable`.
fn block_line(b: &BlockInfo, map: &SparseMap) -> String {
    let state = match b.state {
        BlockState::Online => "online",
        BlockState::Offline => "offline",
        BlockState::GoingOffline => "going-offline",
        BlockState::GoingOnline => "going-online",
    };
    format!(
        "memory{} state={state} online={} node=node{} valid_zones={}",
        b.id.0,
        u8::from(b.state == BlockState::Online),
        b.nid,
        map.valid_zones(b.id).unwrap()
    )
}

fn kernel_block_line(line: &str) -> String {
    let mut f = line.split(' ');
    let name = f.next().unwrap();
    let fields: Vec<&str> = f
        .filter(|kv| !kv.starts_with("phys_index=") && !kv.starts_with("removable="))
        .collect();
    format!("{name} {}", fields.join(" "))
}

const ZONES: [Zone; 5] = [
    Zone::Dma,
    Zone::Dma32,
    Zone::Normal,
    Zone::Movable,
    Zone::Device,
];

/// Every non-empty zone span of the map, as the guest's `zones` prints it.
fn zone_lines(map: &SparseMap, nodes: usize) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for nid in 0..nodes as i32 {
        for z in ZONES {
            let Ok(s) = map.zone_span(nid, z) else {
                continue;
            };
            let spanned = s.end.0 - s.start.0;
            // /proc/zoneinfo has no start_pfn for a zone with no present pages.
            out.insert(if s.present_pages == 0 {
                format!("zone node{nid} {z} start_pfn=? spanned={spanned} present=0")
            } else {
                format!(
                    "zone node{nid} {z} start_pfn={:#x} end_pfn={:#x} spanned={spanned} present={}",
                    s.start.0, s.end.0, s.present_pages
                )
            });
        }
    }
    out
}

/// `[start, end)` of an iomem line (nesting spaces allowed) naming `what`.
fn iomem_range(line: &str, what: &str) -> Option<(u64, u64)> {
    let r = line.strip_prefix("iomem ")?.strip_suffix(what)?.trim();
    let (a, b) = r.split_once('-')?;
    Some((hex(a), hex(b) + 1))
}

struct Dimm {
    start: u64,
    size: u64,
    group: u32,
}

struct Replay<'t> {
    t: &'t Trace,
    map: Box<SparseMap>,
    /// memory-backend sizes by id, DIMM addresses (from `info memory-devices`) by id.
    backends: HashMap<String, u64>,
    addrs: HashMap<String, u64>,
    dimms: HashMap<String, Dimm>,
    /// dax/kmem: the pmem namespace (start, end), the dax device's range as the last
    /// iomem lines showed it, and the kmem memory with its group.
    pmem: Option<(u64, u64)>,
    dax: Option<(u64, u64)>,
    kmem: Option<Dimm>,
    vm: Option<VirtioMem>,
    /// (kernel MemTotal kB, sparsemem online pages) at the last snapshot.
    memtotal: Option<(u64, u64)>,
    mismatches: Vec<String>,
    /// Comparisons made: a trace that compares nothing proves nothing.
    compared: usize,
}

impl<'t> Replay<'t> {
    fn new(t: &'t Trace) -> Self {
        let mut addrs = HashMap::new();
        let mut dev = None;
        for line in t.steps.iter().flat_map(|s| &s.out) {
            if let Some(id) = line.strip_prefix("Memory device [dimm]: ") {
                dev = Some(id.trim_matches('"').to_string());
            } else if let (Some(a), Some(id)) = (line.strip_prefix("  addr: "), &dev) {
                addrs.insert(id.clone(), hex(a));
            }
        }
        let map = boot(t);
        let vm = VirtioMem::probe(t, &map);
        Replay {
            t,
            backends: HashMap::new(),
            addrs,
            map,
            dimms: HashMap::new(),
            pmem: None,
            dax: None,
            kmem: None,
            vm,
            memtotal: None,
            mismatches: Vec::new(),
            compared: 0,
        }
    }

    fn differ(&mut self, step: &Step, what: &str, kernel: &str, lib: &str) {
        self.compared += 1;
        if kernel != lib {
            self.mismatches.push(format!(
                "{} [{}] {what}: kernel `{kernel}`, sparsemem `{lib}`",
                self.t.name, step.n
            ));
        }
    }

    /// What the step does to the machine, before its output is compared.
    fn apply(&mut self, step: &Step) {
        let d = step.directive.as_str();
        if d.starts_with("guest ") && d.contains("daxctl") || d.contains("create-namespace") {
            self.apply_dax(step);
        } else if let Some(bytes) = d.strip_prefix("hmp qom-set vm0 requested-size ") {
            let vm = self.vm.as_mut().expect("a virtio-mem device");
            vm.request(&self.map, bytes.parse().unwrap());
        } else if d.starts_with("wait_qom vm0 size ") {
            // The device's plugged size, as the driver left it.
            let kernel = step.out[0].split(" = ").nth(1).unwrap();
            let kernel = kernel.split(' ').next().unwrap().to_string();
            let lib = (self.vm.as_ref().unwrap().plugged() * SB).to_string();
            self.differ(step, "virtio-mem size", &kernel, &lib);
        } else if let Some(args) = d.strip_prefix("hmp object_add memory-backend-ram,") {
            let id = qemu_arg(args, "id").unwrap().to_string();
            self.backends
                .insert(id, size(qemu_arg(args, "size").unwrap()));
        } else if let Some(args) = d.strip_prefix("hmp device_add pc-dimm,") {
            let id = qemu_arg(args, "id").unwrap().to_string();
            let size = self.backends[qemu_arg(args, "memdev").unwrap()];
            let nid: i32 = qemu_arg(args, "node").unwrap().parse().unwrap();
            let start = self.addrs[&id];
            // acpi_memory_enable_device: one static group per DIMM, then add_memory.
            let group = self.map.group_register_static(nid, size / 4096).unwrap();
            self.map
                .add_memory_ex(
                    NID_NONE,
                    group,
                    start,
                    size,
                    MhpFlags::MEMMAP_ON_MEMORY,
                    &(),
                )
                .unwrap();
            self.dimms.insert(id, Dimm { start, size, group });
        } else if let Some(id) = d.strip_prefix("wait_deleted ") {
            let id = id.split_whitespace().next().unwrap();
            if step
                .out
                .iter()
                .any(|l| *l == format!("device {id} deleted"))
            {
                let dimm = self.dimms.remove(id).unwrap();
                self.map
                    .offline_and_remove_memory(dimm.start, dimm.size, &())
                    .unwrap();
                self.map.group_unregister(dimm.group).unwrap();
            }
        } else if let Some(v) = d.strip_prefix("guest auto ") {
            let auto = match v {
                "offline" => AutoOnline::Offline,
                "online" => AutoOnline::Online,
                "online_kernel" => AutoOnline::OnlineKernel,
                "online_movable" => AutoOnline::OnlineMovable,
                _ => panic!("{v}"),
            };
            self.map.set_auto_online(auto).unwrap();
        } else if let Some(v) = d.strip_prefix("guest echo ").and_then(|r| {
            r.strip_suffix(" > /sys/module/memory_hotplug/parameters/auto_movable_ratio")
        }) {
            let p = self.map.policy();
            self.map
                .set_online_policy(
                    p.online_policy,
                    v.parse().unwrap(),
                    p.auto_movable_numa_aware,
                )
                .unwrap();
        }
    }

    /// An nvdimm namespace on node `target_node`: in devdax mode its whole range is
    /// ZONE_DEVICE memory (device_dax's memremap_pages); `reconfigure-device -m
    /// system-ram` hands the dax range, cut to whole blocks, to kmem (one static group,
    /// add_memory_driver_managed without memmap_on_memory); `offline-memory` offlines
    /// those blocks; back to devdax removes them and maps the namespace again.
    fn apply_dax(&mut self, step: &Step) {
        let d = step.directive.as_str();
        let out = step.out.join("\n");
        let nid = || -> i32 {
            let t = out.split("\"target_node\":").nth(1).expect("target_node");
            t.split(',').next().unwrap().parse().unwrap()
        };
        let (ps, pe) = self.pmem.expect("a Persistent Memory iomem line");
        let block = 128 << 20;
        if d.contains("create-namespace") && d.contains("-m devdax") {
            self.map.add_device(nid(), ps, pe - ps).unwrap();
        } else if d.contains("reconfigure-device -m system-ram") {
            let nid = nid();
            self.map.remove_device(ps, pe - ps).unwrap();
            let (ds, de) = self.dax.expect("a dax0.0 iomem line");
            let (start, end) = (ds.next_multiple_of(block), de / block * block);
            let group = self
                .map
                .group_register_static(nid, (end - start) / 4096)
                .unwrap();
            self.map
                .add_memory_ex(NID_NONE, group, start, end - start, MhpFlags::empty(), &())
                .unwrap();
            let size = end - start;
            self.kmem = Some(Dimm { start, size, group });
        } else if d.contains("daxctl offline-memory") {
            let k = self.kmem.as_ref().unwrap();
            for id in k.start / block..(k.start + k.size) / block {
                self.map.offline_block(BlockId(id), &()).unwrap();
            }
        } else if d.contains("reconfigure-device -f -m devdax") {
            let k = self.kmem.take().unwrap();
            self.map.remove_memory(k.start, k.size).unwrap();
            self.map.group_unregister(k.group).unwrap();
            self.map.add_device(nid(), ps, pe - ps).unwrap();
        }
    }

    /// A sysfs `state` write the trace shows: the same call on sparsemem, whose result
    /// must be the kernel's. An EBUSY offline is the page allocator's answer, which
    /// sparsemem leaves to a notifier (docs/semantics.md, "Out of scope"): veto it.
    fn write(&mut self, step: &Step, line: &str) {
        let (lhs, kernel) = line.split_once(": ").unwrap();
        let (target, value) = lhs
            .strip_prefix("write memory")
            .unwrap()
            .split_once("/state <- ")
            .unwrap();
        let id = BlockId(target.parse().unwrap());
        let kernel = kernel.split(' ').next().unwrap();
        let busy = kernel == "EBUSY";
        let veto = |ev: MemEvent, _: &BlockInfo| -> i32 {
            if busy && ev == MemEvent::GoingOffline {
                -16
            } else {
                0
            }
        };
        let r = match value {
            "online" => self.map.online_block(id, OnlineType::Online, &veto),
            "online_kernel" => self.map.online_block(id, OnlineType::Kernel, &veto),
            "online_movable" => self.map.online_block(id, OnlineType::Movable, &veto),
            "offline" => self.map.offline_block(id, &veto),
            _ => panic!("unmodelled write {line}"),
        };
        self.differ(
            step,
            &format!("{target} <- {value}"),
            kernel,
            &errno_name(r),
        );
    }

    fn compare_block(&mut self, step: &Step, line: &str) {
        let name = line.split(' ').next().unwrap();
        let id = BlockId(name.trim_start_matches("memory").parse().unwrap());
        let lib = match self.map.block_info(id) {
            Ok(b) => block_line(&b, &self.map),
            Err(_) => format!("{name} absent"),
        };
        let kernel = if line.ends_with(" absent") {
            line.to_string()
        } else {
            kernel_block_line(line)
        };
        self.differ(step, name, &kernel, &lib);
    }

    /// A full snapshot: the same blocks and zone spans exist, and MemTotal moved by as
    /// many pages as sparsemem's online pages did.
    fn compare_snapshot(&mut self, step: &Step, memtotal_kb: u64) {
        let kernel_blocks: BTreeSet<String> = step
            .out
            .iter()
            .filter(|l| l.starts_with("memory"))
            .map(|l| l.split(' ').next().unwrap().to_string())
            .collect();
        let lib_blocks: BTreeSet<String> = self
            .map
            .blocks()
            .map(|b| format!("memory{}", b.id.0))
            .collect();
        let (k, l) = (format!("{kernel_blocks:?}"), format!("{lib_blocks:?}"));
        self.differ(step, "blocks", &k, &l);
        let kernel_zones: BTreeSet<String> = step
            .out
            .iter()
            .filter(|l| l.starts_with("zone "))
            .cloned()
            .collect();
        let lib_zones = zone_lines(&self.map, self.t.numa.len());
        for z in kernel_zones.symmetric_difference(&lib_zones) {
            let (k, l) = if kernel_zones.contains(z) {
                (z.as_str(), "-")
            } else {
                ("-", z.as_str())
            };
            let what = z.split(" start_pfn").next().unwrap().to_string();
            self.differ(step, &what, k, l);
        }
        // Linux's MemTotal counts managed pages: never memmap pages (not online in
        // sparsemem) nor fake-offline ones (online in sparsemem, so taken off here).
        let fake: u64 = self
            .map
            .blocks()
            .filter(|b| b.state == BlockState::Online)
            .map(|b| b.fake_offline_pages)
            .sum();
        let online = self.map.stats().online_pages - fake;
        if let Some((kb, pages)) = self.memtotal.replace((memtotal_kb, online)) {
            let k = format!("{:+} pages", (memtotal_kb as i64 - kb as i64) / 4);
            let l = format!("{:+} pages", online as i64 - pages as i64);
            self.differ(step, "MemTotal change", &k, &l);
        }
    }

    fn run(mut self) -> Vec<String> {
        for step in &self.t.steps {
            self.apply(step);
            let mut memtotal = None;
            for line in &step.out {
                if line.starts_with("write memory") && line.contains("/state <- ") {
                    self.write(step, line);
                } else if line.starts_with("memory") && line.contains(" state=")
                    || line.starts_with("memory") && line.ends_with(" absent")
                {
                    self.compare_block(step, line);
                } else if let Some(rest) = line.strip_prefix("subblocks memory") {
                    let (id, kernel) = rest.split_once(": ").unwrap();
                    let lib = subblock_map(&self.map, id.parse().unwrap());
                    self.differ(step, &format!("memory{id} sub-blocks"), kernel, &lib);
                } else if let Some(r) = iomem_range(line, " : Persistent Memory") {
                    self.pmem = Some(r);
                } else if let Some(r) = iomem_range(line, " : dax0.0") {
                    self.dax = Some(r);
                } else if let Some(m) = line.split("MemTotal: ").nth(1) {
                    memtotal = Some(m.trim_end_matches(" kB").parse().unwrap());
                }
            }
            match memtotal {
                Some(kb) => self.compare_snapshot(step, kb),
                // Zone lines outside a snapshot (the `zones` helper) are compared alone.
                None => {
                    let lib = zone_lines(&self.map, self.t.numa.len());
                    for z in step.out.iter().filter(|l| l.starts_with("zone ")) {
                        let found = if lib.contains(z) { z.as_str() } else { "-" };
                        let what = z.split(" start_pfn").next().unwrap().to_string();
                        self.differ(step, &what, z, found);
                    }
                }
            }
        }
        assert!(self.compared > 0, "{}: nothing compared", self.t.name);
        self.mismatches
    }
}

/// Replays `name` and checks its disagreements against `KNOWN`.
fn replay(name: &str) {
    let t = load(name);
    assert!(!t.steps.is_empty(), "{name}: no steps");
    let found = Replay::new(&t).run();
    let prefix = format!("{name} [");
    let known: Vec<&str> = KNOWN
        .iter()
        .map(|(k, _)| *k)
        .filter(|k| k.starts_with(&prefix))
        .collect();
    let unexpected: Vec<&String> = found
        .iter()
        .filter(|m| !known.iter().any(|k| m.starts_with(k)))
        .collect();
    let gone: Vec<&&str> = known
        .iter()
        .filter(|k| !found.iter().any(|m| m.starts_with(**k)))
        .collect();
    assert!(
        unexpected.is_empty() && gone.is_empty(),
        "{name}: {} disagreement(s) with Linux:\n{}\nlisted in KNOWN but not found: {gone:?}",
        unexpected.len(),
        unexpected
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn auto_movable_ratio_301_numa_aware() {
    replay("am301-numa");
}

#[test]
fn auto_movable_ratio_301_machine_wide() {
    replay("am301-global");
}

#[test]
fn auto_movable_ratio_50_numa_aware() {
    replay("am50-numa");
}

#[test]
fn auto_movable_ratio_50_machine_wide() {
    replay("am50-global");
}

#[test]
fn memmap_on_memory_one_and_two_block_dimms() {
    replay("mom");
}

#[test]
fn dax_kmem_system_ram_and_back() {
    replay("dax-kmem");
}

/// Bytes per virtio-mem sub-block (the traces' 2M device block size) and per memory block.
const SB: u64 = 2 << 20;
const MB: u64 = 128 << 20;
const SBS_PER_MB: usize = (MB / SB) as usize;

/// What the guest's `sb` helper prints for block `id`: per sub-block, `.` for online, `x`
/// for not online in an online block (fake-offline), `n` in an offline block.
fn subblock_map(map: &SparseMap, id: u64) -> String {
    let Ok(b) = map.block_info(BlockId(id)) else {
        return "absent".into();
    };
    (0..SBS_PER_MB as u64)
        .map(|i| {
            let pfn = sparsemem::Pfn((b.start.0 + i * SB) / 4096);
            match (map.pfn_online(pfn), b.state == BlockState::Online) {
                (true, _) => '.',
                (false, true) => 'x',
                (false, false) => 'n',
            }
        })
        .collect()
}

/// Linux 6.1's virtio-mem driver in sub-block mode (drivers/virtio/virtio_mem.c), as far
/// as the traces exercise it: a dynamic group of one-block units; plugging fills partly
/// plugged blocks first (kernel, Movable, offline ones, lowest sub-blocks first), then
/// adds the lowest unused blocks; unplugging goes through partly plugged offline, offline,
/// partly plugged Movable, partly plugged kernel, Movable, then kernel blocks, highest
/// block first: a whole fully plugged block in one go if the request covers it, else
/// sub-blocks from the top; a block left with nothing plugged is offlined and removed.
/// Unplugged sub-blocks of an added block are fake-offline.
struct VirtioMem {
    start: u64,
    group: u32,
    /// Plugged sub-blocks of each memory block of the region; `None` while not added.
    mbs: Vec<Option<[bool; SBS_PER_MB]>>,
    /// Sub-blocks the page allocator would not give back, as the trace's sub-block maps
    /// show them (plugged after a shrink that fell short); out of scope for sparsemem.
    refused: BTreeSet<(usize, usize)>,
}

impl VirtioMem {
    /// The device of the trace's QEMU arguments, at the address `info memory-devices`
    /// reports; its driver registers the group at boot.
    fn probe(t: &Trace, map: &SparseMap) -> Option<VirtioMem> {
        let dev = t
            .qemu
            .split_whitespace()
            .find(|a| a.starts_with("virtio-mem-pci,"))?;
        assert_eq!(
            qemu_arg(dev, "block-size"),
            Some("2M"),
            "modelled: 2M sub-blocks"
        );
        let nid: i32 = qemu_arg(dev, "node").unwrap().parse().unwrap();
        let memdev = qemu_arg(dev, "memdev").unwrap();
        let backend = t
            .qemu
            .split_whitespace()
            .find(|a| a.contains(&format!("id={memdev},")))?;
        let region = size(qemu_arg(backend, "size").unwrap());
        let start = t
            .steps
            .iter()
            .flat_map(|s| &s.out)
            .find_map(|l| l.strip_prefix("  memaddr: "))
            .map(hex)
            .expect("info memory-devices");
        let group = map.group_register_dynamic(nid, MB / 4096).unwrap();
        // Refused sub-blocks: plugged in an online block of a map taken after a shrink
        // that fell short of its request (the device's size never reached it).
        let mut refused = BTreeSet::new();
        let mut short = false;
        for line in t
            .steps
            .iter()
            .flat_map(|s| std::iter::once(&s.directive).chain(&s.out))
        {
            if line.starts_with("hmp qom-set vm0 requested-size ") {
                short = false;
            } else if line.starts_with("qom vm0.size = ") && line.contains("(TIMEOUT") {
                short = true;
            }
            if let (true, Some(rest)) = (short, line.strip_prefix("subblocks memory")) {
                let (id, m) = rest.split_once(": ").unwrap();
                let mb = ((id.parse::<u64>().unwrap() * MB - start) / MB) as usize;
                if m.contains('x') {
                    refused.extend(
                        m.chars()
                            .enumerate()
                            .filter(|(_, c)| *c == '.')
                            .map(|(i, _)| (mb, i)),
                    );
                }
            }
        }
        Some(VirtioMem {
            start,
            group,
            mbs: vec![None; (region / MB) as usize],
            refused,
        })
    }

    fn plugged(&self) -> u64 {
        self.mbs
            .iter()
            .flatten()
            .map(|m| m.iter().filter(|p| **p).count() as u64)
            .sum()
    }

    fn addr(&self, mb: usize, sb: usize) -> u64 {
        self.start + mb as u64 * MB + sb as u64 * SB
    }

    /// The block's driver state: None = unused; else (zone if online, fully plugged).
    fn state(&self, map: &SparseMap, mb: usize) -> Option<(Option<Zone>, bool)> {
        let plugged = self.mbs[mb]?;
        let b = map.block_info(BlockId(self.addr(mb, 0) / MB)).unwrap();
        let zone = (b.state == BlockState::Online).then_some(b.zone);
        Some((zone, plugged.iter().all(|p| *p)))
    }

    fn request(&mut self, map: &SparseMap, bytes: u64) {
        let (want, have) = (bytes / SB, self.plugged());
        if want > have {
            self.plug(map, want - have);
        } else {
            self.unplug(map, have - want);
        }
    }

    fn plug(&mut self, map: &SparseMap, mut nb: u64) {
        let partial = |z: Option<Zone>| -> u8 {
            match z {
                Some(Zone::Movable) => 1,
                Some(_) => 0,
                None => 2,
            }
        };
        for order in 0..3u8 {
            for mb in 0..self.mbs.len() {
                match self.state(map, mb) {
                    Some((z, false)) if partial(z) == order && nb > 0 => {
                        self.plug_in(map, mb, &mut nb)
                    }
                    _ => {}
                }
            }
        }
        for mb in 0..self.mbs.len() {
            if nb == 0 {
                break;
            }
            if self.mbs[mb].is_none() {
                // Plug the lowest sub-blocks, add the block (auto-online applies), and
                // keep the rest out of use.
                self.mbs[mb] = Some([false; SBS_PER_MB]);
                map.add_memory_ex(
                    NID_NONE,
                    self.group,
                    self.addr(mb, 0),
                    MB,
                    MhpFlags::empty(),
                    &(),
                )
                .unwrap();
                let n = nb.min(SBS_PER_MB as u64) as usize;
                if n < SBS_PER_MB {
                    map.fake_offline(self.addr(mb, n), (SBS_PER_MB - n) as u64 * SB)
                        .unwrap();
                }
                self.mbs[mb].as_mut().unwrap()[..n].fill(true);
                nb -= n as u64;
            }
        }
    }

    /// Plugs the lowest unplugged sub-blocks of an added block (their marks go).
    fn plug_in(&mut self, map: &SparseMap, mb: usize, nb: &mut u64) {
        for sb in 0..SBS_PER_MB {
            if *nb > 0 && !self.mbs[mb].unwrap()[sb] {
                map.fake_online(self.addr(mb, sb), SB).unwrap();
                self.mbs[mb].as_mut().unwrap()[sb] = true;
                *nb -= 1;
            }
        }
    }

    fn unplug(&mut self, map: &SparseMap, mut nb: u64) {
        // (online, Movable, fully plugged) of each pass, in the driver's order.
        let passes = [
            (false, false, false),
            (false, false, true),
            (true, true, false),
            (true, false, false),
            (true, true, true),
            (true, false, true),
        ];
        for (online, movable, full) in passes {
            for mb in (0..self.mbs.len()).rev() {
                let Some((z, f)) = self.state(map, mb) else {
                    continue;
                };
                if nb == 0 || z.is_some() != online || f != full {
                    continue;
                }
                if online && (z == Some(Zone::Movable)) != movable {
                    continue;
                }
                self.unplug_from(map, mb, &mut nb, online);
            }
        }
    }

    fn unplug_from(&mut self, map: &SparseMap, mb: usize, nb: &mut u64, online: bool) {
        let whole = *nb >= SBS_PER_MB as u64
            && self.mbs[mb].unwrap().iter().all(|p| *p)
            && !(online && (0..SBS_PER_MB).any(|sb| self.refused.contains(&(mb, sb))));
        if online && whole {
            map.fake_offline(self.addr(mb, 0), MB).unwrap();
            self.mbs[mb] = Some([false; SBS_PER_MB]);
            *nb -= SBS_PER_MB as u64;
        } else {
            for sb in (0..SBS_PER_MB).rev() {
                let plugged = self.mbs[mb].unwrap()[sb];
                if *nb == 0 || !plugged || online && self.refused.contains(&(mb, sb)) {
                    continue;
                }
                map.fake_offline(self.addr(mb, sb), SB).unwrap();
                self.mbs[mb].as_mut().unwrap()[sb] = false;
                *nb -= 1;
            }
        }
        if self.mbs[mb].unwrap().iter().all(|p| !*p) {
            map.offline_and_remove_memory(self.addr(mb, 0), MB, &())
                .unwrap();
            self.mbs[mb] = None;
        }
    }
}

#[test]
fn virtio_mem_example_in_sub_block_mode() {
    replay("g-virtio-mem");
}

#[test]
fn virtio_mem_auto_movable_ratio_100() {
    replay("vm-am100");
}

#[test]
fn virtio_mem_beside_dimms_auto_movable_ratio_200() {
    replay("vm-dimm-am200");
}
