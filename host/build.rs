//! Builds the first-party plugins (the `plugins/` workspace) for
//! `wasm32-wasip2` and embeds their bundles (`plugin.toml` + `plugin.wasm`)
//! in the host, the way wasmtime's `crates/test-programs/artifacts` and Spin's
//! `tests/test-components` build their guests.
//!
//! The wasm build uses its own target directory beside the host's (so the two
//! cargo invocations never wait on each other's lock) and is shared by debug
//! and release host builds. Its output directory is passed to dependents as
//! `DEP_SWITCHBOARD_PLUGINS_WASM_DIR` (see `links` in Cargo.toml), which the
//! test crate uses to find the test-only plugins.

use std::env;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

const WASM_TARGET: &str = "wasm32-wasip2";

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest_dir.parent().unwrap().to_path_buf();
    let out_dir = PathBuf::from(env::var("OUT_DIR").unwrap());
    for watched in ["plugins", "sdk", "wit"] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }

    ensure_wasm_target();
    // `SWITCHBOARD_WASM_TARGET_DIR` lets another build of the host (the
    // fuzz build, with a target dir of its own) reuse the plugins the test
    // build made: they are built with the same clean flags either way.
    println!("cargo:rerun-if-env-changed=SWITCHBOARD_WASM_TARGET_DIR");
    let target_dir = env::var_os("SWITCHBOARD_WASM_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| cargo_target_dir(&out_dir).join("wasm-plugins"));
    let wasm_dir = build_plugins(&root.join("plugins"), &target_dir);
    println!("cargo:wasm_dir={}", wasm_dir.display());
    // For this package's own integration tests (the CLI tests). Not
    // `SWITCHBOARD_*`: cargo also sets it for `cargo run`, and the host reads
    // that prefix as settings.
    println!("cargo:rustc-env=PLUGINS_WASM_DIR={}", wasm_dir.display());
    embed_bundles(&root.join("plugins"), &wasm_dir, &out_dir);
    let ui = manifest_dir.join("ui");
    println!("cargo:rerun-if-changed={}", ui.display());
    embed_ui(&ui, &out_dir);
}

/// Writes `ui.rs`: every file of `host/ui/` (the web UI's static assets)
/// with its content type, served at `/` and `/ui/<file>`.
fn embed_ui(ui: &Path, out_dir: &Path) {
    let mut files: Vec<PathBuf> = std::fs::read_dir(ui)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file())
                .filter(|p| {
                    !p.file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with('.'))
                })
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    let mut code = String::from(
        "/// The web UI's files: name, content type, bytes.\npub static FILES: &[(&str, &str, &[u8])] = &[\n",
    );
    for path in files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let content_type = match path.extension().and_then(|e| e.to_str()) {
            Some("html") => "text/html; charset=utf-8",
            Some("js" | "mjs") => "text/javascript; charset=utf-8",
            Some("css") => "text/css; charset=utf-8",
            Some("svg") => "image/svg+xml",
            Some("json") => "application/json",
            Some("png") => "image/png",
            Some("ico") => "image/x-icon",
            _ => "application/octet-stream",
        };
        writeln!(
            code,
            "    ({name:?}, {content_type:?}, include_bytes!({:?})),",
            path.display().to_string()
        )
        .unwrap();
    }
    code.push_str("];\n");
    std::fs::write(out_dir.join("ui.rs"), code).expect("writing ui.rs");
}

/// Installs the wasm target with rustup when the toolchain lacks it.
fn ensure_wasm_target() {
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let sysroot = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    if sysroot.is_some_and(|s| s.join("lib/rustlib").join(WASM_TARGET).exists()) {
        return;
    }
    let mut rustup = Command::new("rustup");
    rustup.args(["target", "add", WASM_TARGET]);
    if let Ok(toolchain) = env::var("RUSTUP_TOOLCHAIN") {
        rustup.args(["--toolchain", &toolchain]);
    }
    match rustup.status() {
        Ok(status) if status.success() => {}
        Ok(status) => panic!(
            "`rustup target add {WASM_TARGET}` failed ({status}); the first-party plugins cannot be built"
        ),
        Err(e) => panic!(
            "the Rust target {WASM_TARGET} is not installed and rustup is not available ({e}). \
             Install the target for this toolchain (e.g. `rustup target add {WASM_TARGET}`) and build again."
        ),
    }
}

/// The cargo target directory: the nearest ancestor of OUT_DIR holding the
/// `CACHEDIR.TAG` cargo writes at its root.
fn cargo_target_dir(out_dir: &Path) -> PathBuf {
    out_dir
        .ancestors()
        .find(|p| p.join("CACHEDIR.TAG").exists())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| out_dir.join("target"))
}

/// Runs `cargo build --release --target wasm32-wasip2` on the plugins
/// workspace and returns the directory holding the `.wasm` files.
fn build_plugins(plugins: &Path, target_dir: &Path) -> PathBuf {
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.arg("build")
        .arg("--release")
        .arg("--workspace")
        .arg("--target")
        .arg(WASM_TARGET)
        .arg("--manifest-path")
        .arg(plugins.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(target_dir);
    // The outer build's settings (profile, flags, clippy's wrapper...) are
    // for the host, not for the guests.
    for (key, _) in env::vars() {
        let keep = matches!(key.as_str(), "CARGO_HOME" | "CARGO_NET_OFFLINE")
            || key.starts_with("CARGO_REGISTRIES_")
            || key.starts_with("CARGO_HTTP_");
        let host_only = key.starts_with("CARGO_")
            || matches!(
                key.as_str(),
                "RUSTFLAGS"
                    | "RUSTDOCFLAGS"
                    | "RUSTC_WRAPPER"
                    | "RUSTC_WORKSPACE_WRAPPER"
                    | "CLIPPY_ARGS"
                    | "CLIPPY_CONF_DIR"
                    | "TARGET"
                    | "HOST"
                    | "PROFILE"
                    | "OPT_LEVEL"
                    | "DEBUG"
                    | "NUM_JOBS"
                    | "OUT_DIR"
            );
        if host_only && !keep {
            cmd.env_remove(&key);
        }
    }
    let output = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run cargo to build the plugins: {e}"));
    if !output.status.success() {
        panic!(
            "building the plugins workspace for {WASM_TARGET} failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    target_dir.join(WASM_TARGET).join("release")
}

/// Writes `bundles.rs`: every direct child of `plugins/` that holds a
/// `plugin.toml` (test-only plugins live under `plugins/testing/`).
fn embed_bundles(plugins: &Path, wasm_dir: &Path, out_dir: &Path) {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(plugins)
        .expect("reading plugins/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("plugin.toml").is_file() && p.join("Cargo.toml").is_file())
        .collect();
    dirs.sort();
    let mut code = String::from(
        "/// The first-party plugin bundles, built by build.rs.\npub static BUNDLES: &[Bundle] = &[\n",
    );
    for dir in dirs {
        let manifest_text = std::fs::read_to_string(dir.join("plugin.toml")).unwrap();
        let manifest: toml::Table = toml::from_str(&manifest_text)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.join("plugin.toml").display()));
        let name = manifest["name"]
            .as_str()
            .expect("plugin.toml name")
            .to_string();
        let cargo: toml::Table =
            toml::from_str(&std::fs::read_to_string(dir.join("Cargo.toml")).unwrap()).unwrap();
        let package = cargo["package"]["name"].as_str().unwrap().replace('-', "_");
        let wasm = wasm_dir.join(format!("{package}.wasm"));
        let bundle_dir = out_dir.join("bundles").join(&name);
        std::fs::create_dir_all(&bundle_dir).unwrap();
        std::fs::copy(&wasm, bundle_dir.join("plugin.wasm"))
            .unwrap_or_else(|e| panic!("copying {}: {e}", wasm.display()));
        std::fs::write(bundle_dir.join("plugin.toml"), &manifest_text).unwrap();
        writeln!(
            code,
            "    Bundle {{ name: {name:?}, manifest: include_str!({:?}), wasm: include_bytes!({:?}) }},",
            bundle_dir.join("plugin.toml"),
            bundle_dir.join("plugin.wasm"),
        )
        .unwrap();
    }
    code.push_str("];\n");
    std::fs::write(out_dir.join("bundles.rs"), code).unwrap();
}
