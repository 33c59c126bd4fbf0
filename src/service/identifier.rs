//! R1: a group's identifier, made from its displayName at creation by replacing each `.`, `-`
//! and space with `_` (`example-group` → `example_group`), unique per account with a numeric
//! suffix on a clash (`example_group_2`), never changed afterwards.
//!
//! Uniqueness is the database's job (a unique index); these pure functions only choose the
//! candidate to try, so a race between two creations costs a retry, never a duplicate.

/// The identifier a displayName gives before any suffix.
pub fn base_identifier(display_name: &str) -> String {
    display_name
        .chars()
        .map(|c| if matches!(c, '.' | '-' | ' ') { '_' } else { c })
        .collect()
}

/// The first free identifier for `base`, given the identifiers of the account that are `base`
/// or start with `base_`: `base` itself, else `base_2`, `base_3`, … .
pub fn next_identifier(base: &str, taken: &[String]) -> String {
    if !taken.iter().any(|t| t == base) {
        return base.to_string();
    }
    let prefix = format!("{base}_");
    let used: std::collections::HashSet<u64> = taken
        .iter()
        .filter_map(|t| t.strip_prefix(&prefix))
        .filter(|n| !n.starts_with('0'))
        .filter_map(|n| n.parse().ok())
        .collect();
    let n = (2..).find(|n| !used.contains(n)).unwrap_or(2);
    format!("{base}_{n}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dots_dashes_and_spaces_become_underscores() {
        assert_eq!(base_identifier("example-group"), "example_group");
        assert_eq!(base_identifier("Test SCIMv2"), "Test_SCIMv2");
        assert_eq!(base_identifier("a.b-c d"), "a_b_c_d");
        assert_eq!(base_identifier("Ünïcode/ok"), "Ünïcode/ok");
    }

    #[test]
    fn a_clash_gets_the_first_free_numeric_suffix() {
        let taken = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(next_identifier("g", &taken(&[])), "g");
        assert_eq!(next_identifier("g", &taken(&["g_2"])), "g");
        assert_eq!(next_identifier("g", &taken(&["g"])), "g_2");
        assert_eq!(next_identifier("g", &taken(&["g", "g_2", "g_3"])), "g_4");
        assert_eq!(next_identifier("g", &taken(&["g", "g_3"])), "g_2");
        // Identifiers that merely start with the base are not suffixes of it.
        assert_eq!(next_identifier("g", &taken(&["g", "g_x", "g_02"])), "g_2");
    }
}
