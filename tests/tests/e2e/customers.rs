//! Customers over real HTTP: identities normalized across channels, merges
//! when one message attests two profiles (or a suggestion, by policy, and
//! an audited manual merge), and a redelivered message stored once.

use serde_json::{Value, json};
use switchboard_tests::channels::texts;
use switchboard_tests::{ADMIN_TOKEN, TestHost, test_message as msg};

/// Merges customer `other` into `customer` as admin; returns status and
/// body.
async fn merge(host: &TestHost, customer: &str, other: &str) -> (u16, Value) {
    host.call(
        "POST",
        &format!("/api/customers/{customer}/merge"),
        Some(ADMIN_TOKEN),
        Some(json!({ "other": other })),
    )
    .await
}

#[tokio::test]
async fn identities_normalize_and_merge_with_both_timelines() {
    let host = TestHost::start(|_| {}).await;
    host.install_channel("chat", "chat", None, "").await;

    assert_eq!(
        host.inbound(
            "chat",
            msg(
                "e1",
                json!({"email": "Sheena.Nelson@Example.com "}),
                "hello by email"
            )
        )
        .await,
        200
    );
    assert_eq!(
        host.inbound(
            "chat",
            msg(
                "e2",
                json!({"email": "sheena.nelson@example.com"}),
                "email again"
            )
        )
        .await,
        200
    );
    let email_customer = host.customer_id("email:sheena.nelson@example.com").await;
    assert_eq!(
        texts(&host.timeline(&email_customer).await),
        ["hello by email", "email again"]
    );

    for (id, phone) in [
        ("p1", "+1 (650) 555-1234"),
        ("p2", "16505551234"),
        ("p3", "+16505551234"),
    ] {
        assert_eq!(
            host.inbound(
                "chat",
                msg(id, json!({"phone": phone}), &format!("sms {id}"))
            )
            .await,
            200
        );
    }
    let phone_customer = host.customer_id("phone:+16505551234").await;
    assert_ne!(phone_customer, email_customer);
    assert_eq!(
        host.customer_id("phone:(650) 555-1234").await,
        phone_customer
    );
    assert_eq!(host.timeline(&phone_customer).await.len(), 3);

    // One event attests both: the profiles merge into the older one.
    let both = json!({"email": "SHEENA.NELSON@example.com", "phone": "+16505551234"});
    assert_eq!(
        host.inbound("chat", msg("both", both, "it's me")).await,
        200
    );
    let a = host.lookup("email:sheena.nelson@example.com").await;
    let b = host.lookup("phone:+16505551234").await;
    assert_eq!(a[0]["id"], b[0]["id"]);
    assert_eq!(
        a[0]["id"],
        email_customer.as_str(),
        "the older profile survives"
    );
    let identities: Vec<String> = a[0]["identities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            format!(
                "{}:{}",
                i["kind"].as_str().unwrap(),
                i["value"].as_str().unwrap()
            )
        })
        .collect();
    assert!(
        identities.contains(&"email:sheena.nelson@example.com".to_string()),
        "{identities:?}"
    );
    assert!(
        identities.contains(&"phone:+16505551234".to_string()),
        "{identities:?}"
    );
    let merged_timeline = host.timeline(&email_customer).await;
    assert_eq!(
        texts(&merged_timeline),
        [
            "hello by email",
            "email again",
            "sms p1",
            "sms p2",
            "sms p3",
            "it's me"
        ],
        "the survivor keeps both histories in time order"
    );
    // The absorbed id still answers, with the survivor.
    let old = host
        .admin_json(&format!("/api/customers/{phone_customer}"))
        .await;
    assert_eq!(old["id"], email_customer.as_str());

    let audit = host.admin_json("/api/audit?action=customer.merge").await;
    let audit = audit.as_array().unwrap();
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(audit[0]["action"], "customer.merge");
    assert_eq!(audit[0]["survivor"], email_customer.as_str());
    assert_eq!(audit[0]["merged"], phone_customer.as_str());
    assert_eq!(audit[0]["actor"], "system");
    host.stop().await;
}

#[tokio::test]
async fn suggest_policy_records_and_manual_merge_is_audited() {
    let host = TestHost::start(|c| {
        c.customers.merge_policy = switchboard::config::MergePolicy::Suggest;
    })
    .await;
    host.install_channel("chat", "chat", None, "").await;
    host.inbound("chat", msg("a", json!({"email": "ann@example.com"}), "a"))
        .await;
    host.inbound("chat", msg("b", json!({"phone": "+442079460018"}), "b"))
        .await;
    host.inbound(
        "chat",
        msg(
            "c",
            json!({"email": "ann@example.com", "phone": "+442079460018"}),
            "c",
        ),
    )
    .await;
    let ann = host.customer_id("email:ann@example.com").await;
    let phone = host.customer_id("phone:+442079460018").await;
    assert_ne!(ann, phone, "suggest keeps both profiles");
    let suggestions = host.admin_json("/api/merge-suggestions").await;
    let suggestions = suggestions.as_array().unwrap();
    assert_eq!(suggestions.len(), 1, "{suggestions:?}");
    assert_eq!(suggestions[0]["customers"], json!([ann, phone]));
    let audit = host.admin_json("/api/audit?action=customer.merge").await;
    assert_eq!(audit.as_array().unwrap().len(), 0);

    let (status, merged) = merge(&host, &ann, &phone).await;
    assert_eq!(status, 200, "{merged}");
    assert_eq!(host.customer_id("phone:+442079460018").await, ann);
    assert_eq!(texts(&host.timeline(&ann).await), ["a", "b", "c"]);
    let audit = host.admin_json("/api/audit?action=customer.merge").await;
    let audit = audit.as_array().unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0]["actor"], "admin");
    assert_eq!(audit[0]["merged"], phone.as_str());

    // Merging with itself or an unknown id changes nothing.
    assert_eq!(merge(&host, &ann, &ann).await.0, 400);
    assert_eq!(merge(&host, &ann, "cus_nope").await.0, 404);
    host.stop().await;
}

#[tokio::test]
async fn redelivered_message_is_stored_once() {
    let host = TestHost::start(|_| {}).await;
    host.install_channel("chat", "chat", None, "").await;
    let m = msg("same-id", json!({"email": "dup@example.com"}), "once");
    assert_eq!(host.inbound("chat", m.clone()).await, 200);
    assert_eq!(host.inbound("chat", m).await, 200);
    let customer = host.customer_id("email:dup@example.com").await;
    assert_eq!(host.timeline(&customer).await.len(), 1);
    assert_eq!(host.queue().await.len(), 1);
    // A second message on the same thread joins the conversation: no new task.
    host.inbound(
        "chat",
        msg("other-id", json!({"email": "dup@example.com"}), "twice"),
    )
    .await;
    let q = host.queue().await;
    assert_eq!(q.len(), 1);
    let conv = host
        .conversation(q[0]["conversation_id"].as_str().unwrap())
        .await;
    assert_eq!(
        texts(conv["messages"].as_array().unwrap()),
        ["once", "twice"]
    );
    host.stop().await;
}

#[tokio::test]
async fn a_search_finds_customers_by_name_email_or_phone_and_agents_only_their_own() {
    let host = TestHost::start(|_| {}).await;
    host.install_channel("chat", "chat", None, "").await;
    host.inbound(
        "chat",
        json!({"id": "s1", "thread": "t-sheena", "name": "Sheena Nelson",
               "from": {"email": "sheena.nelson@example.com", "phone": "+16505551234"},
               "text": "Where is my order?"}),
    )
    .await;
    // Ann serves Sheena and completes; Bo writes later and nobody serves him.
    let (ann, task) = switchboard_tests::channels::take_task(&host, "ann", json!({})).await;
    host.complete_task(&ann, task["id"].as_str().unwrap(), None)
        .await;
    host.set_status("ann", &ann, "offline").await;
    host.inbound(
        "chat",
        json!({"id": "b1", "thread": "t-bo", "name": "Bo Diaz",
               "from": {"email": "bo@example.com"}, "text": "hello"}),
    )
    .await;

    let search = |token: &str, q: &str| {
        let (host, token, q) = (&host, token.to_string(), q.to_string());
        async move {
            host.call(
                "GET",
                &format!(
                    "/api/customers?q={}",
                    switchboard_tests::channels::urlencode(&q)
                ),
                Some(&token),
                None,
            )
            .await
        }
    };
    let names = |found: &Value| -> Vec<String> {
        found
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["display_name"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    // A supervisor finds anyone: by part of the name, the email, the phone
    // typed as people type it.
    let (status, found) = search(ADMIN_TOKEN, "nelson").await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(names(&found), ["Sheena Nelson"]);
    let (_, found) = search(ADMIN_TOKEN, "(650) 555-1234").await;
    assert_eq!(names(&found), ["Sheena Nelson"], "{found}");
    let (_, found) = search(ADMIN_TOKEN, "example.com").await;
    assert_eq!(
        names(&found),
        ["Bo Diaz", "Sheena Nelson"],
        "most recent first"
    );
    // An agent finds only the customers she served.
    let (status, found) = search(&ann, "example.com").await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(names(&found), ["Sheena Nelson"]);
    // Too short, or both ways at once, is a bad request.
    assert_eq!(search(ADMIN_TOKEN, "s").await.0, 400);
    let (status, _) = host
        .call(
            "GET",
            "/api/customers?q=sheena&identity=email:bo@example.com",
            Some(ADMIN_TOKEN),
            None,
        )
        .await;
    assert_eq!(status, 400);
    host.stop().await;
}
