//! The command line (clap's builder API): memmap's own options, lsmem's options with
//! lsmem's meaning, and the `run` subcommand; parsed into [`Options`].

use std::ffi::OsString;
use std::path::PathBuf;

use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgGroup, ArgMatches, Command};

use crate::lsmem::{Column, Format, View};
use crate::sysfs::parse_block_size;
use crate::Failure;

/// Where the blocks come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// The embedded two-node machine at boot.
    Embedded,
    /// The boot map of a /proc/iomem.
    Iomem {
        path: PathBuf,
        node_dir: Option<PathBuf>,
        block_size: Option<u64>,
    },
    /// A snapshot written by `--save`.
    Snapshot(PathBuf),
    /// A sysfs tree, read as lsmem reads it (no map behind it).
    Sysroot(PathBuf),
}

/// The command line, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    pub source: Source,
    pub view: View,
    pub e820: bool,
    pub verify: Option<PathBuf>,
    pub save: Option<PathBuf>,
    pub write_sysfs: Option<PathBuf>,
    /// `run SCRIPT`, and whether to print only what changed after each step.
    pub script: Option<(PathBuf, bool)>,
}

/// What the command line asks for.
pub enum Request {
    /// No arguments: the embedded machine's story.
    Story,
    /// Text to print as it is (help, version, the man pages written).
    Print(String),
    Run(Box<Options>),
}

/// `--NAME VALUE`, a path.
fn path(name: &'static str, value: &'static str, help: &'static str) -> Arg {
    Arg::new(name)
        .long(name)
        .value_name(value)
        .value_parser(clap::value_parser!(PathBuf))
        .help(help)
        .global(true)
}

/// `-C`, `--NAME`: an lsmem flag.
fn flag(name: &'static str, short: char, help: &'static str) -> Arg {
    Arg::new(name)
        .short(short)
        .long(name)
        .action(ArgAction::SetTrue)
        .help(help)
        .global(true)
}

fn columns_help() -> String {
    let mut text = String::from("Available output columns (lsmem's):\n");
    for c in Column::ALL {
        text.push_str(&format!(" {:>10}  {}\n", c.name(), c.help()));
    }
    text.push_str(
        "\nExit status: 0 ok, 1 differences found or output not written, 2 bad usage or input.",
    );
    text
}

/// The whole command-line definition (also the source of the man page).
pub fn command() -> Command {
    Command::new("memmap")
        .version(env!("CARGO_PKG_VERSION"))
        .about("Model a machine's memory blocks with sparsemem and show them as lsmem does")
        .long_about(
            "With no arguments, boots an embedded two-node x86-64 machine and tells its \
             hotplug story. Otherwise builds a map (the embedded machine at boot, a \
             /proc/iomem, a snapshot) or reads a sysfs tree, and prints its memory blocks \
             exactly as util-linux lsmem prints them, with lsmem's options.",
        )
        .after_help(columns_help())
        .args([
            path("iomem", "FILE", "Boot RAM from the top-level \"System RAM\" lines of a /proc/iomem"),
            path("node-dir", "DIR", "Each block's node from DIR/nodeN/memoryM (/sys/devices/system/node); default node 0").requires("iomem"),
            Arg::new("block-size").long("block-size").value_name("HEX").global(true).requires("iomem")
                .help("Memory block size as in block_size_bytes (default: the --verify-sysfs DIR's, else 8000000)"),
            path("load", "FILE", "Start from a snapshot written by --save"),
            path("sysroot", "DIR", "Read DIR/sys/devices/system/memory as lsmem --sysroot does").short('s'),
            path("save", "FILE", "Write the map's snapshot to FILE (after the script, with run)"),
            path("write-sysfs", "DIR", "Write the blocks as DIR/sys/devices/system/{memory,node}, which lsmem --sysroot DIR reads"),
            path("verify-sysfs", "DIR", "Compare every block (id, state, node, valid_zones) with DIR (/sys/devices/system/memory); exit 1 listing the differences as block ranges"),
            Arg::new("e820").long("e820").action(ArgAction::SetTrue).global(true)
                .help("The memory map as e820-style ranges: RAM online, RAM offline, device"),
            flag("all", 'a', "List each individual memory block"),
            flag("bytes", 'b', "Print SIZE in bytes rather than in human readable format"),
            flag("json", 'J', "Use JSON output format"),
            flag("noheadings", 'n', "Don't print headings"),
            Arg::new("output").short('o').long("output").value_name("LIST").global(true)
                .help("Output columns (+LIST appends to the default)"),
            Arg::new("output-all").long("output-all").action(ArgAction::SetTrue).global(true)
                .help("Output all columns"),
            flag("pairs", 'P', "Use key=\"value\" output format"),
            flag("raw", 'r', "Use raw output format"),
            Arg::new("split").short('S').long("split").value_name("LIST").global(true)
                .help("Split ranges by specified columns (or none)"),
            Arg::new("summary").long("summary").value_name("when").global(true)
                .num_args(0..=1).require_equals(true).default_missing_value("only")
                .value_parser(["never", "always", "only"])
                .help("Print summary information (never, always or only)"),
            Arg::new("generate-man").long("generate-man").value_name("DIR").hide(true)
                .value_parser(clap::value_parser!(PathBuf)),
        ])
        .group(ArgGroup::new("source").args(["iomem", "load", "sysroot"]))
        .group(ArgGroup::new("format").args(["json", "pairs", "raw", "e820"]))
        .subcommand(
            Command::new("run")
                .about("Apply a hotplug script to the map and print the blocks after each step")
                .arg(Arg::new("script").value_name("SCRIPT").required(true)
                    .value_parser(clap::value_parser!(PathBuf))
                    .help("One step per line: add-memory NODE START SIZE, remove-memory START SIZE, online BLOCK [kernel|movable], offline BLOCK, add-device NODE START SIZE, remove-device START SIZE, group-static NODE SIZE, group-dynamic NODE UNIT, remove-group GROUP, add-memory-ex NODE|none GROUP|none START SIZE [memmap], auto-online offline|online|online_kernel|online_movable, policy contig-zones|auto-movable [RATIO] [numa|no-numa], fake-offline START SIZE, fake-online START SIZE; # comments"))
                .arg(Arg::new("changes").long("changes").action(ArgAction::SetTrue)
                    .help("After each step print only the blocks that changed")),
        )
        .disable_help_subcommand(true)
}

/// lsmem's `-o`: `+LIST` appends to the current columns, LIST replaces them.
fn column_list(list: &str, current: &mut Vec<Column>) -> Result<(), Failure> {
    let (append, names) = match list.strip_prefix('+') {
        Some(rest) => (true, rest),
        None => (false, list),
    };
    let parsed = names
        .split(',')
        .map(Column::parse)
        .collect::<Result<Vec<_>, _>>()
        .map_err(Failure::usage)?;
    if !append {
        current.clear();
    }
    current.extend(parsed);
    // lsmem's fixed array holds each column twice.
    if current.len() > 2 * Column::ALL.len() {
        return Err(Failure::usage(format!(
            "too many columns specified, the limit is {} columns",
            2 * Column::ALL.len() - 1
        )));
    }
    Ok(())
}

/// The lsmem view of the options; -J, -P, -r and --summary apply in command-line
/// order, as lsmem's getopt loop applies them.
fn view(m: &ArgMatches) -> Result<View, Failure> {
    let mut v = View {
        all: m.get_flag("all"),
        bytes: m.get_flag("bytes"),
        noheadings: m.get_flag("noheadings"),
        ..View::default()
    };
    if m.get_flag("output-all") {
        v.columns = Column::ALL.to_vec();
    }
    if let Some(list) = m.get_one::<String>("output") {
        column_list(list, &mut v.columns)?;
    }
    let mut events: Vec<(usize, &str)> = Vec::new();
    for id in ["json", "pairs", "raw", "summary"] {
        // Flags have a default value too: only what the command line gave counts.
        if m.value_source(id) == Some(ValueSource::CommandLine) {
            events.extend(m.indices_of(id).into_iter().flatten().map(|i| (i, id)));
        }
    }
    events.sort_unstable();
    for (_, id) in events {
        match id {
            "json" => (v.format, v.summary) = (Format::Json, false),
            "pairs" => (v.format, v.summary) = (Format::Pairs, false),
            "raw" => (v.format, v.summary) = (Format::Raw, false),
            _ => match m.get_one::<String>("summary").map(String::as_str) {
                Some("never") => v.summary = false,
                Some("always") => v.summary = true,
                _ => v.table = false,
            },
        }
    }
    if !v.table && !v.summary {
        return Err(Failure::usage(
            "options --{raw,json,pairs} and --summary=only are mutually exclusive",
        ));
    }
    v.split = match m.get_one::<String>("split") {
        Some(_) if v.all => return Err(Failure::usage("--split and --all are mutually exclusive")),
        Some(s) if s.eq_ignore_ascii_case("none") => Vec::new(),
        Some(s) => {
            let mut split = Vec::new();
            column_list(s.trim_start_matches('+'), &mut split)?;
            split
        }
        None => v.columns.clone(),
    };
    Ok(v)
}

fn source(m: &ArgMatches) -> Result<Source, Failure> {
    let p = |id| m.get_one::<PathBuf>(id).cloned();
    if let Some(path) = p("load") {
        return Ok(Source::Snapshot(path));
    }
    if let Some(path) = p("sysroot") {
        return Ok(Source::Sysroot(path));
    }
    let Some(path) = p("iomem") else {
        return Ok(Source::Embedded);
    };
    let block_size = m
        .get_one::<String>("block-size")
        .map(|t| parse_block_size(t).map_err(|e| Failure::usage(format!("--block-size: {e}"))))
        .transpose()?;
    Ok(Source::Iomem {
        path,
        node_dir: p("node-dir"),
        block_size,
    })
}

/// Refuses what a sysfs tree read with --sysroot cannot do: it has no map.
fn check_sysroot(o: &Options) -> Result<(), Failure> {
    let mapless = o.save.is_some() || o.e820 || o.verify.is_some() || o.script.is_some();
    if matches!(o.source, Source::Sysroot(_)) && mapless {
        return Err(Failure::usage(
            "--sysroot reads blocks, not a map: it cannot be saved, exported (--e820), \
             verified or scripted; use --iomem or --load",
        ));
    }
    Ok(())
}

/// Parses the arguments (without the program name).
pub fn parse(args: &[OsString]) -> Result<Request, Failure> {
    if args.is_empty() {
        return Ok(Request::Story);
    }
    let argv = std::iter::once(OsString::from("memmap")).chain(args.iter().cloned());
    let m = match command().try_get_matches_from(argv) {
        Ok(m) => m,
        Err(e) if !e.use_stderr() => return Ok(Request::Print(e.render().to_string())),
        Err(e) => return Err(Failure::clap(e.render().to_string())),
    };
    if let Some(dir) = m.get_one::<PathBuf>("generate-man") {
        return Ok(Request::Print(crate::man::write(dir)?));
    }
    let (m, script) = match m.subcommand() {
        Some(("run", sub)) => {
            let file = sub
                .get_one::<PathBuf>("script")
                .cloned()
                .unwrap_or_default();
            (sub, Some((file, sub.get_flag("changes"))))
        }
        _ => (&m, None),
    };
    let o = Options {
        source: source(m)?,
        view: view(m)?,
        e820: m.get_flag("e820"),
        verify: m.get_one::<PathBuf>("verify-sysfs").cloned(),
        save: m.get_one::<PathBuf>("save").cloned(),
        write_sysfs: m.get_one::<PathBuf>("write-sysfs").cloned(),
        script,
    };
    check_sysroot(&o)?;
    Ok(Request::Run(Box::new(o)))
}
