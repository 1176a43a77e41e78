//! One feed's delivery loop: redriven dead letters first, then the history
//! after the feed's cursor, in batches, each POSTed once it is durable and
//! signed; the cursor moves on after a 2xx; failures back off and, after
//! `max_attempts`, become dead letters.
//!
//! The request: `POST <url>` with `Content-Type: application/json`, body
//! `{"feed": "<id>", "events": [<history event>, …]}` and the header
//! `Switchboard-Signature: t=<unix seconds>,v1=<hex>`, where `v1` is
//! HMAC-SHA256 of `<t>.<body>` keyed with the feed's secret. A receiver
//! recomputes it over the raw body, compares in constant time and refuses
//! a `t` too far from its clock (replays).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hmac::{Hmac, Mac};
use http_body_util::{BodyExt, Full};
use sha2::Sha256;

use crate::clock::now_ms;
use crate::store::{Backoff, Batch, HistoryEvent, StoreError, keys};

use super::{Feed, Feeds, Progress};

/// The header carrying a delivery's signature.
pub const SIGNATURE_HEADER: &str = "switchboard-signature";

/// The signature header's value for `body` sent at unix second `t`.
pub fn sign(secret: &str, t: u64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// What to send next.
struct Next {
    events: Vec<HistoryEvent>,
    /// Redriven dead letters (deleted once delivered) rather than the
    /// history after the cursor.
    redriven: bool,
    /// Where the cursor goes once these are dealt with.
    cursor: u64,
}

/// Runs until the host closes or the feed is deleted (aborted).
pub(super) async fn run(feeds: Arc<Feeds>, feed: Feed) {
    let mut closed = feeds.closed.subscribe();
    let backoff = Backoff {
        max_attempts: feeds.config.max_attempts.max(1),
        base_ms: feeds.config.base_backoff_ms,
        max_ms: feeds.config.max_backoff_ms,
    };
    let span = tracing::info_span!("feed", feed = %feed.id);
    let mut attempts = 0u32;
    loop {
        if *closed.borrow() {
            return;
        }
        let next = match next_batch(&feeds, &feed) {
            Ok(n) => n,
            Err(e) => {
                span.in_scope(|| tracing::error!(error = %e, "reading the history failed"));
                None
            }
        };
        let Some(next) = next else {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(feeds.config.poll_ms)) => {}
                _ = closed.changed() => return,
            }
            continue;
        };
        if next.events.is_empty() {
            // Nothing this feed wants in that stretch: just move on.
            if let Err(e) = advance(&feeds, &feed, &next) {
                span.in_scope(|| tracing::error!(error = %e, "saving the feed's cursor failed"));
            }
            continue;
        }
        // Only what is on disk leaves the host: a crash must not take back
        // an event a receiver already has.
        if let Err(e) = feeds.store.sync().await {
            span.in_scope(|| tracing::error!(error = %e, "flushing before a delivery failed"));
            continue;
        }
        let outcome = post(&feeds, &feed, &next.events).await;
        let label = if outcome.is_ok() {
            "delivered"
        } else {
            "failed"
        };
        metrics::counter!("switchboard_feed_deliveries_total", "outcome" => label).increment(1);
        match outcome {
            Ok(()) => {
                attempts = 0;
                feeds.set_progress(&feed.id, Progress::default());
                if let Err(e) = advance(&feeds, &feed, &next) {
                    span.in_scope(
                        || tracing::error!(error = %e, "saving the feed's cursor failed"),
                    );
                }
            }
            Err(reason) => {
                attempts += 1;
                span.in_scope(|| tracing::warn!(attempts, %reason, "feed delivery failed"));
                if attempts >= backoff.max_attempts {
                    metrics::counter!("switchboard_feed_dead_letters_total")
                        .increment(next.events.len() as u64);
                    let buried = match bury(&feeds, &feed, &next) {
                        Ok(seq) => feeds.store.durable(seq).await,
                        Err(e) => Err(e),
                    };
                    if let Err(e) = buried {
                        span.in_scope(|| tracing::error!(error = %e, "dead-lettering failed"));
                    }
                    attempts = 0;
                    feeds.set_progress(&feed.id, Progress::default());
                    continue;
                }
                feeds.set_progress(
                    &feed.id,
                    Progress {
                        attempts,
                        last_error: Some(reason),
                    },
                );
                let wait = Duration::from_millis(backoff.delay_ms(attempts));
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = closed.changed() => return,
                }
            }
        }
    }
}

/// Redriven dead letters if any, else the history after the cursor;
/// `None` when there is nothing new.
fn next_batch(feeds: &Feeds, feed: &Feed) -> Result<Option<Next>, StoreError> {
    let limit = feeds.config.batch.clamp(1, 1000);
    let cursor = feeds.cursor(&feed.id)?;
    let retry: Vec<HistoryEvent> = feeds
        .store
        .scan_json::<HistoryEvent>(&keys::feed_retry_of(&feed.id))?
        .into_iter()
        .take(limit)
        .collect();
    if !retry.is_empty() {
        return Ok(Some(Next {
            events: retry,
            redriven: true,
            cursor,
        }));
    }
    let read = feeds.store.history_after(cursor, limit)?;
    let Some(last) = read.last().map(|e| e.seq) else {
        return Ok(None);
    };
    Ok(Some(Next {
        events: read.into_iter().filter(|e| feed.wants(&e.kind)).collect(),
        redriven: false,
        cursor: last,
    }))
}

/// The batch is dealt with: the cursor moves on (or the redriven letters
/// go).
fn advance(feeds: &Feeds, feed: &Feed, next: &Next) -> Result<(), StoreError> {
    let mut batch = Batch::new();
    if next.redriven {
        for e in &next.events {
            batch.delete(keys::feed_retry(&feed.id, e.seq));
        }
    } else {
        batch.put(keys::feed_cursor(&feed.id), next.cursor.to_string());
    }
    feeds.store.write(batch)?;
    Ok(())
}

/// The batch failed for good: its events become dead letters and the
/// feed goes on. Returns the write's commit sequence.
fn bury(feeds: &Feeds, feed: &Feed, next: &Next) -> Result<u64, StoreError> {
    let mut batch = Batch::new();
    for e in &next.events {
        batch.put_json(keys::feed_dead(&feed.id, e.seq), e);
        if next.redriven {
            batch.delete(keys::feed_retry(&feed.id, e.seq));
        }
    }
    if !next.redriven {
        batch.put(keys::feed_cursor(&feed.id), next.cursor.to_string());
    }
    feeds.store.write(batch)
}

/// POSTs `events`, signed; `Err` with why it did not land.
async fn post(feeds: &Feeds, feed: &Feed, events: &[HistoryEvent]) -> Result<(), String> {
    let body = serde_json::to_vec(&serde_json::json!({ "feed": feed.id, "events": events }))
        .map_err(|e| e.to_string())?;
    let signature = sign(&feed.secret, now_ms() / 1000, &body);
    let request = http::Request::post(feed.url.as_str())
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(http::header::USER_AGENT, "Switchboard-Feed/1")
        .header(SIGNATURE_HEADER, signature)
        .header("switchboard-feed", feed.id.as_str())
        .body(Full::new(Bytes::from(body)).map_err(|never| match never {}))
        .map_err(|e| e.to_string())?;
    let timeout = Duration::from_millis(feeds.config.timeout_ms.max(1));
    let options = wasmtime_wasi_http::RequestOptions {
        connect_timeout: Some(timeout),
        first_byte_timeout: Some(timeout),
        between_bytes_timeout: Some(timeout),
    };
    let exchange = async {
        let (response, io) = wasmtime_wasi_http::default_send_request(request, Some(options))
            .await
            .map_err(|e| format!("{e:?}"))?;
        let connection = tokio::spawn(io);
        let status = response.status();
        // Read (and drop) the answer so the connection ends cleanly.
        let _ = response.into_body().collect().await;
        connection.abort();
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("the receiver answered {status}"))
        }
    };
    match tokio::time::timeout(timeout * 2, exchange).await {
        Ok(result) => result,
        Err(_) => Err(format!("no answer within {} ms", timeout.as_millis())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_of_time_dot_body() {
        // As a receiver computes it with common tools:
        // printf '1700000000.{}' | openssl dgst -sha256 -hmac whsec_test
        assert_eq!(
            sign("whsec_test", 1_700_000_000, b"{}"),
            "t=1700000000,v1=35495024f4ef3f94e5a93e22221544c4b75e9a42300cd965ab81cb85cd994e91"
        );
    }
}
