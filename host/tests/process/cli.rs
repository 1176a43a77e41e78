//! The `switchboard` binary: `plugins` listing, config errors, serving and
//! graceful shutdown.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{BIN, bundle, free_port, switchboard, wait_healthy, wasm};

fn router_manifest(name: &str) -> String {
    format!("name = \"{name}\"\nversion = \"1.2.3\"\nkind = \"router\"\napi = \"0.4\"\n")
}

#[test]
fn plugins_command_lists_bundles_and_whether_each_loads() {
    let dir = tempfile::tempdir().unwrap();
    bundle(
        dir.path(),
        "good-router",
        &router_manifest("good-router"),
        &wasm("longest-idle"),
    );
    bundle(
        dir.path(),
        "wrong-world",
        &router_manifest("wrong-world").replace("router", "channel"),
        &wasm("longest-idle"),
    );
    bundle(
        dir.path(),
        "bad-name",
        &router_manifest("other"),
        &wasm("longest-idle"),
    );
    let out = switchboard()
        .args(["plugins", "--plugins-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(2),
        "broken bundles make it exit 2\n{stdout}"
    );
    let line = |name: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("{name} not listed:\n{stdout}"))
            .to_string()
    };
    let good = line("good-router");
    assert!(
        good.contains("1.2.3") && good.contains("router") && good.ends_with("ok"),
        "{good}"
    );
    assert!(
        line("wrong-world").contains("does not implement the `channel` world"),
        "{stdout}"
    );
    let bad = line("bad-name");
    assert!(
        bad.contains("plugin.toml") && bad.contains("does not match"),
        "{bad}"
    );

    let only_good = tempfile::tempdir().unwrap();
    bundle(
        only_good.path(),
        "good-router",
        &router_manifest("good-router"),
        &wasm("longest-idle"),
    );
    let out = switchboard()
        .args(["plugins", "--plugins-dir"])
        .arg(only_good.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn a_bad_config_file_is_a_clear_startup_error() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("switchboard.toml");
    std::fs::write(
        &config,
        "listen = \"127.0.0.1:0\"\n[runtime]\npooling = \"maybe\"\n",
    )
    .unwrap();
    let out = switchboard()
        .arg("--config")
        .arg(&config)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("switchboard.toml")
            && stderr.contains("line 3")
            && stderr.contains("pooling"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        !dir.path().join("data").exists(),
        "nothing is created on a config error"
    );
}

/// `cargo run` gives the binary the environment `cargo test` gives this
/// test, build scripts' `rustc-env` variables included: the host must start
/// in it (it once took such a variable for an unknown setting and refused).
#[test]
fn starts_in_the_environment_cargo_run_gives_it() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = Command::new(BIN)
        .current_dir(dir.path())
        .env("SWITCHBOARD_LISTEN", format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(60) {
        if let Some(status) = child.try_wait().unwrap() {
            let mut stderr = String::new();
            std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
            panic!("the host exited ({status}): {stderr}");
        }
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    wait_healthy(port);
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn serve_uses_flags_env_and_defaults_and_shuts_down_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = switchboard()
        .current_dir(dir.path())
        .env("SWITCHBOARD_LISTEN", format!("127.0.0.1:{port}"))
        .env("SWITCHBOARD_RUNTIME__MAX_INSTANCES", "32")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    wait_healthy(port);
    // Default data dir, relative to the working directory, with a generated
    // admin token printed once.
    let token_file = dir.path().join("switchboard-data/admin-token");
    assert!(token_file.exists());
    assert!(
        dir.path()
            .join("switchboard-data/plugins/longest-idle/plugin.wasm")
            .exists()
    );

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "{exit:?}");
    let mut stdout = String::new();
    use std::io::Read;
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    let token = std::fs::read_to_string(&token_file).unwrap();
    assert!(
        stdout.contains(token.trim()),
        "the generated token is printed: {stdout}"
    );
    // A first run says where to go and what to do next.
    assert!(
        stdout.contains(&format!("Open http://127.0.0.1:{port}/ in a browser")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("http://127.0.0.1:{port}/webhooks/webchat/demo")),
        "{stdout}"
    );
    assert!(stdout.contains("create an agent"), "{stdout}");
}

/// `examples/demo.sh` drives the cross-channel story with curl against a
/// host started from `examples/switchboard.toml`, signatures included.
#[test]
fn the_demo_script_tells_the_cross_channel_story() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for tool in ["bash", "curl", "jq", "openssl"] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .status()
            .is_ok_and(|s| s.success());
        assert!(found, "the demo needs `{tool}` (.ci/run installs it)");
    }
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = switchboard()
        .current_dir(dir.path())
        .arg("--config")
        .arg(root.join("examples/switchboard.toml"))
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .env("SWITCHBOARD_ADMIN_TOKEN", "demo-admin-token")
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_healthy(port);
    let out = Command::new("bash")
        .arg(root.join("examples/demo.sh"))
        .env("BASE", format!("http://127.0.0.1:{port}"))
        .env("SWITCHBOARD_ADMIN_TOKEN", "demo-admin-token")
        .output()
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "demo failed:\n{stdout}\n{stderr}");
    assert!(
        stdout.contains("channels: email,sms,voice,webchat,whatsapp"),
        "{stdout}"
    );
}

#[test]
fn rebuild_stats_recomputes_the_totals_of_a_stopped_host() {
    let dir = tempfile::tempdir().unwrap();
    let out = switchboard()
        .arg("rebuild-stats")
        .arg("--data-dir")
        .arg(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("rebuilt the totals of 0 finished tasks"),
        "{stdout}"
    );
    let help = switchboard().arg("--help").output().unwrap();
    assert!(String::from_utf8_lossy(&help.stdout).contains("rebuild-stats"));
}

#[test]
fn keys_generate_and_plugin_sign_make_a_signature_the_host_trusts() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    let out = switchboard()
        .args(["keys", "generate", "--name", "acme", "--out"])
        .arg(&keys)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("[[plugins.signing.keys]]"), "{stdout}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(keys.join("acme.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "the secret key is readable by others");
    }
    // A second run does not overwrite the key.
    let again = switchboard()
        .args(["keys", "generate", "--name", "acme", "--out"])
        .arg(&keys)
        .output()
        .unwrap();
    assert!(!again.status.success());

    let plugins = dir.path().join("plugins");
    bundle(
        &plugins,
        "acme-router",
        &router_manifest("acme-router"),
        &wasm("longest-idle"),
    );
    let bundle_dir = plugins.join("acme-router");
    let digest = switchboard()
        .args(["plugin", "digest"])
        .arg(&bundle_dir)
        .output()
        .unwrap();
    let statement = String::from_utf8_lossy(&digest.stdout).into_owned();
    assert!(
        statement.contains("name acme-router\nversion 1.2.3\nkind router\n"),
        "{statement}"
    );
    let signed = switchboard()
        .args(["plugin", "sign"])
        .arg(&bundle_dir)
        .arg("--key")
        .arg(keys.join("acme.key"))
        .output()
        .unwrap();
    assert!(
        signed.status.success(),
        "{}",
        String::from_utf8_lossy(&signed.stderr)
    );

    // The host, requiring signatures from that key, lists the bundle as loading.
    let public = std::fs::read_to_string(keys.join("acme.pub")).unwrap();
    let config = dir.path().join("switchboard.toml");
    std::fs::write(
        &config,
        format!(
            "[plugins.signing]\npolicy = \"require\"\n[[plugins.signing.keys]]\npublic_key = {:?}\nnames = [\"acme-*\"]\n",
            public.lines().nth(1).unwrap()
        ),
    )
    .unwrap();
    let list = |config: &Path| {
        let out = switchboard()
            .args(["plugins", "--plugins-dir"])
            .arg(&plugins)
            .arg("--config")
            .arg(config)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (ok, listing) = list(&config);
    assert!(ok, "{listing}");
    // Edited after signing: refused.
    let toml = bundle_dir.join("plugin.toml");
    let edited = std::fs::read_to_string(&toml).unwrap() + "description = \"changed\"\n";
    std::fs::write(&toml, edited).unwrap();
    let (ok, listing) = list(&config);
    assert!(
        !ok && listing.contains("changed after signing"),
        "{listing}"
    );
    // A key that is not a key is a config error naming it.
    std::fs::write(
        &config,
        "[[plugins.signing.keys]]\npublic_key = \"RWQnope\"\n",
    )
    .unwrap();
    let out = switchboard()
        .args(["keys", "list", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("not a minisign public key"),
        "{stderr}"
    );
}
