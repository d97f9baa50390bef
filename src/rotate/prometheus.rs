//! The consumers' copies as Prometheus sees them (edge I/O, one instant query per call), for
//! `rotate --wait`: `credwatch_consumer_fingerprint_info` gives each consumer's fingerprint,
//! `credwatch_consumer_read_ok == 0` the consumers whose copy is unreadable. Answers are bounded
//! in time and size; [`parse_copies`] is the pure part.

use std::time::Duration;

use crate::credential::ConsumerCopy;
use crate::metrics::names;
use crate::rotate::wait::Consumers;

/// Largest answer read: a few thousand consumers fit many times over.
const MAX_ANSWER_BYTES: u64 = 4 * 1024 * 1024;

/// Prometheus's HTTP API at `url`.
pub struct Api {
    pub url: String,
    /// The credential label's name (`[metrics] credential_label`).
    pub credential_label: String,
    pub timeout: Duration,
}

impl Api {
    fn query(&self, expr: &str) -> Result<String, String> {
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(self.timeout))
            .http_status_as_error(false)
            .build();
        let agent = crate::net::agent::agent(config);
        let url = format!("{}/api/v1/query", self.url.trim_end_matches('/'));
        let mut response = agent
            .get(&url)
            .query("query", expr)
            .call()
            .map_err(|e| format!("cannot query Prometheus at `{url}`: {e}"))?;
        let status = response.status().as_u16();
        let body = response
            .body_mut()
            .with_config()
            .limit(MAX_ANSWER_BYTES)
            .read_to_string()
            .map_err(|e| format!("cannot read Prometheus's answer from `{url}`: {e}"))?;
        if status != 200 {
            return Err(format!(
                "Prometheus at `{url}` answered {status}: {}",
                body.chars().take(200).collect::<String>()
            ));
        }
        Ok(body)
    }
}

impl Consumers for Api {
    fn copies(&self, credential: &str) -> Result<Vec<ConsumerCopy>, String> {
        let c = &self.credential_label;
        // A JSON string is a valid PromQL string literal.
        let quoted = serde_json::to_string(credential).map_err(|e| e.to_string())?;
        let selector = format!("{{{c}={quoted}}}");
        let fingerprints = self.query(&format!("{}{selector}", names::CONSUMER_FINGERPRINT))?;
        let unreadable = self.query(&format!("{}{selector} == 0", names::CONSUMER_READ_OK))?;
        let mut copies = parse_copies(&fingerprints, c, credential, true)?;
        copies.extend(parse_copies(&unreadable, c, credential, false)?);
        Ok(copies)
    }
}

/// The consumers in an instant-query answer: with their `fingerprint` label (`readable`), else
/// as unreadable copies. A consumer reported twice keeps its first answer. Pure.
pub fn parse_copies(
    body: &str,
    credential_label: &str,
    credential: &str,
    readable: bool,
) -> Result<Vec<ConsumerCopy>, String> {
    let doc: serde_json::Value =
        serde_json::from_str(body).map_err(|e| format!("Prometheus's answer is not JSON: {e}"))?;
    if doc["status"] != "success" {
        return Err(format!(
            "Prometheus's query failed: {}",
            doc["error"].as_str().unwrap_or("no reason given")
        ));
    }
    let mut out: Vec<ConsumerCopy> = Vec::new();
    for r in doc["data"]["result"].as_array().into_iter().flatten() {
        let metric = &r["metric"];
        if metric[credential_label] != credential {
            continue;
        }
        let Some(consumer) = metric[names::CONSUMER_LABEL].as_str() else {
            continue;
        };
        if out.iter().any(|c| c.consumer == consumer) {
            continue;
        }
        let fingerprint = match (readable, metric[names::FINGERPRINT_LABEL].as_str()) {
            (true, Some(f)) => Ok(f.to_string()),
            _ => Err("its copy cannot be read".to_string()),
        };
        out.push(ConsumerCopy {
            credential: credential.to_string(),
            consumer: consumer.to_string(),
            fingerprint,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_gives_each_consumer_once() {
        let body = r#"{"status":"success","data":{"resultType":"vector","result":[
            {"metric":{"credential":"primary","consumer":"pod-a","fingerprint":"fp-1","pod":"pod-a"},"value":[1,"1"]},
            {"metric":{"credential":"primary","consumer":"pod-a","fingerprint":"fp-2"},"value":[1,"1"]},
            {"metric":{"credential":"other","consumer":"pod-x","fingerprint":"fp-3"},"value":[1,"1"]},
            {"metric":{"credential":"primary","consumer":"pod-b","fingerprint":"fp-2"},"value":[1,"1"]}
        ]}}"#;
        let copies = parse_copies(body, "credential", "primary", true).unwrap();
        let got: Vec<(&str, &str)> = copies
            .iter()
            .map(|c| (c.consumer.as_str(), c.fingerprint.as_deref().unwrap()))
            .collect();
        assert_eq!(got, [("pod-a", "fp-1"), ("pod-b", "fp-2")]);
        let unreadable = parse_copies(body, "credential", "primary", false).unwrap();
        assert!(unreadable[0].fingerprint.is_err());
        let err = parse_copies(
            r#"{"status":"error","error":"parse error"}"#,
            "credential",
            "p",
            true,
        )
        .unwrap_err();
        assert_eq!(err, "Prometheus's query failed: parse error");
        assert!(parse_copies("<html>", "credential", "p", true).is_err());
    }
}
