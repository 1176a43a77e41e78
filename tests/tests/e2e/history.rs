//! The event history: every change reports count, appended in the same
//! write as the change, in the order changes happened — a task's whole
//! life, agents' statuses, messages in and out (never their words); read
//! page by page by supervisors; kept across restarts, numbered on from
//! where it stopped; with a retention of its own; and unlinked from a
//! customer who is erased. The interval report is computed from it.

use serde_json::{Value, json};
use switchboard_tests::channels::{caller_gives_up, reply, sms_from, take_task};
use switchboard_tests::presets::{SMS, VOICE, fast_outbox};
use switchboard_tests::{ADMIN_TOKEN, MockServer, TestHost, now_ms};

/// The history as the admin reads it, `after` a seq.
async fn history(host: &TestHost, after: u64) -> Vec<Value> {
    host.admin_json(&format!("/api/history?after={after}"))
        .await
        .as_array()
        .unwrap()
        .clone()
}

fn kinds(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["kind"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn a_task_s_life_is_in_the_history_in_order_and_survives_a_restart() {
    let mock = MockServer::start().await;
    let host = TestHost::with_channels(&mock, &[SMS], fast_outbox).await;
    sms_from(&host, None, "SMhist1", "Is my order shipped?").await;
    let (token, task) = take_task(&host, "ann", json!({})).await;
    let conversation = task["conversation_id"].as_str().unwrap();
    reply(&host, &token, conversation, "It left this morning").await;
    host.complete_task(
        &token,
        task["id"].as_str().unwrap(),
        Some(json!({"disposition": "answered"})),
    )
    .await;

    let events = history(&host, 0).await;
    assert_eq!(
        kinds(&events),
        [
            "message.in",
            "task.created",
            "agent.status",
            "task.reserved",
            "task.accepted",
            "message.out",
            "task.completed"
        ],
        "{events:#?}"
    );
    let seqs: Vec<u64> = events.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    let done = &events[6];
    assert_eq!(done["task_id"], task["id"]);
    assert_eq!(done["agent_id"], "ann");
    assert_eq!(done["channel"], "sms");
    assert_eq!(done["data"]["state"], "completed");
    assert_eq!(done["data"]["disposition"], "answered");
    assert_eq!(done["data"]["channel_kind"], "messaging");
    assert_eq!(events[2]["data"]["status"], "available");
    // Counts, not words.
    let text = serde_json::to_string(&events).unwrap();
    assert!(
        !text.contains("shipped") && !text.contains("morning"),
        "{text}"
    );

    // Paged by seq; supervisors only.
    let rest = history(&host, seqs[3]).await;
    assert_eq!(kinds(&rest), kinds(&events[4..]));
    let (status, _) = host.call("GET", "/api/history", Some(&token), None).await;
    assert_eq!(status, 403);
    let (status, _) = host
        .call("GET", "/api/history?limit=0", Some(ADMIN_TOKEN), None)
        .await;
    assert_eq!(status, 400);

    // After a restart: the same history, numbered on from where it was.
    let host = host.restart().await;
    assert_eq!(history(&host, 0).await, events);
    sms_from(&host, None, "SMhist2", "Thanks!").await;
    let later = history(&host, seqs[6]).await;
    assert_eq!(
        kinds(&later)[..2],
        ["message.in", "task.created"],
        "{later:#?}"
    );
    assert!(later[0]["seq"].as_u64().unwrap() > seqs[6]);
}

#[tokio::test]
async fn the_history_has_its_own_retention_and_forgets_who_an_erased_customer_was() {
    let mock = MockServer::start().await;
    let host = TestHost::with_channels(&mock, &[SMS], |config| {
        fast_outbox(config);
        config.retention.history_days = Some(30);
        config.retention.allow_as_of = true;
    })
    .await;
    sms_from(&host, None, "SMhist3", "Hello").await;
    let (token, task) = take_task(&host, "ann", json!({})).await;
    host.complete_task(&token, task["id"].as_str().unwrap(), None)
        .await;
    let events = history(&host, 0).await;
    assert!(!events.is_empty());
    let customer = events[0]["customer_id"].as_str().unwrap().to_string();

    // Erased: her events stay (the counts), without her id.
    let (status, erased) = host.erase_customer(&customer).await;
    assert_eq!(status, 200, "{erased}");
    let after = history(&host, 0).await;
    assert_eq!(kinds(&after), kinds(&events));
    assert!(
        after.iter().all(|e| e["customer_id"].is_null()),
        "{after:#?}"
    );
    assert!(after.iter().any(|e| e["kind"] == "task.completed"));

    // A month and a day on, the pass removes them.
    let (status, pass) = host
        .call(
            "POST",
            "/api/retention/run",
            Some(ADMIN_TOKEN),
            Some(json!({"as_of": now_ms() + 31 * 86_400_000})),
        )
        .await;
    assert_eq!(status, 200, "{pass}");
    assert_eq!(
        pass["history_removed"].as_u64(),
        Some(after.len() as u64),
        "{pass}"
    );
    assert!(history(&host, 0).await.is_empty());
}

#[tokio::test]
async fn the_interval_report_counts_from_the_history_in_json_and_csv() {
    let mock = MockServer::start().await;
    let host = TestHost::with_channels(&mock, &[SMS, VOICE], fast_outbox).await;
    let from = now_ms() - 1_000;
    // A caller gives up while waiting; an SMS is answered and completed.
    caller_gives_up(&host).await;
    sms_from(&host, None, "SMreport1", "Where is my parcel?").await;
    let (token, task) = take_task(&host, "ann", json!({})).await;
    host.complete_task(
        &token,
        task["id"].as_str().unwrap(),
        Some(json!({"disposition": "answered"})),
    )
    .await;
    let to = now_ms() + 1_000;
    let path = |group: &str| {
        format!("/api/reports/intervals?from={from}&to={to}&interval=1d&group_by={group}")
    };

    let rows = host.admin_json(&path("kind")).await;
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 2, "{rows:#?}");
    let (messaging, voice) = (&rows[0], &rows[1]);
    assert_eq!(messaging["group"], "messaging");
    assert_eq!(messaging["interval_start"], from);
    assert_eq!(
        (
            &messaging["offered"],
            &messaging["handled"],
            &messaging["abandoned"],
            &messaging["answered_within_sla"],
            &messaging["service_level_pct"],
        ),
        (&json!(1), &json!(1), &json!(0), &json!(1), &json!(100.0)),
        "{messaging}"
    );
    assert!(messaging["avg_handle_ms"].is_u64(), "{messaging}");
    // Nothing more from her (yet): resolved at first contact.
    assert_eq!(
        (
            &messaging["repeat_contacts"],
            &messaging["resolved_first_contact"],
            &messaging["fcr_pct"]
        ),
        (&json!(0), &json!(1), &json!(100.0)),
        "{messaging}"
    );
    assert_eq!(voice["group"], "voice");
    assert_eq!(
        (
            &voice["offered"],
            &voice["handled"],
            &voice["abandoned"],
            &voice["service_level_pct"]
        ),
        (&json!(1), &json!(0), &json!(1), &json!(0.0)),
        "{voice}"
    );
    assert!(voice["avg_time_to_abandon_ms"].is_u64(), "{voice}");
    assert!(voice["avg_speed_of_answer_ms"].is_null(), "{voice}");

    // By agent: Ann's, and the call nobody took.
    let by_agent = host.admin_json(&path("agent")).await;
    let groups: Vec<&str> = by_agent
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["group"].as_str().unwrap())
        .collect();
    assert_eq!(groups, ["-", "ann"]);

    // The same as CSV.
    let csv = host
        .client
        .get(host.url(&path("kind")))
        .bearer_auth(ADMIN_TOKEN)
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), 200);
    assert!(
        csv.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let csv = csv.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(lines[0].starts_with("interval_start,group,offered,answered,handled,abandoned,"));
    assert!(
        lines[1].starts_with(&format!("{from},messaging,1,1,1,0,,1,100.0,")),
        "{csv}"
    );
    assert!(
        lines[2].starts_with(&format!("{from},voice,1,0,0,1,")),
        "{csv}"
    );

    // Supervisors only; a wrong interval is 400; after a restart, the same.
    let (status, _) = host.call("GET", &path("kind"), Some(&token), None).await;
    assert_eq!(status, 403);
    let (status, _) = host
        .call(
            "GET",
            "/api/reports/intervals?interval=2h",
            Some(ADMIN_TOKEN),
            None,
        )
        .await;
    assert_eq!(status, 400);
    let host = host.restart().await;
    assert_eq!(
        host.admin_json(&path("kind")).await.as_array().unwrap(),
        rows
    );

    // She writes again (the same phone, so the same customer — the caller
    // of the missed call too): a repeat contact, and her first one no
    // longer counts as resolved at first contact.
    sms_from(&host, None, "SMreport2", "Still no parcel").await;
    let to = now_ms() + 1_000;
    let rows = host
        .admin_json(&format!(
            "/api/reports/intervals?from={from}&to={to}&interval=1d"
        ))
        .await;
    let messaging = &rows[0];
    assert_eq!(
        (
            &messaging["offered"],
            &messaging["repeat_contacts"],
            &messaging["resolved_first_contact"],
            &messaging["fcr_pct"]
        ),
        (&json!(2), &json!(1), &json!(0), &json!(0.0)),
        "{messaging}"
    );
}
