//! Satisfaction surveys: resolving an agent's conversation on a channel
//! with a survey asks the customer; her reply — a number, stars or a
//! word — is her answer, stored on the surveyed conversation, attributed
//! to the agent and channel, in the history and on the timeline CRM
//! plugins get, and she is thanked; a reply that is not a score is a
//! normal message; an expired survey records nothing.

use serde_json::{Value, json};
use switchboard::config::{Config, SurveyConfig};
use switchboard::conversations::SurveyKind;
use switchboard_tests::channels::{sms_from, sms_sent};
use switchboard_tests::presets::{SMS, fast_outbox};
use switchboard_tests::{MockServer, TestHost, now_ms, wait_past};

fn with_csat(expire_after_ms: u64) -> impl FnOnce(&mut Config) {
    move |config: &mut Config| {
        fast_outbox(config);
        config.surveys.insert(
            "sms".into(),
            SurveyConfig {
                kind: SurveyKind::Csat,
                question: Some("How did Ann do? Reply 1-5.".into()),
                thanks: "Thanks for telling us!".into(),
                expire_after_ms,
            },
        );
    }
}

/// A customer at `from` writes; Ann (made on the first call) takes and
/// completes the task; returns Ann's token and the conversation, once the
/// question reached the customer.
async fn served(
    host: &TestHost,
    mock: &MockServer,
    ann: Option<String>,
    from: &str,
) -> (String, String) {
    sms_from(
        host,
        Some(from),
        &format!("SMsurvey{from}"),
        "Where is my order?",
    )
    .await;
    let token = match ann {
        Some(t) => t,
        None => {
            let t = host
                .agent("ann", json!({"name": "Ann", "capacity": {"messaging": 3}}))
                .await;
            host.set_status("ann", &t, "available").await;
            t
        }
    };
    let tasks = host
        .wait_tasks("ann", &token, |t| {
            t.iter().any(|t| t["state"] == "reserved")
        })
        .await;
    let task = tasks.iter().find(|t| t["state"] == "reserved").unwrap();
    let id = task["id"].as_str().unwrap();
    host.accept_task(&token, id).await;
    host.complete_task(&token, id, None).await;
    let conversation = task["conversation_id"].as_str().unwrap().to_string();
    let asked = (from.to_string(), "How did Ann do? Reply 1-5.".to_string());
    switchboard_tests::wait_until(
        std::time::Duration::from_secs(10),
        "the survey question to be sent",
        async || sms_sent(mock).contains(&asked),
    )
    .await;
    (token, conversation)
}

async fn survey_of(host: &TestHost, conversation: &str) -> Value {
    host.conversation(conversation).await["survey"].clone()
}

#[tokio::test]
async fn a_number_stars_or_a_word_answer_the_survey_and_anything_else_is_a_message() {
    let mock = MockServer::start().await;
    let host = TestHost::with_channels(&mock, &[SMS], with_csat(3_600_000)).await;

    let mut ann = None;
    let mut surveyed = Vec::new();
    for (i, answer) in ["5", "⭐⭐⭐⭐", "great", "My parcel is still missing"]
        .into_iter()
        .enumerate()
    {
        let from = format!("+1650555010{i}");
        let (token, conversation) = served(&host, &mock, ann.take(), &from).await;
        ann = Some(token);
        sms_from(&host, Some(&from), &format!("SManswer{i}"), answer).await;
        surveyed.push((from, conversation, answer));
    }

    for (from, conversation, answer) in &surveyed[..3] {
        let survey = survey_of(&host, conversation).await;
        let expected = if *answer == "⭐⭐⭐⭐" { 4 } else { 5 };
        assert_eq!(survey["score"], expected, "{answer}: {survey}");
        assert_eq!(
            (survey["kind"].clone(), survey["agent_id"].clone()),
            (json!("csat"), json!("ann"))
        );
        // The answer and a note for CRM plugins land on the surveyed
        // conversation, which stays resolved; she is thanked.
        let texts = host.message_texts(conversation).await;
        assert!(texts.contains(&answer.to_string()), "{texts:?}");
        assert!(
            texts.contains(&format!("Survey answered: CSAT {expected} (1-5)")),
            "{texts:?}"
        );
        assert_eq!(host.conversation(conversation).await["status"], "resolved");
        let thanks = (from.clone(), "Thanks for telling us!".to_string());
        switchboard_tests::wait_until(
            std::time::Duration::from_secs(10),
            "the thanks",
            async || sms_sent(&mock).contains(&thanks),
        )
        .await;
    }
    // Not a score: a new conversation and a task, the survey unanswered.
    let (_, conversation, _) = &surveyed[3];
    assert!(survey_of(&host, conversation).await["score"].is_null());
    let ann = ann.unwrap();
    let offered = host
        .wait_tasks("ann", &ann, |t| t.iter().any(|t| t["state"] == "reserved"))
        .await;
    assert_eq!(offered.len(), 1, "{offered:?}");
    assert_ne!(offered[0]["conversation_id"], conversation.as_str());

    // The history has each answer, attributed to Ann on sms.
    let history = host.admin_json("/api/history").await;
    let answers: Vec<&Value> = history
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "survey.answered")
        .collect();
    assert_eq!(answers.len(), 3, "{history:#}");
    assert!(
        answers
            .iter()
            .all(|e| e["agent_id"] == "ann" && e["channel"] == "sms")
    );
    let scores: Vec<&Value> = answers.iter().map(|e| &e["data"]["score"]).collect();
    assert_eq!(scores, [&json!(5), &json!(4), &json!(5)]);
    let sent = history
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "survey.sent")
        .count();
    assert_eq!(sent, 4);
}

#[tokio::test]
async fn an_expired_survey_records_nothing() {
    let mock = MockServer::start().await;
    let host = TestHost::with_channels(&mock, &[SMS], with_csat(50)).await;
    let from = "+16505550199";
    let (ann, conversation) = served(&host, &mock, None, from).await;
    wait_past(now_ms() + 60).await;
    sms_from(&host, Some(from), "SMlate", "5").await;

    assert!(survey_of(&host, &conversation).await["score"].is_null());
    assert!(
        !host
            .message_texts(&conversation)
            .await
            .contains(&"5".to_string())
    );
    // "5" is a message like any other: it opens a conversation for an agent.
    let offered = host
        .wait_tasks("ann", &ann, |t| t.iter().any(|t| t["state"] == "reserved"))
        .await;
    assert_ne!(offered[0]["conversation_id"], conversation.as_str());
    let history = host.admin_json("/api/history").await;
    assert!(
        history
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["kind"] != "survey.answered"),
        "{history:#}"
    );
}
