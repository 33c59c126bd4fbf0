//! Extension schemas per account: declared, listed and removed through every surface (admin
//! API, CLI), and the account's resource types that every SCIM request is served with.
//!
//! Each process keeps the resource types it built for an account with the account's schema
//! version. The token check reads that version with the token (one round trip, as before), so a
//! request finds its types without a database read unless the account's schemas changed since
//! this process last built them — on any replica: the version lives in the database. A request
//! is served with the schemas in force when it was authenticated.

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::{Value, json};
use uuid::Uuid;

use super::audit::{self, Change};
use super::{Caller, Error, Result, Service};
use crate::scim::ScimError;
use crate::scim::schema::declare::{self, AccountTypes, Declared, Extends};
use crate::scim::schema::{Schema, Undeclared, Uniqueness};
use crate::store::{ReadTx, ResourceKind, SchemaRecord, StoreError};

/// Extension schemas one account may declare: far more than any IdP mapping needs, and a bound
/// on what a process keeps of them (`scim::schema::declare`).
pub const MAX_SCHEMAS_PER_ACCOUNT: usize = 50;

/// Accounts whose types a process keeps at most; past it the map starts over (each entry is a
/// few words, and rebuilding one is one read).
const MAX_ACCOUNTS: usize = 100_000;

/// This process's copy of accounts' resource types, by account, with the version it was built
/// from.
#[derive(Default)]
pub(crate) struct TypesCache {
    map: Mutex<HashMap<Uuid, (i64, AccountTypes)>>,
}

impl TypesCache {
    fn get(&self, account: Uuid, version: i64) -> Option<AccountTypes> {
        let map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        map.get(&account).filter(|(v, _)| *v == version).map(|(_, t)| *t)
    }

    fn put(&self, account: Uuid, version: i64, types: AccountTypes) {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= MAX_ACCOUNTS {
            map.clear();
        }
        map.insert(account, (version, types));
    }
}

/// A declared schema as the surfaces show it.
#[derive(Debug, Clone)]
pub struct DeclaredSchema {
    pub schema: &'static Schema,
    pub extends: Extends,
    pub required: bool,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

impl DeclaredSchema {
    /// As the CLI prints it and the admin API answers it (`SchemaOut`): id, resource type,
    /// required, when, and the schema with every characteristic.
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.schema.id,
            "resource_type": self.extends.as_str(),
            "required": self.required,
            "created_at": self.created_at,
            "schema": declare::schema_json(self.schema),
        })
    }
}

/// What removing a schema took away (or, refused without `force`, would take away).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemovalReport {
    /// Users or groups that held data under the schema.
    pub resources: u64,
}

fn extends_of(record: &SchemaRecord) -> Extends {
    Extends::parse(&record.resource_type).unwrap_or(Extends::User)
}

fn kind_of(extends: Extends) -> ResourceKind {
    match extends {
        Extends::User => ResourceKind::User,
        Extends::Group => ResourceKind::Group,
    }
}

/// The declared schemas of a stored record set; a record that no longer parses (written by a
/// later scimd with rules this one lacks) is left out with a warning rather than failing every
/// request of the account.
fn declared(records: &[SchemaRecord]) -> Vec<(Declared, chrono::DateTime<chrono::Utc>)> {
    records
        .iter()
        .filter_map(|r| match declare::declare(&r.doc) {
            Ok(schema) => Some((
                Declared {
                    schema,
                    extends: extends_of(r),
                    required: r.required,
                },
                r.created_at,
            )),
            Err(e) => {
                tracing::warn!(urn = %r.urn, error = %e.detail, "a stored extension schema does not parse; it is ignored");
                None
            }
        })
        .collect()
}

impl Service {
    /// The resource types the caller's account is served with. No database read when this
    /// process built them at the version the token check read.
    pub async fn types(&self, caller: &Caller) -> Result<AccountTypes> {
        if let Some(version) = caller.schema_version {
            // Version 0: the account never declared a schema nor changed the setting.
            if version == 0 {
                return Ok(AccountTypes::default());
            }
            if let Some(types) = self.types.get(caller.account_id, version) {
                return Ok(types);
            }
        }
        let mut conn = self.store.reader().await?;
        self.types_in(conn.as_mut(), caller.account_id).await
    }

    /// The account's resource types, read inside `tx`.
    pub(crate) async fn types_in(&self, tx: &mut dyn ReadTx, account: Uuid) -> Result<AccountTypes> {
        let stored = tx
            .account_schemas(account)
            .await?
            .ok_or_else(|| Error::NotFound(format!("no account {account}")))?;
        if let Some(types) = self.types.get(account, stored.version) {
            return Ok(types);
        }
        let declared: Vec<Declared> = declared(&stored.schemas).into_iter().map(|(d, _)| d).collect();
        let undeclared = Undeclared::parse(&stored.undeclared).unwrap_or_default();
        let types = declare::account_types(&declared, undeclared);
        self.types.put(account, stored.version, types);
        Ok(types)
    }

    /// The schemas the account declared, in declaration order.
    pub async fn list_schemas(&self, caller: &Caller) -> Result<Vec<DeclaredSchema>> {
        let mut conn = self.store.reader().await?;
        let stored = conn
            .account_schemas(caller.account_id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("no account {}", caller.account_id)))?;
        Ok(declared(&stored.schemas)
            .into_iter()
            .map(|(d, created_at)| DeclaredSchema {
                schema: d.schema,
                extends: d.extends,
                required: d.required,
                created_at,
            })
            .collect())
    }

    /// Declares an extension of `extends`; `required`: every write of that resource type must
    /// carry it (resources written before are not checked until their next write). 400 for a
    /// bad schema, 409 for a URN the account already declared. Data the account kept under that
    /// URN before (undeclared) becomes filterable at once: its filter rows were derived when it
    /// was written.
    pub async fn declare_schema(
        &self,
        caller: &Caller,
        doc: &Value,
        extends: Extends,
        required: bool,
    ) -> Result<DeclaredSchema> {
        let mut tx = self.store.begin().await?;
        let declared_before = tx
            .account_schemas(caller.account_id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("no account {}", caller.account_id)))?
            .schemas
            .len();
        if declared_before >= MAX_SCHEMAS_PER_ACCOUNT {
            return Err(ScimError::invalid_value(format!(
                "this account already declares {declared_before} extension schemas, the most one account \
                 may; remove one first"
            ))
            .into());
        }
        let schema = declare::declare(doc)?;
        let at = chrono::Utc::now();
        let record = SchemaRecord {
            urn: schema.id.to_string(),
            resource_type: extends.as_str().to_string(),
            required,
            doc: declare::schema_json(schema),
            created_at: at,
        };
        tx.insert_schema(caller.account_id, &record)
            .await
            .map_err(|e| match e {
                StoreError::Unique(_) => Error::from(ScimError::uniqueness(format!(
                    "the schema \"{}\" is already declared in this account; remove it first to change it",
                    schema.id
                ))),
                other => other.into(),
            })?;
        audit::record(
            tx.as_mut(),
            caller,
            Change::new("schema.declare", "Schema", schema.id).after(
                json!({"resource_type": extends.as_str(), "required": required, "schema": record.doc}),
            ),
        )
        .await?;
        tx.commit().await?;
        Ok(DeclaredSchema {
            schema,
            extends,
            required,
            created_at: at,
        })
    }

    /// Removes a declaration. When users or groups hold data under it, only with `force`, which
    /// removes that data too (each changed resource gets a new version); without it, 409 saying
    /// how many resources would lose what.
    pub async fn remove_schema(&self, caller: &Caller, urn: &str, force: bool) -> Result<RemovalReport> {
        let mut tx = self.store.begin().await?;
        let stored = tx
            .account_schemas(caller.account_id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("no account {}", caller.account_id)))?;
        let record = stored
            .schemas
            .iter()
            .find(|r| r.urn.eq_ignore_ascii_case(urn))
            .ok_or_else(|| Error::NotFound(format!("no schema \"{urn}\" is declared in this account")))?;
        let kind = kind_of(extends_of(record));
        let holding = tx.extension_usage(kind, caller.account_id, &record.urn).await?;
        if holding > 0 && !force {
            return Err(Error::Conflict(format!(
                "{holding} {} of this account hold data under \"{}\"; removing the schema removes that \
                 data from every one of them. Repeat with force (?force=true, or --force) to do so",
                if kind == ResourceKind::User {
                    "users"
                } else {
                    "groups"
                },
                record.urn
            )));
        }
        let stripped = if holding > 0 {
            tx.strip_extension(kind, caller.account_id, &record.urn).await?
        } else {
            0
        };
        tx.delete_schema(caller.account_id, &record.urn).await?;
        audit::record(
            tx.as_mut(),
            caller,
            Change::new("schema.remove", "Schema", &record.urn)
                .before(json!({"resource_type": record.resource_type, "schema": record.doc}))
                .delta(json!({"resources_changed": stripped})),
        )
        .await?;
        tx.commit().await?;
        Ok(RemovalReport { resources: stripped })
    }
}

/// `uniqueness` `server` (or `global`, which one server can only keep as `server`) of a
/// declared extension attribute: no other user (group) of the account may hold the same value
/// (compared ignoring case unless the attribute is `caseExact`). 409 `uniqueness` naming the
/// attribute and the user that has it. `except`: the user being written.
pub(crate) async fn check_unique_values(
    tx: &mut dyn crate::store::Tx,
    kind: ResourceKind,
    rt: &crate::scim::schema::ResourceType,
    account: Uuid,
    doc: &serde_json::Map<String, Value>,
    except: Option<Uuid>,
) -> Result<()> {
    for (schema, _) in rt.extensions {
        let Some(Value::Object(ext)) = doc.get(schema.id) else {
            continue;
        };
        for attr in schema
            .attributes
            .iter()
            .filter(|a| a.uniqueness != Uniqueness::None)
        {
            let (text, key) = match ext.get(attr.name) {
                Some(v @ (Value::String(_) | Value::Number(_) | Value::Bool(_))) => (
                    v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string()),
                    crate::store::derived::extension_key(v),
                ),
                _ => continue,
            };
            // The column the filter rows compare: as written when caseExact, else the key
            // they were derived with.
            let value = match (attr.case_exact, key) {
                (false, Some(key)) => key,
                _ => text.clone(),
            };
            let key = crate::store::derived::value_key(&[schema.id, attr.name]);
            let owners = tx
                .extension_value_owners(kind, account, &key, &value, attr.case_exact, except)
                .await?;
            if let Some(owner) = owners.first() {
                return Err(ScimError::uniqueness(format!(
                    "\"{}:{}\" is unique in this account and {} {owner} already has {text:?}",
                    schema.id,
                    attr.name,
                    kind.resource_type().to_lowercase()
                ))
                .into());
            }
        }
    }
    Ok(())
}
