//! Per-account rate limiting: 429 with Retry-After for the account over its budget only.

use reqwest::Method;

use crate::harness::TestApp;

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
    for _ in 0..3 {
        assert_eq!(app.get("/Users").await.status, 200);
    }
    let limited = app.get("/Users").await;
    limited.assert_error(429, None);
    let retry_after: u64 = limited
        .header("retry-after")
        .expect("Retry-After header")
        .parse()
        .expect("Retry-After is whole seconds");
    assert!((1..=2).contains(&retry_after), "{retry_after}");

    let url = format!("{}/scim/account/{other}/Users", app.origin);
    let res = app.send(Method::GET, &url, Some(&other_token), None, &[]).await;
    assert_eq!(
        res.status, 200,
        "another account keeps its own budget: {}",
        res.text
    );

    tokio::time::sleep(std::time::Duration::from_secs(retry_after)).await;
    assert_eq!(app.get("/Users").await.status, 200, "the budget refills");
}

#[tokio::test]
async fn zero_turns_rate_limiting_off() {
    let app = TestApp::spawn_with(|c| {
        c.rate_limit_per_second = 0;
        c.rate_limit_burst = 0;
    })
    .await;
    for _ in 0..50 {
        assert_eq!(app.get("/ServiceProviderConfig").await.status, 200);
    }
}
