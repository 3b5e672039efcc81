//! memmap as a process: output it cannot write (a closed pipe, a full device) and a
//! failing script step end with a message and a nonzero status, never a panic or a
//! signal.

use std::fs::OpenOptions;
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_memmap");
const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_closed_pipe_exits_1_with_a_message() {
    // The reading end is closed before memmap starts: its first write gets EPIPE.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = Command::new(BIN)
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).starts_with("memmap: cannot write the output: Broken pipe"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_full_device_exits_1_with_a_message() {
    let Ok(full) = OpenOptions::new().write(true).open("/dev/full") else {
        eprintln!("SKIPPED: no /dev/full on this system");
        return;
    };
    let out = Command::new(BIN)
        .stdout(full)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("No space left on device"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_refused_script_step_names_its_line_and_saves_nothing() {
    let dir = std::env::temp_dir().join(format!("memmap-script-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("bad.script");
    let snap = dir.join("never.snap");
    // Block 23 holds firmware-reserved holes: Linux refuses to offline it.
    std::fs::write(&script, "offline 40\n\n# then\noffline 23\n").unwrap();
    let out = Command::new(BIN)
        .args([
            "run",
            script.to_str().unwrap(),
            "--save",
            snap.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let msg = stderr(&out);
    assert!(
        msg.starts_with(&format!("memmap: {}:4: `offline 23`: ", script.display())),
        "{msg}"
    );
    assert!(!snap.exists());
    let out = Command::new(BIN)
        .args(["run", &format!("{DATA}/hotplug.script"), "--changes"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("~ memory64: offline node1 \"Normal Movable\" -> online node1 \"Movable\"\n"),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(dir);
}
