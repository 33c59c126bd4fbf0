//! The one comparison key for values SCIM compares ignoring case: userName, emails and every
//! other multi-valued `value`, group displayNames. Uniqueness, `eq` filters, PATCH value
//! filters and adoption by email (docs/rules.md, R4) all compare these keys, computed here in
//! Rust once and stored beside the value (the `*_ci` columns), so the database never has to
//! know Unicode.
//!
//! The key follows the idea of the PRECIS UsernameCaseMapped profile (RFC 8265 §3.3.1): width
//! mapping, then case mapping, then normalisation to NFC. Where RFC 8265 maps to lower case,
//! this key uses Unicode full case folding, which RFC 8265 §3.3.1 itself names as the choice
//! when "caseless matching" is the goal: it makes `straße` and `STRASSE`, `σας` and `ΣΑΣ`
//! compare equal, which lower-casing does not. It does not enforce the profile's character
//! classes: a userName may be any string an IdP sends (spaces, `@`, `\`), and what scimd
//! refuses in identifiers is decided in [`crate::scim::lookalike`].
//!
//! The key is a function of the value only (no locale), idempotent, and equal to ASCII lower
//! case on ASCII text, which is what the stored keys of older versions held for such text.

use icu_casemap::CaseMapper;
use unicode_normalization::UnicodeNormalization;

/// The comparison key of `value`: width-mapped, case-folded, NFC. ASCII text costs one scan.
pub fn key(value: &str) -> String {
    if value.is_ascii() {
        return value.to_ascii_lowercase();
    }
    // 1. Width mapping (RFC 8265 §3.3.1 rule 1): fullwidth and halfwidth forms become their
    //    decomposition mappings. NFC first, so a base and its combining mark stay together.
    let widened = width_mapped(value);
    // 2. Full case folding (Unicode CaseFolding.txt, statuses C and F), by ICU4X.
    let folded = CaseMapper::new().fold_string(&widened);
    // 3. NFC: folding can leave a decomposed sequence (`ǰ` folds to `j` + U+030C), and the
    //    width mapping can put a halfwidth voiced mark after its kana.
    folded.nfc().collect()
}

/// Whether two values compare equal under [`key`].
pub fn eq(a: &str, b: &str) -> bool {
    a == b || key(a) == key(b)
}

/// RFC 8265's width mapping: a fullwidth or halfwidth character becomes its `<wide>` or
/// `<narrow>` compatibility decomposition; any other character stays as it is. Those
/// decompositions are exactly the ideographic space (U+3000) and the Halfwidth and Fullwidth
/// Forms block (U+FF01..U+FFEE), and NFKC of one such character is its decomposition. Other
/// compatibility mappings (superscripts, `ℌ`) are left alone, as RFC 8265 does: they are not
/// width.
fn width_mapped(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.nfc() {
        if c == '\u{3000}' || ('\u{FF01}'..='\u{FFEE}').contains(&c) {
            out.extend(std::iter::once(c).nfkc());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_issue_s_pairs_compare_equal() {
        // Full case folding, not lower case.
        assert_eq!(key("straße"), key("STRASSE"));
        assert_eq!(key("σας"), key("ΣΑΣ"));
        // NFC and NFD spellings of é.
        assert_eq!(key("caf\u{e9}"), key("cafe\u{301}"));
        assert_eq!(key("Cafe\u{301}@Example.org"), "caf\u{e9}@example.org");
        // Width mapping.
        assert_eq!(key("ｊｏｈｎ＠ｅｘａｍｐｌｅ．ｏｒｇ"), "john@example.org");
        assert_eq!(key("ＪＯＨＮ"), key("john"));
        // Halfwidth katakana with a halfwidth voiced mark compose to one character.
        assert_eq!(key("\u{ff76}\u{ff9e}"), "\u{30ac}");
        assert_eq!(key("\u{3000}"), " ");
    }

    #[test]
    fn ascii_is_ascii_lower_case() {
        assert_eq!(key("Alice.Smith@Example.COM"), "alice.smith@example.com");
        assert_eq!(key(""), "");
    }

    #[test]
    fn other_compatibility_mappings_are_kept() {
        // Not width: a ligature and a superscript stay what they are (RFC 8265 maps width only).
        assert_eq!(key("ﬁ"), "fi"); // U+FB01 folds to "fi" by CaseFolding.txt (status F)…
        assert_eq!(key("x²"), "x²"); // …but a superscript two is not a case or width variant.
        assert_ne!(key("ℌ"), key("h"));
    }

    #[test]
    fn distinct_names_stay_distinct() {
        assert_ne!(key("anna"), key("anne"));
        assert_ne!(key("résumé"), key("resume"));
        // Look-alikes are not merged here; docs/rules.md has what refuses them.
        assert_ne!(key("Аdmin"), key("Admin"));
    }

    #[test]
    fn kelvin_and_dotted_capital_i() {
        assert_eq!(key("\u{212a}elvin"), "kelvin");
        assert_eq!(key("\u{130}"), "i\u{307}");
    }

    proptest! {
        #[test]
        fn key_is_idempotent(s in "\\PC{0,24}") {
            let k = key(&s);
            prop_assert_eq!(key(&k), k.clone());
        }

        #[test]
        fn case_and_normal_form_variants_share_the_key(s in "\\PC{0,24}") {
            let k = key(&s);
            prop_assert_eq!(key(&s.nfd().collect::<String>()), k.clone());
            prop_assert_eq!(key(&s.to_lowercase()), key(&k));
        }
    }
}
