//! Signing in to the web UI with a password: the admin sets it (argon2id),
//! a browser gets an HttpOnly, SameSite=Strict session cookie that a second
//! tab shares, every change also needs the session's CSRF token, signing
//! out and deactivation end it, and password guessing is slowed per address
//! without locking out the right password.

use serde_json::{Value, json};
use switchboard_tests::{ADMIN_TOKEN, TestHost};

const PASSWORD: &str = "correct horse battery";

/// A request with only a cookie (and maybe a CSRF token), as a browser
/// page sends it.
async fn with_cookie(
    host: &TestHost,
    method: &str,
    path: &str,
    cookie: &str,
    csrf: Option<&str>,
    body: Option<Value>,
) -> (u16, Value, Option<String>) {
    let mut request = host
        .client
        .request(method.parse().unwrap(), host.url(path))
        .header("cookie", cookie);
    if let Some(csrf) = csrf {
        request = request.header("x-csrf-token", csrf);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let set_cookie = response
        .headers()
        .get("set-cookie")
        .map(|v| v.to_str().unwrap().to_string());
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body, set_cookie)
}

/// Signs in; returns status, body and the `Set-Cookie` header.
async fn sign_in(host: &TestHost, login: &str, password: &str) -> (u16, Value, Option<String>) {
    let response = host
        .client
        .post(host.url("/api/session"))
        .json(&json!({"login": login, "password": password}))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let set_cookie = response
        .headers()
        .get("set-cookie")
        .map(|v| v.to_str().unwrap().to_string());
    (
        status,
        response.json().await.unwrap_or(Value::Null),
        set_cookie,
    )
}

/// `sb_session=…` out of a `Set-Cookie` header.
fn cookie_of(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_string()
}

#[tokio::test]
async fn an_agent_signs_in_with_a_password_into_a_session_two_tabs_share() {
    let host = TestHost::start(|_| {}).await;
    let ann = host.agent("ann", json!({"name": "Ann"})).await;
    let password = |body: Value| async {
        host.call(
            "PUT",
            "/api/agents/ann/password",
            Some(ADMIN_TOKEN),
            Some(body),
        )
        .await
    };
    let (status, _) = password(json!({"email": "ann@shop.example", "password": "short"})).await;
    assert_eq!(status, 400, "too short");
    let (status, _) = host
        .call(
            "PUT",
            "/api/agents/ann/password",
            Some(&ann),
            Some(json!({"email": "ann@shop.example", "password": PASSWORD})),
        )
        .await;
    assert_eq!(status, 403, "only the admin sets passwords");
    let (status, _) = password(json!({"email": "Ann@Shop.example", "password": PASSWORD})).await;
    assert_eq!(status, 204);

    let (status, body, set_cookie) = sign_in(&host, "ann@shop.example", "wrong password!").await;
    assert_eq!((status, set_cookie), (401, None), "{body}");
    assert_eq!(body["error"]["code"], "wrong_login");
    let (status, _, _) = sign_in(&host, "nobody@shop.example", PASSWORD).await;
    assert_eq!(status, 401);

    let (status, body, set_cookie) = sign_in(&host, "ANN@shop.example", PASSWORD).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["agent"]["id"], "ann");
    let set_cookie = set_cookie.expect("a session cookie");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set_cookie.contains(attribute), "{set_cookie}");
    }
    let cookie = cookie_of(&set_cookie);
    let csrf = body["csrf"].as_str().unwrap().to_string();

    // A second tab: the cookie alone says who she is, and /api/me hands
    // the page the CSRF token.
    let (status, me, _) = with_cookie(&host, "GET", "/api/me", &cookie, None, None).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(
        (me["role"].as_str(), me["csrf"].as_str()),
        (Some("agent"), Some(csrf.as_str()))
    );

    // A change with the cookie but without the token (what another site's
    // form could send) is refused; with it, it goes through.
    let available = json!({"status": "available"});
    let (status, _, _) = with_cookie(
        &host,
        "POST",
        "/api/agents/ann/status",
        &cookie,
        None,
        Some(available.clone()),
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(
        host.admin_json("/api/agents/ann").await["status"],
        "offline"
    );
    let (status, _, _) = with_cookie(
        &host,
        "POST",
        "/api/agents/ann/status",
        &cookie,
        Some(&csrf),
        Some(available),
    )
    .await;
    assert_eq!(status, 200);

    // Signing out ends the session for every tab.
    let (status, _, cleared) =
        with_cookie(&host, "DELETE", "/api/session", &cookie, Some(&csrf), None).await;
    assert_eq!(status, 204);
    assert!(cleared.unwrap().contains("Max-Age=0"));
    let (status, body, _) = with_cookie(&host, "GET", "/api/me", &cookie, None, None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("session_ended"))
    );

    // Deactivating the agent ends her sessions too.
    let (_, _, set_cookie) = sign_in(&host, "ann", PASSWORD).await;
    let cookie = cookie_of(&set_cookie.unwrap());
    let (status, _) = host
        .call("DELETE", "/api/agents/ann/token", Some(ADMIN_TOKEN), None)
        .await;
    assert_eq!(status, 200);
    let (status, _, _) = with_cookie(&host, "GET", "/api/me", &cookie, None, None).await;
    assert_eq!(status, 401);
    let (status, _, _) = sign_in(&host, "ann", PASSWORD).await;
    assert_eq!(status, 401, "a deactivated agent cannot sign in");
    host.stop().await;
}

#[tokio::test]
async fn password_guessing_is_slowed_but_the_right_password_still_works() {
    let host = TestHost::start(|_| {}).await;
    host.agent("bob", json!({"name": "Bob"})).await;
    host.call(
        "PUT",
        "/api/agents/bob/password",
        Some(ADMIN_TOKEN),
        Some(json!({"email": "bob@shop.example", "password": PASSWORD})),
    )
    .await;
    let mut statuses = Vec::new();
    for i in 0..12 {
        statuses.push(
            sign_in(&host, "bob@shop.example", &format!("guess number {i}"))
                .await
                .0,
        );
    }
    assert_eq!(statuses[0], 401);
    assert_eq!(*statuses.last().unwrap(), 429, "{statuses:?}");
    let (status, _, set_cookie) = sign_in(&host, "bob@shop.example", PASSWORD).await;
    assert_eq!(status, 200);
    assert!(set_cookie.is_some());
    host.stop().await;
}
