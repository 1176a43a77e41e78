//! Fuzzing support (feature `fuzzing`): the properties of the host's
//! parsers of outside input — `plugin.toml`, outbound host entries, the
//! configuration file and its overrides, identities — checked by the fuzz
//! targets in `fuzz/` and, for a bounded time, by `cargo test` (`arbtest`).
//!
//! A property draws its input from an [`Unstructured`] and panics when it
//! does not hold. Arbitrary bytes rarely make valid TOML, so most inputs are
//! a real file (a bundled `plugin.toml`, the example configuration) with a
//! few lines dropped, duplicated, replaced or garbled.

use std::path::Path;

use arbitrary::{Result, Unstructured};

use crate::bundled::BUNDLES;
use crate::config::Config;
use crate::customers::{IdentityKind, Normalizer};
use crate::runtime::manifest::{Manifest, parse_host_port, url_host_port, valid_name};

/// The example configuration shipped in the repository.
const EXAMPLE_CONFIG: &str = include_str!("../../examples/switchboard.toml");

/// Lines a manifest may hold, valid and not.
const MANIFEST_LINES: &[&str] = &[
    "name = \"whatsapp\"",
    "name = \"Bad Name\"",
    "version = \"1.0.0\"",
    "version = \"1.0\"",
    "version = \"1.0.0-rc.1+b\"",
    "kind = \"channel\"",
    "kind = \"router\"",
    "kind = \"widget\"",
    "api = \"0.1\"",
    "api = \"0.2.1\"",
    "api = \"0.3\"",
    "api = \"0.4\"",
    "[capabilities]",
    "outbound_http = [\"graph.facebook.com\", \"config:api_base\", \"[::1]:8080\"]",
    "outbound_http = [\"config:missing\", \"https://x.com/a\", \"x:99999\"]",
    "kv = true",
    "customers = \"read\"",
    "[limits]",
    "memory_mb = 0",
    "timeout_ms = 1",
    "events = 4294967296",
    "[config]",
    "api_base = \"https://api.example.com\"",
    "required_config = [\"api_base\", \"nope\"]",
    "nested = { a = [1, 2.5, nan, inf], b = 1979-05-27T07:32:00Z }",
    "description = \"\"\"",
    "\"\"\"",
    "[[config.list]]",
];

/// Lines a configuration file may hold, valid and not.
const CONFIG_LINES: &[&str] = &[
    "listen = \"0.0.0.0:9000\"",
    "listen = \"[::1]:80\"",
    "listen = \"nowhere\"",
    "max_body_bytes = -1",
    "durability = \"flush_each\"",
    "[runtime]",
    "default_timeout_ms = 18446744073709551615",
    "[plugins.whatsapp]",
    "config = { app_secret = \"x\" }",
    "grants = { outbound_http = [\"a.example\"], customers = \"read\" }",
    "limits = { memory_mb = 1 }",
    "trust_identities = \"claimed\"",
    "[routing.sla_ms]",
    "voice = 1",
    "[routing.channel_skills.billing]",
    "billing = 300",
    "[customers]",
    "default_region = \"GB\"",
    "merge_policy = \"suggest\"",
    "unknown = 1",
];

/// Key paths (dotted) an override may name.
const CONFIG_PATHS: &[&str] = &[
    "listen",
    "data_dir",
    "max_body_bytes",
    "durability",
    "runtime",
    "runtime.default_timeout_ms",
    "runtime.pooling",
    "plugins.whatsapp.config.app_secret",
    "plugins.longest_idle.enabled",
    "plugins.x.limits.memory_mb",
    "routing.sla_ms.voice",
    "routing.channel_skills.billing.x",
    "customers.default_region",
    "nope",
    "",
    "a..b",
];

/// Override values, as an admin types them.
const CONFIG_VALUES: &[&str] = &[
    "500",
    "-1",
    "true",
    "\"x\"",
    "[1, 2]",
    "{ a = 1 }",
    "127.0.0.1:9100",
    "flush_each",
    "1e400",
    "nan",
    "",
    "=",
    "\"unterminated",
    "2025-06-09T22:00:00Z",
    "99999999999999999999",
];

/// Text that is one of `words` or, one time in three, arbitrary.
fn word(u: &mut Unstructured<'_>, words: &[&str]) -> Result<String> {
    if u.ratio(1, 3)? {
        u.arbitrary()
    } else {
        Ok(u.choose(words)?.to_string())
    }
}

/// Up to `max` of `words` (or arbitrary text) run together.
fn phrase(u: &mut Unstructured<'_>, words: &[&str], max: usize) -> Result<String> {
    let mut out = String::new();
    for _ in 0..u.int_in_range(0..=max)? {
        out.push_str(&word(u, words)?);
    }
    Ok(out)
}

/// `text` with a few lines dropped, duplicated, added from `lines`, or
/// with arbitrary text spliced in.
fn mutate(u: &mut Unstructured<'_>, text: &str, lines: &[&str]) -> Result<String> {
    let mut out: Vec<String> = text.lines().map(String::from).collect();
    for _ in 0..u.int_in_range(0..=4)? {
        let at = u.choose_index(out.len() + 1)?;
        match (u.choose_index(4)?, out.get_mut(at)) {
            (0, Some(_)) => {
                out.remove(at);
            }
            (1, Some(line)) => {
                let copy = line.clone();
                out.insert(at, copy);
            }
            (2, Some(line)) => {
                let cuts: Vec<usize> = line
                    .char_indices()
                    .map(|(i, _)| i)
                    .chain([line.len()])
                    .collect();
                let cut = *u.choose(&cuts)?;
                line.insert_str(cut, &u.arbitrary::<String>()?);
            }
            _ => out.insert(at, word(u, lines)?),
        }
    }
    Ok(out.join("\n"))
}

/// A `plugin.toml` either parses into a manifest that names its directory
/// with a valid name and reads back the same when written out, or is
/// refused with an error.
pub fn manifest(u: &mut Unstructured<'_>) -> Result<()> {
    let text = if u.ratio(1, 4)? {
        u.arbitrary()?
    } else {
        let base = u.choose(BUNDLES)?.manifest;
        mutate(u, base, MANIFEST_LINES)?
    };
    // Usually the directory the text names, so parsing gets past that check.
    let declared = toml::from_str::<toml::Table>(&text)
        .ok()
        .and_then(|t| t.get("name")?.as_str().map(String::from));
    let dir = match declared {
        Some(name) if u.ratio(3, 4)? => name,
        _ => u.arbitrary()?,
    };
    let m = match Manifest::parse(&dir, &text) {
        Ok(m) => m,
        Err(e) => {
            let _ = e.to_string();
            return Ok(());
        }
    };
    assert_eq!(m.name, dir);
    assert!(valid_name(&m.name), "{m:?}");
    let _ = m.contract();
    let written = toml::to_string(&m).expect("a manifest serializes");
    let again = Manifest::parse(&dir, &written)
        .unwrap_or_else(|e| panic!("written out, the manifest no longer parses: {e}\n{written}"));
    assert_eq!(toml::to_string(&again).expect("serializes"), written);
    Ok(())
}

/// Outbound entries parse or are refused, and a parsed one reads back the
/// same from its display form (as the admin API shows it); the host of an
/// endpoint URL comes out lower-case and without brackets.
pub fn host_port(u: &mut Unstructured<'_>) -> Result<()> {
    let entry = phrase(
        u,
        &[
            "[",
            "]",
            ":",
            "::1",
            "80",
            "65536",
            "example.com",
            "Graph.Facebook.COM",
            "*",
            "/",
            "-",
            ".",
            " ",
            "é",
            "10.0.0.1",
        ],
        6,
    )?;
    match parse_host_port(&entry) {
        Ok(hp) => {
            assert!(!hp.host.is_empty() && hp.host == hp.host.to_ascii_lowercase());
            assert_eq!(parse_host_port(&hp.to_string()), Ok(hp));
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
    let url = phrase(
        u,
        &[
            "http://",
            "https://",
            "ftp://",
            "HTTPS://",
            "user@",
            "example.com",
            "API.Example.com",
            "[::1]",
            "[",
            ":8080",
            ":",
            "/path",
            "?q=1",
            "#f",
            "%41",
            "é",
            " ",
        ],
        6,
    )?;
    if let Ok(hp) = url_host_port(&url) {
        assert!(!hp.host.contains(['[', ']']), "{hp:?}");
        assert_eq!(hp.host, hp.host.to_ascii_lowercase());
    }
    Ok(())
}

/// The configuration (file, `SWITCHBOARD_*` variables, `--set` flags)
/// loads or is refused with an error, and a loaded one, written out as a
/// file, loads back the same.
pub fn config(u: &mut Unstructured<'_>) -> Result<()> {
    let text: Option<String> = match u.choose_index(4)? {
        0 => None,
        1 => Some(u.arbitrary()?),
        _ => Some(mutate(u, EXAMPLE_CONFIG, CONFIG_LINES)?),
    };
    let mut env = Vec::new();
    for _ in 0..u.int_in_range(0..=3)? {
        let prefix = word(
            u,
            &["SWITCHBOARD_", "SWITCHBOARD_CONFIG", "HOME", "switchboard_"],
        )?;
        let path = word(u, CONFIG_PATHS)?
            .replace('.', "__")
            .to_ascii_uppercase();
        env.push((format!("{prefix}{path}"), word(u, CONFIG_VALUES)?));
    }
    let mut sets = Vec::new();
    for _ in 0..u.int_in_range(0..=3)? {
        let set = if u.ratio(1, 5)? {
            u.arbitrary()?
        } else {
            format!("{}={}", word(u, CONFIG_PATHS)?, word(u, CONFIG_VALUES)?)
        };
        sets.push(set);
    }
    let file = text.as_deref().map(|t| (Path::new("switchboard.toml"), t));
    let config = match Config::from_text(file, env, &sets) {
        Ok(config) => config,
        Err(e) => {
            let _ = e.to_string();
            return Ok(());
        }
    };
    let written = toml::to_string(&config).expect("a configuration serializes");
    let again = Config::from_text(Some((Path::new("written.toml"), &written)), Vec::new(), &[])
        .unwrap_or_else(|e| {
            panic!("written out, the configuration no longer loads: {e}\n{written}")
        });
    assert_eq!(toml::to_string(&again).expect("serializes"), written);
    Ok(())
}

/// Pieces of identities as customers and providers write them.
const IDENTITY_TOKENS: &[&str] = &[
    "+1",
    "650",
    "555",
    "1234",
    "(",
    ")",
    "-",
    " ",
    "\t",
    "whatsapp:",
    "tel:",
    "00",
    "+44",
    "020 7946 0018",
    "0",
    "9",
    "@",
    "Sheena",
    ".Nelson",
    "Example.COM",
    "é",
    "İ",
    "ß",
    "K",
    "\u{200b}",
    ":",
    "webchat",
    "email:",
    "phone:",
    "handle:",
    "x",
];

/// Normalizing never panics and is stable: an identity normalized again,
/// or read back from its key (as the API's look-ups do) or from what
/// plugins see, is the same identity.
pub fn identity(u: &mut Unstructured<'_>) -> Result<()> {
    let region = word(u, &["US", "gb", " de ", "XX", "", "001", "ZZ"])?;
    let Ok(n) = Normalizer::new(&region) else {
        return Ok(());
    };
    let raw = phrase(u, IDENTITY_TOKENS, 8)?;
    let stable = |id: &crate::customers::Identity| {
        assert_eq!(n.parse(&id.key()).as_ref(), Ok(id), "{id:?} by its key");
        assert_eq!(
            n.from_wit(&id.to_wit()).as_ref(),
            Ok(id),
            "{id:?} to a plugin"
        );
    };
    if let Ok(id) = n.email(&raw) {
        assert_eq!(id.kind, IdentityKind::Email);
        assert_eq!(n.email(&id.value).as_ref(), Ok(&id), "from {raw:?}");
        stable(&id);
    }
    if let Ok(id) = n.phone(&raw) {
        let digits = id.value.strip_prefix('+').expect("E.164 starts with +");
        assert!(digits.bytes().all(|b| b.is_ascii_digit()), "{id:?}");
        assert_eq!(n.phone(&id.value).as_ref(), Ok(&id), "from {raw:?}");
        stable(&id);
    }
    let channel = phrase(u, IDENTITY_TOKENS, 3)?;
    if let Ok(id) = n.handle(&channel, &raw) {
        stable(&id);
    }
    if let Ok(id) = n.parse(&raw) {
        stable(&id);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use arbtest::arbtest;

    use super::*;

    /// How long each runs, in ms: `ARBTEST_BUDGET_MS` when set (a longer
    /// run by hand), else 300, which finds shallow bugs without slowing
    /// every test run.
    fn budget_ms() -> u64 {
        std::env::var("ARBTEST_BUDGET_MS")
            .ok()
            .and_then(|ms| ms.parse().ok())
            .unwrap_or(300)
    }

    #[test]
    fn manifests_parse_and_read_back() {
        arbtest(manifest).budget_ms(budget_ms());
    }

    #[test]
    fn host_ports_parse_and_read_back() {
        arbtest(host_port).budget_ms(budget_ms());
    }

    #[test]
    fn configurations_load_and_read_back() {
        arbtest(config).budget_ms(budget_ms());
    }

    #[test]
    fn identities_normalize_stably() {
        arbtest(identity).budget_ms(budget_ms());
    }
}
