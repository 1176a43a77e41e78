//! A scripted day on WhatsApp (with the FAQ bot and a CSAT survey) and
//! voice: a conversation the bot closes itself, handoffs Ann handles (one
//! labelled `refund`), one she transfers to Bob, a survey answered and
//! two ignored, the same customer back within the first-contact window
//! and then answered after the SLA target, and a caller who gives up.
//! Every report — intervals, channels, labels, agents, surveys — says
//! exactly that, as JSON and CSV, and the same after a restart.

use serde_json::{Value, json};
use switchboard::config::SurveyConfig;
use switchboard::conversations::SurveyKind;
use switchboard_tests::channels::secrets::ORDERS_TOKEN;
use switchboard_tests::channels::{caller_gives_up, manifest_for_mock, whatsapp_text};
use switchboard_tests::presets::{VOICE, WHATSAPP, fast_outbox};
use switchboard_tests::{ADMIN_TOKEN, MockServer, TestHost, now_ms, wait_past};

/// The messaging SLA target of the day, ms.
const SLA_MS: u64 = 1_500;

/// The customer's newest conversation.
async fn latest_conversation(host: &TestHost, wa_id: &str) -> String {
    let customer = host.customer_id(&format!("phone:+{wa_id}")).await;
    let timeline = host.timeline(&customer).await;
    timeline.last().unwrap()["conversation_id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// `agent` takes the offered task of `conversation` and labels it; returns
/// the task's id.
async fn take(
    host: &TestHost,
    (id, token): (&str, &str),
    conversation: &str,
    labels: &[&str],
) -> String {
    let tasks = host
        .wait_tasks(id, token, |t| {
            t.iter()
                .any(|t| t["conversation_id"] == conversation && t["state"] == "reserved")
        })
        .await;
    let task = tasks
        .iter()
        .find(|t| t["conversation_id"] == conversation)
        .unwrap();
    let task_id = task["id"].as_str().unwrap().to_string();
    host.accept_task(token, &task_id).await;
    if !labels.is_empty() {
        let (status, body) = host
            .call(
                "PUT",
                &format!("/api/conversations/{conversation}/labels"),
                Some(token),
                Some(json!({ "labels": labels })),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    task_id
}

/// Ann takes, labels and completes the offered task of `conversation`;
/// returns the task's id.
async fn ann_handles(host: &TestHost, ann: &str, conversation: &str, labels: &[&str]) -> String {
    let task = take(host, ("ann", ann), conversation, labels).await;
    host.complete_task(ann, &task, None).await;
    task
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
    let bundles = [("faq-bot", manifest.as_str())];
    let host = TestHost::with_plugins(Some(&provider), &[WHATSAPP, VOICE], &bundles, |config| {
        fast_outbox(config);
        config.plugins.entry("whatsapp".into()).or_default().bot = Some("faq-bot".into());
        let settings = config.plugins.entry("faq-bot".into()).or_default();
        let order_status = json!({"api_base": orders.url(), "token": ORDERS_TOKEN});
        settings.config.insert(
            "order_status".into(),
            toml::Value::try_from(&order_status).unwrap(),
        );
        config.routing.sla_ms.messaging = SLA_MS;
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
    let bob = host
        .agent("bob", json!({"name": "Bob", "capacity": {"messaging": 3}}))
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
    let mut handled = vec![ann_handles(&host, &ann, &bea, &["refund"]).await];
    whatsapp_text(&host, "16505550002", "wamid.d3", "5").await;
    host.admin_json_until(&format!("/api/conversations/{bea}"), "rated", |c| {
        c["survey"]["score"] == 5
    })
    .await;
    // 3. Cal asks for a person; Ann takes it and passes it to Bob, who
    //    completes it; Cal ignores the survey.
    whatsapp_text(&host, "16505550003", "wamid.d4", "human").await;
    let cal = latest_conversation(&host, "16505550003").await;
    let task = take(&host, ("ann", &ann), &cal, &[]).await;
    host.set_status("bob", &bob, "available").await;
    let (status, moved) = host
        .call(
            "POST",
            &format!("/api/tasks/{task}/transfer"),
            Some(&ann),
            Some(json!({"to_agent": "bob"})),
        )
        .await;
    assert_eq!(status, 200, "{moved}");
    let task = take(&host, ("bob", &bob), &cal, &[]).await;
    host.complete_task(&bob, &task, None).await;
    host.set_status("bob", &bob, "away").await;
    handled.push(task);
    // 4. Bea is back within the first-contact window while Ann is away:
    //    answered after the SLA target.
    host.set_status("ann", &ann, "away").await;
    whatsapp_text(&host, "16505550002", "wamid.d5", "human").await;
    let again = latest_conversation(&host, "16505550002").await;
    assert_ne!(again, bea);
    let queued = host
        .admin_json_until("/api/queue", "Bea's second task", |q| {
            q.as_array()
                .unwrap()
                .iter()
                .any(|t| t["conversation_id"] == again.as_str())
        })
        .await;
    let created = queued[0]["created_at"].as_u64().unwrap();
    wait_past(created + SLA_MS).await;
    host.set_status("ann", &ann, "available").await;
    handled.push(ann_handles(&host, &ann, &again, &[]).await);
    // 5. A caller gives up while waiting.
    caller_gives_up(&host).await;
    let to = now_ms() + 1_000;

    // What the tasks say about the SLA: the late one, and any other that
    // a slow machine answered late too.
    let mut within = 0;
    for id in &handled {
        let (_, task) = host
            .call("GET", &format!("/api/tasks/{id}"), Some(ADMIN_TOKEN), None)
            .await;
        let waited = task["accepted_at"].as_u64().unwrap() - task["created_at"].as_u64().unwrap();
        within += u64::from(waited <= SLA_MS);
    }
    assert!(within <= 2, "the late one breached");

    let report = |name: &str, extra: &str| {
        format!("/api/reports/{name}?from={from}&to={to}&interval=1d{extra}")
    };
    let intervals = host.admin_json(&report("intervals", "")).await;
    let day = one(&intervals, "messaging");
    let figures =
        |r: &Value, keys: &[&str]| -> Vec<Value> { keys.iter().map(|k| r[*k].clone()).collect() };
    let keys = [
        "offered",
        "answered",
        "handled",
        "abandoned",
        "answered_within_sla",
        "transfers",
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
            json!(3),
            json!(0),
            json!(within),
            json!(1),
            json!(1),
            json!(2),
            json!(4),
            json!(1),
            json!(25.0)
        ],
        "{day:#}"
    );
    assert_eq!(day["fcr_pct"], 66.66, "{day:#}");
    let voice = one(&intervals, "voice");
    assert_eq!(
        figures(
            voice,
            &["offered", "answered", "abandoned", "service_level_pct"]
        ),
        [json!(1), json!(0), json!(1), json!(0.0)],
        "{voice:#}"
    );

    // Per label: the refund, and the rest.
    let labels = host.admin_json(&report("labels", "")).await;
    assert_eq!(
        figures(one(&labels, "refund"), &["offered", "handled"]),
        [json!(1), json!(1)]
    );
    assert_eq!(one(&labels, "-")["offered"], 3, "{labels:#}");
    let channels = host.admin_json(&report("channels", "")).await;
    assert_eq!(one(&channels, "whatsapp")["handled"], 3, "{channels:#}");
    assert_eq!(one(&channels, "voice")["abandoned"], 1, "{channels:#}");

    // Ann handled two, Bob the one she passed him; each was busy some of
    // the time available.
    let agents = host.admin_json(&report("agents", "")).await;
    assert_eq!(one(&agents, "bob")["handled"], 1, "{agents:#}");
    let row = one(&agents, "ann");
    assert_eq!(row["handled"], 2, "{row:#}");
    assert!(row["available_ms"].as_u64().unwrap() > 0, "{row:#}");
    assert!(row["handling_ms"].as_u64().unwrap() > 0, "{row:#}");
    let occupancy = row["occupancy_pct"].as_f64().unwrap();
    assert!(occupancy > 0.0 && occupancy <= 100.0, "{row:#}");

    // Surveys: Ann's two sent, one answered with 5; Bob's one ignored.
    let surveys = host.admin_json(&report("surveys", "&group_by=agent")).await;
    let row = one(&surveys, "ann");
    let keys = ["survey", "sent", "answered", "avg_score", "satisfied_pct"];
    assert_eq!(
        figures(row, &keys),
        [json!("csat"), json!(2), json!(1), json!(5.0), json!(100.0)],
        "{row:#}"
    );
    assert_eq!(row["response_rate_pct"], 50.0);
    let row = one(&surveys, "bob");
    assert_eq!(
        figures(row, &["sent", "answered"]),
        [json!(1), json!(0)],
        "{row:#}"
    );

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
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(
        lines[0].starts_with("interval_start,group,survey,sent,answered,"),
        "{csv}"
    );
    assert!(
        lines[1].starts_with(&format!("{from},ann,csat,2,1,50.0,5.0,100.0,")),
        "{csv}"
    );
    assert!(
        lines[2].starts_with(&format!("{from},bob,csat,1,0,0.0,,,")),
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
