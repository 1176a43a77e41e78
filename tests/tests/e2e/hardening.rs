//! What anyone on the network can reach, probed as an outsider would: idle
//! and half-sent connections, guessed tokens, leaked tokens, spoofed
//! forwarding headers, web chat floods and long-polls, and the data
//! directory's permissions.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{Value, json};
use switchboard_tests::channels::identifier_hash;
use switchboard_tests::{ADMIN_TOKEN, TestHost, poll, wait_until};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpSocket, TcpStream};

/// Opens a TCP connection to `server` from the loopback address `from`
/// (127.0.0.0/8 is all loopback on Linux: each address is another client).
async fn connect_from(from: [u8; 4], server: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::from((from, 0)))?;
    socket.connect(server).await
}

/// Reads until the server closes the connection (or 20 s pass).
async fn closed_by_server(stream: &mut TcpStream) -> bool {
    let mut buf = [0u8; 1024];
    let read = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(20), read)
        .await
        .is_ok()
}

#[tokio::test]
async fn idle_connections_from_one_client_do_not_take_the_host_down() {
    let host = TestHost::start(|config| config.http.header_timeout_ms = 1_000).await;
    let server = host.server.addr;

    // One client opens 10,000 connections and sends nothing.
    let mut idle = Vec::with_capacity(10_000);
    for _ in 0..10_000 {
        match connect_from([127, 0, 0, 2], server).await {
            Ok(stream) => idle.push(stream),
            // The listen queue may push back: the point is that the host
            // keeps answering others, not that every connect succeeds.
            Err(e) => panic!("connecting: {e} after {} connections", idle.len()),
        }
    }

    // Everyone else is still served.
    let health = host.client.get(host.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let (status, body) = host.admin_get("/api/plugins").await;
    assert_eq!(status, 200, "{body}");
    let from_elsewhere = connect_from([127, 0, 0, 3], server).await.unwrap();
    drop(from_elsewhere);

    // The client got its share and no more: most of its connections were
    // closed at once; the ones admitted are closed after the header
    // timeout.
    let mut closed = 0;
    for stream in idle.iter_mut().take(300) {
        if closed_by_server(stream).await {
            closed += 1;
        }
    }
    assert_eq!(closed, 300, "every idle connection is closed");
    drop(idle);

    // A request whose headers never finish is cut off too.
    let mut slow = connect_from([127, 0, 0, 4], server).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    assert!(closed_by_server(&mut slow).await, "half-sent headers");
    host.stop().await;
}

#[tokio::test]
async fn a_body_that_never_arrives_gets_408() {
    let host = TestHost::start(|config| config.http.body_timeout_ms = 500).await;
    let mut slow = TcpStream::connect(host.server.addr).await.unwrap();
    slow.write_all(
        format!(
            "PUT /api/agents/ann HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ADMIN_TOKEN}\r\n\
             Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"name\""
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let mut answer = [0u8; 12];
    tokio::time::timeout(Duration::from_secs(20), slow.read_exact(&mut answer))
        .await
        .expect("answered")
        .unwrap();
    assert_eq!(
        &answer,
        b"HTTP/1.1 408",
        "{}",
        String::from_utf8_lossy(&answer)
    );
    let (status, _) = host.admin_get("/api/agents/ann").await;
    assert_eq!(status, 404, "nothing was created");
    host.stop().await;
}

/// `GET /api/me` with `token`, from a client claiming `forwarded_for`.
async fn me(host: &TestHost, token: &str, forwarded_for: &str) -> reqwest::Response {
    host.client
        .get(host.url("/api/me"))
        .bearer_auth(token)
        .header("x-forwarded-for", forwarded_for)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn guessing_tokens_is_throttled_without_slowing_valid_clients() {
    let host = TestHost::start(|_| {}).await;
    let ann = host.agent("ann", json!({"name": "Ann"})).await;

    let mut statuses = Vec::new();
    for i in 0..30 {
        // A spoofed X-Forwarded-For changes nothing: the host trusts no
        // proxy unless configured.
        let response = me(&host, &format!("guess-{i}"), &format!("10.9.8.{i}")).await;
        let status = response.status().as_u16();
        if status == 429 {
            let retry: u64 = response.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!((1..=60).contains(&retry), "{retry}");
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["error"]["code"], "too_many_requests");
        }
        statuses.push(status);
        // The valid token keeps working from the same address throughout.
        assert_eq!(me(&host, &ann, "10.0.0.1").await.status(), 200);
    }
    assert!(statuses[..10].iter().all(|s| *s == 401), "{statuses:?}");
    assert!(statuses[10..].iter().all(|s| *s == 429), "{statuses:?}");
    // Another client is not affected.
    let other = reqwest::Client::builder()
        .local_address(Some([127, 0, 0, 5].into()))
        .build()
        .unwrap();
    let response = other
        .get(host.url("/api/me"))
        .bearer_auth("guess-from-elsewhere")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    host.stop().await;
}

#[tokio::test]
async fn a_trusted_proxy_forwards_the_client_address() {
    let host = TestHost::start(|config| {
        config.http.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
        config.http.auth_failures_per_minute = 3;
    })
    .await;
    // Behind the proxy, each client is its forwarded address.
    for _ in 0..3 {
        assert_eq!(me(&host, "guess", "203.0.113.1").await.status(), 401);
    }
    assert_eq!(me(&host, "guess", "203.0.113.1").await.status(), 429);
    assert_eq!(me(&host, "guess", "203.0.113.2").await.status(), 401);
    host.stop().await;
}

#[tokio::test]
async fn rotated_and_revoked_tokens_are_refused_at_once() {
    let host = TestHost::start(|_| {}).await;
    let first = host.agent("ann", json!({"name": "Ann"})).await;
    host.set_status("ann", &first, "available").await;
    let events = host
        .client
        .get(host.url("/api/events"))
        .bearer_auth(&first)
        .send()
        .await
        .unwrap();
    assert_eq!(events.status(), 200);

    // Agents cannot rotate tokens; the admin can.
    let (status, _) = host
        .call("POST", "/api/agents/ann/token", Some(&first), None)
        .await;
    assert_eq!(status, 403);
    let (status, rotated) = host
        .call("POST", "/api/agents/ann/token", Some(ADMIN_TOKEN), None)
        .await;
    assert_eq!(status, 200, "{rotated}");
    let second = rotated["token"].as_str().unwrap().to_string();
    assert_ne!(second, first);
    assert_eq!(host.call("GET", "/api/me", Some(&first), None).await.0, 401);
    assert_eq!(
        host.call("GET", "/api/me", Some(&second), None).await.0,
        200
    );
    // The event stream opened with the old token ends.
    let ended = tokio::time::timeout(Duration::from_secs(20), events.bytes()).await;
    assert!(ended.is_ok(), "the stream of a rotated token is closed");

    // Revoked: refused at once, signed out, cannot come back.
    let (status, agent) = host
        .call("DELETE", "/api/agents/ann/token", Some(ADMIN_TOKEN), None)
        .await;
    assert_eq!(status, 200, "{agent}");
    assert_eq!(agent["status"], "offline");
    assert_eq!(
        host.call("GET", "/api/me", Some(&second), None).await.0,
        401
    );
    let (status, _) = host
        .call(
            "POST",
            "/api/agents/ann/status",
            Some(ADMIN_TOKEN),
            Some(json!({"status": "available"})),
        )
        .await;
    assert!(
        status == 409 || status == 422,
        "a deactivated agent cannot be made available: {status}"
    );
    // Unknown agents are 404, for both.
    for method in ["POST", "DELETE"] {
        let (status, _) = host
            .call(method, "/api/agents/nobody/token", Some(ADMIN_TOKEN), None)
            .await;
        assert_eq!(status, 404, "{method}");
    }
    // A new token brings the agent back.
    let (_, rotated) = host
        .call("POST", "/api/agents/ann/token", Some(ADMIN_TOKEN), None)
        .await;
    let third = rotated["token"].as_str().unwrap();
    assert_eq!(host.call("GET", "/api/me", Some(third), None).await.0, 200);

    // Tokens survive a restart as they were left.
    let dir = host.stop().await;
    let host = TestHost::start_in(dir, |_| {}).await;
    assert_eq!(
        host.call("GET", "/api/me", Some(&second), None).await.0,
        401
    );
    assert_eq!(host.call("GET", "/api/me", Some(third), None).await.0, 200);
    host.stop().await;
}

#[tokio::test]
async fn metrics_can_require_a_token() {
    let host = TestHost::start(|config| config.http.metrics_token = Some("scrape-me".into())).await;
    let get = |token: Option<&str>| {
        let mut request = host.client.get(host.url("/metrics"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    assert_eq!(get(None).await.unwrap().status(), 401);
    assert_eq!(get(Some("wrong")).await.unwrap().status(), 401);
    assert_eq!(get(Some("scrape-me")).await.unwrap().status(), 200);
    host.stop().await;
}

#[tokio::test]
async fn responses_carry_security_headers_and_plugin_names_are_checked() {
    let host = TestHost::start(|_| {}).await;
    for path in ["/healthz", "/api/me", "/"] {
        let response = host.client.get(host.url(path)).send().await.unwrap();
        let headers = response.headers();
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["x-frame-options"], "DENY", "{path}");
        assert_eq!(headers["referrer-policy"], "no-referrer", "{path}");
    }
    for name in ["%2Fetc", "..", "a%2F..%2Fb", "UPPER"] {
        for action in ["reload", "enable", "disable"] {
            let (status, body) = host
                .admin_post(&format!("/api/plugins/{name}/{action}"))
                .await;
            assert_eq!(status, 404, "{name}/{action}: {body}");
        }
    }
    host.stop().await;
}

#[cfg(unix)]
#[tokio::test]
async fn the_data_directory_is_private() {
    use std::os::unix::fs::PermissionsExt as _;
    let parent = tempfile::tempdir().unwrap();
    // An existing directory from before, wide open.
    let dir = parent.path().join("data");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(dir.join("old.txt"), "x").unwrap();
    std::fs::set_permissions(dir.join("old.txt"), std::fs::Permissions::from_mode(0o644)).unwrap();

    let mut config = switchboard_tests::test_config(&dir);
    config.admin_token = None; // generated and written to the directory
    let server = switchboard::server::Server::start(config).await.unwrap();
    server.shutdown().await.unwrap();

    fn check(path: &std::path::Path) {
        let mode = std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        if path.is_dir() {
            assert_eq!(mode, 0o700, "{}", path.display());
            for entry in std::fs::read_dir(path).unwrap() {
                check(&entry.unwrap().path());
            }
        } else {
            assert_eq!(mode & 0o077, 0, "{} is {mode:o}", path.display());
        }
    }
    check(&dir);
    assert!(std::fs::read_dir(dir.join("db")).unwrap().count() > 0);
}

/// Posts a first web chat message for `session`; returns status, body and
/// the `retry-after` header.
async fn start_chat(
    host: &TestHost,
    session: &str,
    headers: &[(&str, &str)],
    visitor: Value,
) -> (u16, Value, Option<String>) {
    let mut request = host
        .client
        .post(host.url("/webhooks/webchat"))
        .json(&json!({"session_id": session, "text": "hello", "visitor": visitor}));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let retry = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    (status, response.json().await.unwrap_or(Value::Null), retry)
}

async fn queued(host: &TestHost) -> usize {
    let (status, queue) = host.admin_get("/api/queue").await;
    assert_eq!(status, 200);
    queue.as_array().unwrap().len()
}

#[tokio::test]
async fn anonymous_chat_floods_get_429_and_existing_sessions_keep_working() {
    let host = TestHost::with_webchat_settings(
        &[("allowed_origins", "https://shop.example.com")],
        |config| config.http.trusted_proxies = vec!["127.0.0.1".parse().unwrap()],
    )
    .await;
    // A visitor chatting before the flood.
    let (status, first, _) = start_chat(&host, "wc-regular", &[], json!({})).await;
    assert_eq!(status, 200, "{first}");
    let secret = first["secret"].as_str().unwrap().to_string();

    // 300 anonymous chats from one address, as fast as it can.
    let mut refused = 0;
    for i in 0..300 {
        let (status, body, retry) = start_chat(&host, &format!("flood-{i}"), &[], json!({})).await;
        match status {
            200 => {}
            429 => {
                refused += 1;
                assert_eq!(body["error"]["code"], "too_many_requests");
                let retry: u64 = retry.expect("retry-after").parse().unwrap();
                assert!((1..=60).contains(&retry));
            }
            other => panic!("{other}: {body}"),
        }
    }
    assert!(refused >= 285, "refused {refused} of 300");
    assert!(queued(&host).await <= 16, "at most the limit became tasks");

    // The visitor from before is not slowed: their messages and reads work.
    for n in 0..20 {
        let response = host
            .client
            .post(host.url("/webhooks/webchat"))
            .header("x-webchat-secret", &secret)
            .json(&json!({"session_id": "wc-regular", "text": format!("still there? {n}")}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    let read = host
        .client
        .get(host.url("/webhooks/webchat/messages?session_id=wc-regular"))
        .header("x-webchat-secret", &secret)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);

    // From many addresses (behind the trusted proxy) on one website: the
    // per-origin limit holds.
    let origin = "https://shop.example.com";
    let mut refused = 0;
    for i in 0..100 {
        let address = format!("198.51.100.{i}");
        let headers = [("origin", origin), ("x-forwarded-for", address.as_str())];
        let (status, _, _) = start_chat(&host, &format!("spread-{i}"), &headers, json!({})).await;
        refused += usize::from(status == 429);
    }
    assert!(refused >= 35, "refused {refused} of 100 past 60 a minute");
    host.stop().await;
}

#[tokio::test]
async fn unverified_chats_are_capped_but_vouched_visitors_get_through() {
    let host = TestHost::with_webchat_settings(
        &[
            (
                "identity_secret",
                switchboard_tests::channels::secrets::SITE_IDENTITY_SECRET,
            ),
            ("new_sessions_per_address_per_minute", "0"),
            ("max_unverified_sessions_per_hour", "5"),
        ],
        |_| {},
    )
    .await;
    for i in 0..5 {
        let (status, body, _) = start_chat(&host, &format!("anon-{i}"), &[], json!({})).await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, body, retry) = start_chat(&host, "anon-6", &[], json!({})).await;
    assert_eq!(status, 429, "{body}");
    assert!(retry.is_some());
    // A claimed email is still unverified.
    let claimed = json!({"email": "someone@example.com"});
    assert_eq!(start_chat(&host, "anon-7", &[], claimed).await.0, 429);
    // A visitor the website vouches for is not held to the cap.
    let email = "member@example.com";
    let vouched = json!({"email": email, "identifier_hash": identifier_hash(email)});
    let (status, body, _) = start_chat(&host, "member-1", &[], vouched).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(queued(&host).await, 6);
    host.stop().await;
}

#[tokio::test]
async fn forwarded_host_is_believed_only_from_a_trusted_proxy() {
    // The page claims to be the host itself through X-Forwarded-Host.
    let spoof = [
        ("origin", "https://evil.example"),
        ("x-forwarded-host", "evil.example"),
    ];
    let host = TestHost::with_webchat_settings(&[], |_| {}).await;
    let (status, body, _) = start_chat(&host, "wc-spoof", &spoof, json!({})).await;
    assert_eq!(status, 403, "{body}");
    host.stop().await;

    let host = TestHost::with_webchat_settings(&[], |config| {
        config.http.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    let (status, body, _) = start_chat(&host, "wc-proxied", &spoof, json!({})).await;
    assert_eq!(
        status, 200,
        "behind a trusted proxy, its host name counts: {body}"
    );
    host.stop().await;
}

/// The host's `switchboard_long_polls_waiting` gauge.
async fn waiting(host: &TestHost) -> u64 {
    let text = host.metrics_text().await;
    text.lines()
        .find_map(|l| l.strip_prefix("switchboard_long_polls_waiting "))
        .map_or(0, |v| v.trim().parse::<f64>().unwrap() as u64)
}

async fn calls(host: &TestHost) -> u64 {
    host.plugin("webchat").await["calls"].as_u64().unwrap()
}

#[tokio::test]
async fn a_post_wakes_only_its_own_session() {
    const SESSIONS: usize = 100;
    const PER_SESSION: usize = 30;
    let host = TestHost::with_webchat_settings(
        &[
            ("new_sessions_per_address_per_minute", "0"),
            ("new_sessions_per_origin_per_minute", "0"),
            ("max_unverified_sessions_per_hour", "0"),
            // Held far longer than it takes a loaded machine to start
            // 3,000 reads, so that none gives up before they all wait.
            ("long_poll_seconds", "900"),
        ],
        |config| {
            config.http.max_long_poll_ms = 900_000;
            config.http.max_connections_per_client = 10_000;
            config.http.max_long_polls_per_client = 5_000;
            config.http.max_long_polls_per_session = PER_SESSION;
        },
    )
    .await;
    let mut secrets = Vec::new();
    for i in 0..SESSIONS {
        let (status, body, _) = start_chat(&host, &format!("s{i}"), &[], json!({})).await;
        assert_eq!(status, 200, "{body}");
        secrets.push(body["secret"].as_str().unwrap().to_string());
    }

    // 3,000 visitors' reads wait for replies. They arrive 50 at a time: on
    // two loaded cores a burst of them outruns the test host's 64 instance
    // slots (the excess is refused 503) and the accept queue, and the test
    // is not about those.
    let total = (SESSIONS * PER_SESSION) as u64;
    let mut reads = Vec::new();
    for first in (0..SESSIONS * PER_SESSION).step_by(50) {
        for n in first..first + 50 {
            let session = n % SESSIONS;
            let request = host
                .client
                .get(host.url(&format!(
                    "/webhooks/webchat/messages?session_id=s{session}&after=0&wait=1"
                )))
                .header("x-webchat-secret", &secrets[session])
                .send();
            reads.push(tokio::spawn(request));
        }
        let started = reads.len() as u64;
        poll(Duration::from_secs(120), async || {
            match waiting(&host).await {
                n if n == started => Ok(()),
                n => Err(format!("{n} of {started} reads waiting")),
            }
        })
        .await;
    }
    assert_eq!(waiting(&host).await, total);
    // One more on a full session is refused.
    let extra = host
        .client
        .get(host.url("/webhooks/webchat/messages?session_id=s0&after=0&wait=1"))
        .header("x-webchat-secret", &secrets[0])
        .send()
        .await
        .unwrap();
    assert_eq!(extra.status(), 429);

    let before = calls(&host).await;
    // 20 new visitors post: nobody waits on their sessions.
    for i in 0..20 {
        let (status, body, _) = start_chat(&host, &format!("new-{i}"), &[], json!({})).await;
        assert_eq!(status, 200, "{body}");
    }
    // Then a message in s0 wakes s0's own 30 reads, which ask again and
    // go back to waiting.
    let response = host
        .client
        .post(host.url("/webhooks/webchat"))
        .header("x-webchat-secret", &secrets[0])
        .json(&json!({"session_id": "s0", "text": "more"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let expected = 21 + PER_SESSION as u64;
    wait_until(
        Duration::from_secs(30),
        "s0's reads to ask again",
        async || calls(&host).await >= before + expected,
    )
    .await;
    wait_until(
        Duration::from_secs(30),
        "the reads to wait again",
        async || waiting(&host).await == total,
    )
    .await;
    let spent = calls(&host).await - before;
    assert!(
        spent <= expected + 10,
        "21 posts and s0's {PER_SESSION} reads cost {spent} plugin calls (all 3,000 reads woken \
         would be 60,000)"
    );
    for read in reads {
        read.abort();
    }
    host.stop().await;
}

/// A proxy in front of the host closes requests idle for 1 s (say): the host
/// answers a held read before that, however long the plugin asked for.
#[tokio::test]
async fn the_host_caps_how_long_a_read_is_held() {
    let host = TestHost::with_webchat_settings(&[("long_poll_seconds", "600")], |config| {
        config.http.max_long_poll_ms = 300;
    })
    .await;
    let (status, body, _) = start_chat(&host, "held", &[], json!({})).await;
    assert_eq!(status, 200, "{body}");
    let read = host
        .client
        .get(host.url("/webhooks/webchat/messages?session_id=held&after=0&wait=1"))
        .header("x-webchat-secret", body["secret"].as_str().unwrap())
        // Far above the cap, far below what the plugin asked for.
        .timeout(Duration::from_secs(60))
        .send()
        .await
        .expect("the read is answered at the host's cap, not the plugin's 600 s");
    assert_eq!(read.status(), 200);
    let answer: Value = read.json().await.unwrap();
    assert_eq!(answer["messages"], json!([]));
    host.stop().await;
}

/// A self-signed certificate for 127.0.0.1 made with the `openssl` command
/// (`None`, after one line saying so, where it is not installed).
fn self_signed(dir: &std::path::Path) -> Option<(std::path::PathBuf, std::path::PathBuf)> {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let made = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1"])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output();
    match made {
        Ok(out) if out.status.success() => Some((cert, key)),
        Ok(out) => panic!("openssl: {}", String::from_utf8_lossy(&out.stderr)),
        Err(e) => {
            eprintln!("skipping the HTTPS test: the openssl command is not available ({e})");
            None
        }
    }
}

#[tokio::test]
async fn the_host_can_serve_https_itself() {
    use tokio_rustls::rustls::pki_types::pem::PemObject as _;
    use tokio_rustls::rustls::{self, pki_types::CertificateDer, pki_types::ServerName};
    let certs = tempfile::tempdir().unwrap();
    let Some((cert, key)) = self_signed(certs.path()) else {
        return;
    };

    // Only one of the two is a clear error at start.
    let dir = tempfile::tempdir().unwrap();
    let mut config = switchboard_tests::test_config(dir.path());
    config.http.tls_cert = Some(cert.clone());
    let error = switchboard::server::Server::start(config)
        .await
        .err()
        .unwrap();
    assert!(error.to_string().contains("tls_key"), "{error}");

    let host = TestHost::start(|config| {
        config.http.tls_cert = Some(cert.clone());
        config.http.tls_key = Some(key.clone());
    })
    .await;
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(&cert).unwrap())
        .unwrap();
    let client = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(client));
    let tcp = TcpStream::connect(host.server.addr).await.unwrap();
    let name = ServerName::IpAddress(std::net::Ipv4Addr::LOCALHOST.into());
    let mut tls = connector.connect(name, tcp).await.unwrap();
    tls.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    tls.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\"ok\""), "{answer}");

    // Plain HTTP on the same port gets nowhere.
    let plain = host.client.get(host.url("/healthz")).send().await;
    assert!(plain.is_err() || plain.unwrap().status() != 200);
    host.stop().await;
}
