//! memmap against util-linux lsmem itself: for each test map, memmap writes the map
//! as a sysfs tree (`--write-sysfs`), and for every lsmem option set
//! `lsmem --sysroot DIR OPTIONS` must print byte for byte what memmap prints from the
//! map and from the same tree (`--sysroot`). The checked-in tree of a real two-node
//! QEMU guest is compared the same way. Skipped, saying so, where lsmem is absent
//! (.ci/run installs util-linux).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_memmap");
const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");
const ALL7: &str = "RANGE,SIZE,STATE,REMOVABLE,BLOCK,NODE,ZONES";

/// The lsmem options memmap implements, alone and combined.
const OPTIONS: &[&[&str]] = &[
    &[],
    &["-o", ALL7],
    &["--output-all"],
    &["-o", "+NODE,zones"],
    &["-o", "SIZE,RANGE"],
    &["-a"],
    &["-a", "--output-all"],
    &["-b"],
    &["-b", "--output-all"],
    &["-n"],
    &["-n", "--output-all"],
    &["-r"],
    &["-r", "--output-all", "-b"],
    &["-r", "-n", "-a"],
    &["-P"],
    &["-P", "--output-all"],
    &["-J"],
    &["-J", "--output-all"],
    &["-J", "--output-all", "-b", "-a"],
    &["-S", "NODE"],
    &["-S", "none", "--output-all"],
    &["-S", "ZONES,STATE", "-o", "RANGE,BLOCK"],
    &["--summary"],
    &["--summary=only", "-b"],
    &["--summary=never", "--output-all"],
    &["--summary=always", "-J"],
    &["-J", "--summary=always"],
];

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn memmap(args: &[&str]) -> String {
    run(Command::new(BIN).args(args))
}

fn lsmem(sysroot: &Path, opts: &[&str]) -> String {
    run(Command::new("lsmem")
        .arg("--sysroot")
        .arg(sysroot)
        .args(opts))
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("lsmem-compat-{name}"));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn have_lsmem() -> bool {
    let found = Command::new("lsmem").arg("--version").output().is_ok();
    if !found {
        eprintln!("SKIPPED: util-linux lsmem is not installed; memmap was not compared with it");
    }
    found
}

/// For every option set: lsmem on the tree, memmap on the same tree and (when given)
/// memmap on the map agree. Returns how many outputs were compared.
fn compare(sysroot: &Path, model: Option<&[&str]>) -> usize {
    let root = sysroot.to_str().unwrap();
    let mut failures = Vec::new();
    for opts in OPTIONS {
        let theirs = lsmem(sysroot, opts);
        let mut tree = vec!["--sysroot", root];
        tree.extend_from_slice(opts);
        let mut ours = vec![("memmap --sysroot", memmap(&tree))];
        // (With no arguments at all memmap tells its story instead.)
        let args: Vec<&str> = model
            .into_iter()
            .flatten()
            .chain(opts.iter())
            .copied()
            .collect();
        if model.is_some() && !args.is_empty() {
            ours.push(("memmap on the map", memmap(&args)));
        }
        for (what, text) in ours {
            if text != theirs {
                failures.push(format!(
                    "{what} {opts:?}:\n--- lsmem\n{theirs}--- memmap\n{text}"
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} differences:\n{}",
        failures.len(),
        failures.join("\n")
    );
    OPTIONS.len()
}

/// Whether every block linked to several nodes lists the lowest first in directory
/// order. lsmem shows the first link `readdir` returns, which depends on the
/// filesystem; memmap's model shows the lowest node.
fn links_lowest_first(root: &Path) -> bool {
    let mem = root.join("sys/devices/system/memory");
    fs::read_dir(mem).unwrap().all(|e| {
        let links: Vec<String> = fs::read_dir(e.unwrap().path())
            .map(|d| {
                d.map(|e| e.unwrap().file_name().into_string().unwrap())
                    .collect()
            })
            .unwrap_or_default();
        let nodes: Vec<&String> = links.iter().filter(|n| n.starts_with("node")).collect();
        nodes.windows(2).all(|w| w[0] < w[1]) || nodes.len() < 2
    })
}

/// memmap writes the map of `source` as a tree, then both sides are compared.
fn check_map(name: &str, source: &[&str]) {
    if !have_lsmem() {
        return;
    }
    let root = scratch(name);
    let mut args = source.to_vec();
    args.extend(["--write-sysfs", root.to_str().unwrap()]);
    memmap(&args);
    if !links_lowest_first(&root) {
        eprintln!(
            "NOTE: {name}: this filesystem lists a block's node links highest first; \
             lsmem's NODE then differs from the model's: compared the tree only"
        );
        compare(&root, None);
        return;
    }
    let n = compare(&root, Some(source));
    eprintln!("{name}: {n} option sets, lsmem = memmap on the tree and on the map");
}

fn data(name: &str) -> String {
    format!("{DATA}/{name}")
}

#[test]
fn the_embedded_machine() {
    check_map("embedded", &[]);
    if have_lsmem() {
        // The golden table of the unit tests is lsmem's own output.
        let golden = fs::read_to_string(data("default-lsmem.txt")).unwrap();
        let root = scratch("embedded-golden");
        memmap(&["--write-sysfs", root.to_str().unwrap()]);
        assert_eq!(lsmem(&root, &["-o", ALL7]), golden);
    }
}

/// The lsmem tables of the golden story (default-story.txt), in order: from each line
/// starting with RANGE to the next "Total offline memory:" line.
fn story_tables(story: &str) -> Vec<String> {
    let mut tables = Vec::new();
    let mut table: Option<String> = None;
    for line in story.lines() {
        if line.starts_with("RANGE ") {
            table = Some(String::new());
        }
        if let Some(t) = &mut table {
            t.push_str(line);
            t.push('\n');
            if line.starts_with("Total offline memory:") {
                tables.extend(table.take());
            }
        }
    }
    tables
}

#[test]
fn the_storys_tables_are_lsmems() {
    if !have_lsmem() {
        return;
    }
    // The story's steps, written again from its narrative as `memmap run` scripts: each
    // table of the golden story must be what lsmem prints for the map at that point.
    let story = fs::read_to_string(data("default-story.txt")).unwrap();
    let tables = story_tables(&story);
    assert_eq!(tables.len(), 4, "boot, after steps 1, 2 and 5");
    let namespace = |i: u64| format!("{:#x} 16M", (10 << 30) + i * (16 << 20));
    let dimm = "add-memory 1 8G 1G\n".to_string();
    let online: String = (64..=71).map(|b| format!("online {b} movable\n")).collect();
    let pmem: String = (0..8)
        .map(|i| format!("add-device 1 {}\n", namespace(i)))
        .chain([format!("remove-device {}\n", namespace(3))])
        .collect();
    let removal: String = (64..=71)
        .map(|b| format!("offline {b}\n"))
        .chain(["remove-memory 8G 1G\n".to_string()])
        .chain(
            (0..8)
                .filter(|i| *i != 3)
                .map(|i| format!("remove-device {}\n", namespace(i))),
        )
        .collect();
    let steps = [
        ("boot", String::new(), &tables[0]),
        ("1", dimm.clone(), &tables[1]),
        ("2", dimm.clone() + &online, &tables[2]),
        // Step 3 says "The lsmem table is unchanged".
        ("3", dimm.clone() + &online + &pmem, &tables[2]),
        ("5", dimm + &online + &pmem + &removal, &tables[3]),
    ];
    let scripts = scratch("story-scripts");
    for (step, script, table) in steps {
        let file = scripts.join(format!("step-{step}"));
        fs::write(&file, script).unwrap();
        let root = scratch(&format!("story-{step}"));
        memmap(&[
            "run",
            file.to_str().unwrap(),
            "--write-sysfs",
            root.to_str().unwrap(),
        ]);
        assert_eq!(
            lsmem(&root, &["-o", ALL7]),
            *table,
            "the story's table after step {step}"
        );
    }
}

#[test]
fn the_cloud_vm_of_iomem_vm_txt() {
    check_map("vm", &["--iomem", &data("iomem-vm.txt")]);
}

#[test]
fn the_embedded_machine_after_the_hotplug_script() {
    // Offline blocks (no REMOVABLE), movable and kernel zones, mixed valid_zones.
    let dir = scratch("hotplug-snapshot");
    let snap = dir.join("after.snap");
    memmap(&[
        "run",
        &data("hotplug.script"),
        "--changes",
        "--save",
        snap.to_str().unwrap(),
    ]);
    check_map("hotplug", &["--load", snap.to_str().unwrap()]);
}

/// The model of the QEMU guest: its /proc/iomem and node directory, 1 GiB blocks.
fn qemu_model() -> Vec<String> {
    let fixture = data("sysfs-2node");
    [
        "--iomem",
        &format!("{fixture}/iomem"),
        "--node-dir",
        &format!("{fixture}/node"),
    ]
    .into_iter()
    .chain(["--block-size", "40000000"])
    .map(String::from)
    .collect()
}

#[test]
fn the_two_node_fixture_with_1g_blocks() {
    let model = qemu_model();
    check_map(
        "fixture",
        &model.iter().map(String::as_str).collect::<Vec<_>>(),
    );
}

#[test]
fn the_real_qemu_sysfs_tree_against_memmap_and_the_model() {
    if !have_lsmem() {
        return;
    }
    // The tree Linux wrote in a two-node QEMU guest: lsmem on it is an independent
    // source for the model of that guest's /proc/iomem.
    let root = scratch("qemu");
    let system = root.join("sys/devices/system");
    fs::create_dir_all(&system).unwrap();
    for part in ["memory", "node"] {
        let status = Command::new("cp")
            .arg("-r")
            .arg(data(&format!("sysfs-2node/{part}")))
            .arg(system.join(part))
            .status()
            .unwrap();
        assert!(status.success());
    }
    let model = qemu_model();
    let model: Vec<&str> = model.iter().map(String::as_str).collect();
    if links_lowest_first(&root) {
        let n = compare(&root, Some(&model));
        eprintln!("qemu tree: {n} option sets, lsmem = memmap --sysroot = the model");
    } else {
        compare(&root, None);
        eprintln!("NOTE: qemu tree: node links listed highest first: compared the tree only");
    }
}
