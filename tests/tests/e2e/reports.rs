//! A scripted day on WhatsApp with the FAQ bot and a CSAT survey: a
//! conversation the bot closes itself, handoffs Ann handles (one labelled
//! `refund`), a survey answered and one ignored, and the same customer
//! back within the first-contact window. Every report — intervals,
//! channels, labels, agents, surveys — says exactly that, as JSON and
//! CSV, and the same after a restart.

use serde_json::{Value, json};
use switchboard::config::SurveyConfig;
use switchboard::conversations::SurveyKind;
use switchboard_tests::channels::secrets::ORDERS_TOKEN;
use switchboard_tests::channels::{manifest_for_mock, whatsapp_text};
use switchboard_tests::{ADMIN_TOKEN, MockServer, TestHost, now_ms};

/// The customer's newest conversation.
async fn latest_conversation(host: &TestHost, wa_id: &str) -> String {
    let customer = host.customer_id(&format!("phone:+{wa_id}")).await;
    let timeline = host.timeline(&customer).await;
    timeline.last().unwrap()["conversation_id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Ann takes the offered task of `conversation`, labels it, completes it.
async fn ann_handles(host: &TestHost, ann: &str, conversation: &str, labels: &[&str]) {
    let tasks = host
        .wait_tasks("ann", ann, |t| {
            t.iter()
                .any(|t| t["conversation_id"] == conversation && t["state"] == "reserved")
        })
        .await;
    let task = tasks
        .iter()
        .find(|t| t["conversation_id"] == conversation)
        .unwrap();
    let id = task["id"].as_str().unwrap();
    host.accept_task(ann, id).await;
    if !labels.is_empty() {
        let (status, body) = host
            .call(
                "PUT",
                &format!("/api/conversations/{conversation}/labels"),
                Some(ann),
                Some(json!({ "labels": labels })),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    host.complete_task(ann, id, None).await;
}

fn one<'a>(rows: &'a Value, group: &str) -> &'a Value {
    rows.as_array()
        .unwrap()
        .iter()
        .find(|r| r["group"] == group || r["agent_id"] == group)
        .unwrap_or_else(|| panic!("no row {group}: {rows:#}"))
}

#[tokio::test]
async fn a_scripted_day_is_what_every_report_says() {
    let (provider, orders) = (MockServer::start().await, MockServer::start().await);
    let manifest = manifest_for_mock("faq-bot", &orders);
    let host = TestHost::with_bot(&provider, "faq-bot", &manifest, |config| {
        let settings = config.plugins.entry("faq-bot".into()).or_default();
        let order_status = json!({"api_base": orders.url(), "token": ORDERS_TOKEN});
        settings.config.insert(
            "order_status".into(),
            toml::Value::try_from(&order_status).unwrap(),
        );
        config.surveys.insert(
            "whatsapp".into(),
            SurveyConfig {
                kind: SurveyKind::Csat,
                question: None,
                thanks: "Thanks!".into(),
                expire_after_ms: 3_600_000,
            },
        );
    })
    .await;
    let from = now_ms() - 1_000;
    let ann = host
        .agent("ann", json!({"name": "Ann", "capacity": {"messaging": 3}}))
        .await;
    host.set_status("ann", &ann, "available").await;

    // 1. The bot answers and closes a conversation by itself.
    whatsapp_text(&host, "16505550001", "wamid.d1", "Thanks, bye!").await;
    let contained = latest_conversation(&host, "16505550001").await;
    host.admin_json_until(
        &format!("/api/conversations/{contained}"),
        "closed by the bot",
        |c| c["status"] == "resolved",
    )
    .await;
    // 2. Bea asks for a person; Ann handles it as a refund; Bea rates 5.
    whatsapp_text(&host, "16505550002", "wamid.d2", "human").await;
    let bea = latest_conversation(&host, "16505550002").await;
    ann_handles(&host, &ann, &bea, &["refund"]).await;
    whatsapp_text(&host, "16505550002", "wamid.d3", "5").await;
    host.admin_json_until(&format!("/api/conversations/{bea}"), "rated", |c| {
        c["survey"]["score"] == 5
    })
    .await;
    // 3. Cal asks for a person; Ann handles it; Cal ignores the survey.
    whatsapp_text(&host, "16505550003", "wamid.d4", "human").await;
    let cal = latest_conversation(&host, "16505550003").await;
    ann_handles(&host, &ann, &cal, &[]).await;
    // 4. Bea is back (within the first-contact window): a repeat contact.
    whatsapp_text(&host, "16505550002", "wamid.d5", "human").await;
    let again = latest_conversation(&host, "16505550002").await;
    assert_ne!(again, bea);
    ann_handles(&host, &ann, &again, &[]).await;
    let to = now_ms() + 1_000;

    let report = |name: &str, extra: &str| {
        format!("/api/reports/{name}?from={from}&to={to}&interval=1d{extra}")
    };
    let intervals = host.admin_json(&report("intervals", "")).await;
    let day = one(&intervals, "messaging");
    let figures =
        |r: &Value, keys: &[&str]| -> Vec<Value> { keys.iter().map(|k| r[*k].clone()).collect() };
    let keys = [
        "offered",
        "handled",
        "abandoned",
        "repeat_contacts",
        "resolved_first_contact",
        "bot_conversations",
        "bot_contained",
        "containment_pct",
    ];
    assert_eq!(
        figures(day, &keys),
        [
            json!(3),
            json!(3),
            json!(0),
            json!(1),
            json!(2),
            json!(4),
            json!(1),
            json!(25.0)
        ],
        "{day:#}"
    );
    assert_eq!(day["fcr_pct"], 66.66, "{day:#}");

    // Per label: the refund, and the rest.
    let labels = host.admin_json(&report("labels", "")).await;
    assert_eq!(
        figures(one(&labels, "refund"), &["offered", "handled"]),
        [json!(1), json!(1)]
    );
    assert_eq!(one(&labels, "-")["offered"], 2, "{labels:#}");
    let channels = host.admin_json(&report("channels", "")).await;
    assert_eq!(one(&channels, "whatsapp")["handled"], 3, "{channels:#}");

    // Ann: three handled, busy some of the time she was available.
    let agents = host.admin_json(&report("agents", "")).await;
    let row = one(&agents, "ann");
    assert_eq!(row["handled"], 3, "{row:#}");
    assert!(row["available_ms"].as_u64().unwrap() > 0, "{row:#}");
    assert!(row["handling_ms"].as_u64().unwrap() > 0, "{row:#}");
    let occupancy = row["occupancy_pct"].as_f64().unwrap();
    assert!(occupancy > 0.0 && occupancy <= 100.0, "{row:#}");

    // Surveys: three sent, one answered with 5.
    let surveys = host.admin_json(&report("surveys", "&group_by=agent")).await;
    let row = one(&surveys, "ann");
    assert_eq!(
        figures(
            row,
            &["survey", "sent", "answered", "avg_score", "satisfied_pct"]
        ),
        [json!("csat"), json!(3), json!(1), json!(5.0), json!(100.0)],
        "{row:#}"
    );
    assert_eq!(row["response_rate_pct"], 33.33);

    // CSV: by suffix, a header from the fields, one line per row.
    let csv = host
        .client
        .get(host.url(&report("surveys.csv", "&group_by=agent")))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 2, "{csv}");
    assert!(
        lines[0].starts_with("interval_start,group,survey,sent,answered,"),
        "{csv}"
    );
    assert!(
        lines[1].starts_with(&format!("{from},ann,csat,3,1,33.33,5.0,100.0,")),
        "{csv}"
    );
    let (status, _) = host
        .call("GET", &report("nothing", ""), Some(ADMIN_TOKEN), None)
        .await;
    assert_eq!(status, 404);

    // After a restart: the same figures.
    let host = host.restart().await;
    assert_eq!(host.admin_json(&report("intervals", "")).await, intervals);
    assert_eq!(host.admin_json(&report("labels", "")).await, labels);
    assert_eq!(
        host.admin_json(&report("surveys", "&group_by=agent")).await,
        surveys
    );
}
