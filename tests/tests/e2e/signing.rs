//! Signed bundles under `[plugins.signing] policy = "require"`: a bundle
//! signed by a trusted key loads; an unsigned one, one signed by an
//! unknown or a revoked key, and one whose manifest was widened after
//! signing are each refused with their reason while the previous version
//! keeps serving.

use std::path::Path;

use serde_json::Value;
use switchboard::config::{SigningConfig, SigningPolicy, TrustedKey};
use switchboard::signing::{self, BundleDigest, SIGNATURE_FILE};
use switchboard_tests::{ADMIN_TOKEN, TestHost, test_channel_manifest, wasm};

const NAME: &str = "acme-chat";

fn trusted(public: &str) -> TrustedKey {
    TrustedKey {
        public_key: public.to_string(),
        owner: "Acme".into(),
        names: vec!["acme-*".into()],
        kinds: vec!["channel".into()],
        expires: None,
    }
}

/// Writes the bundle at `version` into `dir`, signed with `secret` (none:
/// unsigned), with `edit` applied to the manifest after signing.
fn write_bundle(dir: &Path, version: &str, secret: Option<&str>, edit: impl Fn(String) -> String) {
    std::fs::create_dir_all(dir).unwrap();
    let _ = std::fs::remove_file(dir.join(SIGNATURE_FILE));
    let manifest = test_channel_manifest(NAME, "chat", None, "s")
        .replace("version = \"1.0.0\"", &format!("version = \"{version}\""));
    let wasm = std::fs::read(wasm("test-channel")).unwrap();
    std::fs::write(dir.join("plugin.wasm"), &wasm).unwrap();
    if let Some(secret) = secret {
        let digest = BundleDigest::of(NAME, version, "channel", "0.4", manifest.as_bytes(), &wasm);
        std::fs::write(
            dir.join(SIGNATURE_FILE),
            signing::sign(&digest, secret).unwrap(),
        )
        .unwrap();
    }
    std::fs::write(dir.join("plugin.toml"), edit(manifest)).unwrap();
}

async fn reload(host: &TestHost) -> Value {
    let (_, info) = host
        .call(
            "POST",
            &format!("/api/plugins/{NAME}/reload"),
            Some(ADMIN_TOKEN),
            None,
        )
        .await;
    let _ = info;
    host.plugin(NAME).await
}

#[tokio::test]
async fn require_loads_what_a_trusted_key_signed_and_refuses_the_rest() {
    let (public, secret) = signing::generate_keys("acme").unwrap();
    let (_, acme_id) = signing::public_of(&secret).unwrap();
    let (_, rogue) = signing::generate_keys("rogue").unwrap();
    let (old_public, old_secret) = signing::generate_keys("old").unwrap();
    let (_, old_id) = signing::public_of(&old_secret).unwrap();
    let host = TestHost::start(|c| {
        c.plugins.signing = SigningConfig {
            policy: SigningPolicy::Require,
            keys: vec![trusted(&public), trusted(&old_public)],
            revoked: vec![old_id.clone()],
        };
    })
    .await;
    let dir = host.plugins_dir().join(NAME);
    write_bundle(&dir, "1.0.0", Some(&secret), |m| m);
    let info = reload(&host).await;
    assert_eq!(info["status"], "active", "{info}");
    assert_eq!(info["signature"]["status"], "signed", "{info}");
    assert_eq!(info["signature"]["key_id"], acme_id.as_str());
    assert_eq!(info["signature"]["owner"], "Acme");

    let refused = [
        (None, "not signed"),
        (Some(rogue.as_str()), "not a trusted key"),
        (Some(old_secret.as_str()), "revoked"),
    ];
    for (key, reason) in refused {
        write_bundle(&dir, "1.0.1", key, |m| m);
        let info = reload(&host).await;
        assert_eq!(info["version"], "1.0.0", "{reason}: {info}");
        assert_eq!(info["status"], "active", "{reason}: {info}");
        let error = info["error"].as_str().unwrap_or_default();
        assert!(
            error.contains(reason) && error.contains("require"),
            "{reason}: {info}"
        );
    }
    // Signed, then the manifest widened to reach any host.
    write_bundle(&dir, "1.0.1", Some(&secret), |m| {
        m.replace("outbound_http = []", "outbound_http = [\"evil.example\"]")
    });
    let info = reload(&host).await;
    assert_eq!(info["version"], "1.0.0", "{info}");
    assert!(
        info["error"]
            .as_str()
            .unwrap_or_default()
            .contains("changed after signing"),
        "{info}"
    );

    // Signed as it is: it serves.
    write_bundle(&dir, "1.0.1", Some(&secret), |m| m);
    let info = reload(&host).await;
    assert_eq!(
        (info["version"].as_str(), info["status"].as_str()),
        (Some("1.0.1"), Some("active")),
        "{info}"
    );
    assert!(info["error"].is_null(), "{info}");

    // Uploads are checked the same way, before anything is written.
    use base64::Engine as _;
    let manifest = test_channel_manifest("acme-up", "chat", None, "s");
    let wasm = std::fs::read(wasm("test-channel")).unwrap();
    let upload = |signature: Option<String>| {
        serde_json::json!({
            "manifest": manifest,
            "wasm_base64": base64::engine::general_purpose::STANDARD.encode(&wasm),
            "signature": signature,
        })
    };
    let (status, body) = host
        .call(
            "POST",
            "/api/plugins",
            Some(ADMIN_TOKEN),
            Some(upload(None)),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(body.to_string().contains("not signed"), "{body}");
    assert!(!host.plugins_dir().join("acme-up").exists());
    let digest = BundleDigest::of(
        "acme-up",
        "1.0.0",
        "channel",
        "0.4",
        manifest.as_bytes(),
        &wasm,
    );
    let signature = signing::sign(&digest, &secret).unwrap();
    let (status, body) = host
        .call(
            "POST",
            "/api/plugins",
            Some(ADMIN_TOKEN),
            Some(upload(Some(signature))),
        )
        .await;
    assert_eq!(
        (status, body["signature"]["status"].as_str()),
        (201, Some("signed")),
        "{body}"
    );
}

#[tokio::test]
async fn warn_loads_an_unsigned_bundle_and_says_so() {
    let host = TestHost::start(|_| {}).await;
    write_bundle(&host.plugins_dir().join(NAME), "1.0.0", None, |m| m);
    let info = reload(&host).await;
    assert_eq!(info["status"], "active", "{info}");
    assert_eq!(info["signature"]["status"], "unsigned", "{info}");
}
