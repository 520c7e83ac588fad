//! Glob matching for `path` rules: `*` matches within one segment, `**` across segments,
//! `?` one byte that is not `/`; anything else matches itself.
//!
//! Linear: the set of text positions the pattern read so far can end at is kept as a
//! bitset, and each pattern token maps it to the next set with word operations. A match
//! costs (text length / 64 + 1) × pattern length word steps, whatever the pattern and the
//! text (a backtracking matcher is exponential in the number of `**`).

/// One reading of the request path, in one letter case, with what glob matching has
/// computed about it so far (shared by every rule tested against it).
pub struct Reading<'t> {
    pub bytes: &'t [u8],
    pub folded: bool,
    pub glob: Option<Text>,
}

/// What matching learns about one text, kept for every glob tested against it.
pub struct Text {
    /// Bit `i`: `text[i]` exists and is not `/` (a wildcard may consume it).
    not_slash: Vec<u64>,
    /// Bit `i` of `equal[c]`: `text[i] == c`. Built on first use of each byte.
    equal: Vec<Option<Vec<u64>>>,
}

impl Text {
    fn new(text: &[u8]) -> Self {
        Text {
            not_slash: bits(text, |b| b != b'/'),
            equal: vec![None; 256],
        }
    }
}

/// A bitset over positions `0..=text.len()` with bit `i` set where `test(text[i])`.
fn bits(text: &[u8], test: impl Fn(u8) -> bool) -> Vec<u64> {
    let mut out = vec![0u64; text.len() / 64 + 1];
    for (i, b) in text.iter().enumerate() {
        if test(*b) {
            out[i / 64] |= 1 << (i % 64);
        }
    }
    out
}

/// Does `pattern` match the whole of `reading`?
pub fn matches(pattern: &[u8], reading: &mut Reading<'_>) -> bool {
    let text = reading.bytes;
    // Most globs start with a literal (`/static/**`); most texts fail right there.
    let literal = pattern
        .iter()
        .position(|b| matches!(b, b'*' | b'?'))
        .unwrap_or(pattern.len());
    if !text.starts_with(&pattern[..literal]) {
        return false;
    }
    if literal == pattern.len() {
        return text.len() == literal;
    }
    let masks = reading.glob.get_or_insert_with(|| Text::new(text));
    let last = text.len();
    let mut current = vec![0u64; last / 64 + 1];
    current[literal / 64] = 1 << (literal % 64);
    let mut next = vec![0u64; current.len()];
    let mut p = literal;
    while p < pattern.len() {
        match pattern[p] {
            b'*' if pattern.get(p + 1) == Some(&b'*') => {
                p += 2;
                any_run(&current, &mut next, last);
            }
            b'*' => {
                p += 1;
                run_within_segment(&current, &masks.not_slash, &mut next);
            }
            b'?' => {
                p += 1;
                step(&current, &masks.not_slash, &mut next);
            }
            c => {
                p += 1;
                let equal =
                    masks.equal[usize::from(c)].get_or_insert_with(|| bits(text, |b| b == c));
                step(&current, equal, &mut next);
            }
        }
        if next.iter().all(|w| *w == 0) {
            return false;
        }
        std::mem::swap(&mut current, &mut next);
    }
    current[last / 64] & (1 << (last % 64)) != 0
}

/// One byte consumed: position `i` goes to `i + 1` where `allowed` has bit `i`.
fn step(current: &[u64], allowed: &[u64], next: &mut [u64]) {
    let mut carry = 0;
    for ((out, cur), ok) in next.iter_mut().zip(current).zip(allowed) {
        let moved = cur & ok;
        *out = moved << 1 | carry;
        carry = moved >> 63;
    }
}

/// `**`: every position from the first reachable one to the end of the text.
fn any_run(current: &[u64], next: &mut [u64], last: usize) {
    let mut on = false;
    for (out, cur) in next.iter_mut().zip(current) {
        *out = if on {
            u64::MAX
        } else if *cur != 0 {
            on = true;
            // The lowest set bit and every bit above it.
            !((cur & cur.wrapping_neg()) - 1)
        } else {
            0
        };
    }
    // Nothing lies past the end of the text.
    let end = last / 64;
    let keep = last % 64;
    next[end] &= if keep == 63 {
        u64::MAX
    } else {
        (1 << (keep + 1)) - 1
    };
}

/// `*`: from each reachable position, onwards over bytes that are not `/`.
fn run_within_segment(current: &[u64], not_slash: &[u64], next: &mut [u64]) {
    let mut carry = 0;
    for ((out, cur), open) in next.iter_mut().zip(current).zip(not_slash) {
        let mut reach = cur | carry;
        // Kogge-Stone: after the step for `shift`, `reach` holds every position reachable
        // in fewer than 2 × shift moves; `open` then says "shift moves in a row are open".
        let mut open_run = *open;
        for shift in [1, 2, 4, 8, 16, 32] {
            reach |= (reach & open_run) << shift;
            open_run &= open_run >> shift;
        }
        *out = reach;
        // Into the next word only from the last position, if its byte may be consumed.
        carry = (reach & open) >> 63;
    }
}
