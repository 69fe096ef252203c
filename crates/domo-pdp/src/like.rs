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
        let text: Vec<char> = text.chars().collect();
        let (mut t, mut p) = (0usize, 0usize);
        let mut star: Option<(usize, usize)> = None;
        while t < text.len() {
            match self.tokens.get(p) {
                Some(Token::Any) => {
                    star = Some((p, t));
                    p += 1;
                }
                Some(Token::One) => {
                    t += 1;
                    p += 1;
                }
                Some(Token::Literal(c)) if text.get(t) == Some(c) => {
                    t += 1;
                    p += 1;
                }
                _ => match star {
                    Some((sp, st)) => {
                        p = sp + 1;
                        t = st + 1;
                        star = Some((sp, st + 1));
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
    use super::LikePattern;

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
        ];
        for (pattern, text, expected) in cases {
            assert_eq!(LikePattern::new(pattern).matches(text), expected, "{pattern:?} on {text:?}");
        }
    }
}
