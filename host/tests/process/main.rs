//! The `switchboard` binary as a process: its command line, serving and
//! shutdown (`cli`), and durability under `kill -9` (`crash`). One test
//! binary of the host package, which alone gets `CARGO_BIN_EXE_switchboard`.
//!
//! Run one area with `cargo test --test process cli::` (from the workspace
//! root: `-p switchboard` would rebuild the host with other features).

mod cli;
mod crash;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The `switchboard` binary cargo built for these tests.
const BIN: &str = env!("CARGO_BIN_EXE_switchboard");

/// The compiled `.wasm` of a plugin crate in `plugins/`.
fn wasm(package: &str) -> PathBuf {
    Path::new(env!("PLUGINS_WASM_DIR")).join(format!("{}.wasm", package.replace('-', "_")))
}

/// Writes a bundle (`plugin.toml` + `plugin.wasm`) into a plugins directory.
fn bundle(dir: &Path, name: &str, manifest: &str, wasm_file: &Path) {
    let d = dir.join(name);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("plugin.toml"), manifest).unwrap();
    std::fs::copy(wasm_file, d.join("plugin.wasm")).unwrap();
}

/// A command with no SWITCHBOARD_* settings leaking in from the environment.
fn switchboard() -> Command {
    let mut cmd = Command::new(BIN);
    for (key, _) in std::env::vars() {
        if key.starts_with("SWITCHBOARD_") {
            cmd.env_remove(key);
        }
    }
    cmd
}

/// A port nothing listens on.
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// Polls `GET /healthz` until the host answers 200 (60 s at most).
fn wait_healthy(port: u16) {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(60) {
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            use std::io::{Read, Write};
            s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .unwrap();
            let mut response = String::new();
            let _ = s.read_to_string(&mut response);
            if response.contains("200 OK") && response.contains("\"ok\"") {
                return;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("host never became healthy");
}
