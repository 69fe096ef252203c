//! STRING cells for the for-any-row analysis: each filter as a small automaton, their product searched breadth-first.
//!
//! Every STRING test is a regular language over Unicode scalar values: EQUALS,
//! BEGINS_WITH, ENDS_WITH, CONTAINS and LIKE are LIKE patterns (a
//! non-deterministic automaton over the pattern's positions), and the order
//! comparisons are small automata over the bound's characters (equal so far,
//! already less, already greater). Characters the filters do not mention
//! behave alike when they fall in the same gap between mentioned characters,
//! so one representative per gap is enough: the search over the product of
//! the automata is exact, and its first accepting state is a shortest cell.

use std::collections::VecDeque;

use hashbrown::HashMap;

use super::ColumnAnswer;
use crate::filter::{Cmp, OrdTest, Test, TextTest};
use crate::like::{LikePattern, Token};

/// Which final orderings of the cell against the bound a comparison accepts.
#[derive(Debug, Clone, Copy)]
struct OrderAccept {
    less: bool,
    equal: bool,
    greater: bool,
}

impl OrderAccept {
    fn of(cmp: Cmp) -> Self {
        match cmp {
            Cmp::Gt => Self { less: false, equal: false, greater: true },
            Cmp::Lt => Self { less: true, equal: false, greater: false },
            Cmp::Ge => Self { less: false, equal: true, greater: true },
            Cmp::Le => Self { less: true, equal: true, greater: false },
        }
    }
}

/// One automaton.
#[derive(Debug, Clone)]
enum Comp {
    /// A LIKE pattern; its state is the set of token positions reached, one bit each.
    Pattern { tokens: Vec<Token>, words: usize },
    /// A comparison in code point order with `bound`; its state is `0..=len` (equal so far),
    /// `len + 1` (already less) or `len + 2` (already greater).
    Order { bound: Vec<char>, accept: OrderAccept },
}

/// A filter's test on the cell, and the result it must give.
#[derive(Debug, Clone)]
struct Literal {
    comps: Vec<Comp>,
    /// BETWEEN: every comparison must accept; otherwise any one of them (several values).
    all: bool,
    want: bool,
}

fn pattern(tokens: Vec<Token>) -> Comp {
    let mut merged: Vec<Token> = Vec::with_capacity(tokens.len());
    for token in tokens {
        if token == Token::Any && merged.last() == Some(&Token::Any) {
            continue;
        }
        merged.push(token);
    }
    let words = (merged.len() + 1).div_ceil(64);
    Comp::Pattern { tokens: merged, words }
}

fn literal_tokens(text: &str) -> impl Iterator<Item = Token> + '_ {
    text.chars().map(Token::Literal)
}

fn literal(test: &Test, want: bool) -> Option<Literal> {
    let (comps, all) = match test {
        Test::String(OrdTest::AnyOf(values)) => {
            (values.iter().map(|v| pattern(literal_tokens(v).collect())).collect(), false)
        }
        Test::String(OrdTest::Cmp(cmp, bound)) => {
            (vec![Comp::Order { bound: bound.chars().collect(), accept: OrderAccept::of(*cmp) }], false)
        }
        Test::String(OrdTest::Between(low, high)) => (
            vec![
                Comp::Order { bound: low.chars().collect(), accept: OrderAccept::of(Cmp::Ge) },
                Comp::Order { bound: high.chars().collect(), accept: OrderAccept::of(Cmp::Le) },
            ],
            true,
        ),
        Test::Text(TextTest::Like(patterns)) => {
            (patterns.iter().map(|p: &LikePattern| pattern(p.tokens().to_vec())).collect(), false)
        }
        Test::Text(TextTest::BeginsWith(values)) => (
            values.iter().map(|v| pattern(literal_tokens(v).chain(std::iter::once(Token::Any)).collect())).collect(),
            false,
        ),
        Test::Text(TextTest::EndsWith(values)) => (
            values.iter().map(|v| pattern(std::iter::once(Token::Any).chain(literal_tokens(v)).collect())).collect(),
            false,
        ),
        Test::Text(TextTest::Contains(values)) => (
            values
                .iter()
                .map(|v| {
                    pattern(
                        std::iter::once(Token::Any)
                            .chain(literal_tokens(v))
                            .chain(std::iter::once(Token::Any))
                            .collect(),
                    )
                })
                .collect(),
            false,
        ),
        _ => return None,
    };
    Some(Literal { comps, all, want })
}

fn has(set: &[u64], position: usize) -> bool {
    set.get(position / 64).is_some_and(|w| w >> (position % 64) & 1 == 1)
}

fn add(set: &mut [u64], position: usize) {
    if let Some(w) = set.get_mut(position / 64) {
        *w |= 1 << (position % 64);
    }
}

/// Adds the positions reachable by letting `%` match nothing.
fn close(tokens: &[Token], set: &mut [u64]) {
    for (position, token) in tokens.iter().enumerate() {
        if *token == Token::Any && has(set, position) {
            add(set, position + 1);
        }
    }
}

fn step_pattern(tokens: &[Token], from: &[u64], to: &mut [u64], c: char) {
    for (position, token) in tokens.iter().enumerate() {
        if !has(from, position) {
            continue;
        }
        match token {
            Token::Any => add(to, position),
            Token::One => add(to, position + 1),
            Token::Literal(x) if *x == c => add(to, position + 1),
            Token::Literal(_) => {}
        }
    }
    close(tokens, to);
}

/// Whether a component accepts in this state, and whether that can still change.
fn comp_state(comp: &Comp, state: &[u64]) -> (bool, bool) {
    match comp {
        Comp::Pattern { tokens, .. } => {
            let accepts = has(state, tokens.len());
            let dead = state.iter().all(|w| *w == 0);
            // From a position followed only by `%`, every continuation is accepted.
            // (A position at the end accepts now, but not after one more character.)
            let forever = (0..tokens.len())
                .any(|p| has(state, p) && tokens.get(p..).is_some_and(|rest| rest.iter().all(|t| *t == Token::Any)));
            (accepts, dead || forever)
        }
        Comp::Order { bound, accept } => {
            let s = state.first().copied().unwrap_or(0) as usize;
            let len = bound.len();
            if s == len + 1 {
                (accept.less, true)
            } else if s == len + 2 {
                (accept.greater, true)
            } else if s == len {
                (accept.equal, false)
            } else {
                (accept.less, false)
            }
        }
    }
}

fn comp_words(comp: &Comp) -> usize {
    match comp {
        Comp::Pattern { words, .. } => *words,
        Comp::Order { .. } => 1,
    }
}

/// The mentioned characters plus one representative of each gap between them.
fn alphabet(literals: &[Literal]) -> Vec<char> {
    let mut mentioned: Vec<char> = Vec::new();
    for literal in literals {
        for comp in &literal.comps {
            match comp {
                Comp::Pattern { tokens, .. } => mentioned.extend(tokens.iter().filter_map(|t| match t {
                    Token::Literal(c) => Some(*c),
                    _ => None,
                })),
                Comp::Order { bound, .. } => mentioned.extend(bound.iter().copied()),
            }
        }
    }
    mentioned.sort_unstable();
    mentioned.dedup();
    let bounds: Vec<Option<char>> =
        std::iter::once(None).chain(mentioned.iter().copied().map(Some)).chain(std::iter::once(None)).collect();
    let gaps: Vec<char> = bounds.windows(2).filter_map(|w| in_gap(*w.first()?, *w.get(1)?, &mentioned)).collect();
    // Nice characters first, so that the shortest witness reads well.
    let mut all: Vec<char> = gaps.into_iter().chain(mentioned).collect();
    all.sort_by_key(|c| (!c.is_ascii_alphanumeric(), *c));
    all.dedup();
    all
}

/// A character strictly between `low` and `high` (either open), not mentioned, preferring a readable one.
fn in_gap(low: Option<char>, high: Option<char>, mentioned: &[char]) -> Option<char> {
    let inside =
        |c: char| low.is_none_or(|l| c > l) && high.is_none_or(|h| c < h) && mentioned.binary_search(&c).is_err();
    const NICE: &str = "xyzabcdefghijklmnopqrstuvwXYZABCDEFGHIJKLMNOPQRSTUVW0123456789 -._~!#";
    if let Some(c) = NICE.chars().find(|&c| inside(c)) {
        return Some(c);
    }
    let start = low.map_or(0, |l| u32::from(l) + 1);
    (start..=u32::from(char::MAX)).take(4096).filter_map(char::from_u32).find(|&c| inside(c))
}

/// Decides a conjunction of STRING literals `(test, result wanted)` on one non-NULL cell, exploring
/// at most `budget` states; `spent` counts the states explored.
pub(crate) fn solve(column: &str, literals: &[(&Test, bool)], budget: usize, spent: &mut usize) -> ColumnAnswer {
    let mut lits = Vec::with_capacity(literals.len());
    for (test, want) in literals {
        match literal(test, *want) {
            Some(l) => lits.push(l),
            None => return ColumnAnswer::Unknown(format!("a filter on STRING column `{column}` is not a text test")),
        }
    }
    let alphabet = alphabet(&lits);
    let layout: Vec<(usize, &Comp)> = {
        let mut offset = 0;
        let mut layout = Vec::new();
        for comp in lits.iter().flat_map(|l| l.comps.iter()) {
            layout.push((offset, comp));
            offset += comp_words(comp);
        }
        layout
    };
    let width = layout.last().map_or(0, |(o, c)| o + comp_words(c));
    let mut initial = vec![0u64; width];
    for (offset, comp) in &layout {
        match comp {
            Comp::Pattern { tokens, words } => {
                if let Some(set) = initial.get_mut(*offset..offset + words) {
                    add(set, 0);
                    close(tokens, set);
                }
            }
            Comp::Order { .. } => {}
        }
    }
    // Whether every literal holds, or `None` when some literal is settled the wrong way.
    let judge = |state: &[u64]| -> Option<bool> {
        let mut index = 0;
        let mut all_hold = true;
        for literal in &lits {
            let mut accepted = literal.all;
            let mut settled = true;
            let mut settled_true = false;
            for _ in &literal.comps {
                let (offset, comp) = layout.get(index)?;
                index += 1;
                let words = comp_words(comp);
                let (accepts, fixed) = comp_state(comp, state.get(*offset..offset + words).unwrap_or_default());
                if literal.all {
                    accepted &= accepts;
                } else {
                    accepted |= accepts;
                    settled_true |= accepts && fixed;
                }
                settled &= fixed;
            }
            let settled = settled || (!literal.all && settled_true);
            if accepted != literal.want {
                if settled {
                    return None;
                }
                all_hold = false;
            }
        }
        Some(all_hold)
    };
    let mut seen: HashMap<Vec<u64>, usize> = HashMap::new();
    let mut nodes: Vec<(usize, char)> = Vec::new();
    let mut states: Vec<Vec<u64>> = Vec::new();
    let mut queue: VecDeque<usize> = VecDeque::new();
    match judge(&initial) {
        None => return ColumnAnswer::Unsat,
        Some(true) => return ColumnAnswer::Sat(super::Cand::Str(String::new())),
        Some(false) => {}
    }
    seen.insert(initial.clone(), 0);
    nodes.push((usize::MAX, '\0'));
    states.push(initial);
    queue.push_back(0);
    while let Some(node) = queue.pop_front() {
        for &c in &alphabet {
            let Some(from) = states.get(node) else { break };
            let mut next = vec![0u64; width];
            for (offset, comp) in &layout {
                let words = comp_words(comp);
                let range = *offset..offset + words;
                match comp {
                    Comp::Pattern { tokens, .. } => {
                        let (Some(f), Some(t)) = (from.get(range.clone()), next.get_mut(range)) else { continue };
                        step_pattern(tokens, f, t, c);
                    }
                    Comp::Order { bound, .. } => {
                        let s = from.get(*offset).copied().unwrap_or(0) as usize;
                        let len = bound.len();
                        let to = if s > len {
                            s
                        } else if s == len {
                            len + 2
                        } else {
                            match bound.get(s).map(|b| c.cmp(b)) {
                                Some(std::cmp::Ordering::Equal) => s + 1,
                                Some(std::cmp::Ordering::Less) => len + 1,
                                _ => len + 2,
                            }
                        };
                        if let Some(w) = next.get_mut(*offset) {
                            *w = to as u64;
                        }
                    }
                }
            }
            let verdict = judge(&next);
            if verdict.is_none() || seen.contains_key(&next) {
                continue;
            }
            if seen.len() >= budget {
                return ColumnAnswer::Unknown(format!(
                    "the search for a STRING value of column `{column}` passed its budget of {budget} states"
                ));
            }
            *spent += 1;
            let index = nodes.len();
            nodes.push((node, c));
            if verdict == Some(true) {
                let mut text = Vec::new();
                let mut at = index;
                while let Some(&(parent, ch)) = nodes.get(at) {
                    if parent == usize::MAX {
                        break;
                    }
                    text.push(ch);
                    at = parent;
                }
                return ColumnAnswer::Sat(super::Cand::Str(text.into_iter().rev().collect()));
            }
            seen.insert(next.clone(), index);
            states.push(next);
            queue.push_back(index);
        }
    }
    ColumnAnswer::Unsat
}
