//! Helpers for the admin API and the ownership rules: an admin client for an account, and
//! profile settings set the way an operator would.

use scimd::service::Caller;
use scimd::service::settings::ProfileUpdate;

use crate::harness::TestApp;

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
