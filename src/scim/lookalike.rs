//! Names that look alike, and characters that cannot be seen.
//!
//! A reserved group name (`Administrators`) must not be reachable through a spelling that
//! renders the same: `Adminıstrators` (dotless ı), `Ａdministrators` (full width),
//! `Administrators` + ZERO WIDTH SPACE, a soft hyphen inside, a Cyrillic `ѕ`. Names are
//! compared on a skeleton: NFKC (width and compatibility forms), lower case, default-ignorable
//! code points removed, then the confusable skeleton of Unicode TS #39 (the `unicode-security`
//! crate, which carries Unicode's own confusables table), lower-cased again.
//!
//! Identifiers (userName, emails, a group's displayName) are also refused when they contain a
//! control character or a default-ignorable code point — zero-width characters, soft hyphens,
//! bidirectional controls (U+202A–U+202E, U+2066–U+2069, U+200E/F): they let two identifiers
//! that look the same differ, or make one display as another.

use unicode_normalization::UnicodeNormalization;
use unicode_security::GeneralSecurityProfile;
use unicode_security::general_security_profile::IdentifierType;

/// Invisible in rendering: default-ignorable (which includes the bidirectional controls).
fn is_invisible(c: char) -> bool {
    c.identifier_type() == Some(IdentifierType::Default_Ignorable)
}

/// The first character an identifier must not contain, if any.
pub fn forbidden_char(s: &str) -> Option<char> {
    s.chars().find(|&c| c.is_control() || is_invisible(c))
}

/// The skeleton two names that look alike share.
pub fn skeleton_key(s: &str) -> String {
    let folded: String = s
        .trim()
        .nfkc()
        .flat_map(char::to_lowercase)
        .filter(|&c| !is_invisible(c))
        .collect();
    unicode_security::skeleton(&folded)
        .flat_map(char::to_lowercase)
        .collect()
}

/// The character class (without brackets) of every character [`forbidden_char`] refuses, as a
/// JSON Schema pattern can say it: BMP characters as `\uXXXX` escapes, others literally (a
/// pattern engine reading escapes only in the BMP still reads a literal character). Built
/// from the same predicate, so the admin API's OpenAPI document and the server agree.
pub fn forbidden_class() -> &'static str {
    static CLASS: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    CLASS.get_or_init(|| {
        let mut ranges: Vec<(char, char)> = Vec::new();
        // Controls and default-ignorable code points live in planes 0, 1 and 14 only (Unicode's
        // DerivedCoreProperties); scanning those keeps this cheap at start-up.
        let planes = (0..=0x1FFFFu32).chain(0xE0000..=0xEFFFF);
        for c in planes.filter_map(char::from_u32) {
            if c.is_control() || is_invisible(c) {
                match ranges.last_mut() {
                    Some((_, end)) if *end as u32 + 1 == c as u32 => *end = c,
                    _ => ranges.push((c, c)),
                }
            }
        }
        let shown = |c: char| {
            if (c as u32) < 0x10000 {
                format!("\\u{:04x}", c as u32)
            } else {
                c.to_string()
            }
        };
        ranges
            .iter()
            .map(|&(a, b)| {
                if a == b {
                    shown(a)
                } else {
                    format!("{}-{}", shown(a), shown(b))
                }
            })
            .collect()
    })
}

/// Do `a` and `b` look the same?
pub fn look_alike(a: &str, b: &str) -> bool {
    skeleton_key(a) == skeleton_key(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_name_spellings_share_one_skeleton() {
        for variant in [
            "administrators",
            "ADMINISTRATORS",
            "Adminıstrators",
            "Ａdministrators",
            "Administrators\u{200b}",
            "Admin\u{ad}istrators",
            "Adminiѕtrators",
            " Administrators ",
        ] {
            assert!(look_alike("Administrators", variant), "{variant:?}");
        }
        assert!(!look_alike("Administrators", "Administrator"));
        assert!(!look_alike("Administrators", "Admins"));
    }

    #[test]
    fn the_pattern_class_covers_every_forbidden_character() {
        // All planes, not only those the class is built from.
        let class = forbidden_class();
        for c in (0..=0x10FFFFu32).filter_map(char::from_u32) {
            if forbidden_char(&c.to_string()).is_some() {
                assert!(
                    covered(class, c),
                    "U+{:04X} is forbidden but not in the class",
                    c as u32
                );
            }
        }
        assert!(!covered(class, 'a') && !covered(class, 'é') && !covered(class, '名'));
    }

    /// Is `c` inside one of the `a-b` ranges (or equal to a single member) of `class`?
    fn covered(class: &str, c: char) -> bool {
        let mut chars = class.chars().peekable();
        let mut members: Vec<u32> = Vec::new();
        let mut pending_range = false;
        let mut ranges: Vec<(u32, u32)> = Vec::new();
        while let Some(ch) = chars.next() {
            let value = if ch == '\\' {
                chars.next(); // 'u'
                let hex: String = (0..4).filter_map(|_| chars.next()).collect();
                u32::from_str_radix(&hex, 16).unwrap()
            } else if ch == '-' {
                pending_range = true;
                continue;
            } else {
                ch as u32
            };
            if pending_range {
                let start = members.pop().unwrap();
                ranges.push((start, value));
                pending_range = false;
            } else {
                members.push(value);
            }
        }
        let c = c as u32;
        members.contains(&c) || ranges.iter().any(|&(a, b)| a <= c && c <= b)
    }

    #[test]
    fn invisible_and_control_characters_are_found() {
        assert_eq!(forbidden_char("plain@example.com"), None);
        assert_eq!(forbidden_char("José Müller"), None);
        assert_eq!(forbidden_char("名前"), None);
        for (s, c) in [
            ("a\u{200b}b", '\u{200b}'),
            ("a\u{ad}b", '\u{ad}'),
            ("\u{202e}moc.evil", '\u{202e}'),
            ("a\u{2066}b", '\u{2066}'),
            ("a\u{200e}b", '\u{200e}'),
            ("a\u{feff}", '\u{feff}'),
            ("a\tb", '\t'),
            ("a\u{7}b", '\u{7}'),
        ] {
            assert_eq!(forbidden_char(s), Some(c), "{s:?}");
        }
    }
}
