//! The attribute path itself (RFC 7644 §3.10 `attrPath`): its type, its schema-free grammar and
//! the positioned syntax error that both the filter parser and the PATCH-path parser report.
//! It sits below `filter` and `path`, which both need it, so neither has to import the other's
//! internals (`path` uses `filter` for value filters; `filter` no longer uses `path`).

use std::fmt;

use crate::scim::error::ScimError;

/// `[URN ":"] name ["." sub]`. Names keep the caller's spelling; comparison against the schema
/// is case-insensitive and happens in `schema`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrPath {
    pub urn: Option<String>,
    pub name: String,
    pub sub: Option<String>,
}

/// Writes the path as it would be sent: `urn:…:User:manager.value`.
impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(urn) = &self.urn {
            write!(f, "{urn}:")?;
        }
        f.write_str(&self.name)?;
        if let Some(sub) = &self.sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

/// A syntax error at a character offset (0-based here, 1-based once rendered). Shared by
/// `filter` and `path`, so a PATCH path can report filter errors at positions within the whole path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pos: usize,
    msg: String,
}

impl SyntaxError {
    pub(crate) fn at(pos: usize, msg: impl Into<String>) -> Self {
        SyntaxError { pos, msg: msg.into() }
    }

    /// Moves the position right by `by` characters: the text parsed sat at that offset.
    pub(crate) fn shifted(mut self, by: usize) -> Self {
        self.pos += by;
        self
    }

    pub(crate) fn into_error(self, what: &str, make: impl FnOnce(String) -> ScimError) -> ScimError {
        make(format!("{what} at position {}: {}", self.pos + 1, self.msg))
    }

    pub(crate) fn into_path_error(self) -> ScimError {
        self.into_error("invalid path", ScimError::invalid_path)
    }

    pub(crate) fn into_filter_error(self) -> ScimError {
        self.into_error("invalid filter", ScimError::invalid_filter)
    }
}

/// Parses an already-trimmed attribute path. Positions in the error are character offsets into
/// `s`; callers shift them to where `s` sits in their input.
pub(crate) fn parse_attr_path_core(s: &str) -> Result<AttrPath, SyntaxError> {
    if s.is_empty() {
        return Err(SyntaxError::at(0, "expected an attribute path, found nothing"));
    }

    let (urn, rest, rest_pos) = match split_urn(s) {
        Some((urn, rest)) => {
            check_urn(urn)?;
            let rest_pos = urn.chars().count() + 1;
            if rest.is_empty() {
                return Err(SyntaxError::at(
                    rest_pos,
                    format!("expected an attribute name after the URN {urn:?}"),
                ));
            }
            (Some(urn.to_string()), rest, rest_pos)
        }
        None => (None, s, 0),
    };

    let mut parts = rest.split('.');
    let name = parts.next().unwrap_or_default();
    check_attr_name(name, rest_pos, "attribute name")?;
    let sub = match parts.next() {
        None => None,
        Some(sub) => {
            let sub_pos = rest_pos + name.chars().count() + 1;
            check_attr_name(sub, sub_pos, "sub-attribute")?;
            if parts.next().is_some() {
                let dot = sub_pos + sub.chars().count();
                return Err(SyntaxError::at(
                    dot,
                    format!(
                        "unexpected \".\" in {s:?}: a path has at most one sub-attribute \
                         (such as name.givenName)"
                    ),
                ));
            }
            Some(sub.to_string())
        }
    };
    Ok(AttrPath {
        urn,
        name: name.to_string(),
        sub,
    })
}

/// `urn:a:b:name.sub` → (`urn:a:b`, `name.sub`); `None` when `s` does not start with `urn:`.
fn split_urn(s: &str) -> Option<(&str, &str)> {
    let starts_with_urn = s.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:"));
    if !starts_with_urn {
        return None;
    }
    // Always found: the prefix itself holds a colon.
    let colon = s.rfind(':')?;
    Some((&s[..colon], &s[colon + 1..]))
}

fn is_urn_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~%!$&'*+=;@/:".contains(c)
}

fn check_urn(urn: &str) -> Result<(), SyntaxError> {
    if let Some((pos, c)) = urn.chars().enumerate().find(|&(_, c)| !is_urn_char(c)) {
        return Err(SyntaxError::at(
            pos,
            format!("unexpected {} in the URN {urn:?}", quote_char(c)),
        ));
    }
    // `urn:userName` would otherwise parse as URN "urn" + name; a URN needs a namespace.
    let mut pos = 0;
    for (i, segment) in urn.split(':').enumerate() {
        if segment.is_empty() {
            return Err(SyntaxError::at(
                pos,
                format!("empty segment (\"::\") in the URN {urn:?}"),
            ));
        }
        if i == 0 && urn.len() == segment.len() {
            return Err(SyntaxError::at(
                pos + segment.chars().count(),
                format!("incomplete URN before the attribute name: {urn:?}"),
            ));
        }
        pos += segment.chars().count() + 1;
    }
    Ok(())
}

/// ATTRNAME = ALPHA *(ALPHA / DIGIT / "-" / "_"), or `$ref`. `pos` is where `name` starts, for
/// error positions; `what` names it in messages ("attribute name", "sub-attribute").
pub(crate) fn check_attr_name(name: &str, pos: usize, what: &str) -> Result<(), SyntaxError> {
    if name.eq_ignore_ascii_case("$ref") {
        return Ok(());
    }
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return Err(SyntaxError::at(
            pos,
            format!("expected {} {what}, found nothing", article(what)),
        ));
    };
    if !first.is_ascii_alphabetic() {
        return Err(SyntaxError::at(
            pos,
            format!(
                "{} {what} must start with a letter, found {}",
                article(what),
                quote_char(first)
            ),
        ));
    }
    let is_name_char = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    if let Some((i, c)) = name.char_indices().find(|&(_, c)| !is_name_char(c)) {
        // Quote only the valid part: the rest may be a whole filter pasted into a path.
        return Err(SyntaxError::at(
            pos + name[..i].chars().count(),
            format!(
                "unexpected {} after {:?} in {} {what}; names may contain only letters A-Z, \
                 digits, \"-\" and \"_\"",
                quote_char(c),
                &name[..i],
                article(what)
            ),
        ));
    }
    Ok(())
}

fn article(noun: &str) -> &'static str {
    if noun.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

fn quote_char(c: char) -> String {
    format!("{:?}", c.to_string())
}
