//! The characters an X12 interchange may carry, and the transliteration of everything else.
//!
//! X12 defines a basic character set (upper-case letters, digits, space and
//! `! " & ' ( ) * + , - . / : ; ? =`) and an extended one that adds lower-case letters and
//! `% @ [ ] _ { } \ | < > ~ ^ # $`. What a trading partner's translator accepts is one of the
//! two, in single bytes; names and descriptions in orders are Unicode (`José Müller Söhne`,
//! `Quilt — 3" diamond ½ oz`). They are transliterated to ASCII with `deunicode` (`Jose Muller
//! Sohne`, `Quilt - 3" diamond 1/2 oz`), then any character outside the partner's set, and the
//! interchange's own separators, become a space.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

/// The X12 character set a partner accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CharacterSet {
    /// Upper case only: lower-case letters are written in upper case.
    Basic,
    #[default]
    Extended,
}

/// The special characters of the basic set.
const BASIC_SPECIAL: &str = "!\"&'()*+,-./:;?= ";
/// What the extended set adds besides lower-case letters.
const EXTENDED_SPECIAL: &str = "%@[]_{}\\|<>~^#$";

impl CharacterSet {
    /// Whether `c` may appear in an element (separators aside).
    pub fn allows(self, c: char) -> bool {
        c.is_ascii_uppercase()
            || c.is_ascii_digit()
            || BASIC_SPECIAL.contains(c)
            || (self == CharacterSet::Extended
                && (c.is_ascii_lowercase() || EXTENDED_SPECIAL.contains(c)))
    }

    /// `value` in this set: transliterated to ASCII, upper-cased for the basic set, and every
    /// character the set lacks, or that is one of `separators`, replaced by a space. Runs of
    /// spaces that this creates are kept: the caller trims and cuts.
    pub fn fit<'v>(self, value: &'v str, separators: &[char]) -> Cow<'v, str> {
        let clean = |c: char| self.allows(c) && !separators.contains(&c);
        if value.chars().all(clean) {
            return Cow::Borrowed(value);
        }
        let ascii: Cow<'_, str> = if value.is_ascii() {
            Cow::Borrowed(value)
        } else {
            Cow::Owned(deunicode::deunicode_with_tofu(value, " "))
        };
        let mut out = String::with_capacity(ascii.len());
        for c in ascii.chars() {
            let c = if self == CharacterSet::Basic {
                c.to_ascii_uppercase()
            } else {
                c
            };
            out.push(if clean(c) { c } else { ' ' });
        }
        Cow::Owned(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_transliterated_and_separators_blanked() {
        let set = CharacterSet::Extended;
        assert_eq!(
            set.fit("José Müller Söhne Ltd", &['*', '~', '>']),
            "Jose Muller Sohne Ltd"
        );
        assert_eq!(
            set.fit("Quilt — 3\" diamond ½ oz", &['*', '~', '>']),
            "Quilt -- 3\" diamond 1/2 oz"
        );
        assert_eq!(set.fit("a*b~c>d\te", &['*', '~', '>']), "a b c d e");
        assert_eq!(
            CharacterSet::Basic.fit("Straße 5 #2", &['*', '~', '>']),
            "STRASSE 5  2"
        );
        assert!(matches!(set.fit("plain", &['*']), Cow::Borrowed(_)));
    }
}
