//! The agent floor over real HTTP: transfers (to skills, to a named agent
//! who lets the offer lapse, a voice call redirected to the new agent),
//! internal notes that never leave the host, canned responses, labels and
//! dispositions, and what a supervisor may do to other agents' work.

use serde_json::{Value, json};
use switchboard_tests::channels::{fixture, post_twilio, reply, requests, take_task};
use switchboard_tests::{MockServer, TestHost, test_message as msg};

/// The `Twiml` parameter of a Twilio call-update request body.
fn twiml_of(body: &[u8]) -> String {
    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(body).unwrap();
    form.into_iter()
        .find(|(k, _)| k == "Twiml")
        .map(|(_, v)| v)
        .unwrap_or_default()
}

/// `POST /api/tasks/{id}/transfer` with `token`.
async fn transfer(host: &TestHost, token: &str, task: &str, body: Value) -> (u16, Value) {
    host.call(
        "POST",
        &format!("/api/tasks/{task}/transfer"),
        Some(token),
        Some(body),
    )
    .await
}

/// A chat from `email` on the test channel `chat`, taken by a new agent
/// `id`; returns its token and the accepted task.
async fn chat_taken_by(host: &TestHost, id: &str, email: &str, text: &str) -> (String, Value) {
    host.inbound(
        "chat",
        msg(&format!("m-{email}"), json!({"email": email}), text),
    )
    .await;
    take_task(host, id, json!({})).await
}

#[tokio::test]
async fn a_chat_transferred_to_skills_keeps_its_conversation_and_the_note_goes_first() {
    let mock = MockServer::start().await;
    let host = TestHost::start(|_| {}).await;
    host.install_channel("chat", "chat", Some(&mock), "").await;
    let (ann, task) = chat_taken_by(&host, "ann", "sheena@example.com", "My refund?").await;
    let id = task["id"].as_str().unwrap().to_string();
    let conversation = task["conversation_id"].as_str().unwrap().to_string();

    // Bob is the billing specialist, signed in but busy elsewhere (away).
    let bob = host
        .agent(
            "bob",
            json!({"name": "Bob", "skills": {"billing": 4}, "capacity": {"chat": 2}}),
        )
        .await;

    let (status, moved) = transfer(
        &host,
        &ann,
        &id,
        json!({"to_skills": {"billing": 3}, "note": "Wants the refund for order 4411"}),
    )
    .await;
    assert_eq!(status, 200, "{moved}");
    assert_eq!(moved["state"], "pending");
    assert_eq!(moved["agent_id"], Value::Null);
    assert_eq!(
        moved["skills"],
        json!([{"name": "billing", "min_level": 3}])
    );
    let hop = &moved["history"][0];
    assert_eq!(
        (&hop["action"], &hop["by"], &hop["from_agent"]),
        (&json!("transferred"), &json!("ann"), &json!("ann"))
    );
    assert_eq!(hop["note"], "Wants the refund for order 4411");
    // Ann's capacity is free at once, and the task is no longer hers.
    assert!(host.tasks_of("ann", &ann).await.is_empty());
    let (status, _) = transfer(&host, &ann, &id, json!({"to_skills": {}})).await;
    assert_eq!(status, 403, "not hers any more");

    host.set_status("bob", &bob, "available").await;
    let offered = host
        .wait_tasks("bob", &bob, |t| t.iter().any(|t| t["state"] == "reserved"))
        .await;
    assert_eq!(offered[0]["id"], id.as_str());
    host.accept_task(&bob, &id).await;

    // Bob sees the note first, and the whole conversation.
    let (status, view) = host
        .call(
            "GET",
            &format!("/api/conversations/{conversation}"),
            Some(&bob),
            None,
        )
        .await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["notes"][0]["text"], "Wants the refund for order 4411");
    assert_eq!(view["notes"][0]["author"], "ann");
    assert_eq!(view["notes"][0]["internal"], true);
    assert_eq!(view["messages"][0]["text"], "My refund?");

    // He answers on the same thread; the note never went out.
    reply(&host, &bob, &conversation, "Refund sent.").await;
    let sent = requests(&mock, 1).await;
    let out = sent
        .iter()
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(out.contains("Refund sent."), "{out}");
    assert!(!out.contains("4411"), "a note reached the provider: {out}");

    // One conversation on the customer's timeline.
    let customer = task["customer_id"].as_str().unwrap();
    let (_, conversations) = host
        .admin_get(&format!("/api/conversations?customer_id={customer}"))
        .await;
    assert_eq!(
        conversations.as_array().unwrap().len(),
        1,
        "{conversations}"
    );
    let (_, stats) = host.admin_get("/api/stats").await;
    assert_eq!(stats["channels"]["chat"]["transfers"], 1);
    assert_eq!(stats["channels"]["chat"]["answered"], 1, "answered once");
    host.stop().await;
}

#[tokio::test]
async fn a_transfer_to_an_agent_who_does_not_accept_goes_back_to_the_queue() {
    let host = TestHost::start(|c| c.routing.reservation_timeout_ms = 300).await;
    host.install_channel("chat", "chat", None, "").await;
    let (ann, task) = chat_taken_by(&host, "ann", "x@example.com", "hello").await;
    let id = task["id"].as_str().unwrap();
    let bob = host
        .agent("bob", json!({"name": "Bob", "capacity": {"chat": 1}}))
        .await;

    // Bob is offline: refused, nothing changes.
    let (status, body) = transfer(&host, &ann, id, json!({"to_agent": "bob"})).await;
    assert_eq!(status, 409, "{body}");
    for bad in [
        json!({"to_agent": "nobody"}),
        json!({"to_agent": "bob", "to_skills": {}}),
        json!({}),
        json!({"to_skills": {"billing": 9}}),
    ] {
        let (status, body) = transfer(&host, &ann, id, bad.clone()).await;
        assert_eq!(status, 400, "{bad}: {body}");
    }
    assert_eq!(host.tasks_of("ann", &ann).await[0]["state"], "assigned");

    host.set_status("bob", &bob, "available").await;
    let (status, moved) = transfer(
        &host,
        &ann,
        id,
        json!({"to_agent": "bob", "note": "VIP, be nice"}),
    )
    .await;
    assert_eq!(status, 200, "{moved}");
    assert_eq!(moved["state"], "reserved");
    assert_eq!(moved["agent_id"], "bob");
    assert_eq!(moved["history"][0]["to_agent"], "bob");
    assert!(host.tasks_of("ann", &ann).await.is_empty());

    // Bob lets it lapse: back in the queue with its own (no) skills.
    let queue = host
        .admin_json_until("/api/queue", "the task back in the queue", |q| {
            q.as_array().unwrap().len() == 1
        })
        .await;
    assert_eq!(queue[0]["id"], id);
    assert_eq!(queue[0]["state"], "pending");
    assert_eq!(queue[0]["skills"], json!([]));
    let (_, agent) = host.call("GET", "/api/agents/bob", Some(&bob), None).await;
    assert_eq!(agent["status"], "away");
    host.stop().await;
}

#[tokio::test]
async fn a_voice_transfer_redirects_the_call_to_the_new_agent() {
    let mock = MockServer::start().await;
    let host = TestHost::with_phone_channels(&mock).await;
    let (status, _) = post_twilio(&host, "voice", &fixture("voice/incoming.form")).await;
    assert_eq!(status, 200);
    let (ana, task) = take_task(&host, "ana", json!({"voice_endpoint": "client:ana"})).await;
    requests(&mock, 1).await;
    let bea = host
        .agent(
            "bea",
            json!({"name": "Bea", "voice_endpoint": "client:bea", "capacity": {"voice": 1}}),
        )
        .await;
    host.set_status("bea", &bea, "available").await;
    let id = task["id"].as_str().unwrap();
    let (status, moved) = transfer(&host, &ana, id, json!({"to_agent": "bea"})).await;
    assert_eq!(status, 200, "{moved}");
    host.accept_task(&bea, id).await;
    let sent = requests(&mock, 2).await;
    let twiml = twiml_of(&sent[1].body);
    assert!(
        twiml.contains("<Dial><Client>bea</Client></Dial>"),
        "{twiml}"
    );
    assert_eq!(sent[1].uri, sent[0].uri, "the same call, redirected");
    host.stop().await;
}

#[tokio::test]
async fn notes_stay_inside_and_only_those_at_work_on_it_see_them() {
    let mock = MockServer::start().await;
    let host = TestHost::start(|_| {}).await;
    host.install_channel("chat", "chat", Some(&mock), "").await;
    let (ann, task) = chat_taken_by(&host, "ann", "n@example.com", "hi").await;
    let conversation = task["conversation_id"].as_str().unwrap();
    let path = format!("/api/conversations/{conversation}/notes");
    let (status, note) = host
        .call(
            "POST",
            &path,
            Some(&ann),
            Some(json!({"text": "Card on file expired"})),
        )
        .await;
    assert_eq!(status, 201, "{note}");
    assert_eq!(note["internal"], true);
    let (status, _) = host
        .call("POST", &path, Some(&ann), Some(json!({"text": "  "})))
        .await;
    assert_eq!(status, 400);

    // Another agent neither sees nor writes them.
    let other = host.agent("oli", json!({"name": "Oli"})).await;
    let (status, _) = host.call("GET", &path, Some(&other), None).await;
    assert_eq!(status, 404);
    let (status, _) = host
        .call("POST", &path, Some(&other), Some(json!({"text": "x"})))
        .await;
    assert_eq!(status, 404);
    let (status, notes) = host.admin_get(&path).await;
    assert_eq!(
        (status, notes[0]["text"].clone()),
        (200, json!("Card on file expired"))
    );

    // Not on the timeline plugins and bots read, not to the provider.
    let customer = task["customer_id"].as_str().unwrap();
    let timeline = host.timeline(customer).await;
    assert!(
        timeline.iter().all(|m| m["text"] != "Card on file expired"),
        "{timeline:?}"
    );
    reply(&host, &ann, conversation, "Could you update your card?").await;
    let sent = requests(&mock, 1).await;
    assert!(
        sent.iter()
            .all(|r| !String::from_utf8_lossy(&r.body).contains("expired"))
    );
    host.stop().await;
}

#[tokio::test]
async fn canned_responses_are_written_by_supervisors_and_filled_for_the_customer() {
    let host = TestHost::start(|_| {}).await;
    host.install_channel("chat", "chat", None, "").await;
    host.inbound(
        "chat",
        json!({"id": "c1", "from": {"email": "sheena@example.com"}, "name": "Sheena Nelson", "text": "hi"}),
    )
    .await;
    let (ann, task) = take_task(&host, "ann", json!({"name": "Ann Lima"})).await;
    let greeting = json!({
        "shortcut": "hello",
        "title": "Greeting",
        "text": "Hi {{customer.first_name}}, {{agent.first_name}} here. Phone {{customer.phone}}?",
        "kinds": ["chat"],
    });
    let (status, _) = host
        .call(
            "POST",
            "/api/canned-responses",
            Some(&ann),
            Some(greeting.clone()),
        )
        .await;
    assert_eq!(status, 403, "agents do not write them");
    let sue = host
        .agent("sue", json!({"name": "Sue", "role": "supervisor"}))
        .await;
    let (status, created) = host
        .call(
            "POST",
            "/api/canned-responses",
            Some(&sue),
            Some(greeting.clone()),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let (status, _) = host
        .call("POST", "/api/canned-responses", Some(&sue), Some(greeting))
        .await;
    assert_eq!(status, 409, "the shortcut is taken");
    let (status, _) = host
        .call(
            "POST",
            "/api/canned-responses",
            Some(&sue),
            Some(
                json!({"shortcut": "mail-only", "title": "Mail", "text": "x", "kinds": ["email"]}),
            ),
        )
        .await;
    assert_eq!(status, 201);

    let conversation = task["conversation_id"].as_str().unwrap();
    let (status, filled) = host
        .call(
            "GET",
            &format!("/api/canned-responses?conversation={conversation}"),
            Some(&ann),
            None,
        )
        .await;
    assert_eq!(status, 200, "{filled}");
    assert_eq!(
        filled.as_array().unwrap().len(),
        1,
        "only chat ones: {filled}"
    );
    assert_eq!(filled[0]["rendered"], "Hi Sheena, Ann here. Phone ?");
    assert_eq!(filled[0]["missing"], json!(["customer.phone"]));

    let id = created["id"].as_str().unwrap();
    let (status, _) = host
        .call(
            "DELETE",
            &format!("/api/canned-responses/{id}"),
            Some(&sue),
            None,
        )
        .await;
    assert_eq!(status, 204);
    let (_, all) = host
        .call("GET", "/api/canned-responses", Some(&ann), None)
        .await;
    assert_eq!(all.as_array().unwrap().len(), 1);
    host.stop().await;
}

#[tokio::test]
async fn dispositions_are_checked_and_labels_filter_conversations() {
    let host = TestHost::start(|c| {
        c.routing.dispositions = vec!["resolved".into(), "refund".into()];
        c.floor.labels = vec!["vip".into(), "refund".into()];
    })
    .await;
    host.install_channel("chat", "chat", None, "").await;
    let (ann, task) = chat_taken_by(&host, "ann", "l@example.com", "hi").await;
    let (id, conversation) = (
        task["id"].as_str().unwrap(),
        task["conversation_id"].as_str().unwrap(),
    );
    let labels = format!("/api/conversations/{conversation}/labels");
    let (status, body) = host
        .call(
            "PUT",
            &labels,
            Some(&ann),
            Some(json!({"labels": ["vip", "gold"]})),
        )
        .await;
    assert_eq!(status, 400, "not a configured label: {body}");
    let (status, labelled) = host
        .call(
            "PUT",
            &labels,
            Some(&ann),
            Some(json!({"labels": ["vip", "refund", "vip"]})),
        )
        .await;
    assert_eq!(status, 200, "{labelled}");
    assert_eq!(labelled["labels"], json!(["refund", "vip"]));
    let (_, vip) = host
        .call("GET", "/api/conversations?label=vip", Some(&ann), None)
        .await;
    assert_eq!(vip.as_array().unwrap().len(), 1, "{vip}");
    let (_, none) = host
        .admin_get("/api/conversations?label=refund&status=resolved")
        .await;
    assert_eq!(none, json!([]));

    let (status, body) = host
        .call(
            "POST",
            &format!("/api/tasks/{id}/complete"),
            Some(&ann),
            Some(json!({"disposition": "bogus"})),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(host.tasks_of("ann", &ann).await[0]["state"], "assigned");
    host.complete_task(&ann, id, Some(json!({"disposition": "refund"})))
        .await;
    let (_, resolved) = host
        .admin_get("/api/conversations?label=refund&status=resolved")
        .await;
    assert_eq!(resolved[0]["disposition"], "refund", "{resolved}");

    // She comes back: the new conversation's view lists the past one with
    // its disposition and labels.
    host.inbound(
        "chat",
        msg("m-again", json!({"email": "l@example.com"}), "me again"),
    )
    .await;
    let offered = host
        .wait_tasks("ann", &ann, |t| t.iter().any(|t| t["state"] == "reserved"))
        .await;
    let again = host
        .accept_task(&ann, offered[0]["id"].as_str().unwrap())
        .await;
    let (_, view) = host
        .call(
            "GET",
            &format!(
                "/api/conversations/{}",
                again["conversation_id"].as_str().unwrap()
            ),
            Some(&ann),
            None,
        )
        .await;
    let past = view["past_conversations"].as_array().unwrap();
    assert_eq!(past.len(), 1, "{view}");
    assert_eq!(past[0]["id"], conversation);
    assert_eq!(past[0]["disposition"], "refund");
    assert_eq!(past[0]["labels"], json!(["refund", "vip"]));
    host.stop().await;
}

#[tokio::test]
async fn supervisors_reassign_force_and_close_and_are_named_for_it() {
    let host = TestHost::start(|_| {}).await;
    host.install_channel("chat", "chat", None, "").await;
    let (ann, first) = chat_taken_by(&host, "ann", "a@example.com", "one").await;
    // A second chat is offered to Ann but not accepted yet.
    host.inbound("chat", msg("m2", json!({"email": "b@example.com"}), "two"))
        .await;
    let offered = host
        .wait_tasks("ann", &ann, |t| t.iter().any(|t| t["state"] == "reserved"))
        .await;
    let second = offered.iter().find(|t| t["state"] == "reserved").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let first = first["id"].as_str().unwrap();
    let sue = host
        .agent("sue", json!({"name": "Sue", "role": "supervisor"}))
        .await;
    let bob = host.agent("bob", json!({"name": "Bob"})).await;

    // Bob, an agent, can do none of it to Ann.
    let (status, _) = transfer(&host, &bob, first, json!({"to_agent": "bob"})).await;
    assert_eq!(status, 403);
    let (status, _) = host
        .call(
            "POST",
            "/api/agents/ann/status",
            Some(&bob),
            Some(json!({"status": "away"})),
        )
        .await;
    assert_eq!(status, 403);

    // Sue sets Ann away: the offer goes back, naming Sue.
    let (status, _) = host
        .call(
            "POST",
            "/api/agents/ann/status",
            Some(&sue),
            Some(json!({"status": "away"})),
        )
        .await;
    assert_eq!(status, 200);
    let (_, returned) = host.admin_get(&format!("/api/tasks/{second}")).await;
    assert_eq!(returned["state"], "pending");
    assert_eq!(returned["history"][0]["action"], "returned");
    assert_eq!(returned["history"][0]["by"], "sue");

    // Sue reassigns the waiting one to Bob.
    host.set_status("bob", &bob, "available").await;
    let (status, moved) = transfer(&host, &sue, &second, json!({"to_agent": "bob"})).await;
    // The dispatcher may have offered it to Bob already; either way it is his.
    if status == 200 {
        assert_eq!(
            moved["history"].as_array().unwrap().last().unwrap()["by"],
            "sue"
        );
    } else {
        assert_eq!(status, 400, "{moved}");
    }
    let bobs = host.tasks_of("bob", &bob).await;
    assert_eq!(bobs[0]["id"], second.as_str());

    // Sue closes Ann's assigned chat for her.
    let (status, closed) = host
        .call(
            "POST",
            &format!("/api/tasks/{first}/complete"),
            Some(&sue),
            Some(json!({"disposition": "resolved"})),
        )
        .await;
    assert_eq!(status, 200, "{closed}");
    assert_eq!(closed["state"], "completed");
    let last = closed["history"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(
        (&last["action"], &last["by"]),
        (&json!("closed"), &json!("sue"))
    );
    assert!(host.tasks_of("ann", &ann).await.is_empty());
    host.stop().await;
}

#[tokio::test]
async fn the_router_sees_who_passed_a_task_on() {
    let host = TestHost::start(|c| c.routing.router = "policy".into()).await;
    switchboard_tests::install(
        &host.plugins_dir(),
        "policy",
        &switchboard_tests::first_party_manifest("testing/rogue-router")
            .replace("name = \"rogue-router\"", "name = \"policy\""),
        &switchboard_tests::wasm("rogue-router"),
    );
    let runtime = host.server.runtime.clone();
    assert!(
        switchboard_tests::eventually(std::time::Duration::from_secs(10), || runtime
            .plugin("policy")
            .is_some_and(|p| p.status == switchboard::runtime::PluginStatus::Active))
        .await
    );
    host.install_channel("chat", "chat", None, "").await;
    // Ann (agent 1) takes the chat; Bob (2) and Cat (3) join.
    let (ann, task) = chat_taken_by(&host, "ann", "t@example.com", "hello").await;
    assert_eq!(task["routed_by"], "policy", "{task}");
    let mut tokens = Vec::new();
    for id in ["bob", "cat"] {
        let token = host
            .agent(id, json!({"name": id, "capacity": {"chat": 2}}))
            .await;
        host.set_status(id, &token, "available").await;
        tokens.push(token);
    }
    let id = task["id"].as_str().unwrap();
    let (status, body) = transfer(&host, &ann, id, json!({"to_skills": {}})).await;
    assert_eq!(status, 200, "{body}");
    // The policy gives a task to the highest-numbered candidate (Cat),
    // unless it was transferred: then to the agent after whoever passed
    // it on — Bob, which it can only know from the hop.
    let offered = host
        .wait_tasks("bob", &tokens[0], |t| t.iter().any(|t| t["id"] == id))
        .await;
    assert_eq!(offered[0]["routed_by"], "policy", "{offered:?}");
    assert!(host.tasks_of("cat", &tokens[1]).await.is_empty());
    host.stop().await;
}

/// A channel that allows free text only within a window after the
/// customer's last message (WhatsApp's 24 hours; here the test channel
/// configured to 1 ms): a reply after it is refused with 422 and the
/// reason, and nothing is queued.
#[tokio::test]
async fn a_reply_outside_the_channel_s_window_is_refused_with_the_reason() {
    let provider = MockServer::start().await;
    let dir = std::sync::Arc::new(tempfile::tempdir().unwrap());
    let plugins = switchboard_tests::test_config(dir.path()).plugins_dir();
    std::fs::create_dir_all(&plugins).unwrap();
    switchboard_tests::install(
        &plugins,
        "chat",
        &switchboard_tests::test_channel_manifest("chat", "chat", Some(&provider), ""),
        &switchboard_tests::wasm("test-channel"),
    );
    let host = TestHost::start_in(dir, |c| {
        c.plugins
            .entry("chat".into())
            .or_default()
            .config
            .insert("reply_window_ms".into(), "1".into());
    })
    .await;
    let status = host
        .inbound(
            "chat",
            json!({"id": "w1", "from": {"email": "ann@example.com"}, "text": "hi"}),
        )
        .await;
    assert_eq!(status, 200);
    let (token, task) = take_task(&host, "ana", json!({})).await;
    let conversation = task["conversation_id"].as_str().unwrap();
    let (status, body) = host
        .call(
            "POST",
            &format!("/api/conversations/{conversation}/messages"),
            Some(&token),
            Some(json!({"text": "too late"})),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("only within 1 ms of the customer's last message")
            && message.contains("template"),
        "{message}"
    );
    let view = host.conversation(conversation).await;
    assert!(
        view["messages"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["text"] != "too late"),
        "{view}"
    );
    assert!(provider.requests().is_empty());
}
