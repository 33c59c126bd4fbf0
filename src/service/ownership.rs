//! Ownership checks shared by SCIM Users and Groups (R4, docs/rules.md): whether a SCIM write
//! may touch a resource another IdP label manages, and whether a SCIM caller may see a native
//! group. Both `users` and `groups` use these; neither module imports the other
//! (docs/decisions.md, "dependencies point one way").

use super::{Caller, Result, TokenKind, not_found, settings};
use crate::scim::ScimError;
use crate::store::{ReadTx, ResourceRow};

/// A SCIM write to an existing resource: one managed under another IdP label is never taken
/// over (R4). Returns whether the write adopts a native resource (its first SCIM write, as
/// when Okta links an existing user found by its `userName eq` pre-check and then PUTs).
pub(crate) fn scim_may_write(caller: &Caller, row: &ResourceRow, what: &str) -> Result<bool> {
    if !row.idp_managed {
        return Ok(true);
    }
    if row.source != caller.source() {
        return Err(ScimError::uniqueness(format!(
            "{what} {} is managed by the identity provider {:?}; a token labelled {:?} cannot change \
             or take it over",
            row.id,
            row.source,
            caller.source()
        ))
        .into());
    }
    Ok(false)
}

/// 404 for a group the SCIM caller may not see (a native group under `keep_both`, R4). Checked
/// before anything else about the request, so a hidden group answers nothing but 404 (no 412
/// for a stale `If-Match`, no 400 for a bad PATCH). The profile is read only for native groups:
/// an IdP's own groups are always visible, and that is the group-push hot path.
pub(crate) async fn ensure_scim_sees_group(
    tx: &mut dyn ReadTx,
    caller: &Caller,
    row: &ResourceRow,
) -> Result<()> {
    if caller.kind != TokenKind::Scim || row.idp_managed {
        return Ok(());
    }
    if settings::profile(tx, caller.account_id)
        .await?
        .scim_sees_group(row)
    {
        Ok(())
    } else {
        Err(not_found("Group", &row.id.to_string()))
    }
}
