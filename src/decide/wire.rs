//! A [`Verdict`] as the JS entry (js/shim.mjs) reads it: one string, lines separated by
//! `\n`, so the answer crosses the JS/Wasm boundary as a single copy.
//!
//! ```text
//! F \n target \n r \n name_1 .. name_r \n (name \n value)*        forward, removals then sets
//! A \n status \n log \n h \n (name \n value)*h \n body            answer (body: the rest)
//! E ...                                                           the same, logged as an error
//! S                                                               take the async path
//! M \n index \n blob_1 .. blob_6 \n status \n <one of the above>     a METRICS data point first
//! ```
//!
//! Every field but the body is one line. Header values are header-safe by construction
//! (`forward::header_safe`, base64url, fixed ASCII) and URLs are serialised; a field with
//! a line break anyway would shift every field after it, so it turns the verdict into a
//! bare 500 instead: nothing is forwarded.

use crate::decide::forward::push_line;
use crate::decide::metrics::DataPoint;
use crate::decide::{LogLine, Verdict};

/// [`encode`], with `point` in front when there is one (`M`: the JS entry writes it to the
/// `METRICS` binding, then applies the rest). A point whose fields are not one line each is
/// dropped, never the verdict.
pub fn encode_with_point(verdict: &Verdict, point: Option<&DataPoint>) -> String {
    let verdict = encode(verdict);
    let Some(point) = point else {
        return verdict;
    };
    let mut out = String::with_capacity(verdict.len() + 128);
    let fields = [&point.index]
        .into_iter()
        .chain(&point.blobs)
        .try_for_each(|f| push_line(&mut out, f));
    if fields.is_none() {
        return verdict;
    }
    out.insert_str(0, "M\n");
    out.push_str(&point.status.to_string());
    out.push('\n');
    out.push_str(&verdict);
    out
}

/// Encodes `verdict`; `NeedKeys`, `NeedDenyList`, `NeedReplayCheck` and `NeedFields` become
/// `S`.
pub fn encode(verdict: &Verdict) -> String {
    encode_checked(verdict).unwrap_or_else(|| {
        "A\n500\n{\"event\":\"rejected\",\"status\":500,\"reason\":\"unencodable_verdict\"}\n0\n"
            .to_owned()
    })
}

fn encode_checked(verdict: &Verdict) -> Option<String> {
    let capacity = match verdict {
        Verdict::Forward { target, headers } => {
            3 + target.len() + headers.lines().map_or(0, str::len)
        }
        _ => 512,
    };
    let mut out = String::with_capacity(capacity);
    let line = push_line;
    match verdict {
        Verdict::Forward { target, headers } => {
            line(&mut out, "F")?;
            line(&mut out, target)?;
            out.push_str(headers.lines()?);
        }
        Verdict::Answer { response, log } => {
            let error = matches!(log, Some(LogLine::Error(_)));
            line(&mut out, if error { "E" } else { "A" })?;
            line(&mut out, &response.status.to_string())?;
            line(&mut out, log.as_ref().map_or("", LogLine::text))?;
            line(&mut out, &response.headers.len().to_string())?;
            for (name, value) in &response.headers {
                line(&mut out, name)?;
                line(&mut out, value)?;
            }
            out.push_str(&response.body);
        }
        Verdict::NeedKeys { .. }
        | Verdict::NeedDenyList
        | Verdict::NeedReplayCheck(_)
        | Verdict::NeedFields => out.push('S'),
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decide::forward::HeaderPlan;
    use crate::error::EdgeResponse;
    use crate::keys::freshness::Want;
    use std::rc::Rc;

    #[test]
    fn a_forward_lists_removals_then_sets() {
        let v = Verdict::Forward {
            target: "https://o.test/a?b".into(),
            headers: Rc::new(HeaderPlan::new(
                vec!["x-auth-subject".into(), "authorization".into()],
                vec![("x-auth-subject".into(), "alice".into())],
            )),
        };
        assert_eq!(
            encode(&v),
            "F\nhttps://o.test/a?b\n2\nx-auth-subject\nauthorization\nx-auth-subject\nalice\n"
        );
    }

    #[test]
    fn an_answer_keeps_its_body_whole() {
        let v = Verdict::Answer {
            response: EdgeResponse {
                status: 401,
                headers: vec![("www-authenticate", "Bearer realm=\"r\"".into())],
                body: "{\n\"error\": 1}".into(),
            },
            log: Some(LogLine::Info("{\"event\":\"rejected\"}".into())),
        };
        assert_eq!(
            encode(&v),
            "A\n401\n{\"event\":\"rejected\"}\n1\nwww-authenticate\nBearer realm=\"r\"\n{\n\"error\": 1}"
        );
        let config_error = Verdict::Answer {
            response: EdgeResponse {
                status: 500,
                headers: vec![],
                body: "{}".into(),
            },
            log: Some(LogLine::Error("{}".into())),
        };
        assert_eq!(encode(&config_error), "E\n500\n{}\n0\n{}");
    }

    #[test]
    fn io_is_the_async_path() {
        let need = Verdict::NeedKeys {
            issuer: "https://i/".into(),
            want: Want::Current,
        };
        assert_eq!(encode(&need), "S");
        assert_eq!(encode(&Verdict::NeedFields), "S");
        assert_eq!(encode(&Verdict::NeedDenyList), "S");
    }

    #[test]
    fn a_data_point_goes_first_and_a_bad_one_is_dropped() {
        let v = Verdict::NeedFields;
        let mut point = DataPoint {
            index: "https://i/".into(),
            blobs: [
                "rejected",
                "bad_signature",
                "https://i/",
                "RS256",
                "hit",
                "",
            ]
            .map(String::from),
            status: 401,
        };
        assert_eq!(
            encode_with_point(&v, Some(&point)),
            "M\nhttps://i/\nrejected\nbad_signature\nhttps://i/\nRS256\nhit\n\n401\nS"
        );
        assert_eq!(encode_with_point(&v, None), "S");
        point.blobs[2] = "two\nlines".into();
        assert_eq!(encode_with_point(&v, Some(&point)), "S");
    }

    #[test]
    fn a_line_break_in_a_field_never_forwards() {
        let v = Verdict::Forward {
            target: "https://o.test/".into(),
            headers: Rc::new(HeaderPlan::new(
                vec![],
                vec![("x-a".into(), "1\nx-b".into())],
            )),
        };
        let encoded = encode(&v);
        assert!(encoded.starts_with("A\n500\n"), "{encoded}");
    }
}
