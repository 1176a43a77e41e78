//! `switchboard keys …` and `switchboard plugin digest|sign`: making a
//! signing key and signing a bundle (see the `signing` module).

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use clap::Subcommand;

use switchboard::config::Config;
use switchboard::runtime::Manifest;
use switchboard::signing::{self, BundleDigest, SIGNATURE_FILE};

/// `switchboard keys`.
#[derive(Subcommand)]
pub enum KeysCommand {
    /// Make a signing key pair: `<name>.pub` (give it to the hosts that
    /// trust you) and `<name>.key` (unencrypted: keep it secret).
    Generate {
        /// File name without extension.
        #[arg(long, default_value = "switchboard-signing")]
        name: String,
        /// Directory to write them to.
        #[arg(long, default_value = ".")]
        out: PathBuf,
    },
    /// List the keys a config trusts, and the revoked ones.
    List {
        /// Config file.
        #[arg(long, env = "SWITCHBOARD_CONFIG")]
        config: Option<PathBuf>,
    },
}

/// `switchboard plugin`.
#[derive(Subcommand)]
pub enum PluginCommand {
    /// Print the statement a bundle's signature covers (sign it with the
    /// minisign tool: `minisign -S -m FILE -x DIR/plugin.minisig`).
    Digest {
        /// The bundle directory (`plugin.toml`, `plugin.wasm`).
        dir: PathBuf,
    },
    /// Sign a bundle: writes `plugin.minisig` into it.
    Sign {
        /// The bundle directory.
        dir: PathBuf,
        /// The secret key file (`keys generate` makes one).
        #[arg(long)]
        key: PathBuf,
    },
}

/// Runs `switchboard keys …`.
pub fn keys(command: KeysCommand) -> anyhow::Result<()> {
    match command {
        KeysCommand::Generate { name, out } => {
            let (public, secret) = signing::generate_keys(&name).map_err(anyhow::Error::msg)?;
            let (_, id) = signing::public_of(&secret).map_err(anyhow::Error::msg)?;
            std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
            let (pub_path, key_path) = (
                out.join(format!("{name}.pub")),
                out.join(format!("{name}.key")),
            );
            if key_path.exists() {
                bail!("{} exists: not overwriting a key", key_path.display());
            }
            write_secret(&key_path, &secret)?;
            std::fs::write(&pub_path, &public)
                .with_context(|| format!("writing {}", pub_path.display()))?;
            let line = public.lines().nth(1).unwrap_or_default();
            println!("key id {id}");
            println!("public key {} ({line})", pub_path.display());
            println!("secret key {} (keep it secret)", key_path.display());
            println!(
                "trust it in switchboard.toml:\n\n[[plugins.signing.keys]]\npublic_key = \"{line}\"\nowner = \"…\"\nnames = [\"…\"]"
            );
        }
        KeysCommand::List { config } => {
            let config = Config::load(config.as_deref(), std::env::vars(), &[])?;
            let signing = &config.plugins.signing;
            println!("policy {:?}", signing.policy);
            for key in &signing.keys {
                let id = signing::key_id_of(&key.public_key).map_err(anyhow::Error::msg)?;
                let names = if key.names.is_empty() {
                    "any name".into()
                } else {
                    key.names.join(",")
                };
                let kinds = if key.kinds.is_empty() {
                    "any kind".into()
                } else {
                    key.kinds.join(",")
                };
                let expires = key.expires.map_or("never".into(), |d| d.to_string());
                let revoked = if signing.revoked.iter().any(|r| r.eq_ignore_ascii_case(&id)) {
                    " REVOKED"
                } else {
                    ""
                };
                println!(
                    "{id} {:<16} {names} / {kinds}, expires {expires}{revoked}",
                    key.owner
                );
            }
        }
    }
    Ok(())
}

/// Runs `switchboard plugin digest|sign`.
pub fn plugin(command: PluginCommand) -> anyhow::Result<()> {
    match command {
        PluginCommand::Digest { dir } => print!("{}", digest(&dir)?.statement()),
        PluginCommand::Sign { dir, key } => {
            let digest = digest(&dir)?;
            let secret = std::fs::read_to_string(&key)
                .with_context(|| format!("reading {}", key.display()))?;
            let signature = signing::sign(&digest, &secret).map_err(anyhow::Error::msg)?;
            let (_, id) = signing::public_of(&secret).map_err(anyhow::Error::msg)?;
            let path = dir.join(SIGNATURE_FILE);
            std::fs::write(&path, signature)
                .with_context(|| format!("writing {}", path.display()))?;
            println!(
                "signed {} {} with key {id}: {}",
                digest.name,
                digest.version,
                path.display()
            );
        }
    }
    Ok(())
}

/// The digest of the bundle in `dir`; its name is the directory's.
fn digest(dir: &Path) -> anyhow::Result<BundleDigest> {
    let name = dir
        .canonicalize()
        .with_context(|| format!("no bundle at {}", dir.display()))?
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let manifest_path = dir.join("plugin.toml");
    let manifest_bytes = std::fs::read(&manifest_path)
        .with_context(|| format!("reading {}", manifest_path.display()))?;
    let text = String::from_utf8_lossy(&manifest_bytes);
    let manifest = Manifest::parse(&name, &text)
        .map_err(|e| anyhow::anyhow!("{}: {e}", manifest_path.display()))?;
    let wasm_path = dir.join("plugin.wasm");
    let wasm =
        std::fs::read(&wasm_path).with_context(|| format!("reading {}", wasm_path.display()))?;
    Ok(BundleDigest::of(
        &name,
        &manifest.version,
        &manifest.kind.to_string(),
        &manifest.api,
        &manifest_bytes,
        &wasm,
    ))
}

/// Writes a secret key readable by its owner only.
fn write_secret(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
