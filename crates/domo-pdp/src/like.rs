//! LIKE patterns: `%` any run of characters, `_` exactly one character, `\` makes the next character literal.

/// One element of a compiled LIKE pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Token {
    Literal(char),
    One,
    Any,
}

/// A compiled LIKE pattern that must match the whole text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LikePattern {
    tokens: Vec<Token>,
}

impl LikePattern {
    /// Compiles a pattern. A trailing lone `\` stands for itself.
    pub(crate) fn new(pattern: &str) -> Self {
        let mut tokens = Vec::new();
        let mut chars = pattern.chars();
        while let Some(c) = chars.next() {
            let token = match c {
                '%' => Token::Any,
                '_' => Token::One,
                '\\' => Token::Literal(chars.next().unwrap_or('\\')),
                other => Token::Literal(other),
            };
            if token == Token::Any && tokens.last() == Some(&Token::Any) {
                continue;
            }
            tokens.push(token);
        }
        Self { tokens }
    }

    /// The compiled tokens (runs of `%` merged), for the for-any-row analysis.
    pub(crate) fn tokens(&self) -> &[Token] {
        &self.tokens
    }

    /// Whether the whole of `text` matches, character by character (Unicode scalar values).
    pub(crate) fn matches(&self, text: &str) -> bool {
        // Greedy matching with backtracking to the last `%`: O(len(text) * len(pattern)) worst case.
        // Positions in `text` are byte offsets on character boundaries: no copy of the text.
        let char_at = |t: usize| text.get(t..).and_then(|rest| rest.chars().next());
        let (mut t, mut p) = (0usize, 0usize);
        let mut star: Option<(usize, usize)> = None;
        while let Some(c) = char_at(t) {
            match self.tokens.get(p) {
                Some(Token::Any) => {
                    star = Some((p, t));
                    p += 1;
                }
                Some(Token::One) => {
                    t += c.len_utf8();
                    p += 1;
                }
                Some(Token::Literal(literal)) if *literal == c => {
                    t += c.len_utf8();
                    p += 1;
                }
                _ => match star {
                    Some((sp, st)) => {
                        let st = st + char_at(st).map_or(1, char::len_utf8);
                        p = sp + 1;
                        t = st;
                        star = Some((sp, st));
                    }
                    None => return false,
                },
            }
        }
        self.tokens.get(p..).unwrap_or_default().iter().all(|token| *token == Token::Any)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::{LikePattern, Token};

    /// Whether `tokens` match the whole of `text`, by the definition: a plain recursion.
    fn reference(tokens: &[Token], text: &[char]) -> bool {
        match tokens.split_first() {
            None => text.is_empty(),
            Some((Token::Any, rest)) => (0..=text.len()).any(|skip| reference(rest, &text[skip..])),
            Some((Token::One, rest)) => !text.is_empty() && reference(rest, &text[1..]),
            Some((Token::Literal(c), rest)) => text.first() == Some(c) && reference(rest, &text[1..]),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1024))]

        /// The matcher agrees with the definition on short patterns and texts of a few
        /// characters, multi-byte ones included.
        #[test]
        fn like_matches_as_defined(
            pattern in prop::collection::vec(prop::sample::select(vec!['a', 'é', '%', '_', '\\']), 0..6),
            text in prop::collection::vec(prop::sample::select(vec!['a', 'é', 'b', '%', '_']), 0..6),
        ) {
            let pattern: String = pattern.into_iter().collect();
            let like = LikePattern::new(&pattern);
            let chars = text.clone();
            let text: String = text.into_iter().collect();
            prop_assert_eq!(like.matches(&text), reference(like.tokens(), &chars), "{:?} on {:?}", pattern, text);
        }
    }

    #[test]
    fn like_wildcards_and_escapes() {
        let cases = [
            ("a%", "abc", true),
            ("a%", "ba", false),
            ("%b%", "abc", true),
            ("a_c", "abc", true),
            ("a_c", "abbc", false),
            ("a\\%", "a%", true),
            ("a\\%", "ab", false),
            ("a\\_", "a_", true),
            ("a\\_", "ab", false),
            ("\\\\", "\\", true),
            ("ab\\", "ab\\", true),
            ("%", "", true),
            ("_", "", false),
            ("_", "é", true),
            ("A%", "abc", false),
            ("%a%b%c", "xaybzc", true),
            ("%a%b%c", "xaybzcd", false),
            ("%é", "éé", true),
            ("%é_", "aéé", true),
        ];
        for (pattern, text, expected) in cases {
            assert_eq!(LikePattern::new(pattern).matches(text), expected, "{pattern:?} on {text:?}");
        }
    }
}
