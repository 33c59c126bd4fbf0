//! The unit of work of both stores, implemented once: a connection of either database (inside
//! a transaction or not) handed to the statements written over `store/db.rs`. What a store
//! module adds is how it gets the connection: its pool, its `BEGIN` (`BEGIN IMMEDIATE` and the
//! writer's turn on SQLite), and the transaction's time where the database keeps none.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use sqlx::pool::PoolConnection;
use sqlx::{Postgres, Sqlite};
use uuid::Uuid;

use super::auth_signal::AuthSignal;
use super::db::{DbConn, now_micros};
use super::group_commit::Write;
use super::health::Health;
use super::session::Session;
use super::{
    Account, AccountSchemas, AccountSettings, AdminFilter, AuditQuery, AuditRecord, AuthAccount,
    ConsoleSessionRecord, EventPage, EventQuery, GroupRef, ListQuery, MemberRef, Membership, NewEvent,
    NewResource, NewRoleBinding, OAuthClientRecord, Origin, Page, ReadTx, ResourceKind, ResourceRow,
    RoleBinding, SchemaRecord, SetupLinkRecord, StoreResult, TokenRecord, Tx, WebhookDelivery,
    WebhookEndpoint,
};
use super::{
    accounts, audit, console, events, memberships, oauth, resources, role_bindings, schemas, settings,
    tokens, webhooks,
};

/// A connection of either database: in a transaction (ended by `commit` or, dropped, rolled
/// back; see `store/session.rs`), or in autocommit mode for a reader.
pub(super) enum Link {
    PostgresTx(Session<Postgres>),
    Postgres(PoolConnection<Postgres>),
    /// A SQLite read transaction (a snapshot).
    SqliteTx(Session<Sqlite>),
    /// A SQLite write transaction: it holds this process's writer turn until it has ended,
    /// and commits in a group with the writers queued behind it (`store/group_commit.rs`).
    SqliteWrite(Write),
    Sqlite(PoolConnection<Sqlite>),
}

pub(super) struct SqlTx {
    link: Link,
    /// SQLite's transaction time, taken when its write lock was; `None` on Postgres (the
    /// database's own `now()`) and outside a transaction (each statement's own time).
    now: Option<DateTime<Utc>>,
    /// A SQLite write transaction's view of the store's health: a commit that fails for lack
    /// of space marks writes failing, one that succeeds ends it.
    health: Option<Arc<Health>>,
    /// Told when a transaction that changed what token checks read has committed.
    auth: Option<Arc<AuthSignal>>,
    /// This transaction changed a token or what a token check reads of its account.
    auth_changed: bool,
}

impl SqlTx {
    pub fn new(link: Link) -> SqlTx {
        SqlTx {
            link,
            now: None,
            health: None,
            auth: None,
            auth_changed: false,
        }
    }

    /// A transaction that tells `auth` when it changed what token checks read.
    pub fn signalling(mut self, auth: &Arc<AuthSignal>) -> SqlTx {
        self.auth = Some(auth.clone());
        self
    }

    /// Called by the statements that change tokens or their accounts' SCIM switch or schemas.
    fn auth_changes(&mut self) -> DbConn<'_> {
        self.auth_changed = true;
        self.db()
    }

    /// A SQLite write transaction begun at `now` (its lock is held, so the times of
    /// successive writes never go backwards), reporting its commit to `health`.
    pub fn sqlite_writer(write: Write, now: DateTime<Utc>, health: Arc<Health>) -> SqlTx {
        SqlTx {
            link: Link::SqliteWrite(write),
            now: Some(now),
            health: Some(health),
            auth: None,
            auth_changed: false,
        }
    }

    /// This unit of work's connection, for the statements written once (`store/db.rs`).
    pub fn db(&mut self) -> DbConn<'_> {
        match &mut self.link {
            Link::PostgresTx(s) => DbConn::postgres(s.conn()),
            Link::Postgres(c) => DbConn::postgres(c),
            Link::SqliteTx(s) => DbConn::sqlite(s.conn(), self.now.unwrap_or_else(now_micros)),
            Link::SqliteWrite(w) => DbConn::sqlite(w.conn(), self.now.unwrap_or_else(now_micros)),
            Link::Sqlite(c) => DbConn::sqlite(c, self.now.unwrap_or_else(now_micros)),
        }
    }

    /// Commits a transaction (a reader has nothing to commit).
    pub async fn commit(self) -> StoreResult<()> {
        let committed = match self.link {
            Link::PostgresTx(s) => s.commit().await,
            Link::SqliteTx(s) => s.commit().await,
            Link::SqliteWrite(w) => w.commit().await,
            Link::Postgres(_) | Link::Sqlite(_) => return Ok(()),
        };
        // Whatever the COMMIT's answer: one whose fate is unknown may have committed, and a
        // needless signal only costs cached checks a database read.
        if self.auth_changed
            && let Some(auth) = &self.auth
        {
            auth.changed();
        }
        if let Some(health) = self.health {
            match &committed {
                Ok(()) => health.wrote(),
                Err(err) if err.is_disk_full() => health.mark_writes_failing(err.unavailable_cause()),
                Err(_) => {}
            }
        }
        committed
    }
}

#[async_trait]
impl ReadTx for SqlTx {
    #[tracing::instrument(level = "debug", skip_all, name = "store.list_accounts")]
    async fn list_accounts(&mut self) -> StoreResult<Vec<Account>> {
        accounts::list(&mut self.db()).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.get_account")]
    async fn get_account(&mut self, id: Uuid) -> StoreResult<Option<Account>> {
        accounts::get(&mut self.db(), id).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.get_token")]
    async fn get_token(&mut self, account: Uuid, id: Uuid) -> StoreResult<Option<TokenRecord>> {
        tokens::get(&mut self.db(), account, id).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.get_token_for_auth")]
    async fn get_token_for_auth(
        &mut self,
        account: Uuid,
        id: Uuid,
    ) -> StoreResult<Option<(TokenRecord, AuthAccount)>> {
        tokens::get_for_auth(&mut self.db(), account, id).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.list_tokens")]
    async fn list_tokens(&mut self, account: Uuid) -> StoreResult<Vec<TokenRecord>> {
        tokens::list(&mut self.db(), account).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.get_resource")]
    async fn get_resource(
        &mut self,
        kind: ResourceKind,
        account: Uuid,
        id: Uuid,
    ) -> StoreResult<Option<ResourceRow>> {
        resources::get(&mut self.db(), kind, account, id, resources::RowLock::None).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.get_user_with_groups")]
    async fn get_user_with_groups(
        &mut self,
        account: Uuid,
        id: Uuid,
    ) -> StoreResult<Option<(ResourceRow, Vec<GroupRef>)>> {
        resources::user_with_groups(&mut self.db(), account, id).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.list_resources")]
    async fn list_resources(
        &mut self,
        kind: ResourceKind,
        account: Uuid,
        query: &ListQuery,
        extra: &AdminFilter,
    ) -> StoreResult<Page<ResourceRow>> {
        resources::list(&mut self.db(), kind, account, query, extra).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.missing_users")]
    async fn missing_users(&mut self, account: Uuid, ids: &[Uuid]) -> StoreResult<Vec<Uuid>> {
        memberships::missing_users(&mut self.db(), account, ids).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.members_of")]
    async fn members_of(&mut self, account: Uuid, groups: &[Uuid]) -> StoreResult<Vec<MemberRef>> {
        memberships::members_of(&mut self.db(), account, groups).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.groups_of")]
    async fn groups_of(&mut self, account: Uuid, users: &[Uuid]) -> StoreResult<Vec<GroupRef>> {
        memberships::groups_of(&mut self.db(), account, users).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.get_settings")]
    async fn get_settings(&mut self, account: Uuid) -> StoreResult<Option<AccountSettings>> {
        settings::get(&mut self.db(), account).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.find_users_by_name_or_email")]
    async fn find_users_by_name_or_email(
        &mut self,
        account: Uuid,
        keys: &[String],
    ) -> StoreResult<Vec<ResourceRow>> {
        resources::users_by_name_or_email(&mut self.db(), account, keys).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.find_groups_by_display_name")]
    async fn find_groups_by_display_name(
        &mut self,
        account: Uuid,
        name: &str,
    ) -> StoreResult<Vec<ResourceRow>> {
        resources::groups_by_display_name(&mut self.db(), account, name).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.identifiers_with_base")]
    async fn identifiers_with_base(&mut self, account: Uuid, base: &str) -> StoreResult<Vec<String>> {
        resources::identifiers_with_base(&mut self.db(), account, base).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.in_idp_managed_groups")]
    async fn in_idp_managed_groups(&mut self, account: Uuid, users: &[Uuid]) -> StoreResult<Vec<Uuid>> {
        resources::in_idp_managed_groups(&mut self.db(), account, users).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.list_role_bindings")]
    async fn list_role_bindings(
        &mut self,
        account: Uuid,
        group: Option<Uuid>,
    ) -> StoreResult<Vec<RoleBinding>> {
        role_bindings::list(&mut self.db(), account, group).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.account_schemas")]
    async fn account_schemas(&mut self, account: Uuid) -> StoreResult<Option<AccountSchemas>> {
        schemas::get(&mut self.db(), account).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.extension_usage")]
    async fn extension_usage(&mut self, kind: ResourceKind, account: Uuid, urn: &str) -> StoreResult<i64> {
        schemas::usage(&mut self.db(), kind, account, urn).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.all_resources")]
    async fn all_resources(&mut self, kind: ResourceKind, account: Uuid) -> StoreResult<Vec<ResourceRow>> {
        resources::all(&mut self.db(), kind, account).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.all_memberships")]
    async fn all_memberships(&mut self, account: Uuid) -> StoreResult<Vec<Membership>> {
        resources::all_memberships(&mut self.db(), account).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.list_audit")]
    async fn list_audit(&mut self, account: Uuid, q: &AuditQuery) -> StoreResult<Vec<AuditRecord>> {
        audit::list(&mut self.db(), account, q).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.counts_by_source")]
    async fn counts_by_source(
        &mut self,
        kind: ResourceKind,
        account: Uuid,
    ) -> StoreResult<Vec<(String, i64)>> {
        console::counts_by_source(&mut self.db(), kind, account).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.activity_by_day")]
    async fn activity_by_day(
        &mut self,
        account: Uuid,
        since: chrono::NaiveDate,
    ) -> StoreResult<Vec<(String, String, i64)>> {
        console::activity_by_day(&mut self.db(), account, since).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.get_console_session")]
    async fn get_console_session(&mut self, id_sha256: &[u8]) -> StoreResult<Option<ConsoleSessionRecord>> {
        console::get_session(&mut self.db(), id_sha256).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.list_setup_links")]
    async fn list_setup_links(&mut self, account: Uuid) -> StoreResult<Vec<SetupLinkRecord>> {
        console::list_setup_links(&mut self.db(), account).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.list_oauth_clients")]
    async fn list_oauth_clients(&mut self, account: Uuid) -> StoreResult<Vec<OAuthClientRecord>> {
        oauth::list(&mut self.db(), account).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.get_oauth_client")]
    async fn get_oauth_client(&mut self, account: Uuid, id: Uuid) -> StoreResult<Option<OAuthClientRecord>> {
        oauth::get(&mut self.db(), account, id).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.list_webhooks")]
    async fn list_webhooks(&mut self, account: Uuid) -> StoreResult<Vec<WebhookEndpoint>> {
        webhooks::list(&mut self.db(), account).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.get_webhook")]
    async fn get_webhook(&mut self, account: Uuid, id: Uuid) -> StoreResult<Option<WebhookEndpoint>> {
        webhooks::get(&mut self.db(), account, id).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.list_webhook_deliveries")]
    async fn list_webhook_deliveries(
        &mut self,
        account: Uuid,
        endpoint: Uuid,
        limit: i64,
    ) -> StoreResult<Vec<WebhookDelivery>> {
        webhooks::deliveries(&mut self.db(), account, endpoint, limit).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.list_events")]
    async fn list_events(&mut self, account: Uuid, q: &EventQuery) -> StoreResult<EventPage> {
        let (events, head, pruned_through) = events::list(&mut self.db(), account, q).await?;
        Ok(EventPage {
            events,
            head,
            pruned_through,
        })
    }
}

#[async_trait]
impl Tx for SqlTx {
    #[tracing::instrument(level = "debug", skip_all, name = "store.commit")]
    async fn commit(self: Box<Self>) -> StoreResult<()> {
        SqlTx::commit(*self).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.create_account")]
    async fn create_account(&mut self, id: Uuid, name: &str) -> StoreResult<Account> {
        accounts::create(&mut self.db(), id, name).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.signing_key")]
    async fn signing_key(&mut self, id: &str, candidate: &[u8]) -> StoreResult<Vec<u8>> {
        accounts::signing_key(&mut self.db(), id, candidate).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.insert_token")]
    async fn insert_token(&mut self, t: &TokenRecord) -> StoreResult<()> {
        tokens::insert(&mut self.db(), t).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.revoke_token")]
    async fn revoke_token(&mut self, account: Uuid, id: Uuid) -> StoreResult<bool> {
        tokens::revoke(&mut self.auth_changes(), account, id).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.touch_token")]
    async fn touch_token(&mut self, account: Uuid, id: Uuid) -> StoreResult<()> {
        tokens::touch(&mut self.db(), account, id).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.insert_resource")]
    async fn insert_resource(
        &mut self,
        kind: ResourceKind,
        account: Uuid,
        new: &NewResource,
    ) -> StoreResult<ResourceRow> {
        resources::insert(&mut self.db(), kind, account, new).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.lock_resource")]
    async fn lock_resource(
        &mut self,
        kind: ResourceKind,
        account: Uuid,
        id: Uuid,
    ) -> StoreResult<Option<ResourceRow>> {
        resources::get(&mut self.db(), kind, account, id, resources::RowLock::Update).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.share_group")]
    async fn share_group(&mut self, account: Uuid, id: Uuid) -> StoreResult<Option<ResourceRow>> {
        resources::get(
            &mut self.db(),
            ResourceKind::Group,
            account,
            id,
            resources::RowLock::Share,
        )
        .await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.update_resource")]
    async fn update_resource(
        &mut self,
        kind: ResourceKind,
        account: Uuid,
        id: Uuid,
        doc: &Map<String, Value>,
    ) -> StoreResult<ResourceRow> {
        resources::update(&mut self.db(), kind, account, id, doc).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.touch_resource")]
    async fn touch_resource(
        &mut self,
        kind: ResourceKind,
        account: Uuid,
        id: Uuid,
        owner: Option<&str>,
    ) -> StoreResult<Option<ResourceRow>> {
        resources::touch(&mut self.db(), kind, account, id, owner).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.delete_resource")]
    async fn delete_resource(&mut self, kind: ResourceKind, account: Uuid, id: Uuid) -> StoreResult<bool> {
        resources::delete(&mut self.db(), kind, account, id).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.add_members")]
    async fn add_members(
        &mut self,
        account: Uuid,
        group: Uuid,
        ids: &[Uuid],
        origin: Origin,
    ) -> StoreResult<Vec<Uuid>> {
        memberships::add(&mut self.db(), account, group, ids, origin).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.remove_members")]
    async fn remove_members(&mut self, account: Uuid, group: Uuid, ids: &[Uuid]) -> StoreResult<Vec<Uuid>> {
        memberships::remove(&mut self.db(), account, group, ids).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.retain_members")]
    async fn retain_members(&mut self, account: Uuid, group: Uuid, keep: &[Uuid]) -> StoreResult<Vec<Uuid>> {
        memberships::retain(&mut self.db(), account, group, keep).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.update_settings")]
    async fn update_settings(&mut self, account: Uuid, st: &AccountSettings) -> StoreResult<()> {
        settings::update(&mut self.auth_changes(), account, st).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.insert_schema")]
    async fn insert_schema(&mut self, account: Uuid, schema: &SchemaRecord) -> StoreResult<()> {
        schemas::insert(&mut self.auth_changes(), account, schema).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.delete_schema")]
    async fn delete_schema(&mut self, account: Uuid, urn: &str) -> StoreResult<bool> {
        schemas::delete(&mut self.auth_changes(), account, urn).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.extension_value_owners")]
    async fn extension_value_owners(
        &mut self,
        kind: ResourceKind,
        account: Uuid,
        attr: &str,
        value: &str,
        case_exact: bool,
        except: Option<Uuid>,
    ) -> StoreResult<Vec<Uuid>> {
        schemas::value_owners(&mut self.db(), kind, account, attr, value, case_exact, except).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.strip_extension")]
    async fn strip_extension(&mut self, kind: ResourceKind, account: Uuid, urn: &str) -> StoreResult<u64> {
        schemas::strip(&mut self.db(), kind, account, urn).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.set_scim_enabled")]
    async fn set_scim_enabled(&mut self, account: Uuid, enabled: bool) -> StoreResult<bool> {
        settings::set_scim_enabled(&mut self.auth_changes(), account, enabled).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.revoke_tokens_of_kind")]
    async fn revoke_tokens_of_kind(&mut self, account: Uuid, kind: &str) -> StoreResult<u64> {
        tokens::revoke_of_kind(&mut self.auth_changes(), account, kind).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.release_idp_managed")]
    async fn release_idp_managed(&mut self, kind: ResourceKind, account: Uuid) -> StoreResult<u64> {
        resources::release_idp_managed(&mut self.db(), kind, account).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.idp_groups_named_like_native")]
    async fn idp_groups_named_like_native(
        &mut self,
        account: Uuid,
    ) -> StoreResult<Vec<(Uuid, String, String)>> {
        resources::idp_groups_named_like_native(&mut self.db(), account).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.rename_groups")]
    async fn rename_groups(&mut self, account: Uuid, renames: &[(Uuid, String)]) -> StoreResult<u64> {
        resources::rename_groups(&mut self.db(), account, renames).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.claim_resource")]
    async fn claim_resource(
        &mut self,
        kind: ResourceKind,
        account: Uuid,
        id: Uuid,
        source: &str,
    ) -> StoreResult<bool> {
        resources::claim(&mut self.db(), kind, account, id, source).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.release_user")]
    async fn release_user(&mut self, account: Uuid, id: Uuid) -> StoreResult<bool> {
        resources::release_user(&mut self.db(), account, id).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.insert_role_binding")]
    async fn insert_role_binding(&mut self, account: Uuid, b: &NewRoleBinding) -> StoreResult<RoleBinding> {
        role_bindings::insert(&mut self.db(), account, b).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.delete_role_binding")]
    async fn delete_role_binding(
        &mut self,
        account: Uuid,
        group: Uuid,
        id: Uuid,
    ) -> StoreResult<Option<RoleBinding>> {
        role_bindings::delete(&mut self.db(), account, group, id).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.insert_audit")]
    async fn insert_audit(&mut self, account: Uuid, e: &AuditRecord, new: &[NewEvent]) -> StoreResult<()> {
        audit::insert_with_events(&mut self.db(), account, e, new).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.insert_console_session")]
    async fn insert_console_session(
        &mut self,
        session: &ConsoleSessionRecord,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        console::insert_session(&mut self.db(), session, now).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.touch_console_session")]
    async fn touch_console_session(&mut self, id_sha256: &[u8], at: DateTime<Utc>) -> StoreResult<()> {
        console::touch_session(&mut self.db(), id_sha256, at).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.delete_console_session")]
    async fn delete_console_session(&mut self, id_sha256: &[u8]) -> StoreResult<bool> {
        console::delete_session(&mut self.db(), id_sha256).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.insert_setup_link")]
    async fn insert_setup_link(&mut self, link: &SetupLinkRecord) -> StoreResult<()> {
        console::insert_setup_link(&mut self.db(), link).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.use_setup_link")]
    async fn use_setup_link(
        &mut self,
        code_sha256: &[u8],
        now: DateTime<Utc>,
    ) -> StoreResult<Option<SetupLinkRecord>> {
        console::use_setup_link(&mut self.db(), code_sha256, now).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.insert_oauth_client")]
    async fn insert_oauth_client(&mut self, client: &OAuthClientRecord) -> StoreResult<()> {
        oauth::insert(&mut self.db(), client).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.revoke_oauth_client")]
    async fn revoke_oauth_client(&mut self, account: Uuid, id: Uuid) -> StoreResult<bool> {
        oauth::revoke(&mut self.auth_changes(), account, id).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.revoke_oauth_clients")]
    async fn revoke_oauth_clients(&mut self, account: Uuid) -> StoreResult<u64> {
        oauth::revoke_all(&mut self.auth_changes(), account).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.insert_webhook")]
    async fn insert_webhook(&mut self, e: &WebhookEndpoint) -> StoreResult<WebhookEndpoint> {
        webhooks::insert(&mut self.db(), e).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.save_webhook")]
    async fn save_webhook(&mut self, e: &WebhookEndpoint) -> StoreResult<bool> {
        webhooks::save(&mut self.db(), e).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.delete_webhook")]
    async fn delete_webhook(&mut self, account: Uuid, id: Uuid) -> StoreResult<bool> {
        webhooks::delete(&mut self.db(), account, id).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.claim_webhooks")]
    async fn claim_webhooks(
        &mut self,
        owner: Uuid,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<WebhookEndpoint>> {
        webhooks::claim_due(&mut self.db(), owner, now, until, limit).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.advance_webhook")]
    async fn advance_webhook(&mut self, e: &WebhookEndpoint, owner: Uuid, seq: i64) -> StoreResult<bool> {
        webhooks::advance(&mut self.db(), e, owner, seq).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.fail_webhook")]
    async fn fail_webhook(&mut self, e: &WebhookEndpoint, owner: Uuid) -> StoreResult<bool> {
        webhooks::failed(&mut self.db(), e, owner).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.release_webhook")]
    async fn release_webhook(&mut self, e: &WebhookEndpoint, owner: Uuid) -> StoreResult<()> {
        webhooks::release(&mut self.db(), e, owner).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.log_webhook_delivery")]
    async fn log_webhook_delivery(&mut self, d: &WebhookDelivery) -> StoreResult<()> {
        webhooks::log(&mut self.db(), d).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.prune_webhook_deliveries")]
    async fn prune_webhook_deliveries(&mut self, before: DateTime<Utc>) -> StoreResult<u64> {
        webhooks::prune_deliveries(&mut self.db(), before).await
    }

    #[tracing::instrument(level = "debug", skip_all, name = "store.prune_events")]
    async fn prune_events(&mut self, before: DateTime<Utc>) -> StoreResult<u64> {
        events::prune(&mut self.db(), before).await
    }
}
