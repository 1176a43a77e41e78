//! [`TestHost`] presets: a host with the first-party plugins an area's
//! tests need, installed and configured here once. Every preset has the
//! `longest-idle` router; the provider channels talk to a [`MockServer`]
//! (their `api_base`, and their `outbound_http` grant rewritten to it), and
//! are configured with [`secrets`](crate::channels::secrets).

use std::sync::Arc;

use serde_json::{Value, json};
use switchboard::config::Config;

use crate::channels::manifest_for_mock;
use crate::channels::secrets::*;
use crate::{
    MockServer, TestHost, first_party_manifest, install, test_channel_manifest, test_config, wasm,
};

/// A first-party channel plugin and its config values (besides `api_base`).
pub type Channel<'a> = (&'a str, &'a [(&'a str, &'a str)]);

/// WhatsApp (Meta's Cloud API).
pub const WHATSAPP: Channel<'static> = (
    "whatsapp",
    &[
        ("access_token", WA_ACCESS_TOKEN),
        ("app_secret", WA_APP_SECRET),
        ("verify_token", WA_VERIFY_TOKEN),
    ],
);

/// The Twilio account SMS and voice share.
const TWILIO: &[(&str, &str)] = &[
    ("account_sid", TWILIO_SID),
    ("auth_token", TWILIO_AUTH_TOKEN),
    ("public_base_url", PUBLIC_BASE_URL),
    ("greeting", "Thanks for calling Shop & Co."),
];

/// SMS (Twilio).
pub const SMS: Channel<'static> = ("sms", TWILIO);

/// Voice (Twilio), greeting callers with "Thanks for calling Shop & Co.".
pub const VOICE: Channel<'static> = ("voice", TWILIO);

/// Email (Mailgun).
pub const EMAIL: Channel<'static> = (
    "email",
    &[
        ("domain", MAILGUN_DOMAIN),
        ("api_key", "mg-api-key"),
        ("signing_key", MAILGUN_SIGNING_KEY),
        ("from_address", "Support <support@shop.example.com>"),
    ],
);

/// The website chat.
pub const WEBCHAT: Channel<'static> = ("webchat", &[]);

/// The web chat, vouching for visitors signed with
/// [`SITE_IDENTITY_SECRET`].
pub const VOUCHING_WEBCHAT: Channel<'static> =
    ("webchat", &[("identity_secret", SITE_IDENTITY_SECRET)]);

/// `rest-crm`'s settings for the mock CRM `crm` (under `/api`, with
/// [`CRM_TOKEN`] and a `plan` attribute mapped on top of the default
/// fields); without `enrich`, `enrich_fields` is empty: no look-ups.
pub fn rest_crm_settings(crm: &MockServer, enrich: bool) -> toml::Table {
    let mut fields = toml::Table::new();
    for (field, source) in [
        ("name", "display_name"),
        ("email", "email"),
        ("phone", "phone"),
        ("plan", "attribute:plan"),
    ] {
        fields.insert(field.into(), source.into());
    }
    let mut settings = toml::Table::new();
    settings.insert("api_base".into(), format!("{}/api", crm.url()).into());
    settings.insert("token".into(), CRM_TOKEN.into());
    settings.insert("fields".into(), fields.into());
    if !enrich {
        settings.insert("enrich_fields".into(), toml::Table::new().into());
    }
    settings
}

/// The approved WhatsApp template `order_update` ("Hi {{1}}, your order
/// {{2}} has shipped.", `en_US`) in `[templates.whatsapp]`.
pub fn whatsapp_order_template(config: &mut Config) {
    config
        .templates
        .entry("whatsapp".into())
        .or_default()
        .insert(
            "order_update".into(),
            switchboard::config::TemplateConfig {
                language: "en_US".into(),
                text: "Hi {{1}}, your order {{2}} has shipped.".into(),
            },
        );
}

/// Outbox retries after tens of ms instead of seconds.
pub fn fast_outbox(config: &mut Config) {
    config.outbox.base_backoff_ms = 20;
    config.outbox.max_backoff_ms = 50;
}

impl TestHost {
    /// The given first-party channels pointed at `mock`, each with its
    /// config values; `configure` adjusts the config further.
    pub async fn with_channels(
        mock: &MockServer,
        channels: &[Channel<'_>],
        configure: impl FnOnce(&mut Config),
    ) -> TestHost {
        Self::with_plugins(Some(mock), channels, &[], configure).await
    }

    /// All five first-party channels pointed at `mock`.
    pub async fn with_all_channels(mock: &MockServer) -> TestHost {
        Self::with_channels(
            mock,
            &[WHATSAPP, SMS, VOICE, EMAIL, VOUCHING_WEBCHAT],
            |_| {},
        )
        .await
    }

    /// `channels` pointed at `mock`, with the `journeys` automation set to
    /// `journeys` (its `[config]` values) and any `extra` bundles (name,
    /// manifest: built plugins of that name).
    pub async fn with_journeys(
        mock: &MockServer,
        channels: &[Channel<'_>],
        journeys: &[(&str, &str)],
        extra: &[(&str, &str)],
        configure: impl FnOnce(&mut Config),
    ) -> TestHost {
        let manifest = first_party_manifest("journeys");
        let mut bundles = vec![("journeys", manifest.as_str())];
        bundles.extend_from_slice(extra);
        let mut table = toml::Table::new();
        for (k, v) in journeys {
            table.insert((*k).into(), (*v).into());
        }
        Self::with_plugins(Some(mock), channels, &bundles, move |config| {
            config.plugins.entry("journeys".into()).or_default().config = table;
            configure(config);
        })
        .await
    }

    /// The channels of a phone number — WhatsApp, SMS and voice — pointed
    /// at `mock`, with [`fast_outbox`] retries.
    pub async fn with_phone_channels(mock: &MockServer) -> TestHost {
        Self::with_channels(mock, &[WHATSAPP, SMS, VOICE], fast_outbox).await
    }

    /// The email channel alone, pointed at `mock`, with its own Mailgun
    /// account: domain `mg.example.com`, API key `key-1`, signing key
    /// [`EMAIL_SIGNING_KEY`], from `Support <support@shop.example.com>`.
    pub async fn with_email(mock: &MockServer, configure: impl FnOnce(&mut Config)) -> TestHost {
        let email: Channel = (
            "email",
            &[
                ("domain", "mg.example.com"),
                ("api_key", "key-1"),
                ("signing_key", EMAIL_SIGNING_KEY),
                ("from_address", "Support <support@shop.example.com>"),
            ],
        );
        Self::with_channels(mock, &[email], configure).await
    }

    /// The webchat channel alone (it calls no provider), taking posts from
    /// pages at `allowed_origins` and vouching for visitors signed with
    /// [`SITE_IDENTITY_SECRET`].
    pub async fn with_webchat(allowed_origins: &str) -> TestHost {
        let webchat: Channel = (
            "webchat",
            &[
                ("allowed_origins", allowed_origins),
                ("identity_secret", SITE_IDENTITY_SECRET),
            ],
        );
        Self::with_plugins(None, &[webchat], &[], |_| {}).await
    }

    /// Web chat with `settings` as its plugin config; `configure` adjusts the
    /// host's config.
    pub async fn with_webchat_settings(
        settings: &[(&str, &str)],
        configure: impl FnOnce(&mut Config),
    ) -> TestHost {
        Self::with_plugins(None, &[("webchat", settings)], &[], configure).await
    }

    /// WhatsApp pointed at `provider` with the bot plugin `bot` (installed
    /// with `manifest`) taking its new conversations, and [`fast_outbox`]
    /// retries; `configure` adjusts the config further.
    pub async fn with_bot(
        provider: &MockServer,
        bot: &str,
        manifest: &str,
        configure: impl FnOnce(&mut Config),
    ) -> TestHost {
        Self::with_plugins(Some(provider), &[WHATSAPP], &[(bot, manifest)], |config| {
            fast_outbox(config);
            config.plugins.entry("whatsapp".into()).or_default().bot = Some(bot.to_string());
            configure(config);
        })
        .await
    }

    /// [`with_bot`](Self::with_bot) `faq-bot`, its order API at `orders`
    /// (granted by rewriting the manifest's `outbound_http`, its address and
    /// [`ORDERS_TOKEN`] given the way an admin gives them), and `extra`
    /// config values for the bot.
    pub async fn with_faq_bot(
        provider: &MockServer,
        orders: &MockServer,
        extra: &[(&str, Value)],
    ) -> TestHost {
        let toml_value = |v: &Value| toml::Value::try_from(v).unwrap();
        let order_status = json!({"api_base": orders.url(), "token": ORDERS_TOKEN});
        let mut values = vec![("order_status".to_string(), toml_value(&order_status))];
        for (k, v) in extra {
            values.push((k.to_string(), toml_value(v)));
        }
        Self::with_bot(
            provider,
            "faq-bot",
            &manifest_for_mock("faq-bot", orders),
            move |config| {
                let settings = config.plugins.entry("faq-bot".into()).or_default();
                for (k, v) in values {
                    settings.config.insert(k, v);
                }
            },
        )
        .await
    }

    /// [`with_bot`](Self::with_bot) `rogue-bot` (which traps or loops on
    /// request).
    pub async fn with_rogue_bot(provider: &MockServer) -> TestHost {
        Self::with_bot(
            provider,
            "rogue-bot",
            &first_party_manifest("testing/rogue-bot"),
            |_| {},
        )
        .await
    }

    /// A host over `dir` with `rest-crm` pointed at `crm` (under `/api`,
    /// with [`CRM_TOKEN`] and a `plan` attribute mapped on top of the
    /// default fields; without `enrich`, `enrich_fields` is empty: no
    /// look-ups, so the mock's queued answers only serve events), the `chat`
    /// test channel replying to `provider`, and the `longest-idle` and
    /// `vip-first` routers. The bundles are installed before the first
    /// start (a restart on the same directory finds them there). CRM retries
    /// are fast; `configure` adjusts the config further.
    pub async fn with_rest_crm(
        dir: Arc<tempfile::TempDir>,
        crm: &MockServer,
        provider: &MockServer,
        enrich: bool,
        configure: impl FnOnce(&mut Config),
    ) -> TestHost {
        let plugins = test_config(dir.path()).plugins_dir();
        if !plugins.exists() {
            std::fs::create_dir_all(&plugins).unwrap();
            for router in ["longest-idle", "vip-first"] {
                install(
                    &plugins,
                    router,
                    &first_party_manifest(router),
                    &wasm(router),
                );
            }
            install(
                &plugins,
                "rest-crm",
                &manifest_for_mock("rest-crm", crm),
                &wasm("rest-crm"),
            );
            install(
                &plugins,
                "chat",
                &test_channel_manifest("chat", "chat", Some(provider), ""),
                &wasm("test-channel"),
            );
        }
        let settings = rest_crm_settings(crm, enrich);
        let host = TestHost::start_in(dir, move |c| {
            c.plugins.entry("rest-crm".into()).or_default().config = settings;
            c.crm.base_backoff_ms = 50;
            c.crm.max_backoff_ms = 200;
            configure(c);
        })
        .await;
        let plugin = host.plugin("rest-crm").await;
        assert_eq!(plugin["status"], "active", "{plugin}");
        host
    }

    /// WhatsApp and the web chat (vouching for visitors signed with
    /// [`SITE_IDENTITY_SECRET`]) pointed at `provider`, `rogue-bot` taking
    /// the web chat's new conversations, and `rest-crm` pointed at `crm`:
    /// what a visitor who claims to be someone else could reach.
    pub async fn with_claims(provider: &MockServer, crm: &MockServer) -> TestHost {
        let settings = rest_crm_settings(crm, false);
        let bundles = [
            ("rogue-bot", first_party_manifest("testing/rogue-bot")),
            ("rest-crm", manifest_for_mock("rest-crm", crm)),
        ];
        let bundles: Vec<(&str, &str)> = bundles.iter().map(|(n, m)| (*n, m.as_str())).collect();
        Self::with_plugins(
            Some(provider),
            &[WHATSAPP, VOUCHING_WEBCHAT],
            &bundles,
            |config| {
                fast_outbox(config);
                config.plugins.entry("webchat".into()).or_default().bot = Some("rogue-bot".into());
                config.plugins.entry("rest-crm".into()).or_default().config = settings;
            },
        )
        .await
    }

    /// WhatsApp pointed at `provider` with `rogue-bot` taking its new
    /// conversations and `rest-crm` pointed at `crm`: everywhere a
    /// customer's words go.
    pub async fn with_bot_and_crm(
        provider: &MockServer,
        crm: &MockServer,
        configure: impl FnOnce(&mut Config),
    ) -> TestHost {
        let settings = rest_crm_settings(crm, false);
        let bundles = [
            ("rogue-bot", first_party_manifest("testing/rogue-bot")),
            ("rest-crm", manifest_for_mock("rest-crm", crm)),
        ];
        let bundles: Vec<(&str, &str)> = bundles.iter().map(|(n, m)| (*n, m.as_str())).collect();
        Self::with_plugins(Some(provider), &[WHATSAPP], &bundles, |config| {
            fast_outbox(config);
            config.plugins.entry("whatsapp".into()).or_default().bot = Some("rogue-bot".into());
            config.plugins.entry("rest-crm".into()).or_default().config = settings;
            configure(config);
        })
        .await
    }

    /// The host the presets start: `longest-idle`, then `bundles` (name,
    /// manifest; the wasm of the plugin crate of that name), then the
    /// channels with their settings, pointed at `mock` when there is one.
    pub async fn with_plugins(
        mock: Option<&MockServer>,
        channels: &[Channel<'_>],
        bundles: &[(&str, &str)],
        configure: impl FnOnce(&mut Config),
    ) -> TestHost {
        let dir = Arc::new(tempfile::tempdir().unwrap());
        let plugins = test_config(dir.path()).plugins_dir();
        std::fs::create_dir_all(&plugins).unwrap();
        install(
            &plugins,
            "longest-idle",
            &first_party_manifest("longest-idle"),
            &wasm("longest-idle"),
        );
        for (name, manifest) in bundles {
            install(&plugins, name, manifest, &wasm(name));
        }
        let mut settings = Vec::new();
        for (name, values) in channels {
            let mut table = toml::Table::new();
            let manifest = match mock {
                Some(mock) => {
                    table.insert("api_base".into(), mock.url().into());
                    manifest_for_mock(name, mock)
                }
                None => first_party_manifest(name),
            };
            install(&plugins, name, &manifest, &wasm(name));
            for (k, v) in *values {
                table.insert((*k).into(), (*v).into());
            }
            settings.push((name.to_string(), table));
        }
        TestHost::start_in(dir, move |config| {
            for (name, table) in settings {
                config.plugins.entry(name).or_default().config = table;
            }
            configure(config);
        })
        .await
    }
}

/// A calendar closed now whatever the day or hour: 09:00-17:00 UTC every
/// day, but today and tomorrow are holidays (it opens the day after
/// tomorrow at 09:00).
pub fn closed_today() -> switchboard::config::CalendarConfig {
    let today = chrono::DateTime::from_timestamp_millis(crate::now_ms() as i64)
        .unwrap()
        .date_naive();
    let mut calendar = switchboard::config::CalendarConfig {
        time_zone: "UTC".into(),
        holidays: vec![today.to_string(), today.succ_opt().unwrap().to_string()],
        ..Default::default()
    };
    for day in ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] {
        calendar
            .weekly
            .insert(day.into(), vec!["09:00-17:00".into()]);
    }
    calendar
}
