//! Request paths as origins read them. Pure.
//!
//! Route rules are decided on a canonical path, and that canonical path is what the origin
//! receives: empty segments merged (nginx `merge_slashes`), dot segments resolved (RFC 3986
//! §5.2.4), percent-encoded unreserved characters decoded (§6.2.2.2) and the remaining
//! escapes in upper case. Origins may still read the canonical path another way: decode
//! `%2F`, `%5C` or `%25` (once or more), strip `;` path parameters (Tomcat, Spring), or
//! treat `\` as `/`. [`RequestPath::readings`] lists every such reading, so route policy can
//! apply the stricter of the rules they select; letter case is handled there too.

use crate::error::PathError;

/// A path with more distinct readings than this is refused rather than guessed at (it takes
/// stacked encodings such as `%25252F` to get there).
const MAX_READINGS: usize = 16;

/// A request path: the canonical form forwarded to the origin, and every reading of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestPath {
    /// Every way an origin may read the forwarded path; the canonical path comes first.
    readings: Vec<Vec<u8>>,
    /// Some reading resolves a `..` (hidden by encoding or a `;` parameter) above `/`.
    climbs_above_root: bool,
}

impl RequestPath {
    /// Canonicalises `raw` (a URL's path, percent-encoded) and derives its readings.
    pub fn parse(raw: &str) -> Result<Self, PathError> {
        let (canonical, _) = resolve(&decode_unreserved(raw.as_bytes()));
        let mut readings = vec![canonical];
        let mut climbs_above_root = false;
        // Breadth-first closure under the two things origins do to a path, each followed
        // by dot-segment resolution; bounded by MAX_READINGS.
        let mut next = 0;
        while next < readings.len() {
            next += 1;
            // Most paths have nothing either transformation changes: no copy for them.
            if !readings[next - 1]
                .iter()
                .any(|b| matches!(b, b'%' | b';' | b'\\'))
            {
                continue;
            }
            let current = readings[next - 1].clone();
            for transformed in [decode_all(&current), strip_parameters(&current)] {
                let (reading, climbed) = resolve(&transformed);
                climbs_above_root |= climbed;
                if !readings.contains(&reading) {
                    if readings.len() == MAX_READINGS {
                        return Err(PathError::TooManyReadings);
                    }
                    readings.push(reading);
                }
            }
        }
        Ok(RequestPath {
            readings,
            climbs_above_root,
        })
    }

    /// The path the origin receives.
    pub fn canonical(&self) -> &str {
        // Made from a `&str` by replacing ASCII escapes with ASCII bytes: still UTF-8.
        std::str::from_utf8(&self.readings[0]).unwrap_or("/")
    }

    /// The canonical path, then every other reading of it.
    pub fn readings(&self) -> impl Iterator<Item = &[u8]> {
        self.readings.iter().map(Vec::as_slice)
    }

    /// With an `ORIGIN` that has a base path (`https://backend/api`), a reading that climbs
    /// above `/` would climb out of the base path at an origin that decodes before it
    /// resolves dot segments (`/api/..%2Fadmin` is `/admin` there): refused.
    pub fn check_base(&self, origin_has_base_path: bool) -> Result<(), PathError> {
        if origin_has_base_path && self.climbs_above_root {
            Err(PathError::EscapesBasePath)
        } else {
            Ok(())
        }
    }
}

fn hex_value(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// The byte `%XY` at `bytes[i..]` stands for, if it is a valid escape.
fn escaped_byte(bytes: &[u8], i: usize) -> Option<u8> {
    if bytes.get(i) != Some(&b'%') {
        return None;
    }
    let high = hex_value(*bytes.get(i + 1)?)?;
    let low = hex_value(*bytes.get(i + 2)?)?;
    Some(high << 4 | low)
}

/// RFC 3986 §2.3.
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// RFC 3986 §6.2.2.1-2 on a URL path alone (no dot or slash handling): escapes of
/// unreserved characters decoded, the others' hex upper-cased. DPoP's `htu` comparison uses
/// it; [`RequestPath`] starts from it.
pub fn normalise_percent_encoding(path: &str) -> String {
    // Only ASCII escapes are replaced, by ASCII bytes: UTF-8 stays UTF-8.
    String::from_utf8(decode_unreserved(path.as_bytes())).unwrap_or_else(|_| path.to_owned())
}

/// Decodes escapes of unreserved characters and upper-cases the hex digits of the others
/// (RFC 3986 §6.2.2): equivalent spellings of the same path become one. A `%` that starts
/// no escape is a literal percent sign and is written `%25`: kept bare, it could join the
/// characters decoded after it into a new escape (`%6%31` would become `%61`, which the
/// next decoding reads as `a`), so the result would not be a fixed point and would not mean
/// what the client sent.
fn decode_unreserved(bytes: &[u8]) -> Vec<u8> {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let Some(b) = escaped_byte(bytes, i) else {
            match bytes[i] {
                b'%' => out.extend_from_slice(b"%25"),
                other => out.push(other),
            }
            i += 1;
            continue;
        };
        if is_unreserved(b) {
            out.push(b);
        } else {
            out.extend_from_slice(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
        }
        i += 3;
    }
    out
}

/// What an origin that decodes the path sees: every escape decoded once, `\` read as `/`.
fn decode_all(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if let Some(b) = escaped_byte(bytes, i) {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    for b in &mut out {
        if *b == b'\\' {
            *b = b'/';
        }
    }
    out
}

/// What Tomcat and Spring see: each segment's `;` parameters removed (`/admin;x=1/users`
/// is `/admin/users`, `/..;/admin` is `/../admin`).
fn strip_parameters(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut in_parameters = false;
    for &b in bytes {
        match b {
            b'/' => {
                in_parameters = false;
                out.push(b);
            }
            b';' => in_parameters = true,
            _ if !in_parameters => out.push(b),
            _ => {}
        }
    }
    out
}

/// Merges empty segments and resolves `.` and `..`; a trailing `/` (or a final dot
/// segment) keeps the path a directory. Also says whether a `..` had nothing to remove.
fn resolve(bytes: &[u8]) -> (Vec<u8>, bool) {
    let mut segments: Vec<&[u8]> = Vec::new();
    let mut climbed = false;
    let mut directory = false;
    for segment in bytes.split(|b| *b == b'/') {
        directory = true;
        match segment {
            b"" | b"." => {}
            b".." => climbed |= segments.pop().is_none(),
            s => {
                segments.push(s);
                directory = false;
            }
        }
    }
    let mut out = Vec::with_capacity(bytes.len() + 1);
    for s in &segments {
        out.push(b'/');
        out.extend_from_slice(s);
    }
    if out.is_empty() || directory {
        out.push(b'/');
    }
    (out, climbed)
}

/// Letter case as a case-insensitive origin ignores it: ASCII, plus the non-ASCII letters
/// whose case mapping lands on ASCII (`ſ` is `S`, the Kelvin sign is `k`, `ı`/`İ` are `i`
/// in .NET's invariant and JavaScript's Unicode rules), in their UTF-8 spelling.
pub fn fold_case(bytes: &[u8]) -> Vec<u8> {
    const FOLDS: [(&[u8], u8); 4] = [
        ("\u{17F}".as_bytes(), b's'),
        ("\u{212A}".as_bytes(), b'k'),
        ("\u{130}".as_bytes(), b'i'),
        ("\u{131}".as_bytes(), b'i'),
    ];
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    'bytes: while i < bytes.len() {
        if bytes[i] >= 0x80 {
            for (spelling, ascii) in FOLDS {
                if bytes[i..].starts_with(spelling) {
                    out.push(ascii);
                    i += spelling.len();
                    continue 'bytes;
                }
            }
        }
        out.push(bytes[i].to_ascii_lowercase());
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests;
