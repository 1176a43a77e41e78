//! Signed plugin bundles: what is signed, and who is trusted to sign it.
//!
//! A bundle's signature covers a short text statement of its digests —
//! its name, version, kind and contract, and the SHA-256 of `plugin.toml`
//! and of `plugin.wasm` ([`BundleDigest::statement`]) — so editing either
//! file (say, widening `outbound_http` in the manifest) breaks it. The
//! signature is a minisign signature (Ed25519) of that statement, in
//! `plugin.minisig` beside the bundle's files: `switchboard plugin sign`
//! makes one, and so does the `minisign` tool
//! (`switchboard plugin digest DIR > stmt && minisign -S -m stmt -x DIR/plugin.minisig`).
//!
//! Trust ([`crate::config::SigningConfig`]) is a list of minisign public
//! keys, each limited to plugin names and kinds and an expiry, and a list
//! of revoked key ids. The first-party bundles embedded in the binary are
//! trusted by their digests.

use std::io::Cursor;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::config::{SigningConfig, TrustedKey};

/// The signature file in a bundle directory.
pub const SIGNATURE_FILE: &str = "plugin.minisig";

/// What a bundle's signature covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleDigest {
    /// The plugin's name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// Its kind (`channel`, `bot`...).
    pub kind: String,
    /// The contract it was built against.
    pub api: String,
    /// SHA-256 of `plugin.toml`, hex.
    pub manifest_sha256: String,
    /// SHA-256 of `plugin.wasm`, hex.
    pub component_sha256: String,
}

impl BundleDigest {
    /// The digest of a bundle from its files and manifest fields.
    pub fn of(
        name: &str,
        version: &str,
        kind: &str,
        api: &str,
        manifest: &[u8],
        wasm: &[u8],
    ) -> Self {
        BundleDigest {
            name: name.to_string(),
            version: version.to_string(),
            kind: kind.to_string(),
            api: api.to_string(),
            manifest_sha256: hex::encode(Sha256::digest(manifest)),
            component_sha256: hex::encode(Sha256::digest(wasm)),
        }
    }

    /// The text that is signed: one `field value` line each.
    pub fn statement(&self) -> String {
        format!(
            "switchboard-plugin-bundle 1\nname {}\nversion {}\nkind {}\napi {}\nmanifest-sha256 {}\ncomponent-sha256 {}\n",
            self.name,
            self.version,
            self.kind,
            self.api,
            self.manifest_sha256,
            self.component_sha256
        )
    }
}

/// What verification found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Verdict {
    /// A first-party bundle, byte for byte as embedded in this binary.
    FirstParty,
    /// Signed by a trusted key.
    Signed {
        /// The key id (16 hex digits).
        key_id: String,
        /// The key's owner, from the trust store.
        owner: String,
    },
    /// No signature file.
    Unsigned,
    /// A signature that does not make the bundle trusted, and why.
    Untrusted {
        /// Why (an unknown, revoked or expired key, a key not allowed this
        /// name or kind, files changed after signing).
        reason: String,
    },
    /// Signatures are not checked (`policy = "off"`).
    NotChecked,
}

impl Verdict {
    /// Whether the bundle is trusted.
    pub fn trusted(&self) -> bool {
        matches!(self, Verdict::FirstParty | Verdict::Signed { .. })
    }

    /// Why a bundle is not trusted, for an error or a warning.
    pub fn problem(&self) -> Option<String> {
        match self {
            Verdict::Unsigned => Some(format!("the bundle is not signed (no {SIGNATURE_FILE})")),
            Verdict::Untrusted { reason } => Some(reason.clone()),
            _ => None,
        }
    }
}

/// The id minisign prints for a key number (little-endian, 16 hex digits).
pub fn key_id(keynum: &[u8]) -> String {
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&keynum[..8]);
    format!("{:016X}", u64::from_le_bytes(bytes))
}

/// Whether `name` matches a pattern: exact, or a prefix ending in `*`.
fn name_allowed(patterns: &[String], name: &str) -> bool {
    patterns.is_empty()
        || patterns.iter().any(|p| match p.strip_suffix('*') {
            Some(prefix) => name.starts_with(prefix),
            None => p == name,
        })
}

fn public_key(key: &TrustedKey) -> Result<minisign::PublicKey, String> {
    key.minisign_key()
}

/// The id of a trust-store public key.
pub fn key_id_of(public: &str) -> Result<String, String> {
    let key = TrustedKey {
        public_key: public.to_string(),
        owner: String::new(),
        names: Vec::new(),
        kinds: Vec::new(),
        expires: None,
    };
    public_key(&key).map(|pk| key_id(pk.keynum()))
}

/// Checks the trusted keys parse; the message of the first that does not.
pub fn check_keys(config: &SigningConfig) -> Result<(), String> {
    config.keys.iter().try_for_each(|k| public_key(k).map(drop))
}

/// Verifies `signature` (the text of `plugin.minisig`, if any) of the
/// bundle `digest` against the trust store, on `today`. `first_party`
/// says whether the digests are those of a bundle embedded in the binary.
pub fn verify(
    config: &SigningConfig,
    digest: &BundleDigest,
    signature: Option<&str>,
    first_party: bool,
    today: chrono::NaiveDate,
) -> Verdict {
    if first_party {
        return Verdict::FirstParty;
    }
    let Some(signature) = signature else {
        return Verdict::Unsigned;
    };
    let untrusted = |reason: String| Verdict::Untrusted { reason };
    let sig = match minisign::SignatureBox::from_string(signature) {
        Ok(sig) => sig,
        Err(e) => return untrusted(format!("{SIGNATURE_FILE} is not a minisign signature: {e}")),
    };
    let id = key_id(sig.keynum());
    if config.revoked.iter().any(|r| r.eq_ignore_ascii_case(&id)) {
        return untrusted(format!("signed by key {id}, which is revoked"));
    }
    let Some((key, pk)) = config.keys.iter().find_map(|k| {
        let pk = public_key(k).ok()?;
        (key_id(pk.keynum()) == id).then_some((k, pk))
    }) else {
        return untrusted(format!("signed by key {id}, which is not a trusted key"));
    };
    if let Some(expires) = key.expires
        && today > expires
    {
        return untrusted(format!("signed by key {id}, which expired on {expires}"));
    }
    if !name_allowed(&key.names, &digest.name) {
        return untrusted(format!(
            "key {id} may sign {}, not `{}`",
            key.names.join(", "),
            digest.name
        ));
    }
    if !key.kinds.is_empty() && !key.kinds.contains(&digest.kind) {
        return untrusted(format!(
            "key {id} may sign {} plugins, not a {}",
            key.kinds.join(", "),
            digest.kind
        ));
    }
    let statement = digest.statement();
    match minisign::verify(
        &pk,
        &sig,
        Cursor::new(statement.as_bytes()),
        true,
        false,
        false,
    ) {
        Ok(()) => Verdict::Signed {
            key_id: id,
            owner: key.owner.clone(),
        },
        Err(_) => untrusted(format!(
            "the signature by key {id} does not match the bundle: plugin.toml, plugin.wasm, the name, version, kind or api changed after signing"
        )),
    }
}

/// A new key pair: the public key file's text and the secret key file's
/// (unencrypted: keep it like a password).
pub fn generate_keys(comment: &str) -> Result<(String, String), String> {
    let pair = minisign::KeyPair::generate_unencrypted_keypair().map_err(|e| e.to_string())?;
    let public = pair.pk.to_box().map_err(|e| e.to_string())?.to_string();
    let secret = pair
        .sk
        .to_box(Some(comment))
        .map_err(|e| e.to_string())?
        .to_string();
    Ok((public, secret))
}

/// The public key (base64 line) and id of a secret key file's text.
pub fn public_of(secret: &str) -> Result<(String, String), String> {
    let sk = secret_key(secret)?;
    let pk = minisign::PublicKey::from_secret_key(&sk).map_err(|e| e.to_string())?;
    Ok((pk.to_base64(), key_id(pk.keynum())))
}

fn secret_key(secret: &str) -> Result<minisign::SecretKey, String> {
    let sk_box = minisign::SecretKeyBox::from_string(secret)
        .map_err(|e| format!("not a minisign secret key: {e}"))?;
    sk_box
        .into_unencrypted_secret_key()
        .map_err(|e| format!("cannot use this secret key (a password-protected one? sign with the minisign tool): {e}"))
}

/// Signs the statement of `digest` with a secret key file's text; returns
/// the text of `plugin.minisig`.
pub fn sign(digest: &BundleDigest, secret: &str) -> Result<String, String> {
    let sk = secret_key(secret)?;
    let trusted = format!("switchboard plugin {} {}", digest.name, digest.version);
    let sig = minisign::sign(
        None,
        &sk,
        Cursor::new(digest.statement().into_bytes()),
        Some(&trusted),
        Some("signature of a switchboard plugin bundle"),
    )
    .map_err(|e| e.to_string())?;
    Ok(sig.into_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(manifest: &str) -> BundleDigest {
        BundleDigest::of(
            "acme-crm",
            "1.0.0",
            "crm",
            "0.2",
            manifest.as_bytes(),
            b"\0asm",
        )
    }

    fn trusting(public: &str) -> SigningConfig {
        SigningConfig {
            keys: vec![TrustedKey {
                public_key: public.to_string(),
                owner: "Acme".into(),
                names: vec!["acme-*".into()],
                kinds: vec!["crm".into()],
                expires: chrono::NaiveDate::from_ymd_opt(2027, 1, 31),
            }],
            ..SigningConfig::default()
        }
    }

    fn day(y: i32, m: u32, d: u32) -> chrono::NaiveDate {
        chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn a_signature_holds_for_its_bundle_and_key_only() {
        let (public, secret) = generate_keys("test key").unwrap();
        let (_, id) = public_of(&secret).unwrap();
        let d = digest("name = \"acme-crm\"\n");
        let sig = sign(&d, &secret).unwrap();
        let today = day(2026, 12, 2);
        let config = trusting(&public);
        assert!(check_keys(&config).is_ok());
        assert_eq!(
            verify(&config, &d, Some(&sig), false, today),
            Verdict::Signed {
                key_id: id.clone(),
                owner: "Acme".into()
            }
        );
        let problem = |v: Verdict| v.problem().unwrap();
        // The manifest edited after signing.
        let widened = digest("name = \"acme-crm\"\n[capabilities]\noutbound_http = [\"*\"]\n");
        assert!(
            problem(verify(&config, &widened, Some(&sig), false, today))
                .contains("changed after signing")
        );
        // The same bundle under another version.
        let mut bumped = d.clone();
        bumped.version = "1.0.1".into();
        assert!(
            problem(verify(&config, &bumped, Some(&sig), false, today))
                .contains("changed after signing")
        );
        assert!(problem(verify(&config, &d, None, false, today)).contains("not signed"));
        assert!(
            problem(verify(&config, &d, Some("junk"), false, today))
                .contains("not a minisign signature")
        );
        // Expired, revoked, unknown, outside its names and kinds.
        assert!(
            problem(verify(&config, &d, Some(&sig), false, day(2027, 2, 1)))
                .contains("expired on 2027-01-31")
        );
        let mut revoked = config.clone();
        revoked.revoked = vec![id.to_lowercase()];
        assert!(problem(verify(&revoked, &d, Some(&sig), false, today)).contains("revoked"));
        let (other, _) = generate_keys("other").unwrap();
        assert!(
            problem(verify(&trusting(&other), &d, Some(&sig), false, today))
                .contains("not a trusted key")
        );
        let mut elsewhere = d.clone();
        elsewhere.name = "rival-crm".into();
        let sig2 = sign(&elsewhere, &secret).unwrap();
        assert!(
            problem(verify(&config, &elsewhere, Some(&sig2), false, today))
                .contains("may sign acme-*")
        );
        let mut bot = d.clone();
        bot.kind = "bot".into();
        let sig3 = sign(&bot, &secret).unwrap();
        assert!(
            problem(verify(&config, &bot, Some(&sig3), false, today))
                .contains("crm plugins, not a bot")
        );
        // First-party bundles need no signature.
        assert_eq!(verify(&config, &d, None, true, today), Verdict::FirstParty);
    }

    #[test]
    fn a_public_key_file_or_its_line_is_accepted_and_junk_is_not() {
        let (public, _) = generate_keys("k").unwrap();
        assert!(public.starts_with("untrusted comment:"), "{public}");
        let line = public.lines().nth(1).unwrap();
        for form in [public.as_str(), line] {
            assert!(check_keys(&trusting(form)).is_ok(), "{form}");
        }
        assert!(check_keys(&trusting("RWQnot-a-key")).is_err());
    }
}
