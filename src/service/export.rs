//! R10: export an account's users, groups, memberships and role bindings (JSON or CSV) before
//! a migration, and compare two exports afterwards — seed 002's "verify the migration"
//! checklist as a command: users missing, duplicates, memberships or bindings lost.
//!
//! Resources are matched across exports by id first (adoption and linking keep ids), then by
//! userName / primary email (users, ignoring case) or identifier (groups, which never change).

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::{Caller, Result, Service};
use crate::scim::resource::primary_email;
use crate::scim::{ScimError, compare};
use crate::store::ResourceKind;

pub const EXPORT_FORMAT: &str = "scimd-export/1";

/// The export format. Unknown fields are refused: a field this version does not know is one
/// whose loss it could not report. Its OpenAPI schema is `http::admin::export_schema`'s mirror.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Export {
    pub format: String,
    pub account_id: Uuid,
    pub exported_at: DateTime<Utc>,
    pub users: Vec<ExportUser>,
    pub groups: Vec<ExportGroup>,
    pub memberships: Vec<ExportMembership>,
    pub role_bindings: Vec<ExportBinding>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportUser {
    pub id: Uuid,
    pub user_name: String,
    pub email: Option<String>,
    pub display_name: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub active: bool,
    pub source: String,
    pub idp_managed: bool,
    pub external_id: Option<String>,
    /// The user's data under the account's own extension schemas (declared or kept), by URN;
    /// null when there is none. CSV holds it as JSON in its `extensions` column.
    #[serde(default)]
    pub extensions: Option<Map<String, Value>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportGroup {
    pub id: Uuid,
    pub identifier: String,
    pub display_name: String,
    pub source: String,
    pub idp_managed: bool,
    pub external_id: Option<String>,
    /// As for users.
    #[serde(default)]
    pub extensions: Option<Map<String, Value>>,
}

/// The document's data under the account's own extensions (`store::derived::is_account_extension`).
fn extensions(doc: &Map<String, Value>) -> Option<Map<String, Value>> {
    let out: Map<String, Value> = doc
        .iter()
        .filter(|(k, _)| crate::store::derived::is_account_extension(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    (!out.is_empty()).then_some(out)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportMembership {
    pub group_id: Uuid,
    pub group_identifier: String,
    pub user_id: Uuid,
    pub user_name: String,
    pub origin: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportBinding {
    pub group_id: Uuid,
    pub group_identifier: String,
    pub role: String,
    pub resource_group: String,
}

fn text(doc: &serde_json::Map<String, Value>, key: &str) -> Option<String> {
    doc.get(key).and_then(Value::as_str).map(str::to_string)
}

impl Service {
    /// Everything R10 exports of the caller's account.
    pub async fn export(&self, caller: &Caller) -> Result<Export> {
        let account = caller.account_id;
        // One snapshot: users, groups, memberships and bindings written meanwhile cannot make
        // the export disagree with itself (a membership of a user it does not list).
        let mut conn = self.store.snapshot().await?;
        let users = conn.all_resources(ResourceKind::User, account).await?;
        let groups = conn.all_resources(ResourceKind::Group, account).await?;
        let memberships = conn.all_memberships(account).await?;
        let bindings = conn.list_role_bindings(account, None).await?;
        let user_names: HashMap<Uuid, String> = users
            .iter()
            .map(|u| (u.id, text(&u.doc, "userName").unwrap_or_default()))
            .collect();
        let identifiers: HashMap<Uuid, String> = groups
            .iter()
            .map(|g| (g.id, g.identifier.clone().unwrap_or_default()))
            .collect();
        Ok(Export {
            format: EXPORT_FORMAT.to_string(),
            account_id: account,
            exported_at: self.clock().now(),
            users: users
                .iter()
                .map(|u| {
                    let name = u.doc.get("name").and_then(Value::as_object);
                    ExportUser {
                        id: u.id,
                        user_name: user_names[&u.id].clone(),
                        email: primary_email(&u.doc).map(str::to_string),
                        display_name: text(&u.doc, "displayName"),
                        given_name: name.and_then(|n| text(n, "givenName")),
                        family_name: name.and_then(|n| text(n, "familyName")),
                        active: u.doc.get("active") != Some(&Value::Bool(false)),
                        source: u.source.clone(),
                        idp_managed: u.idp_managed,
                        external_id: text(&u.doc, "externalId"),
                        extensions: extensions(&u.doc),
                    }
                })
                .collect(),
            groups: groups
                .iter()
                .map(|g| ExportGroup {
                    id: g.id,
                    identifier: identifiers[&g.id].clone(),
                    display_name: text(&g.doc, "displayName").unwrap_or_default(),
                    source: g.source.clone(),
                    idp_managed: g.idp_managed,
                    external_id: text(&g.doc, "externalId"),
                    extensions: extensions(&g.doc),
                })
                .collect(),
            memberships: memberships
                .into_iter()
                .map(|m| ExportMembership {
                    group_identifier: identifiers.get(&m.group_id).cloned().unwrap_or_default(),
                    user_name: user_names.get(&m.user_id).cloned().unwrap_or_default(),
                    group_id: m.group_id,
                    user_id: m.user_id,
                    origin: m.origin,
                })
                .collect(),
            role_bindings: bindings
                .into_iter()
                .map(|b| ExportBinding {
                    group_id: b.group_id,
                    group_identifier: b.group_identifier,
                    role: b.role,
                    resource_group: b.resource_group,
                })
                .collect(),
        })
    }
}

// ---- CSV ----------------------------------------------------------------------------------

/// One CSV file holds all four record types; the `record` column says which, and each row
/// fills the columns of its type. Spreadsheet-friendly, and read back by `from_csv`.
const CSV_COLUMNS: [&str; 19] = [
    "record",
    "id",
    "user_name",
    "email",
    "display_name",
    "given_name",
    "family_name",
    "active",
    "source",
    "idp_managed",
    "external_id",
    "identifier",
    "group_id",
    "group_identifier",
    "user_id",
    "origin",
    "role",
    "resource_group",
    // A user's or group's extension data as one JSON object (keys by name), empty when none.
    "extensions",
];

/// The `extensions` cell: compact JSON with keys in name order, so one export reads the same
/// from either store.
fn extensions_cell(e: &Option<Map<String, Value>>) -> String {
    e.as_ref()
        .map(|m| crate::scim::render::keys_by_name(&Value::Object(m.clone())).to_string())
        .unwrap_or_default()
}

/// OWASP's CSV injection guidance: a cell a spreadsheet would read as a formula (`=`, `+`, `-`,
/// `@`) or that starts with a tab or carriage return (which some spreadsheets skip before
/// looking for one) gets a leading `'`, which makes it text. A value that itself starts with
/// `'` gets one too, so `from_csv` can strip exactly one and read every value back unchanged.
const FORMULA_STARTS: [char; 7] = ['=', '+', '-', '@', '\t', '\r', '\''];

fn neutralise(v: &str) -> std::borrow::Cow<'_, str> {
    if v.starts_with(FORMULA_STARTS) {
        format!("'{v}").into()
    } else {
        v.into()
    }
}

/// The value `neutralise` was given: one `'` before a character it protects is removed. A
/// value starting with `'` and anything else (an export written before the prefix) is kept.
fn restore(v: &str) -> &str {
    match v.strip_prefix('\'') {
        Some(rest) if rest.starts_with(FORMULA_STARTS) => rest,
        _ => v,
    }
}

fn csv_row(out: &mut csv::Writer<Vec<u8>>, cells: &BTreeMap<&str, String>) {
    let row: Vec<_> = CSV_COLUMNS
        .iter()
        .map(|col| neutralise(cells.get(col).map(String::as_str).unwrap_or("")))
        .collect();
    // Writing to memory cannot fail.
    out.write_record(row.iter().map(|cell| cell.as_bytes()))
        .expect("a CSV row is written to memory");
}

fn opt(v: &Option<String>) -> String {
    v.clone().unwrap_or_default()
}

impl Export {
    pub fn to_csv(&self) -> String {
        // RFC 4180: CRLF line ends, fields quoted only when they hold a comma, a quote or a
        // line break.
        let mut out = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .from_writer(Vec::new());
        out.write_record(CSV_COLUMNS)
            .expect("a CSV row is written to memory");
        for u in &self.users {
            let cells = BTreeMap::from([
                ("record", "user".to_string()),
                ("id", u.id.to_string()),
                ("user_name", u.user_name.clone()),
                ("email", opt(&u.email)),
                ("display_name", opt(&u.display_name)),
                ("given_name", opt(&u.given_name)),
                ("family_name", opt(&u.family_name)),
                ("active", u.active.to_string()),
                ("source", u.source.clone()),
                ("idp_managed", u.idp_managed.to_string()),
                ("external_id", opt(&u.external_id)),
                ("extensions", extensions_cell(&u.extensions)),
            ]);
            csv_row(&mut out, &cells);
        }
        for g in &self.groups {
            let cells = BTreeMap::from([
                ("record", "group".to_string()),
                ("id", g.id.to_string()),
                ("display_name", g.display_name.clone()),
                ("source", g.source.clone()),
                ("idp_managed", g.idp_managed.to_string()),
                ("external_id", opt(&g.external_id)),
                ("identifier", g.identifier.clone()),
                ("extensions", extensions_cell(&g.extensions)),
            ]);
            csv_row(&mut out, &cells);
        }
        for m in &self.memberships {
            let cells = BTreeMap::from([
                ("record", "membership".to_string()),
                ("group_id", m.group_id.to_string()),
                ("group_identifier", m.group_identifier.clone()),
                ("user_id", m.user_id.to_string()),
                ("user_name", m.user_name.clone()),
                ("origin", m.origin.clone()),
            ]);
            csv_row(&mut out, &cells);
        }
        for b in &self.role_bindings {
            let cells = BTreeMap::from([
                ("record", "role_binding".to_string()),
                ("group_id", b.group_id.to_string()),
                ("group_identifier", b.group_identifier.clone()),
                ("role", b.role.clone()),
                ("resource_group", b.resource_group.clone()),
            ]);
            csv_row(&mut out, &cells);
        }
        let bytes = out.into_inner().expect("a CSV buffer flushes to memory");
        // Every cell was a Rust string, so the buffer is UTF-8.
        String::from_utf8(bytes).expect("CSV of UTF-8 cells is UTF-8")
    }

    /// Reads an export written by `to_csv`. The account and time of a CSV export are not in
    /// it, so they read as nil and now.
    pub fn from_csv(text: &str) -> std::result::Result<Export, String> {
        let rows = parse_csv(text)?;
        let mut rows = rows.into_iter();
        let header = rows.next().ok_or("the CSV file is empty")?;
        let at = |name: &str| header.iter().position(|h| h.trim() == name);
        let index: HashMap<&str, usize> = CSV_COLUMNS
            .iter()
            .filter_map(|c| at(c).map(|i| (*c, i)))
            .collect();
        if !index.contains_key("record") {
            return Err("the CSV file has no `record` column: is it a scimd export?".into());
        }
        let mut export = Export {
            format: EXPORT_FORMAT.into(),
            account_id: Uuid::nil(),
            exported_at: Utc::now(),
            users: Vec::new(),
            groups: Vec::new(),
            memberships: Vec::new(),
            role_bindings: Vec::new(),
        };
        for (n, row) in rows.enumerate() {
            let line = n + 2;
            let get = |c: &str| {
                index
                    .get(c)
                    .and_then(|i| row.get(*i))
                    .map(String::as_str)
                    .unwrap_or("")
            };
            let some = |c: &str| Some(get(c).to_string()).filter(|v| !v.is_empty());
            let extensions = || -> std::result::Result<Option<Map<String, Value>>, String> {
                match some("extensions") {
                    None => Ok(None),
                    Some(text) => match serde_json::from_str::<Value>(&text) {
                        Ok(Value::Object(m)) => Ok(Some(m)),
                        _ => Err(format!("line {line}: extensions is not a JSON object")),
                    },
                }
            };
            let uuid = |c: &str| {
                Uuid::parse_str(get(c)).map_err(|_| format!("line {line}: {c} is not a UUID: {:?}", get(c)))
            };
            match get("record") {
                "user" => export.users.push(ExportUser {
                    id: uuid("id")?,
                    user_name: get("user_name").into(),
                    email: some("email"),
                    display_name: some("display_name"),
                    given_name: some("given_name"),
                    family_name: some("family_name"),
                    active: get("active") != "false",
                    source: get("source").into(),
                    idp_managed: get("idp_managed") == "true",
                    external_id: some("external_id"),
                    extensions: extensions()?,
                }),
                "group" => export.groups.push(ExportGroup {
                    id: uuid("id")?,
                    identifier: get("identifier").into(),
                    display_name: get("display_name").into(),
                    source: get("source").into(),
                    idp_managed: get("idp_managed") == "true",
                    external_id: some("external_id"),
                    extensions: extensions()?,
                }),
                "membership" => export.memberships.push(ExportMembership {
                    group_id: uuid("group_id")?,
                    group_identifier: get("group_identifier").into(),
                    user_id: uuid("user_id")?,
                    user_name: get("user_name").into(),
                    origin: get("origin").into(),
                }),
                "role_binding" => export.role_bindings.push(ExportBinding {
                    group_id: uuid("group_id")?,
                    group_identifier: get("group_identifier").into(),
                    role: get("role").into(),
                    resource_group: get("resource_group").into(),
                }),
                "" if row.iter().all(|c| c.is_empty()) => {}
                other => return Err(format!("line {line}: unknown record type {other:?}")),
            }
        }
        Ok(export)
    }

    /// Reads an export in either format (JSON starts with `{`).
    pub fn parse(text: &str) -> std::result::Result<Export, String> {
        if text.trim_start().starts_with('{') {
            serde_json::from_str(text).map_err(|e| format!("not a scimd JSON export: {e}"))
        } else {
            Export::from_csv(text)
        }
    }
}

/// RFC 4180: quoted fields may hold commas, doubled quotes and line breaks. Each cell comes
/// back without the `'` that `to_csv` put before a formula character.
fn parse_csv(text: &str) -> std::result::Result<Vec<Vec<String>>, String> {
    // A spreadsheet that saved the file may have put a byte-order mark first.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    reader
        .records()
        .map(|record| {
            let record = record.map_err(|e| match e.position() {
                Some(at) => format!("line {}: {}", at.line(), csv_problem(&e)),
                None => csv_problem(&e),
            })?;
            Ok(record.iter().map(|cell| restore(cell).to_string()).collect())
        })
        .collect()
}

fn csv_problem(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::Utf8 { .. } => "the CSV file is not UTF-8".into(),
        _ => format!("the CSV file cannot be read: {e}"),
    }
}

// ---- Compare ------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRef {
    pub id: Uuid,
    pub user_name: String,
    pub email: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupKey {
    pub id: Uuid,
    pub identifier: String,
    pub display_name: String,
}

/// Users of the later export that look like one person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Duplicate {
    /// `same email`, or `same name` (a user new since the first export named like an older one,
    /// what an email mismatch between IdP and application produces, seed 002).
    pub reason: String,
    pub users: Vec<UserRef>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LostMembership {
    pub group_identifier: String,
    pub user_name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LostBinding {
    pub group_identifier: String,
    pub role: String,
    pub resource_group: String,
}

/// Extension data a user or group had before and no longer has (JSON exports carry it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LostExtensionData {
    /// `User` or `Group`.
    pub resource_type: String,
    /// The user's userName or the group's identifier (in the first export).
    pub name: String,
    /// The extension URN.
    pub schema: String,
    /// The attribute that is gone.
    pub attribute: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Comparison {
    /// Nothing missing, duplicated or lost.
    pub clean: bool,
    pub users_missing: Vec<UserRef>,
    pub groups_missing: Vec<GroupKey>,
    pub duplicate_users: Vec<Duplicate>,
    /// Groups of the later export that share a displayName (e.g. `keep_both`).
    pub duplicate_groups: Vec<Vec<GroupKey>>,
    pub memberships_lost: Vec<LostMembership>,
    pub role_bindings_lost: Vec<LostBinding>,
    /// Attributes under extension schemas that a user or group present in both exports had
    /// before and not after (JSON exports; a CSV export carries none).
    #[serde(default)]
    pub extension_data_lost: Vec<LostExtensionData>,
    pub users_added: usize,
    pub groups_added: usize,
    /// Users that are IdP-managed in the later export but were not in the first.
    pub users_now_idp_managed: usize,
}

fn user_ref(u: &ExportUser) -> UserRef {
    UserRef {
        id: u.id,
        user_name: u.user_name.clone(),
        email: u.email.clone(),
    }
}

fn group_key(g: &ExportGroup) -> GroupKey {
    GroupKey {
        id: g.id,
        identifier: g.identifier.clone(),
        display_name: g.display_name.clone(),
    }
}

/// Compares the export taken before a migration with one taken after it.
pub fn compare(before: &Export, after: &Export) -> Comparison {
    // Users of `after`, by id and by lower-cased userName and email.
    let after_by_id: HashMap<Uuid, &ExportUser> = after.users.iter().map(|u| (u.id, u)).collect();
    let mut after_by_key: HashMap<String, &ExportUser> = HashMap::new();
    for u in &after.users {
        after_by_key.entry(compare::key(&u.user_name)).or_insert(u);
        if let Some(e) = &u.email {
            after_by_key.entry(compare::key(e)).or_insert(u);
        }
    }
    let find_user = |u: &ExportUser| -> Option<Uuid> {
        after_by_id
            .get(&u.id)
            .or_else(|| after_by_key.get(&compare::key(&u.user_name)))
            .or_else(|| u.email.as_ref().and_then(|e| after_by_key.get(&compare::key(e))))
            .map(|a| a.id)
    };
    let user_map: HashMap<Uuid, Uuid> = before
        .users
        .iter()
        .filter_map(|u| find_user(u).map(|a| (u.id, a)))
        .collect();
    let users_missing: Vec<UserRef> = before
        .users
        .iter()
        .filter(|u| !user_map.contains_key(&u.id))
        .map(user_ref)
        .collect();

    let after_groups: HashMap<Uuid, &ExportGroup> = after.groups.iter().map(|g| (g.id, g)).collect();
    let after_groups_by_identifier: HashMap<&str, &ExportGroup> =
        after.groups.iter().map(|g| (g.identifier.as_str(), g)).collect();
    let group_map: HashMap<Uuid, Uuid> = before
        .groups
        .iter()
        .filter_map(|g| {
            after_groups
                .get(&g.id)
                .or_else(|| after_groups_by_identifier.get(g.identifier.as_str()))
                .map(|a| (g.id, a.id))
        })
        .collect();
    let groups_missing: Vec<GroupKey> = before
        .groups
        .iter()
        .filter(|g| !group_map.contains_key(&g.id))
        .map(group_key)
        .collect();

    let after_memberships: HashSet<(Uuid, Uuid)> = after
        .memberships
        .iter()
        .map(|m| (m.group_id, m.user_id))
        .collect();
    let memberships_lost = before
        .memberships
        .iter()
        .filter(|m| match (group_map.get(&m.group_id), user_map.get(&m.user_id)) {
            (Some(g), Some(u)) => !after_memberships.contains(&(*g, *u)),
            _ => true,
        })
        .map(|m| LostMembership {
            group_identifier: m.group_identifier.clone(),
            user_name: m.user_name.clone(),
        })
        .collect();

    let after_bindings: HashSet<(Uuid, &str, &str)> = after
        .role_bindings
        .iter()
        .map(|b| (b.group_id, b.role.as_str(), b.resource_group.as_str()))
        .collect();
    let role_bindings_lost = before
        .role_bindings
        .iter()
        .filter(|b| match group_map.get(&b.group_id) {
            Some(g) => !after_bindings.contains(&(*g, b.role.as_str(), b.resource_group.as_str())),
            None => true,
        })
        .map(|b| LostBinding {
            group_identifier: b.group_identifier.clone(),
            role: b.role.clone(),
            resource_group: b.resource_group.clone(),
        })
        .collect();

    let mut extension_data_lost = Vec::new();
    let after_users: HashMap<Uuid, &ExportUser> = after.users.iter().map(|u| (u.id, u)).collect();
    for u in &before.users {
        if let Some(a) = user_map.get(&u.id).and_then(|id| after_users.get(id)) {
            lost_extension_data(
                "User",
                &u.user_name,
                &u.extensions,
                &a.extensions,
                &mut extension_data_lost,
            );
        }
    }
    for g in &before.groups {
        if let Some(a) = group_map.get(&g.id).and_then(|id| after_groups.get(id)) {
            lost_extension_data(
                "Group",
                &g.identifier,
                &g.extensions,
                &a.extensions,
                &mut extension_data_lost,
            );
        }
    }

    let duplicate_users = duplicates(after, &user_map);
    let mut by_name: BTreeMap<&str, Vec<GroupKey>> = BTreeMap::new();
    for g in &after.groups {
        by_name
            .entry(g.display_name.as_str())
            .or_default()
            .push(group_key(g));
    }
    let duplicate_groups: Vec<Vec<GroupKey>> = by_name.into_values().filter(|v| v.len() > 1).collect();

    let matched_after: HashSet<Uuid> = user_map.values().copied().collect();
    let matched_groups: HashSet<Uuid> = group_map.values().copied().collect();
    let before_managed: HashSet<Uuid> = before
        .users
        .iter()
        .filter(|u| u.idp_managed)
        .map(|u| u.id)
        .collect();
    let mut c = Comparison {
        clean: false,
        users_added: after
            .users
            .iter()
            .filter(|u| !matched_after.contains(&u.id))
            .count(),
        groups_added: after
            .groups
            .iter()
            .filter(|g| !matched_groups.contains(&g.id))
            .count(),
        users_now_idp_managed: after
            .users
            .iter()
            .filter(|u| u.idp_managed && !before_managed.contains(&u.id))
            .count(),
        users_missing,
        groups_missing,
        duplicate_users,
        duplicate_groups,
        memberships_lost,
        role_bindings_lost,
        extension_data_lost,
    };
    c.clean = c.users_missing.is_empty()
        && c.groups_missing.is_empty()
        && c.duplicate_users.is_empty()
        && c.duplicate_groups.is_empty()
        && c.memberships_lost.is_empty()
        && c.role_bindings_lost.is_empty()
        && c.extension_data_lost.is_empty();
    c
}

/// The attributes of `before`'s extensions (URNs and names compared ignoring case) that
/// `after` lacks.
fn lost_extension_data(
    resource_type: &str,
    name: &str,
    before: &Option<Map<String, Value>>,
    after: &Option<Map<String, Value>>,
    out: &mut Vec<LostExtensionData>,
) {
    let Some(before) = before else { return };
    let get = |m: &Map<String, Value>, k: &str| -> Option<Value> {
        m.iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.clone())
    };
    for (urn, attrs) in before {
        let Value::Object(attrs) = attrs else { continue };
        let kept = after.as_ref().and_then(|a| get(a, urn));
        for attr in attrs.keys() {
            let still = kept
                .as_ref()
                .and_then(Value::as_object)
                .is_some_and(|k| get(k, attr).is_some());
            if !still {
                out.push(LostExtensionData {
                    resource_type: resource_type.to_string(),
                    name: name.to_string(),
                    schema: urn.clone(),
                    attribute: attr.clone(),
                });
            }
        }
    }
}

/// Users of `after` sharing an email, and users new since the first export whose full name a
/// user that was already there has.
fn duplicates(after: &Export, user_map: &HashMap<Uuid, Uuid>) -> Vec<Duplicate> {
    let mut out = Vec::new();
    let mut by_email: BTreeMap<String, Vec<&ExportUser>> = BTreeMap::new();
    for u in &after.users {
        if let Some(e) = u.email.as_ref().filter(|e| !e.trim().is_empty()) {
            by_email.entry(compare::key(e)).or_default().push(u);
        }
    }
    for users in by_email.into_values().filter(|v| v.len() > 1) {
        out.push(Duplicate {
            reason: "same email".into(),
            users: users.into_iter().map(user_ref).collect(),
        });
    }
    let existing: HashSet<Uuid> = user_map.values().copied().collect();
    let full_name = |u: &ExportUser| match (&u.given_name, &u.family_name) {
        (Some(g), Some(f)) if !g.trim().is_empty() && !f.trim().is_empty() => {
            Some(format!("{} {}", compare::key(g.trim()), compare::key(f.trim())))
        }
        _ => None,
    };
    let mut by_name: BTreeMap<String, Vec<&ExportUser>> = BTreeMap::new();
    for u in &after.users {
        if let Some(n) = full_name(u) {
            by_name.entry(n).or_default().push(u);
        }
    }
    for users in by_name.into_values() {
        let new = users.iter().any(|u| !existing.contains(&u.id));
        let old = users.iter().any(|u| existing.contains(&u.id));
        let emails: HashSet<String> = users
            .iter()
            .filter_map(|u| u.email.as_ref())
            .map(|e| compare::key(e))
            .collect();
        if new && old && emails.len() > 1 {
            out.push(Duplicate {
                reason: "same name".into(),
                users: users.into_iter().map(user_ref).collect(),
            });
        }
    }
    out
}

impl Service {
    /// Compares `before` with `after`, or with the account as it is now.
    pub async fn compare_exports(
        &self,
        caller: &Caller,
        before: &Export,
        after: Option<&Export>,
    ) -> Result<Comparison> {
        // Both exports, not only the first: a foreign document read as an empty `after`
        // would report every user missing.
        for (name, export) in [("before", Some(before)), ("after", after)] {
            if let Some(export) = export
                && export.format != EXPORT_FORMAT
            {
                return Err(ScimError::invalid_value(format!(
                    "{name} is not a {EXPORT_FORMAT} export (format {:?})",
                    export.format
                ))
                .into());
            }
        }
        let now;
        let after = match after {
            Some(a) => a,
            None => {
                now = self.export(caller).await?;
                &now
            }
        };
        Ok(compare(before, after))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str, email: &str) -> ExportUser {
        ExportUser {
            id: Uuid::now_v7(),
            user_name: name.into(),
            email: Some(email.into()),
            display_name: None,
            given_name: Some("Jane".into()),
            family_name: Some("Doe".into()),
            active: true,
            source: "manual".into(),
            idp_managed: false,
            external_id: None,
            extensions: None,
        }
    }

    fn export(users: Vec<ExportUser>, groups: Vec<ExportGroup>) -> Export {
        Export {
            format: EXPORT_FORMAT.into(),
            account_id: Uuid::nil(),
            exported_at: Utc::now(),
            users,
            groups,
            memberships: vec![],
            role_bindings: vec![],
        }
    }

    fn group(identifier: &str) -> ExportGroup {
        ExportGroup {
            id: Uuid::now_v7(),
            identifier: identifier.into(),
            display_name: identifier.into(),
            source: "manual".into(),
            idp_managed: false,
            external_id: None,
            extensions: None,
        }
    }

    #[test]
    fn extension_attributes_gone_after_the_migration_are_reported() {
        let urn = "urn:ietf:params:scim:schemas:extension:acme:2.0:User";
        let mut before_user = user("ann", "ann@example.com");
        before_user.extensions = Some(
            serde_json::json!({urn: {"costCenter": "A", "level": 3}})
                .as_object()
                .unwrap()
                .clone(),
        );
        let mut after_user = before_user.clone();
        after_user.extensions = Some(
            serde_json::json!({urn.to_uppercase(): {"COSTCENTER": "B"}})
                .as_object()
                .unwrap()
                .clone(),
        );
        let c = compare(
            &export(vec![before_user.clone()], vec![]),
            &export(vec![after_user], vec![]),
        );
        assert!(!c.clean);
        assert_eq!(
            c.extension_data_lost,
            vec![LostExtensionData {
                resource_type: "User".into(),
                name: "ann".into(),
                schema: urn.into(),
                attribute: "level".into(),
            }],
            "a changed value is not lost; names compare ignoring case"
        );
        let same = compare(
            &export(vec![before_user.clone()], vec![]),
            &export(vec![before_user], vec![]),
        );
        assert!(same.clean && same.extension_data_lost.is_empty());
    }

    #[test]
    fn an_unchanged_account_compares_clean_and_csv_round_trips() {
        let mut u = user("jane", "Jane@x.org");
        u.extensions = Some(
            serde_json::json!({"urn:acme:2.0:User": {"costCenter": "=1, \"x\"", "level": 3, "tags": ["a"]}})
                .as_object()
                .unwrap()
                .clone(),
        );
        let mut g = group("eng, \"core\"");
        g.extensions = Some(
            serde_json::json!({"urn:acme:2.0:Group": {"code": "G"}})
                .as_object()
                .unwrap()
                .clone(),
        );
        let mut e = export(vec![u.clone()], vec![g.clone()]);
        e.memberships.push(ExportMembership {
            group_id: g.id,
            group_identifier: g.identifier.clone(),
            user_id: u.id,
            user_name: u.user_name.clone(),
            origin: "native".into(),
        });
        e.role_bindings.push(ExportBinding {
            group_id: g.id,
            group_identifier: g.identifier.clone(),
            role: "admin".into(),
            resource_group: "all\nresources".into(),
        });
        let c = compare(&e, &e);
        assert!(c.clean, "{c:?}");
        let back = Export::parse(&e.to_csv()).unwrap();
        assert_eq!(back.users, e.users);
        assert_eq!(back.groups, e.groups);
        assert_eq!(back.memberships, e.memberships);
        assert_eq!(back.role_bindings, e.role_bindings);
    }

    /// OWASP: no cell of the file starts with a formula character, and every value reads
    /// back as it was, a leading `'` of its own included.
    #[test]
    fn formula_cells_are_neutralised_and_read_back() {
        let values = [
            "=HYPERLINK(\"http://evil\",\"x\")",
            "+1",
            "-2+3",
            "@SUM(A1)",
            "\tx",
            "\rx",
            "'quoted",
            "'=already",
            "plain",
        ];
        let users: Vec<ExportUser> = values
            .iter()
            .map(|v| {
                let mut u = user(v, v);
                u.display_name = Some(v.to_string());
                u.family_name = Some(v.to_string());
                u
            })
            .collect();
        let e = export(users, vec![group("=cmd|' /C calc'!A0")]);
        let csv = e.to_csv();
        let mut reader = csv::ReaderBuilder::new().from_reader(csv.as_bytes());
        for record in reader.records() {
            for cell in record.unwrap().iter() {
                assert!(
                    !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                    "{cell:?} in {csv}"
                );
            }
        }
        assert!(csv.contains("'=HYPERLINK"), "{csv}");
        assert!(csv.contains(",''quoted,"), "{csv}");
        let back = Export::parse(&csv).unwrap();
        assert_eq!(back.users, e.users);
        assert_eq!(back.groups, e.groups);
        assert!(compare(&e, &back).clean);
    }

    #[test]
    fn losses_and_duplicates_are_reported() {
        let jane = user("jane", "jane@x.org");
        let bob = user("bob", "bob@x.org");
        let g = group("eng");
        let mut before = export(vec![jane.clone(), bob.clone()], vec![g.clone()]);
        before.memberships.push(ExportMembership {
            group_id: g.id,
            group_identifier: "eng".into(),
            user_id: jane.id,
            user_name: "jane".into(),
            origin: "native".into(),
        });
        before.role_bindings.push(ExportBinding {
            group_id: g.id,
            group_identifier: "eng".into(),
            role: "viewer".into(),
            resource_group: "all".into(),
        });
        // After: bob is gone, jane was matched by email under a new userName (same person),
        // a second "Jane Doe" arrived with another email, the group lost member and binding.
        let mut jane_after = jane.clone();
        jane_after.user_name = "JANE@x.org".into();
        let dup = user("jane.doe@corp.org", "jane.doe@corp.org");
        let after = export(vec![jane_after, dup.clone()], vec![g.clone()]);
        let c = compare(&before, &after);
        assert!(!c.clean);
        assert_eq!(c.users_missing.len(), 1);
        assert_eq!(c.users_missing[0].user_name, "bob");
        assert_eq!(c.memberships_lost.len(), 1);
        assert_eq!(c.role_bindings_lost.len(), 1);
        assert_eq!(c.duplicate_users.len(), 1, "{:?}", c.duplicate_users);
        assert_eq!(c.duplicate_users[0].reason, "same name");
        assert_eq!(c.users_added, 1);
    }
}
