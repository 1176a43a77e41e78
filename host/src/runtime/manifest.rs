//! `plugin.toml`: what a plugin is, what it needs, and its config defaults.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::config::CustomerAccess;
use crate::wit::Contract;

/// The kinds of plugin, one WIT world each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PluginKind {
    /// `world channel`.
    Channel,
    /// `world bot`.
    Bot,
    /// `world crm`.
    Crm,
    /// `world router`.
    Router,
    /// `world automation` (contract 0.4.1 and later).
    Automation,
}

impl fmt::Display for PluginKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PluginKind::Channel => "channel",
            PluginKind::Bot => "bot",
            PluginKind::Crm => "crm",
            PluginKind::Router => "router",
            PluginKind::Automation => "automation",
        })
    }
}

/// A parsed and validated `plugin.toml`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Must equal the plugin's directory name.
    pub name: String,
    /// `MAJOR.MINOR.PATCH`.
    pub version: String,
    /// Which world the component implements.
    pub kind: PluginKind,
    /// The contract version it was built against, `0.1` or `0.2` (a patch
    /// may follow: `0.2.1`).
    pub api: String,
    /// One line for admins.
    #[serde(default)]
    pub description: String,
    /// What the plugin asks for.
    #[serde(default)]
    pub capabilities: DeclaredCapabilities,
    /// Resource limits it asks for.
    #[serde(default)]
    pub limits: ManifestLimits,
    /// Configuration defaults.
    #[serde(default)]
    pub config: toml::Table,
    /// `[config]` keys the admin must set (non-empty) before the plugin
    /// can work: until then it is `unconfigured`, gets no calls and no
    /// events are queued for it.
    #[serde(default)]
    pub required_config: Vec<String>,
}

/// Capabilities as declared in the manifest.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DeclaredCapabilities {
    /// `host` or `host:port` entries the plugin may call, or `config:<key>`:
    /// the host of the URL in that config value, whatever the admin sets it
    /// to (a regional endpoint, a proxy, a staging mock).
    #[serde(default)]
    pub outbound_http: Vec<String>,
    /// Its own key-value store.
    #[serde(default)]
    pub kv: bool,
    /// Customer look-ups.
    #[serde(default)]
    pub customers: CustomerAccess,
}

/// Limits as declared in the manifest.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestLimits {
    /// Memory limit in MiB.
    pub memory_mb: Option<u32>,
    /// Deadline per call in ms.
    pub timeout_ms: Option<u64>,
    /// Keys in its key-value store.
    pub kv_keys: Option<u64>,
    /// Bytes of keys and values in its key-value store.
    pub kv_bytes: Option<u64>,
    /// Log lines per call (the rest are dropped).
    pub log_lines: Option<u32>,
    /// Longest log line, bytes (longer ones are cut).
    pub log_line_bytes: Option<u32>,
    /// Events one webhook may report.
    pub events: Option<u32>,
    /// Identities one webhook may report.
    pub identities: Option<u32>,
    /// What one call may return, KiB.
    pub output_kb: Option<u32>,
}

/// Why a manifest (or an admin's grant) is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    /// Not TOML, or not the manifest's schema.
    #[error("{0}")]
    Syntax(String),
    /// `name` is not the directory's name.
    #[error("`name = \"{name}\"` does not match the plugin directory `{dir}`")]
    NameMismatch {
        /// The manifest's name.
        name: String,
        /// The directory's.
        dir: String,
    },
    /// `name` is not usable as a plugin (and webhook path) name.
    #[error(
        "`name = \"{0}\"`: use 1-64 lower-case letters, digits, `-` or `_`, starting with a letter or digit"
    )]
    Name(String),
    /// `version` is not semantic.
    #[error("`version = \"{0}\"` is not a MAJOR.MINOR.PATCH version")]
    Version(String),
    /// `api` names a contract this host does not implement.
    #[error(
        "`api = \"{0}\"` is not supported: this host loads switchboard:plugin 0.1, 0.2 and 0.3"
    )]
    Api(String),
    /// An outbound HTTP entry does not parse.
    #[error("{field} entry `{entry}`: {reason}")]
    Host {
        /// `capabilities.outbound_http` or `grants.outbound_http`.
        field: &'static str,
        /// The entry.
        entry: String,
        /// What is wrong with it.
        reason: HostPortError,
    },
    /// A limit of zero.
    #[error("limits.{0} must be at least 1")]
    ZeroLimit(&'static str),
    /// A `config:<key>` host or a required key that `[config]` lacks.
    #[error("{field} names `{key}`, which [config] does not have")]
    UnknownConfigKey {
        /// `capabilities.outbound_http` or `required_config`.
        field: &'static str,
        /// The key.
        key: String,
    },
    /// A config value a `config:<key>` host comes from is not a URL.
    #[error("config `{key}` = `{value}` is not an http(s) URL: {reason}")]
    Endpoint {
        /// The key.
        key: String,
        /// Its value.
        value: String,
        /// What is wrong.
        reason: String,
    },
    /// An endpoint the admin configured is outside the effective grants.
    #[error(
        "config `{key}` = `{value}` points at {host}, which grants.outbound_http does not allow: grant it, or point `{key}` at a granted host"
    )]
    Unreachable {
        /// The key.
        key: String,
        /// Its value.
        value: String,
        /// The host (and port) it points at.
        host: String,
    },
}

/// Why an outbound HTTP entry does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostPortError {
    /// `[` without `]`.
    #[error("unclosed `[`")]
    Unclosed,
    /// Something after `]` that is not `:port`.
    #[error("expected `:port` after `]`")]
    AfterBracket,
    /// No host.
    #[error("empty host")]
    Empty,
    /// A scheme, path, wildcard or other character.
    #[error("host may only hold letters, digits, `.`, `-` (no scheme, path or wildcard)")]
    Characters,
    /// A port that is not 0-65535.
    #[error("invalid port `{0}`")]
    Port(String),
}

impl Manifest {
    /// The contract version `api` names (validated by [`Manifest::parse`]).
    pub fn contract(&self) -> Contract {
        Contract::parse(&self.api).unwrap_or(Contract::CURRENT)
    }

    /// Parses and validates a manifest for the plugin in directory `dir_name`.
    pub fn parse(dir_name: &str, text: &str) -> Result<Manifest, ManifestError> {
        let manifest: Manifest =
            toml::from_str(text).map_err(|e| ManifestError::Syntax(e.to_string()))?;
        manifest.validate(dir_name)?;
        Ok(manifest)
    }

    fn validate(&self, dir_name: &str) -> Result<(), ManifestError> {
        if self.name != dir_name {
            return Err(ManifestError::NameMismatch {
                name: self.name.clone(),
                dir: dir_name.to_string(),
            });
        }
        if !valid_name(&self.name) {
            return Err(ManifestError::Name(self.name.clone()));
        }
        if !valid_version(&self.version) {
            return Err(ManifestError::Version(self.version.clone()));
        }
        if Contract::parse(&self.api).is_none() {
            return Err(ManifestError::Api(self.api.clone()));
        }
        for entry in &self.capabilities.outbound_http {
            if let Some(key) = entry.strip_prefix(CONFIG_HOST) {
                self.config_key("capabilities.outbound_http", key)?;
                continue;
            }
            parse_host_port(entry).map_err(|reason| ManifestError::Host {
                field: "capabilities.outbound_http",
                entry: entry.clone(),
                reason,
            })?;
        }
        for key in &self.required_config {
            self.config_key("required_config", key)?;
        }
        if self.limits.memory_mb == Some(0) {
            return Err(ManifestError::ZeroLimit("memory_mb"));
        }
        if self.limits.timeout_ms == Some(0) {
            return Err(ManifestError::ZeroLimit("timeout_ms"));
        }
        Ok(())
    }
}

/// The prefix of an `outbound_http` entry naming a config key.
pub const CONFIG_HOST: &str = "config:";

impl Manifest {
    /// Checks that `[config]` has `key`.
    fn config_key(&self, field: &'static str, key: &str) -> Result<(), ManifestError> {
        if self.config.contains_key(key) {
            Ok(())
        } else {
            Err(ManifestError::UnknownConfigKey {
                field,
                key: key.to_string(),
            })
        }
    }
}

/// The host and port of an http(s) URL, as an outbound entry.
pub fn url_host_port(url: &str) -> Result<HostPort, String> {
    let uri: http::Uri = url
        .trim()
        .parse()
        .map_err(|e: http::uri::InvalidUri| e.to_string())?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        _ => return Err("it needs an http:// or https:// scheme".into()),
    }
    let host = uri.host().ok_or("it has no host")?;
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    // What `http` accepts as a host can be what no grant can name.
    if host.is_empty() || !host_chars(&host) {
        return Err(format!("`{host}` is not a host name or IP address"));
    }
    Ok(HostPort {
        host,
        port: uri.port_u16(),
    })
}

/// Whether `name` is usable as a plugin (and webhook path) name.
pub fn valid_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 64
        && bytes[0].is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

fn valid_version(v: &str) -> bool {
    let core = v.split(['-', '+']).next().unwrap_or("");
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// An allowed outbound destination.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HostPort {
    /// Lower-case host name or IP literal (IPv6 without brackets).
    pub host: String,
    /// `None` means the scheme's default port (80 or 443).
    pub port: Option<u16>,
}

impl fmt::Display for HostPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        match self.port {
            Some(p) => write!(f, "{host}:{p}"),
            None => f.write_str(&host),
        }
    }
}

/// Whether `host` holds only what a host name or IP literal (IPv6 without
/// brackets) may: letters, digits, `.`, `-` and `:`.
fn host_chars(host: &str) -> bool {
    host.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b':')
}

/// Parses `host`, `host:port`, `[v6]` or `[v6]:port`.
pub fn parse_host_port(entry: &str) -> Result<HostPort, HostPortError> {
    let entry = entry.trim().to_ascii_lowercase();
    let (host, port) = if let Some(rest) = entry.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or(HostPortError::Unclosed)?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or(HostPortError::AfterBracket)?),
        };
        (host.to_string(), port.map(str::to_string))
    } else {
        match entry.split_once(':') {
            Some((h, p)) => (h.to_string(), Some(p.to_string())),
            None => (entry.clone(), None),
        }
    };
    if host.is_empty() {
        return Err(HostPortError::Empty);
    }
    if !host_chars(&host) {
        return Err(HostPortError::Characters);
    }
    let port = match port {
        None => None,
        Some(p) => Some(
            p.parse::<u16>()
                .map_err(|_| HostPortError::Port(p.clone()))?,
        ),
    };
    Ok(HostPort { host, port })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
name = "whatsapp"
version = "1.0.0"
kind = "channel"
api = "0.1"
[capabilities]
outbound_http = ["graph.facebook.com", "127.0.0.1:8081"]
kv = true
customers = "read"
[limits]
memory_mb = 32
[config]
app_secret = ""
"#;

    #[test]
    fn parses_a_full_manifest() {
        let m = Manifest::parse("whatsapp", GOOD).unwrap();
        assert_eq!(m.kind, PluginKind::Channel);
        assert_eq!(m.capabilities.customers, CustomerAccess::Read);
        assert_eq!(m.limits.memory_mb, Some(32));
    }

    #[test]
    fn rejects_what_is_wrong_with_a_clear_reason() {
        let cases = [
            (GOOD.replace("\"whatsapp\"", "\"other\""), "does not match"),
            (GOOD.replace("\"1.0.0\"", "\"one\""), "MAJOR.MINOR.PATCH"),
            (GOOD.replace("\"channel\"", "\"widget\""), "unknown variant"),
            (
                GOOD.replace("api = \"0.1\"", "api = \"0.5\""),
                "not supported",
            ),
            (
                GOOD.replace("\"127.0.0.1:8081\"", "\"https://x.com/a\""),
                "outbound_http",
            ),
            (
                GOOD.replace("kv = true", "kv = true\nfs = true"),
                "unknown field",
            ),
            (
                GOOD.replace("memory_mb = 32", "memory_mb = 0"),
                "at least 1",
            ),
        ];
        for (text, expected) in cases {
            let err = Manifest::parse("whatsapp", &text).unwrap_err().to_string();
            assert!(err.contains(expected), "{expected}: {err}");
        }
    }

    #[test]
    fn host_ports_parse() {
        assert_eq!(
            parse_host_port("Graph.Facebook.com").unwrap(),
            HostPort {
                host: "graph.facebook.com".into(),
                port: None
            }
        );
        assert_eq!(parse_host_port("127.0.0.1:80").unwrap().port, Some(80));
        assert_eq!(parse_host_port("[::1]:8080").unwrap().host, "::1");
        assert!(parse_host_port("*.example.com").is_err());
        assert!(parse_host_port("x:99999").is_err());
    }

    #[test]
    fn endpoint_hosts_are_hosts() {
        let hp = url_host_port("https://API.Example.com:8443/v1").unwrap();
        assert_eq!(hp.to_string(), "api.example.com:8443");
        assert_eq!(url_host_port("http://[::1]/").unwrap().host, "::1");
        // Found by fuzzing (host_port): `http` takes these as hosts, which
        // no grant can name, so the admin was told to grant the ungrantable.
        assert!(url_host_port("http://example.com[").is_err());
        assert!(url_host_port("http://a_b.example/").is_err());
    }
}
