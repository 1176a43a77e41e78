//! Bounded memory: finished tasks leave the routing state for the store's
//! archive, so the live-task count returns to zero however many tasks were
//! handled; the all-time figures, a finished task, a customer's tasks and
//! what an agent may read stay right — across a restart too.

use serde_json::{Value, json};
use switchboard_tests::{ADMIN_TOKEN, TestHost, test_message as msg};

async fn stats(host: &TestHost) -> Value {
    host.admin_json("/api/stats").await
}

#[tokio::test]
async fn completed_tasks_leave_memory_and_the_figures_stay_right() {
    const ROUNDS: usize = 8;
    const PER_ROUND: usize = 10;
    let host = TestHost::start(|_| {}).await;
    host.install_channel("chat", "chat", None, "").await;
    let ann = host
        .agent(
            "ann",
            json!({"name": "Ann", "capacity": {"chat": PER_ROUND}}),
        )
        .await;
    host.set_status("ann", &ann, "available").await;

    let mut done = Vec::new();
    for round in 0..ROUNDS {
        for i in 0..PER_ROUND {
            let who = format!("c{round}-{i}@example.com");
            host.inbound(
                "chat",
                msg(&format!("m{round}-{i}"), json!({"email": who}), "hi"),
            )
            .await;
        }
        let tasks = host.wait_tasks("ann", &ann, |t| t.len() == PER_ROUND).await;
        for t in &tasks {
            let id = t["id"].as_str().unwrap();
            host.accept_task(&ann, id).await;
            let completed = host.complete_task(&ann, id, None).await;
            assert_eq!(completed["state"], "completed", "{completed}");
            done.push(completed);
        }
        // Nothing finished stays in memory.
        assert_eq!(stats(&host).await["live_tasks"], 0);
    }
    let before = stats(&host).await;
    assert_eq!(before["channels"]["chat"]["handled"], ROUNDS * PER_ROUND);
    assert_eq!(before["channels"]["chat"]["answered"], ROUNDS * PER_ROUND);

    // A finished task is still there to read, and to refuse acting on.
    let first = done[0]["id"].as_str().unwrap();
    let conversation = done[0]["conversation_id"].as_str().unwrap();
    let (status, task) = host
        .call(
            "GET",
            &format!("/api/tasks/{first}"),
            Some(ADMIN_TOKEN),
            None,
        )
        .await;
    assert_eq!((status, task["state"].clone()), (200, json!("completed")));
    let (status, _) = host
        .call(
            "POST",
            &format!("/api/tasks/{first}/complete"),
            Some(&ann),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 409);
    // Ann may still read the conversation she worked on.
    let (status, _) = host
        .call(
            "GET",
            &format!("/api/conversations/{conversation}"),
            Some(&ann),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let customer = done[0]["customer_id"].as_str().unwrap();
    // Her export lists her finished task.
    let (status, export) = host
        .call(
            "GET",
            &format!("/api/customers/{customer}/export"),
            Some(ADMIN_TOKEN),
            None,
        )
        .await;
    assert_eq!(status, 200, "{export}");
    assert_eq!(export["tasks"][0]["id"], first, "{export}");

    // The history's older events fold into blocks (what the host does
    // every second) and read back as the same log, page by page.
    let history = all_history(&host).await;
    assert!(history.len() > 400, "{}", history.len());
    host.server.core.fold_history().await.unwrap();
    let unfolded = host.server.core.history_unfolded().unwrap();
    assert!(unfolded < 256 + 64, "{unfolded} of {}", history.len());
    assert_eq!(all_history(&host).await, history);
    let report = "/api/reports/intervals?from=0&to=9999999999999&interval=1d";
    let report_before = host.admin_json(report).await;

    // After a restart: nothing live is loaded, the figures are the same.
    let host = host.restart().await;
    let after = stats(&host).await;
    assert_eq!(after["live_tasks"], 0);
    assert_eq!(after["channels"], before["channels"]);
    assert_eq!(all_history(&host).await, history);
    assert_eq!(host.admin_json(report).await, report_before);
}

/// The whole history through `GET /api/history`, in pages of 50.
async fn all_history(host: &TestHost) -> Vec<Value> {
    let mut all: Vec<Value> = Vec::new();
    loop {
        let after = all.last().map_or(0, |e| e["seq"].as_u64().unwrap());
        let page = host
            .admin_json(&format!("/api/history?after={after}&limit=50"))
            .await;
        let page = page.as_array().unwrap().clone();
        if page.is_empty() {
            return all;
        }
        all.extend(page);
    }
}
