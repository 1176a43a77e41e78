//! Business hours end to end: an SMS written while the channel's calendar is
//! closed gets the auto-reply once, with the next opening; its task keeps
//! its place without being offered and its SLA clock does not run; a
//! supervisor's override opens the calendar and the task is offered at
//! once; `GET /api/hours` says all of it.

use std::time::Duration;

use chrono::{Datelike, NaiveDate};
use serde_json::{Value, json};
use switchboard::config::{CalendarConfig, Config};
use switchboard::kind::Kind;
use switchboard_tests::channels::{sms_from, sms_sent};
use switchboard_tests::presets::{self, SMS, fast_outbox};
use switchboard_tests::{ADMIN_TOKEN, MockServer, TestHost, eventually, now_ms};

/// Today (UTC) and the next two days.
fn days() -> [NaiveDate; 3] {
    let today = chrono::DateTime::from_timestamp_millis(now_ms() as i64)
        .unwrap()
        .date_naive();
    [
        today,
        today.succ_opt().unwrap(),
        today.succ_opt().unwrap().succ_opt().unwrap(),
    ]
}

/// `support`: 09:00-17:00 UTC every day, but today and tomorrow are
/// holidays — closed now, whatever the time — for messaging; SLA targets
/// of 1 ms, so any waiting would breach them.
fn closed_today(config: &mut Config) {
    fast_outbox(config);
    let calendar = presets::closed_today();
    config.hours.calendars.insert("support".into(), calendar);
    config.hours.kinds.insert(Kind::Messaging, "support".into());
    config.routing.sla_ms.messaging = 1;
}

async fn sms(host: &TestHost, sid: &str, body: &str) {
    sms_from(host, None, sid, body).await;
}

/// The texts the mock Twilio was asked to send.
fn sent_texts(mock: &MockServer) -> Vec<String> {
    sms_sent(mock).into_iter().map(|(_, body)| body).collect()
}

#[tokio::test]
async fn a_message_while_closed_is_answered_once_and_waits_for_the_opening() {
    let mock = MockServer::start().await;
    let host = TestHost::with_channels(&mock, &[SMS], closed_today).await;
    let ann = host
        .agent("ann", json!({"name": "Ann", "capacity": {"messaging": 2}}))
        .await;
    host.set_status("ann", &ann, "available").await;

    sms(&host, "SMhours1", "Is my order shipped?").await;
    // The auto-reply, with the next opening in the calendar's time zone:
    // the day after tomorrow, 09:00.
    let [_, _, opening] = days();
    let next = format!(
        "{} {} {} 09:00",
        opening.weekday(),
        opening.day(),
        opening.format("%b")
    );
    assert!(
        eventually(Duration::from_secs(10), || sent_texts(&mock)
            .iter()
            .any(|t| t.contains("closed right now") && t.contains(&next)))
        .await,
        "no auto-reply naming {next}: {:?}",
        sent_texts(&mock)
    );
    // Once per closure: a second message gets none.
    sms(&host, "SMhours2", "Hello?").await;
    let queue = host
        .admin_json_until("/api/queue", "the task waiting", |q| {
            q.as_array().is_some_and(|q| q.len() == 1)
        })
        .await;
    let closed_notices = |mock: &MockServer| {
        sent_texts(mock)
            .iter()
            .filter(|t| t.contains("closed right now"))
            .count()
    };
    assert_eq!(closed_notices(&mock), 1, "{:?}", sent_texts(&mock));

    // Waiting, not offered; its SLA clock has not run.
    let waiting = &queue[0];
    assert_eq!(waiting["state"], "pending", "{waiting}");
    assert_eq!(waiting["open_wait_ms"], 0, "{waiting}");
    assert_eq!(waiting["sla_state"], "ok", "{waiting}");
    assert!(host.tasks_of("ann", &ann).await.is_empty());

    // What is open: support is closed until the day after tomorrow.
    let hours = host.admin_json("/api/hours").await;
    let support = &hours[0];
    assert_eq!(support["name"], "support", "{hours}");
    assert_eq!(support["open"], false, "{hours}");
    assert_eq!(support["kinds"], json!(["messaging"]), "{hours}");
    assert_eq!(support["next_open_local"], next.as_str(), "{hours}");
    // Agents may look too; they may not override.
    let (status, _) = host.call("GET", "/api/hours", Some(&ann), None).await;
    assert_eq!(status, 200);
    let (status, _) = host
        .call(
            "POST",
            "/api/hours/support/override",
            Some(&ann),
            Some(json!({"open": true})),
        )
        .await;
    assert_eq!(status, 403);

    // A supervisor opens it (an evening campaign): the task is offered.
    let sue = host
        .agent("sue", json!({"name": "Sue", "role": "supervisor"}))
        .await;
    let until = now_ms() + 3_600_000;
    let (status, opened) = host
        .call(
            "POST",
            "/api/hours/support/override",
            Some(&sue),
            Some(json!({"open": true, "until": until, "reason": "campaign"})),
        )
        .await;
    assert_eq!(status, 200, "{opened}");
    assert_eq!(opened["open"], true, "{opened}");
    assert_eq!(opened["override"]["by"], "sue", "{opened}");
    assert_eq!(opened["next_change"], until, "{opened}");
    host.wait_tasks("ann", &ann, |t| t.iter().any(|t| t["state"] == "reserved"))
        .await;
    let audit = host.admin_json("/api/audit?action=POST /api/hours").await;
    assert_eq!(audit[0]["actor"], "sue", "{audit}");
    assert_eq!(audit[0]["before"]["open"], false, "{audit}");
    assert_eq!(audit[0]["after"]["open"], true, "{audit}");

    // Lifted: closed again; bad input changes nothing.
    let (status, lifted) = host
        .call(
            "DELETE",
            "/api/hours/support/override",
            Some(ADMIN_TOKEN),
            None,
        )
        .await;
    assert_eq!(status, 200, "{lifted}");
    assert_eq!(lifted["open"], false, "{lifted}");
    for (path, body, want) in [
        ("/api/hours/nope/override", json!({"open": true}), 404),
        (
            "/api/hours/support/override",
            json!({"open": true, "until": 5}),
            400,
        ),
        ("/api/hours/support/override", json!({"open": "yes"}), 400),
    ] {
        let (status, answer) = host
            .call("POST", path, Some(ADMIN_TOKEN), Some(body.clone()))
            .await;
        assert_eq!(status, want, "{path} {body}: {answer}");
    }
    let hours: Value = host.admin_json("/api/hours").await;
    assert_eq!(hours[0]["open"], false, "{hours}");
    host.stop().await;
}

#[tokio::test]
async fn a_wrong_calendar_stops_the_start_with_the_reason() {
    let mut config = switchboard_tests::test_config(tempfile::tempdir().unwrap().path());
    config.hours.calendars.insert(
        "x".into(),
        CalendarConfig {
            time_zone: "Mars/Olympus".into(),
            ..Default::default()
        },
    );
    let err = switchboard::server::Server::start(config)
        .await
        .err()
        .expect("a host with a wrong calendar must not start")
        .to_string();
    assert!(
        err.contains("IANA") && err.contains("Mars/Olympus"),
        "{err}"
    );
}
