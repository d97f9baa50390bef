//! The Prometheus text exposition format 0.0.4, the one the Pushgateway, node_exporter's textfile
//! collector and a `/metrics` scrape all accept. Pure: encodes into any `fmt::Write`, no I/O.
//!
//! Label values escape `\`, `"` and newline; HELP escapes `\` and newline; no timestamps are
//! written (the Pushgateway rejects them); the text ends with a newline.

use std::collections::BTreeMap;
use std::fmt::{self, Write};
#[cfg(test)]
use std::sync::Arc;

/// The Content-Type of the text [`Encoder`] writes.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A family with its samples held as a list: the tests' way of writing an expected text.
#[cfg(test)]
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

#[cfg(test)]
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub labels: Vec<Label>,
    pub value: f64,
}

/// A label name and value.
#[cfg(test)]
pub type Label = (Arc<str>, Arc<str>);

#[cfg(test)]
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

/// Where gauge families go, one sample at a time: a family is announced, then its samples
/// follow. What [`crate::metrics::encode_report`] produces into, so that a report is encoded
/// without a list of every sample in between.
pub trait Samples {
    fn family(&mut self, name: &str, help: &str);
    fn sample(&mut self, labels: &[(&str, &str)], value: f64);
}

/// Writes the samples it is given as exposition text into `out`, escaping straight into it; a
/// family without samples is left out entirely.
pub struct Encoder<'w, W: Write> {
    out: &'w mut W,
    name: String,
    help: String,
    /// The current family's `# HELP`/`# TYPE` lines are written (it has a sample).
    started: bool,
}

impl<'w, W: Write> Encoder<'w, W> {
    pub fn new(out: &'w mut W) -> Self {
        Encoder {
            out,
            name: String::new(),
            help: String::new(),
            started: false,
        }
    }

    fn write_sample(&mut self, labels: &[(&str, &str)], value: f64) -> fmt::Result {
        if !self.started {
            self.started = true;
            self.out.write_str("# HELP ")?;
            self.out.write_str(&self.name)?;
            self.out.write_char(' ')?;
            write_escaped(self.out, &self.help, false)?;
            writeln!(self.out, "\n# TYPE {} gauge", self.name)?;
        }
        self.out.write_str(&self.name)?;
        if !labels.is_empty() {
            self.out.write_char('{')?;
            for (i, (name, value)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.write_char(',')?;
                }
                self.out.write_str(name)?;
                self.out.write_str("=\"")?;
                write_escaped(self.out, value, true)?;
                self.out.write_char('"')?;
            }
            self.out.write_char('}')?;
        }
        self.out.write_char(' ')?;
        write_value(self.out, value)?;
        self.out.write_char('\n')
    }
}

impl<W: Write> Samples for Encoder<'_, W> {
    fn family(&mut self, name: &str, help: &str) {
        self.name.clear();
        self.name.push_str(name);
        self.help.clear();
        self.help.push_str(help);
        self.started = false;
    }

    fn sample(&mut self, labels: &[(&str, &str)], value: f64) {
        // Writing into a String cannot fail; other writers report through their own state.
        let _ = self.write_sample(labels, value);
    }
}

/// Encodes gauge families; a family without samples is left out entirely.
#[cfg(test)]
pub fn encode(families: &[Family]) -> String {
    let mut out = String::new();
    let mut encoder = Encoder::new(&mut out);
    let mut labels: Vec<(&str, &str)> = Vec::new();
    for family in families {
        encoder.family(&family.name, &family.help);
        for sample in &family.samples {
            labels.clear();
            labels.extend(sample.labels.iter().map(|(k, v)| (&**k, &**v)));
            encoder.sample(&labels, sample.value);
        }
    }
    out
}

/// Writes `text` escaped: `\` and newline always, `"` in a label value.
fn write_escaped(out: &mut impl Write, text: &str, label_value: bool) -> fmt::Result {
    let mut rest = text;
    while let Some(i) = find_escaped(rest.as_bytes(), label_value) {
        out.write_str(&rest[..i])?;
        out.write_str(match rest.as_bytes()[i] {
            b'\\' => "\\\\",
            b'\n' => "\\n",
            _ => "\\\"",
        })?;
        rest = &rest[i + 1..];
    }
    out.write_str(rest)
}

/// Where the first byte to escape is (`memchr`'s vectorised search: most values have none). The
/// bytes are ASCII, never part of a longer character.
fn find_escaped(bytes: &[u8], label_value: bool) -> Option<usize> {
    if label_value {
        memchr::memchr3(b'\\', b'\n', b'"', bytes)
    } else {
        memchr::memchr2(b'\\', b'\n', bytes)
    }
}

pub fn escape_label_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let _ = write_escaped(&mut out, value, true);
    out
}

#[cfg(test)]
pub fn escape_help(help: &str) -> String {
    let mut out = String::with_capacity(help.len());
    let _ = write_escaped(&mut out, help, false);
    out
}

/// Whole numbers print without a fraction (`1808064429`, not `1.808064429e9`).
#[cfg(test)]
pub fn format_value(value: f64) -> String {
    let mut out = String::new();
    let _ = write_value(&mut out, value);
    out
}

fn write_value(out: &mut impl Write, value: f64) -> fmt::Result {
    if value.is_nan() {
        out.write_str("NaN")
    } else if value.is_infinite() {
        out.write_str(if value > 0.0 { "+Inf" } else { "-Inf" })
    } else if value.fract() == 0.0 && value.abs() < 1e15 {
        // Whole values (timestamps, 0/1) through `itoa`: `fmt`'s machinery for them was a tenth
        // of encoding.
        out.write_str(itoa::Buffer::new().format(value as i64))
    } else {
        write!(out, "{value}")
    }
}

/// The series of an exposition text such as [`Encoder`] writes (comments
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
    proptest::proptest! {
        /// The word-at-a-time search finds what a search byte by byte finds.
        #[test]
        fn the_first_byte_to_escape_is_found_wherever_it_is(
            text in "[a-z\\\\\"\n\u{e9}]{0,40}",
            label_value in proptest::prelude::any::<bool>(),
        ) {
            let wanted = text
                .bytes()
                .position(|b| b == b'\\' || b == b'\n' || (label_value && b == b'"'));
            proptest::prop_assert_eq!(super::find_escaped(text.as_bytes(), label_value), wanted);
        }
    }

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
        for n in [
            1i64,
            9,
            10,
            99,
            1_808_064_429,
            999_999_999_999_999,
            -1_808_064_429,
        ] {
            assert_eq!(format_value(n as f64), n.to_string());
        }
        assert_eq!(format_value(-0.0), "0");
    }

    #[test]
    fn nothing_to_encode_is_an_empty_text() {
        assert_eq!(encode(&[]), "");
    }

    #[test]
    fn what_the_encoder_writes_reads_back() {
        let text = sample_text(1_776_528_500.0);
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

    /// Two families: label values that need escaping, an empty one, and a label-less `last`.
    fn sample_text(last_value: f64) -> String {
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
        last.push(vec![], last_value);
        encode(&[expiry, last])
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// Random and mutated exposition text read back: within the time bound, at most one
        /// series per line, and never more label text out than came in.
        #[test]
        fn read_back_of_mutated_text_stays_within_bounds(
            text in proptest::prop_oneof![
                crate::test_bounds::mutated_text(&sample_text(f64::INFINITY)),
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
