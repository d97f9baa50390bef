//! The Prometheus text exposition format 0.0.4, the one the Pushgateway, node_exporter's textfile
//! collector and a `/metrics` scrape all accept. Pure: encodes into a `String`, no I/O.
//!
//! Label values escape `\`, `"` and newline; HELP escapes `\` and newline; no timestamps are
//! written (the Pushgateway rejects them); the text ends with a newline.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Arc;

/// The Content-Type of what [`encode`] produces.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    pub name: String,
    pub help: String,
    pub samples: Vec<Sample>,
}

/// One series read back from somewhere (a Pushgateway's group): name, labels, value.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub metric: String,
    pub labels: std::collections::BTreeMap<String, String>,
    pub value: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub labels: Vec<Label>,
    pub value: f64,
}

/// A label name and value. Shared strings: one credential's name appears in a dozen series, and
/// at 100k credentials separate copies cost hundreds of MiB.
pub type Label = (Arc<str>, Arc<str>);

impl Family {
    pub fn gauge(name: &str, help: &str) -> Self {
        Family {
            name: name.into(),
            help: help.into(),
            samples: Vec::new(),
        }
    }

    pub fn push(&mut self, labels: Vec<Label>, value: f64) {
        self.samples.push(Sample { labels, value });
    }
}

/// Encodes gauge families; a family without samples is left out entirely.
pub fn encode(families: &[Family]) -> String {
    let mut out = String::new();
    for family in families.iter().filter(|f| !f.samples.is_empty()) {
        let _ = writeln!(out, "# HELP {} {}", family.name, escape_help(&family.help));
        let _ = writeln!(out, "# TYPE {} gauge", family.name);
        for sample in &family.samples {
            out.push_str(&family.name);
            if !sample.labels.is_empty() {
                out.push('{');
                for (i, (name, value)) in sample.labels.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    let _ = write!(out, "{name}=\"{}\"", escape_label_value(value));
                }
                out.push('}');
            }
            out.push(' ');
            out.push_str(&format_value(sample.value));
            out.push('\n');
        }
    }
    out
}

pub fn escape_label_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

pub fn escape_help(help: &str) -> String {
    help.replace('\\', "\\\\").replace('\n', "\\n")
}

/// Whole numbers print without a fraction (`1808064429`, not `1.808064429e9`).
pub fn format_value(value: f64) -> String {
    if value.is_nan() {
        "NaN".into()
    } else if value.is_infinite() {
        if value > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{}", value as i64)
    } else {
        format!("{value}")
    }
}

/// The series of an exposition text such as [`encode`] writes (comments
/// skipped, label values unescaped), for reading back what an earlier run wrote. Lines that do
/// not parse are skipped. Pure.
pub fn parse_series(text: &str) -> Vec<Series> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(parse_line)
        .collect()
}

fn parse_line(line: &str) -> Option<Series> {
    let name_end = line.find(['{', ' '])?;
    let metric = line[..name_end].to_string();
    let mut labels = BTreeMap::new();
    let mut rest = &line[name_end..];
    if let Some(inner) = rest.strip_prefix('{') {
        let mut chars = inner.char_indices();
        let mut consumed = None;
        loop {
            // A label name up to `=`, or the closing brace.
            let mut name = String::new();
            let mut closed = false;
            for (i, c) in chars.by_ref() {
                match c {
                    '}' if name.is_empty() => {
                        consumed = Some(i + 1);
                        closed = true;
                        break;
                    }
                    '=' => break,
                    ',' if name.is_empty() => {}
                    c => name.push(c),
                }
            }
            if closed {
                break;
            }
            if chars.next()?.1 != '"' {
                return None;
            }
            let mut value = String::new();
            loop {
                match chars.next()?.1 {
                    '"' => break,
                    '\\' => match chars.next()?.1 {
                        'n' => value.push('\n'),
                        c => value.push(c),
                    },
                    c => value.push(c),
                }
            }
            labels.insert(name, value);
        }
        rest = &inner[consumed?..];
    }
    let value = rest.split_whitespace().next()?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().ok()?,
    };
    Some(Series {
        metric,
        labels,
        value,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_the_exact_text() {
        let mut f = Family::gauge("x_expiry_timestamp", "Expiry.\nIn seconds \\ UTC.");
        f.push(vec![("path".into(), "primary".into())], 1_808_064_429.0);
        f.push(
            vec![
                ("path".into(), "a \"b\" c\\d\ne/f ü".into()),
                ("pool".into(), "p".into()),
            ],
            0.25,
        );
        let mut g = Family::gauge("x_last", "Last.");
        g.push(vec![], 1_776_528_500.0);
        let empty = Family::gauge("x_empty", "Nothing.");
        assert_eq!(
            encode(&[f, empty, g]),
            "# HELP x_expiry_timestamp Expiry.\\nIn seconds \\\\ UTC.\n\
             # TYPE x_expiry_timestamp gauge\n\
             x_expiry_timestamp{path=\"primary\"} 1808064429\n\
             x_expiry_timestamp{path=\"a \\\"b\\\" c\\\\d\\ne/f ü\",pool=\"p\"} 0.25\n\
             # HELP x_last Last.\n\
             # TYPE x_last gauge\n\
             x_last 1776528500\n"
        );
    }

    #[test]
    fn values_format_as_prometheus_reads_them() {
        assert_eq!(format_value(1.0), "1");
        assert_eq!(format_value(0.0), "0");
        assert_eq!(format_value(-3.0), "-3");
        assert_eq!(format_value(0.0123), "0.0123");
        assert_eq!(format_value(f64::NAN), "NaN");
        assert_eq!(format_value(f64::INFINITY), "+Inf");
        assert_eq!(format_value(1e20), "100000000000000000000");
    }

    #[test]
    fn nothing_to_encode_is_an_empty_text() {
        assert_eq!(encode(&[]), "");
    }

    #[test]
    fn what_the_encoder_writes_reads_back() {
        let mut expiry = Family::gauge("x_expiry", "Expiry.");
        expiry.push(
            vec![
                ("credential".into(), "a \"b\" c\\d\ne,f}g=h".into()),
                ("pool".into(), "p".into()),
            ],
            1_808_064_429.0,
        );
        expiry.push(vec![("credential".into(), "".into())], 0.25);
        let mut last = Family::gauge("x_last", "Last.");
        last.push(vec![], 1_776_528_500.0);
        let text = encode(&[expiry, last]);
        let series = parse_series(&text);
        let labels = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>()
        };
        assert_eq!(
            series,
            [
                Series {
                    metric: "x_expiry".into(),
                    labels: labels(&[("credential", "a \"b\" c\\d\ne,f}g=h"), ("pool", "p")]),
                    value: 1_808_064_429.0,
                },
                Series {
                    metric: "x_expiry".into(),
                    labels: labels(&[("credential", "")]),
                    value: 0.25,
                },
                Series {
                    metric: "x_last".into(),
                    labels: BTreeMap::new(),
                    value: 1_776_528_500.0,
                },
            ]
        );
    }

    #[test]
    fn lines_that_do_not_parse_are_skipped() {
        let text = "# HELP x y\nx{a=\"1\"} 2\nbroken{a=1} 3\nnovalue\ny{a=\"unterminated} 4\nz 5 1700000000000\n";
        let series = parse_series(text);
        let names: Vec<&str> = series.iter().map(|s| s.metric.as_str()).collect();
        assert_eq!(names, ["x", "z"]);
        assert_eq!(series[1].value, 5.0);
    }

    fn sample_text() -> String {
        let mut expiry = Family::gauge("x_expiry", "Expiry.");
        expiry.push(
            vec![
                ("credential".into(), "a \"b\" c\\d\ne,f}g=h".into()),
                ("pool".into(), "p".into()),
            ],
            1_808_064_429.0,
        );
        expiry.push(vec![("credential".into(), "".into())], 0.25);
        let mut last = Family::gauge("x_last", "Last.");
        last.push(vec![], f64::INFINITY);
        encode(&[expiry, last])
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// Random and mutated exposition text read back: within the time bound, at most one
        /// series per line, and never more label text out than came in.
        #[test]
        fn read_back_of_mutated_text_stays_within_bounds(
            text in proptest::prop_oneof![
                crate::test_bounds::mutated_text(&sample_text()),
                proptest::prelude::any::<String>(),
                "[a-z_{}=\",\\ 0-9.\n-]{0,400}",
            ],
        ) {
            let series = crate::test_bounds::within_time("exposition text", text.len(), || parse_series(&text));
            assert!(series.len() <= text.lines().count());
            let out: usize = series
                .iter()
                .map(|s| s.metric.len() + s.labels.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>())
                .sum();
            assert!(out <= text.len(), "{out} bytes of names and labels from {}", text.len());
        }
    }
}
