//! Helpers for the admin API and the ownership rules: an admin client for an account, and
//! profile settings set the way an operator would.

use reqwest::Method;
use serde_json::Value;
use uuid::Uuid;

use scimd::service::settings::ProfileUpdate;
use scimd::service::{Caller, Idp, TokenKind};

use crate::harness::{Resp, TestApp};

/// Lets SCIM change userName and primary email (R2 off), for tests about something else.
pub async fn allow_identity_changes(app: &TestApp) {
    set_profile(
        app,
        ProfileUpdate {
            update_emails_via_scim: Some(true),
            ..Default::default()
        },
    )
    .await;
}

pub async fn set_profile(app: &TestApp, update: ProfileUpdate) {
    app.app
        .service
        .update_profile(&Caller::operator(app.account, "test"), update)
        .await
        .expect("profile updates");
}

/// An admin token of the test's account, and requests to its admin API.
pub struct Admin<'a> {
    pub app: &'a TestApp,
    pub token: String,
    pub token_id: Uuid,
}

impl<'a> Admin<'a> {
    pub async fn new(app: &'a TestApp) -> Admin<'a> {
        let issued = app
            .app
            .service
            .create_token(app.account, TokenKind::Admin, None, None, None)
            .await
            .unwrap();
        Admin {
            app,
            token: issued.token,
            token_id: issued.record.id,
        }
    }

    /// `/api/accounts/{account}` + path.
    pub fn url(&self, path: &str) -> String {
        format!("{}/api/accounts/{}{}", self.app.origin, self.app.account, path)
    }

    pub async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Resp {
        self.app
            .send(method, &self.url(path), Some(&self.token), body.as_ref(), &[])
            .await
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.send(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Resp {
        self.send(Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Resp {
        self.send(Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Resp {
        self.send(Method::DELETE, path, None).await
    }

    /// Creates a native user and returns its id.
    pub async fn user(&self, user_name: &str, email: &str) -> String {
        let res = self
            .post(
                "/users",
                serde_json::json!({"user_name": user_name, "email": email, "given_name": "Native", "family_name": "User"}),
            )
            .await;
        assert_eq!(res.status, 201, "{}", res.text);
        res.body["id"].as_str().unwrap().to_string()
    }

    /// Creates a native group and returns its id.
    pub async fn group(&self, name: &str) -> String {
        let res = self
            .post("/groups", serde_json::json!({"display_name": name}))
            .await;
        assert_eq!(res.status, 201, "{}", res.text);
        res.body["id"].as_str().unwrap().to_string()
    }
}

/// A SCIM token of the test's account with another IdP label.
pub async fn scim_token(app: &TestApp, idp: Idp) -> String {
    app.app
        .service
        .create_token(app.account, TokenKind::Scim, Some(idp), None, None)
        .await
        .unwrap()
        .token
}
