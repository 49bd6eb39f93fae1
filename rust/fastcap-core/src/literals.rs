//! Which of a fixed set of literals occur in a text, ASCII case-insensitively, in one pass.
//!
//! Redaction and the leak scan (`python/fastcap/secrets/`) try a secret's expression only where one
//! of its literals (`sk-ant-`, `authorization`, `api_key`, …, about a hundred) occurs. Testing each
//! literal with Python's `in` reads the text once per literal, which on a report of a few thousand
//! calls with 100 KB request bodies was a third of `fastcap report`'s time; one Aho-Corasick pass
//! (the `aho-corasick` crate) reads it once.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

/// A set of literals, matched ASCII case-insensitively (the callers fold the few non-ASCII letters
/// that case-insensitive expressions match to ASCII ones before asking).
#[derive(Debug, Clone)]
pub struct LiteralSet {
    automaton: AhoCorasick,
    len: usize,
}

impl LiteralSet {
    /// The set of `literals`; `None` if the automaton cannot be built (it can only fail when the
    /// literals are too many or too long for its state ids, far beyond what fastcap asks for).
    pub fn new<I, P>(literals: I) -> Option<Self>
    where
        I: IntoIterator<Item = P>,
        P: AsRef<[u8]>,
    {
        let literals: Vec<P> = literals.into_iter().collect();
        let automaton = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            // Standard semantics: overlapping search reports every literal, including one that is
            // part of another (`key` inside `api_key`).
            .match_kind(MatchKind::Standard)
            .build(&literals)
            .ok()?;
        Some(Self { automaton, len: literals.len() })
    }

    /// How many literals the set holds.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the set holds no literal.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The indices (in the order given to [`LiteralSet::new`]) of the literals that occur in
    /// `haystack`, ascending, each once.
    pub fn present(&self, haystack: &[u8]) -> Vec<usize> {
        let mut seen = vec![false; self.len];
        let mut remaining = self.len;
        for m in self.automaton.find_overlapping_iter(haystack) {
            let i = m.pattern().as_usize();
            if !seen[i] {
                seen[i] = true;
                remaining -= 1;
                if remaining == 0 {
                    break;
                }
            }
        }
        seen.iter().enumerate().filter_map(|(i, &s)| s.then_some(i)).collect()
    }

    /// Whether any literal occurs in `haystack` (stops at the first).
    pub fn any_in(&self, haystack: &[u8]) -> bool {
        self.automaton.is_match(haystack)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_every_literal_once_case_insensitively() {
        let set = LiteralSet::new(["api_key", "key", "sk-ant-", "bearer"]).unwrap();
        assert_eq!(set.present(b"X-Api_Key: SK-ANT-abc"), vec![0, 1, 2]);
        assert_eq!(set.present(b"X-Api-Key: SK-ANT-abc"), vec![1, 2]);
        assert_eq!(set.present(b"nothing here"), Vec::<usize>::new());
        assert_eq!(set.present(b"keykeykey"), vec![1]);
        assert!(set.any_in(b"Authorization: Bearer x"));
        assert!(!set.any_in(b""));
        assert_eq!(set.len(), 4);
    }

    #[test]
    fn agrees_with_a_plain_search() {
        let literals = ["token", "secret", "ghp_", "xoxb-", "aws", "akia", "-----begin", "password"];
        let set = LiteralSet::new(literals).unwrap();
        let text = "A GitHub token ghp_x and AKIA1234; the password is not a Secret.--\u{e9}-----BEGIN";
        let low = text.to_ascii_lowercase();
        let expected: Vec<usize> =
            literals.iter().enumerate().filter(|(_, l)| low.contains(*l)).map(|(i, _)| i).collect();
        assert_eq!(set.present(text.as_bytes()), expected);
    }

    #[test]
    fn empty_set_matches_nothing() {
        let set = LiteralSet::new(Vec::<&str>::new()).unwrap();
        assert!(set.is_empty());
        assert!(set.present(b"abc").is_empty());
        assert!(!set.any_in(b"abc"));
    }
}
