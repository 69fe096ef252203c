//! "Did you mean": the closest known name to a misspelt one, for error messages.

/// At most this many candidates are weighed for a "did you mean" (the first ones given).
const SUGGESTION_CANDIDATES: usize = 10_000;

/// The closest name, for "did you mean": same name ignoring case, else the smallest edit distance
/// (at most a third of the name's characters, and at least 2).
///
/// Bounded work whatever the input: names over 256 bytes get no suggestion, candidates
/// too long or too short to be within reach are skipped before any comparison, and
/// only the first 10,000 candidates are weighed.
///
/// ```
/// use domo_model::did_you_mean;
///
/// assert_eq!(did_you_mean("EQUAL", ["EQUALS", "LIKE"].into_iter()), Some("EQUALS"));
/// assert_eq!(did_you_mean("cout", ["count", "user"].into_iter()), Some("count"));
/// assert_eq!(did_you_mean("zzz", ["count", "user"].into_iter()), None);
/// ```
pub fn did_you_mean<'a>(name: &str, candidates: impl Iterator<Item = &'a str> + Clone) -> Option<&'a str> {
    // The edit distance costs the product of the lengths: a name this long is no typo.
    if name.len() > 256 {
        return None;
    }
    let chars = name.chars().count();
    let limit = (chars / 3).max(2);
    // A char takes 1 to 4 bytes; a candidate more than `limit` chars longer or shorter is out of reach.
    let in_reach = move |c: &&str| c.len() <= 4 * (chars + limit) && c.len() + limit >= chars;
    let candidates = candidates.take(SUGGESTION_CANDIDATES).filter(in_reach);
    let lowered = name.to_lowercase();
    if let Some(same) = candidates
        .clone()
        .find(|c| c.eq_ignore_ascii_case(name) || (!c.is_ascii() || !name.is_ascii()) && c.to_lowercase() == lowered)
    {
        return Some(same);
    }
    let name: Vec<char> = name.chars().collect();
    let mut row = Vec::new();
    let mut best: Option<(usize, &str)> = None;
    for candidate in candidates {
        // Past the best so far, a candidate cannot win: the search stops as soon as a row says so.
        let within = best.map_or(limit, |(d, _)| d.saturating_sub(1));
        if let Some(distance) = edit_distance_within(&name, candidate, within, &mut row)
            && best.is_none_or(|(d, _)| distance < d)
        {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, c)| c)
}

/// The edit distance of `a` and `b` if it is at most `limit`, else `None` (found out early:
/// once every cell of a row is past the limit, no later row comes back). `row` is scratch space.
fn edit_distance_within(a: &[char], b: &str, limit: usize, row: &mut Vec<usize>) -> Option<usize> {
    let b: Vec<char> = b.chars().collect();
    row.clear();
    row.extend(0..=b.len());
    for (i, ca) in a.iter().enumerate() {
        let mut previous = row.first().copied().unwrap_or(0);
        if let Some(first) = row.first_mut() {
            *first = i + 1;
        }
        for (j, cb) in b.iter().enumerate() {
            let above = row.get(j + 1).copied().unwrap_or(usize::MAX);
            let left = row.get(j).copied().unwrap_or(usize::MAX);
            let cost = previous + usize::from(*ca != *cb);
            previous = above;
            if let Some(cell) = row.get_mut(j + 1) {
                *cell = cost.min(above.saturating_add(1)).min(left.saturating_add(1));
            }
        }
        if row.iter().all(|&cell| cell > limit) {
            return None;
        }
    }
    row.last().copied().filter(|&d| d <= limit)
}
