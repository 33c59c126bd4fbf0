//! Per-account rate limiting: 429 with Retry-After for the account over its budget only. The
//! server's clock stands still unless a test advances it, so a window refills exactly when the
//! test says and never while it runs.

use std::time::Duration;

use reqwest::Method;

use crate::harness::{Resp, TestApp};

/// The `Retry-After` of a 429, in whole seconds.
#[track_caller]
fn retry_after(res: &Resp) -> u64 {
    res.assert_error(429, None);
    res.header("retry-after")
        .expect("Retry-After header")
        .parse()
        .expect("Retry-After is whole seconds")
}

#[tokio::test]
async fn an_account_over_its_budget_gets_429_with_retry_after_and_others_do_not() {
    let app = TestApp::spawn_with(|c| {
        c.rate_limit_per_second = 1;
        c.rate_limit_burst = 3;
    })
    .await;
    let (other, other_token) = app.other_account().await;

    // Bad tokens aimed at the account do not use its budget: they are refused before counting.
    for _ in 0..5 {
        let res = app
            .send(Method::GET, &app.scim("/Users"), Some("not-a-token"), None, &[])
            .await;
        res.assert_error(401, None);
    }
    // The whole burst passes, not one request fewer…
    for i in 1..=3 {
        let res = app.get("/Users").await;
        assert_eq!(res.status, 200, "request {i} of a burst of 3: {}", res.text);
    }
    // …and the next is refused, told to come back when one request's worth has refilled.
    assert_eq!(retry_after(&app.get("/Users").await), 1);
    // Refused requests take nothing, and standing still refills nothing.
    assert_eq!(retry_after(&app.get("/Users").await), 1);

    let url = format!("{}/scim/account/{other}/Users", app.origin);
    for _ in 0..3 {
        let res = app.send(Method::GET, &url, Some(&other_token), None, &[]).await;
        assert_eq!(
            res.status, 200,
            "another account keeps its own budget: {}",
            res.text
        );
    }

    // Just short of the Retry-After, still refused; at it, one request passes, and only one.
    app.advance(Duration::from_millis(999));
    assert_eq!(retry_after(&app.get("/Users").await), 1);
    app.advance(Duration::from_millis(1));
    assert_eq!(app.get("/Users").await.status, 200, "the budget refills");
    assert_eq!(retry_after(&app.get("/Users").await), 1);

    // Idle for the length of a burst at the sustained rate: the whole burst again, no more.
    app.advance(Duration::from_secs(3));
    for i in 1..=3 {
        let res = app.get("/Users").await;
        assert_eq!(res.status, 200, "request {i} of a refilled burst: {}", res.text);
    }
    assert_eq!(retry_after(&app.get("/Users").await), 1);
}

#[tokio::test]
async fn the_sustained_rate_sets_the_refill_and_retry_after_rounds_up() {
    let app = TestApp::spawn_with(|c| {
        c.rate_limit_per_second = 4;
        c.rate_limit_burst = 4;
    })
    .await;
    for _ in 0..4 {
        assert_eq!(app.get("/Users").await.status, 200);
    }
    // One request's worth is a quarter second: Retry-After rounds it up to 1.
    assert_eq!(retry_after(&app.get("/Users").await), 1);
    app.advance(Duration::from_millis(250));
    assert_eq!(app.get("/Users").await.status, 200);
    assert_eq!(retry_after(&app.get("/Users").await), 1);
    app.advance(Duration::from_millis(500));
    assert_eq!(app.get("/Users").await.status, 200);
    assert_eq!(app.get("/Users").await.status, 200);
    assert_eq!(retry_after(&app.get("/Users").await), 1);
}

/// Sends `n` list requests; the answers, in order.
async fn burst(app: &TestApp, n: usize) -> Vec<Resp> {
    let mut answers = Vec::with_capacity(n);
    for _ in 0..n {
        answers.push(app.get("/Users").await);
    }
    answers
}

#[tokio::test]
async fn zero_turns_rate_limiting_off() {
    // The same burst against the same budget, first with a rate: the limiter answers the
    // eleventh request 429 with Retry-After (the clock stands still, so nothing refills)…
    let limited = TestApp::spawn_with(|c| {
        c.rate_limit_per_second = 1;
        c.rate_limit_burst = 10;
    })
    .await;
    let answers = burst(&limited, 30).await;
    for (i, res) in answers.iter().enumerate().take(10) {
        assert_eq!(res.status, 200, "request {} of the burst: {}", i + 1, res.text);
    }
    for res in &answers[10..] {
        assert_eq!(retry_after(res), 1);
    }
    // …then with a rate of zero, which turns limiting off: every request passes.
    let unlimited = TestApp::spawn_with(|c| {
        c.rate_limit_per_second = 0;
        c.rate_limit_burst = 10;
    })
    .await;
    for (i, res) in burst(&unlimited, 30).await.iter().enumerate() {
        assert_eq!(res.status, 200, "request {}: {}", i + 1, res.text);
        assert!(res.header("retry-after").is_none());
    }
}
