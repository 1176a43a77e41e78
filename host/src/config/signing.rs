//! `[plugins.signing]`: which plugin bundles the host trusts — the policy,
//! the trusted keys (minisign public keys, each limited to some plugin
//! names and kinds and an expiry) and revoked key ids.
//!
//! It lives in the `[plugins]` table beside the per-plugin settings, so the
//! name `signing` is reserved there; [`Plugins`] reads the table key by key
//! (no `#[serde(flatten)]`, which would lose the line numbers of errors in
//! plugin settings).

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use super::PluginSettings;

/// What the host does with a bundle that is not signed by a trusted key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SigningPolicy {
    /// Refuse it: the previous version keeps serving.
    Require,
    /// Load it and say so (log, `/api/plugins`, a metric): the default, so
    /// a fresh install loads what its admin copies in.
    #[default]
    Warn,
    /// Do not check signatures.
    Off,
}

/// One trusted signing key.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TrustedKey {
    /// The minisign public key: the base64 line of a `.pub` file
    /// (`RW…`), or the whole file.
    #[serde(deserialize_with = "minisign_public_key")]
    pub public_key: String,
    /// Who it is, for the admin (shown with refusals).
    #[serde(default)]
    pub owner: String,
    /// Plugin names it may sign: exact, or a prefix ending in `*`. Empty:
    /// any.
    #[serde(default)]
    pub names: Vec<String>,
    /// Plugin kinds it may sign (`channel`, `bot`, `crm`, `router`...).
    /// Empty: any.
    #[serde(default)]
    pub kinds: Vec<String>,
    /// The last day (UTC, `YYYY-MM-DD`) bundles it signed load.
    #[serde(default)]
    pub expires: Option<chrono::NaiveDate>,
}

/// A public key that parses, or the config error naming its line.
fn minisign_public_key<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let text = String::deserialize(d)?;
    let key = TrustedKey {
        public_key: text,
        owner: String::new(),
        names: Vec::new(),
        kinds: Vec::new(),
        expires: None,
    };
    key.minisign_key().map_err(serde::de::Error::custom)?;
    Ok(key.public_key)
}

impl TrustedKey {
    /// The minisign public key (the base64 line, or a whole `.pub` file).
    pub fn minisign_key(&self) -> Result<minisign::PublicKey, String> {
        let line = self
            .public_key
            .lines()
            .map(str::trim)
            .rfind(|l| !l.is_empty() && !l.starts_with("untrusted comment:"))
            .unwrap_or_default();
        minisign::PublicKey::from_base64(line)
            .map_err(|e| format!("`{}` is not a minisign public key: {e}", self.public_key))
    }
}

/// `[plugins.signing]`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SigningConfig {
    /// `require`, `warn` (default) or `off`.
    pub policy: SigningPolicy,
    /// The keys whose signatures are trusted.
    pub keys: Vec<TrustedKey>,
    /// Key ids (16 hex digits, as minisign prints them) no longer trusted,
    /// whatever `keys` says.
    pub revoked: Vec<String>,
}

/// The `[plugins]` table: `signing`, and every other key a plugin's
/// settings.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Plugins {
    /// `[plugins.signing]`.
    pub signing: SigningConfig,
    /// `[plugins.<name>]`, by plugin name.
    #[serde(flatten)]
    pub named: BTreeMap<String, PluginSettings>,
}

// The per-plugin settings read as the map they are.
impl std::ops::Deref for Plugins {
    type Target = BTreeMap<String, PluginSettings>;
    fn deref(&self) -> &Self::Target {
        &self.named
    }
}

impl std::ops::DerefMut for Plugins {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.named
    }
}

impl<'de> Deserialize<'de> for Plugins {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Table;
        impl<'de> Visitor<'de> for Table {
            type Value = Plugins;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a table of plugin settings and `signing`")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Plugins, A::Error> {
                let mut plugins = Plugins::default();
                while let Some(key) = map.next_key::<String>()? {
                    if key == "signing" {
                        plugins.signing = map.next_value()?;
                    } else {
                        let settings = map.next_value()?;
                        plugins.named.insert(key, settings);
                    }
                }
                Ok(plugins)
            }
        }
        d.deserialize_map(Table)
    }
}

#[cfg(test)]
mod tests {
    use super::super::Config;
    use super::*;

    #[test]
    fn signing_sits_beside_the_plugins_and_their_errors_keep_their_lines() {
        let config: Config = toml::from_str(
            "[plugins.signing]\npolicy = \"require\"\nrevoked = [\"ABCD\"]\n\n[plugins.whatsapp]\nbot = \"faq-bot\"\n",
        )
        .unwrap();
        assert_eq!(config.plugins.signing.policy, SigningPolicy::Require);
        assert_eq!(config.plugins.signing.revoked, ["ABCD"]);
        assert_eq!(config.plugins["whatsapp"].bot.as_deref(), Some("faq-bot"));
        assert!(!config.plugins.contains_key("signing"));

        let err = toml::from_str::<Config>(
            "[plugins.signing]\npolicy = \"warn\"\n\n[plugins.sms]\nbto = \"x\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("line 5") && err.contains("bto"), "{err}");
        let err = toml::from_str::<Config>("[plugins.signing]\npolicy = \"sometimes\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 2") && err.contains("sometimes"), "{err}");
    }
}
