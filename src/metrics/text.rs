//! The Prometheus text exposition format 0.0.4, the one the Pushgateway, node_exporter's textfile
//! collector and a `/metrics` scrape all accept. Pure: encodes into a `String`, no I/O.
//!
//! Label values escape `\`, `"` and newline; HELP escapes `\` and newline; no timestamps are
//! written (the Pushgateway rejects them); the text ends with a newline.

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
}
