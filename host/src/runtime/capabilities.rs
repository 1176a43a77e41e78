//! What a plugin may do: the capabilities its manifest declares, narrowed by
//! the admin's grants. A grant can only take away; a plugin never gets what it
//! did not declare.

use crate::config::{CustomerAccess, Grants};

use std::collections::BTreeMap;

use super::manifest::{
    CONFIG_HOST, DeclaredCapabilities, HostPort, ManifestError, parse_host_port, url_host_port,
};

/// The capabilities in effect for one loaded plugin.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capabilities {
    /// Destinations the plugin may reach over HTTP.
    pub outbound_http: Vec<HostPort>,
    /// Whether it may use its key-value store.
    pub kv: bool,
    /// Whether it may read customers.
    pub customers: CustomerAccess,
}

impl Capabilities {
    /// `declared ∩ granted`. Grant keys that are absent keep the declared
    /// value. A `config:<key>` entry declares the host of the URL in that
    /// config value (`config`: the plugin's config as it reaches it); such
    /// an endpoint must stay reachable under the grants. The error
    /// describes an unparsable entry or an unreachable endpoint.
    pub fn effective(
        declared: &DeclaredCapabilities,
        grants: &Grants,
        config: &BTreeMap<String, String>,
    ) -> Result<Self, ManifestError> {
        let hosts = |field: &'static str, entries: &[String]| {
            entries
                .iter()
                .map(|entry| {
                    parse_host_port(entry).map_err(|reason| ManifestError::Host {
                        field,
                        entry: entry.clone(),
                        reason,
                    })
                })
                .collect::<Result<Vec<_>, _>>()
        };
        let mut declared_hosts = Vec::new();
        let mut endpoints = Vec::new();
        for entry in &declared.outbound_http {
            let Some(key) = entry.strip_prefix(CONFIG_HOST) else {
                declared_hosts.extend(hosts(
                    "capabilities.outbound_http",
                    std::slice::from_ref(entry),
                )?);
                continue;
            };
            let value = config.get(key).map(|v| v.trim()).unwrap_or_default();
            // Not configured yet: nothing to reach.
            if value.is_empty() {
                continue;
            }
            let host = url_host_port(value).map_err(|reason| ManifestError::Endpoint {
                key: key.to_string(),
                value: value.to_string(),
                reason,
            })?;
            declared_hosts.push(host.clone());
            endpoints.push((key, value, host));
        }
        let outbound_http: Vec<HostPort> = match &grants.outbound_http {
            None => declared_hosts,
            Some(granted) => {
                let granted = hosts("grants.outbound_http", granted)?;
                declared_hosts
                    .into_iter()
                    .filter(|d| granted.contains(d))
                    .collect()
            }
        };
        for (key, value, host) in endpoints {
            if !outbound_http.contains(&host) {
                return Err(ManifestError::Unreachable {
                    key: key.to_string(),
                    value: value.to_string(),
                    host: host.to_string(),
                });
            }
        }
        let kv = declared.kv && grants.kv.unwrap_or(true);
        let customers = match (declared.customers, grants.customers) {
            (CustomerAccess::Read, None | Some(CustomerAccess::Read)) => CustomerAccess::Read,
            _ => CustomerAccess::None,
        };
        let mut unique = Vec::new();
        for host in outbound_http {
            if !unique.contains(&host) {
                unique.push(host);
            }
        }
        Ok(Capabilities {
            outbound_http: unique,
            kv,
            customers,
        })
    }

    /// Whether a request to `host` on `port` (over https or not) is allowed.
    /// An entry without a port allows only the scheme's default port.
    pub fn allows_http(&self, host: &str, port: Option<u16>, https: bool) -> bool {
        let default_port = if https { 443 } else { 80 };
        let port = port.unwrap_or(default_port);
        let host = host.trim_start_matches('[').trim_end_matches(']');
        self.outbound_http.iter().any(|entry| {
            entry.host.eq_ignore_ascii_case(host)
                && match entry.port {
                    Some(p) => p == port,
                    None => port == default_port,
                }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn declared() -> DeclaredCapabilities {
        DeclaredCapabilities {
            outbound_http: vec!["graph.facebook.com".into(), "127.0.0.1:9000".into()],
            kv: true,
            customers: CustomerAccess::Read,
        }
    }

    #[test]
    fn no_grants_means_as_declared() {
        let caps =
            Capabilities::effective(&declared(), &Grants::default(), &BTreeMap::new()).unwrap();
        assert_eq!(caps.outbound_http.len(), 2);
        assert!(caps.kv);
        assert_eq!(caps.customers, CustomerAccess::Read);
    }

    #[test]
    fn grants_only_narrow() {
        let grants = Grants {
            outbound_http: Some(vec!["graph.facebook.com".into(), "evil.example.com".into()]),
            kv: Some(false),
            customers: Some(CustomerAccess::None),
        };
        let caps = Capabilities::effective(&declared(), &grants, &BTreeMap::new()).unwrap();
        assert_eq!(caps.outbound_http.len(), 1);
        assert!(caps.allows_http("graph.facebook.com", None, true));
        assert!(!caps.allows_http("evil.example.com", None, true));
        assert!(!caps.kv);
        assert_eq!(caps.customers, CustomerAccess::None);

        let undeclared = DeclaredCapabilities::default();
        let widen = Grants {
            kv: Some(true),
            customers: Some(CustomerAccess::Read),
            outbound_http: Some(vec!["graph.facebook.com".into()]),
        };
        let caps = Capabilities::effective(&undeclared, &widen, &BTreeMap::new()).unwrap();
        assert_eq!(caps, Capabilities::default());
    }

    #[test]
    fn ports_must_match() {
        let caps =
            Capabilities::effective(&declared(), &Grants::default(), &BTreeMap::new()).unwrap();
        assert!(caps.allows_http("graph.facebook.com", Some(443), true));
        assert!(!caps.allows_http("graph.facebook.com", Some(8443), true));
        assert!(caps.allows_http("graph.facebook.com", None, false));
        assert!(!caps.allows_http("graph.facebook.com", Some(8080), false));
        assert!(caps.allows_http("127.0.0.1", Some(9000), false));
        assert!(!caps.allows_http("127.0.0.1", Some(9001), false));
        assert!(!caps.allows_http("127.0.0.1", None, false));
    }

    #[test]
    fn a_config_host_follows_the_admins_setting_and_must_stay_granted() {
        let declared = DeclaredCapabilities {
            outbound_http: vec!["config:api_base".into()],
            ..DeclaredCapabilities::default()
        };
        let config = |url: &str| BTreeMap::from([("api_base".to_string(), url.to_string())]);
        let provider = config("https://graph.facebook.com/v21.0");
        let caps = Capabilities::effective(&declared, &Grants::default(), &provider).unwrap();
        assert!(caps.allows_http("graph.facebook.com", None, true));

        let mock = config("http://127.0.0.1:9999/v21.0");
        let granted = Grants {
            outbound_http: Some(vec!["127.0.0.1:9999".into()]),
            ..Grants::default()
        };
        let caps = Capabilities::effective(&declared, &granted, &mock).unwrap();
        assert!(caps.allows_http("127.0.0.1", Some(9999), false));
        assert!(!caps.allows_http("graph.facebook.com", None, true));

        let only_meta = Grants {
            outbound_http: Some(vec!["graph.facebook.com".into()]),
            ..Grants::default()
        };
        let err = Capabilities::effective(&declared, &only_meta, &mock)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("`api_base`") && err.contains("127.0.0.1:9999"),
            "{err}"
        );
        assert!(
            Capabilities::effective(&declared, &Grants::default(), &config("ftp://x")).is_err()
        );
        // Unset: nothing to reach, nothing to refuse.
        let caps = Capabilities::effective(&declared, &Grants::default(), &config("")).unwrap();
        assert!(caps.outbound_http.is_empty());
    }
}
