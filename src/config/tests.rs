//! `parse_config` as a spec: what each table yields, and the exact message of each problem.

use std::path::{Path, PathBuf};

use jiff::SignedDuration;

use super::*;
use crate::credential::Basis;

fn parse(text: &str) -> Result<Config, ConfigError> {
    parse_config(text, Path::new("/etc/credwatch/credwatch.toml"))
}

/// The one problem a config has, as `line:column: message`.
fn only_error(text: &str) -> String {
    let err = parse(text).expect_err("config should be rejected");
    assert_eq!(err.problems.len(), 1, "{err}");
    let p = &err.problems[0];
    format!("{}:{}: {}", p.line, p.column, p.message)
}

#[test]
fn a_full_config_validates() {
    let config = parse(
        r#"
[defaults]
ttl = "90d"
warn_before = "14d"
critical_before = "3d"

[pushgateway]
url = "http://pg.monitoring:9091/"
job = "creds"
grouping = { cluster = "eu/1" }
timeout = "10s"
retries = 2

[metrics]
expiry_metric = "claude_oauth_token_expiry_timestamp"
credential_label = "path"

[[credential]]
name = "primary"
pool = "agent"
minted_at = "2026-04-18T12:07:09Z"
labels = { team = "platform" }
runbook = "https://runbooks.example/rotate"

[[credential]]
name = "pat"
expires_at = 1808064429
warn_before = "45d"

[[credential]]
name = "cert"
minted_at = 2026-01-01T00:00:00Z
ttl = "1d12h"

[[source]]
kind = "directory"
name = "cm"
path = "expiry"
content = "minted_at"
"#,
    )
    .unwrap();
    assert_eq!(config.defaults.ttl, SignedDuration::from_hours(90 * 24));
    let pg = config.pushgateway.as_ref().unwrap();
    assert_eq!(pg.url, "http://pg.monitoring:9091");
    assert_eq!(pg.grouping["cluster"], "eu/1");
    assert_eq!(pg.retries, 2);
    assert_eq!(config.metrics.credential_label, "path");
    assert_eq!(
        config.metrics.last_success,
        "credwatch_last_success_timestamp_seconds"
    );

    let [primary, pat, cert] = &config.inventory[..] else {
        panic!("three entries")
    };
    assert_eq!(
        primary
            .declared
            .as_ref()
            .unwrap()
            .minted_at
            .unwrap()
            .as_second(),
        1_776_514_029
    );
    assert_eq!(
        primary
            .declared
            .as_ref()
            .unwrap()
            .expires_at
            .unwrap()
            .as_second(),
        1_776_514_029 + 90 * 86_400
    );
    assert_eq!(
        primary.declared.as_ref().unwrap().basis,
        Basis::MintedAtPlusTtl
    );
    assert_eq!(
        primary.credential.thresholds.warn_before,
        SignedDuration::from_hours(14 * 24)
    );
    assert_eq!(primary.credential.labels["team"], "platform");
    assert_eq!(
        pat.declared
            .as_ref()
            .unwrap()
            .expires_at
            .unwrap()
            .as_second(),
        1_808_064_429
    );
    assert_eq!(pat.declared.as_ref().unwrap().basis, Basis::ExpiresAt);
    assert_eq!(
        pat.credential.thresholds.warn_before,
        SignedDuration::from_hours(45 * 24)
    );
    assert_eq!(
        pat.credential.thresholds.critical_before,
        SignedDuration::from_hours(3 * 24)
    );
    assert_eq!(
        cert.declared
            .as_ref()
            .unwrap()
            .expires_at
            .unwrap()
            .as_second(),
        1_767_225_600 + 36 * 3600
    );

    let [
        Source {
            common,
            kind: SourceKind::Directory(d),
        },
    ] = &config.sources[..]
    else {
        panic!("one source")
    };
    assert_eq!(d.path, Path::new("/etc/credwatch/expiry"));
    assert_eq!(d.content, DirectoryContent::MintedAt);
    assert_eq!(common.ttl, SignedDuration::from_hours(90 * 24));
}

#[test]
fn the_last_second_of_9999_is_accepted_in_every_spelling_and_clamped_as_certificates_are() {
    for value in [
        "\"9999-12-31T23:59:59Z\"",
        "9999-12-31T23:59:59Z",
        "253402300799",
        "\"253402300799\"",
    ] {
        let text = format!("[[credential]]\nname = \"a\"\nexpires_at = {value}\n");
        let config = parse(&text).unwrap_or_else(|e| panic!("{value}: {e}"));
        let declared = config.inventory[0].declared.clone().unwrap();
        assert_eq!(declared.expires_at, Some(jiff::Timestamp::MAX), "{value}");
    }
    // The earliest time the config takes, in both forms.
    for value in ["\"1970-01-01T00:00:01Z\"", "1"] {
        let text = format!("[[credential]]\nname = \"a\"\nexpires_at = {value}\n");
        let config = parse(&text).unwrap_or_else(|e| panic!("{value}: {e}"));
        let declared = config.inventory[0].declared.clone().unwrap();
        assert_eq!(
            declared.expires_at.map(|t| t.as_second()),
            Some(1),
            "{value}"
        );
    }
}

#[test]
fn defaults_are_a_year_thirty_days_and_seven_days() {
    let config = parse("").unwrap();
    assert_eq!(config.defaults.ttl.as_secs(), 365 * 86_400);
    assert_eq!(
        config.defaults.thresholds.warn_before.as_secs(),
        30 * 86_400
    );
    assert_eq!(
        config.defaults.thresholds.critical_before.as_secs(),
        7 * 86_400
    );
    assert!(config.pushgateway.is_none());
    assert_eq!(config.metrics, MetricNames::default());
}

#[test]
fn each_error_names_its_line_column_key_and_expectation() {
    let cases: &[(&str, &str)] = &[
        (
            "[defaults]\nttl = \"0d\"\n",
            "2:7: defaults: `ttl`: expected a positive duration, found `0d`",
        ),
        (
            "[defaults]\nwarn_before = \"-3d\"\n",
            "2:15: defaults: `warn_before`: expected a positive duration",
        ),
        (
            "[defaults]\nttl = 365\n",
            "2:7: defaults: `ttl`: expected a duration string",
        ),
        (
            "[defaults]\nttl = \"1y\"\n",
            "2:7: defaults: `ttl`: expected a duration such as",
        ),
        ("[defaulds]\n", "1:2: unknown field `defaulds`"),
        (
            "[credential]\nname = \"a\"\nminted_at = 1\n",
            "1:1: invalid type: map, expected a sequence; `[[credential]]`, `[[source]]` and `[[format]]` take double brackets",
        ),
        (
            "[[credential]]\nname = \"a\"\nminted_at = 1\nexpire_at = 2\n",
            "4:1: unknown field `expire_at`, expected one of",
        ),
        (
            "[[credential]]\nname = \"a\"\n",
            "2:8: credential `a`: needs `minted_at` (the expiry is minted_at + ttl, 365d by default), `expires_at`, or a value holding a JWT or certificate (`file` or `env`)",
        ),
        (
            "[[credential]]\nname = \"a\"\nminted_at = 1776528429\nexpires_at = 1808064429\n",
            "4:14: credential `a`: give either `minted_at` (with `ttl`) or `expires_at`, not both",
        ),
        (
            "[[credential]]\nname = \"a\"\nminted_at = \"yesterday\"\n",
            "3:13: credential `a`: `minted_at`: expected an RFC 3339 time with an offset",
        ),
        (
            "[[credential]]\nname = \"a\"\nexpires_at = 2027-01-01T00:00:00\n",
            "3:14: credential `a`: `expires_at`: expected a full date and time with an offset",
        ),
        (
            "[[credential]]\nname = \"a\"\nexpires_at = 2027-01-01\n",
            "3:14: credential `a`: `expires_at`: expected a full date and time with an offset",
        ),
        (
            "[[credential]]\nname = \"a\"\nexpires_at = true\n",
            "3:14: credential `a`: `expires_at`: expected an RFC 3339 time",
        ),
        (
            "[[credential]]\nname = \"a\"\nexpires_at = -5\n",
            "3:14: credential `a`: `expires_at`: expected unix seconds after 1970-01-01",
        ),
        (
            "[[credential]]\nname = \"a\"\nexpires_at = \"1969-12-31T23:59:59Z\"\n",
            "3:14: credential `a`: `expires_at`: `1969-12-31T23:59:59Z` is outside the times credwatch supports (from 1970-01-01T00:00:01Z through 9999-12-31T23:59:59Z)",
        ),
        (
            "[[credential]]\nname = \"a\"\nminted_at = 1950-01-01T00:00:00Z\n",
            "3:13: credential `a`: `minted_at`: `1950-01-01T00:00:00Z` is outside the times credwatch supports (from 1970-01-01T00:00:01Z through 9999-12-31T23:59:59Z)",
        ),
        (
            "[[credential]]\nname = \"a\"\nexpires_at = \"9999-12-31T23:59:59-00:01\"\n",
            "3:14: credential `a`: `expires_at`: `9999-12-31T23:59:59-00:01` is outside the times credwatch supports (from 1970-01-01T00:00:01Z through 9999-12-31T23:59:59Z)",
        ),
        (
            "[[credential]]\nname = \"a\"\nexpires_at = 253402300800\n",
            "3:14: credential `a`: `expires_at`: unix seconds `253402300800` are out of range (from 1970-01-01T00:00:01Z through 9999-12-31T23:59:59Z)",
        ),
        (
            "[[credential]]\nname = \"a\"\nexpires_at = 1808064429\nttl = \"30d\"\n",
            "4:7: credential `a`: `ttl` applies to `minted_at` only",
        ),
        (
            "[[credential]]\nname = \"a\"\nminted_at = 1\n[[credential]]\nname = \"a\"\nminted_at = 2\n",
            "5:8: credential `a`: duplicate name (first defined on line 2)",
        ),
        (
            "[[credential]]\nname = \"a\"\nminted_at = 1\nlabels = { \"team-x\" = \"p\" }\n",
            "4:10: credential `a`: `labels`: `team-x` is not a valid Prometheus label name",
        ),
        (
            "[[credential]]\nname = \"a\"\nminted_at = 1\nlabels = { __meta = \"p\" }\n",
            "4:10: credential `a`: `labels`: `__meta` starts with `__`",
        ),
        (
            "[[credential]]\nname = \"a\"\nminted_at = 1\nlabels = { source = \"p\" }\n",
            "4:10: credential `a`: `labels`: `source` is a label credwatch sets itself",
        ),
        (
            "[[credential]]\nname = \"a\"\nminted_at = 1\nlabels = { credential = \"p\" }\n",
            "4:10: credential `a`: `labels`: `credential` is a label credwatch sets itself",
        ),
        (
            "[metrics]\ncredential_label = \"path\"\n[[credential]]\nname = \"a\"\nminted_at = 1\nlabels = { path = \"p\" }\n",
            "6:10: credential `a`: `labels`: `path` is a label credwatch sets itself",
        ),
        (
            "[pushgateway]\nurl = \"http://pg\"\ngrouping = { team = \"x\" }\n[[credential]]\nname = \"a\"\nminted_at = 1\nlabels = { team = \"p\" }\n",
            "7:10: credential `a`: `labels`: `team` is a label credwatch sets itself",
        ),
        (
            "[[credential]]\nname = \"a\"\nminted_at = 1\npool = \"\"\n",
            "4:8: credential `a`: `pool` is empty",
        ),
        (
            "[[credential]]\nname = \"a\"\nminted_at = 1\nwarn_before = \"5d\"\n",
            "4:15: credential `a`: `critical_before` (7d) is longer than `warn_before` (5d)",
        ),
        (
            "[pushgateway]\nurl = \"pg:9091\"\n",
            "2:7: pushgateway: `url`: expected an http:// or https:// URL",
        ),
        (
            "[pushgateway]\nurl = \"http://user:pw@pg:9091\"\n",
            "2:7: pushgateway: `url`: credentials in the URL are not allowed",
        ),
        (
            "[pushgateway]\nurl = \"http://[::1\"\n",
            "2:7: pushgateway: `url`: `http://[::1` is not a valid URL",
        ),
        (
            "[pushgateway]\nurl = \"http://pg\"\nretries = 99\n",
            "3:11: pushgateway: `retries`: expected 0 to 10",
        ),
        (
            "[pushgateway]\nurl = \"http://pg\"\ngrouping = { job = \"x\" }\n",
            "3:12: pushgateway: `grouping`: set the job with `job`",
        ),
        (
            "[metrics]\nexpiry_metric = \"my-metric\"\n",
            "2:17: metrics: `my-metric` is not a valid Prometheus metric name",
        ),
        (
            "[metrics]\nexpiry_metric = \"credwatch_credential_read_ok\"\n",
            "2:17: metrics: `credwatch_credential_read_ok` is a series credwatch (or the Pushgateway) already exports; choose another name",
        ),
        (
            "[metrics]\nlast_success_metric = \"push_time_seconds\"\n",
            "2:23: metrics: `push_time_seconds` is a series credwatch (or the Pushgateway) already exports",
        ),
        (
            "[metrics]\ncredential_label = \"1x\"\n",
            "2:20: metrics: `credential_label`: `1x` is not a valid",
        ),
        (
            "[[source]]\nkind = \"vaultt\"\n",
            "2:8: source: unknown `kind` `vaultt`; expected `directory`, `vault`, `vault-approle` or `vault-token`",
        ),
        (
            "[[source]]\nkind = \"directory\"\n",
            "2:8: source `directory`: a `directory` source needs `path`",
        ),
        (
            "[[source]]\nkind = \"directory\"\npath = \"x\"\ncontent = \"expiry\"\n",
            "4:11: source `directory`: `content`: expected `expires_at` or `minted_at`, found `expiry`",
        ),
        (
            "[[source]]\nkind = \"directory\"\npath = \"x\"\n[[source]]\nkind = \"directory\"\npath = \"y\"\n",
            "5:8: source `directory`: duplicate source name",
        ),
        (
            "[[credential]]\nname = \"a\"\nfile = \"t\"\nenv = \"T\"\n",
            "4:7: credential `a`: give one place for the value, not `file` and `env`",
        ),
        (
            "[[credential]]\nname = \"a\"\nminted_at = 1\nfile = \"t\"\nformat = \"claude\"\n",
            "5:10: credential `a`: `format`: unknown format `claude`; expected one of `claude-oauth`, `github-fine-grained-pat`, `jwt`, `pem-certificate`",
        ),
        (
            "[[credential]]\nname = \"a\"\nminted_at = 1\nformat = \"jwt\"\n",
            "4:10: credential `a`: `format` needs the value: set `file` or `env`",
        ),
        (
            "[[credential]]\nname = \"a\"\nminted_at = 1\nfile = \"t\"\nexpiry_from = \"jwt\"\n",
            "5:15: credential `a`: `expiry_from` takes the expiry from the value; leave out `minted_at`/`expires_at`",
        ),
        (
            "[[credential]]\nname = \"a\"\nfile = \"t\"\nexpiry_from = \"cert\"\n",
            "4:15: credential `a`: `expiry_from`: expected `value`, `jwt`, `x509` or `ssh`, found `cert`",
        ),
        (
            "[[source]]\nkind = \"vault-approle\"\nprefix = \"x\"\n",
            "2:8: source: `prefix` applies to `vault` sources; a `vault-approle` source takes `mount` (the AppRole auth mount) and `roles`",
        ),
        (
            "[[source]]\nkind = \"vault-token\"\n",
            "2:8: source `vault-token`: a `vault-token` source needs `accessors = { name = \"accessor\" }` (`vault token lookup -accessor` shows them)",
        ),
        (
            "[[source]]\nkind = \"vault-approle\"\nroles = [\"a/b\"]\n",
            "3:10: source `vault-approle`: `roles`: `a/b` is not a role name",
        ),
        (
            "[[source]]\nkind = \"vault-approle\"\nmetadata_labels = [\"pool\"]\n",
            "3:20: source `vault-approle`: `metadata_labels`: `pool` is a label credwatch sets itself; rename the metadata key",
        ),
        (
            "[[source]]\nkind = \"vault-approle\"\nlabels = { app = \"x\" }\nmetadata_labels = [\"app\"]\n",
            "4:20: source `vault-approle`: `metadata_labels`: `app` is also in `labels`; keep one",
        ),
        (
            "[[credential]]\nname = \"a\"\nfile = \"t\"\nchain = \"root\"\n",
            "4:9: credential `a`: `chain`: expected `leaf` or `earliest`, found `root`",
        ),
        (
            "[[credential]]\nname = \"a\"\nfile = \"t\"\nformat = \"jwt\"\nchain = \"earliest\"\n",
            "5:9: credential `a`: `chain` applies to expiries read from certificates",
        ),
        (
            "[[format]]\nname = \"acme\"\nmin_length = 40\nmax_length = 20\n",
            "2:8: format `acme`: ",
        ),
        (
            "[[format]]\nname = \"acme\"\npattern = \"([a-z\"\n",
            "2:8: format `acme`: ",
        ),
        (
            "[[format]]\nname = \"acme\"\nmin_length = 0\n",
            "3:14: format `acme`: `min_length` must be a positive number",
        ),
        (
            "[[source]]\nkind = \"vault\"\nprefix = \"a\"\nformat = \"claude-oauth\"\n",
            "4:10: source `vault`: `format` needs `field`",
        ),
        (
            "[[source]]\nkind = \"directory\"\npath = \"x\"\nfield = \"token\"\n",
            "2:8: source: `field` applies to `vault` sources, not to `directory` ones",
        ),
        (
            "[[source]]\nkind = \"vault\"\n",
            "2:8: source `vault`: a `vault` source needs `paths` (secrets to watch), `prefix` (a folder to scan), or a `[[credential]]`",
        ),
        (
            "[[source]]\nkind = \"vault\"\nprefix = \"a\"\nauth = { method = \"approle\", role_id = \"r\" }\n",
            "4:8: source `vault`: the `approle` method needs `auth.secret_id_file`",
        ),
        (
            "[[source]]\nkind = \"vault\"\nprefix = \"a\"\nauth = { method = \"ldap\" }\n",
            "4:19: source `vault`: `auth.method`: expected `token`, `approle`, `jwt` or `kubernetes`, found `ldap`",
        ),
        (
            "[[credential]]\nname = \"a\"\nvault = { path = \"x\" }\n",
            "3:9: credential `a`: `vault` needs a `[[source]] kind = \"vault\"`",
        ),
        (
            "[[source]]\nkind = \"vault\"\nprefix = \"a\"\n[[credential]]\nname = \"a\"\nvault = { path = \"x\" }\nformat = \"jwt\"\n",
            "6:9: credential `a`: reading this value (format check, JWT or certificate) needs `vault.field`",
        ),
        (
            "[[source]]\nkind = \"directory\"\nname = \"inventory\"\npath = \"x\"\n",
            "3:8: source `inventory`: duplicate source name",
        ),
    ];
    for (text, wanted) in cases {
        let got = only_error(text);
        assert!(
            got.starts_with(wanted),
            "config:\n{text}\nwanted: {wanted}\n   got: {got}"
        );
    }
}

#[test]
fn every_problem_is_reported_at_once_with_its_line() {
    let err = parse("[defaults]\nttl = \"0d\"\n[[credential]]\nname = \"a\"\n[[credential]]\nname = \"b\"\nminted_at = \"x\"\n")
        .unwrap_err();
    let lines: Vec<usize> = err.problems.iter().map(|p| p.line).collect();
    assert_eq!(lines, [2, 4, 7]);
    let text = err.to_string();
    assert!(
        text.starts_with("/etc/credwatch/credwatch.toml:2:7: defaults: `ttl`"),
        "{text}"
    );
    assert!(text.contains("\n     7 | minted_at = \"x\""), "{text}");
}

#[test]
fn values_choose_how_the_expiry_is_known() {
    let config = parse(
        r#"
[[format]]
name = "acme-key"
prefix = "acme_"
min_length = 20
max_length = 20

[[credential]]
name = "token"
minted_at = 1776528429
file = "secrets/token"
format = "claude-oauth"

[[credential]]
name = "jwt"
env = "SERVICE_JWT"

[[credential]]
name = "cert"
file = "tls.crt"
format = "pem-certificate"
chain = "earliest"

[[credential]]
name = "key"
expires_at = 1808064429
env = "ACME_KEY"
format = "acme-key"
"#,
    )
    .unwrap();
    let [token, jwt, cert, key] = &config.inventory[..] else {
        panic!("four entries")
    };
    let v = token.value.as_ref().unwrap();
    assert_eq!(
        v.from,
        ValueFrom::File(PathBuf::from("/etc/credwatch/secrets/token"))
    );
    assert_eq!(v.format.as_ref().unwrap().name, "claude-oauth");
    assert_eq!(v.derive, None);
    assert!(token.declared.is_some());
    let v = jwt.value.as_ref().unwrap();
    assert_eq!(v.from, ValueFrom::Env("SERVICE_JWT".into()));
    assert_eq!(v.derive, Some(Derive::Detect { earliest: false }));
    assert!(jwt.declared.is_none());
    assert_eq!(
        cert.value.as_ref().unwrap().derive,
        Some(Derive::X509 { earliest: true })
    );
    assert_eq!(
        key.value.as_ref().unwrap().format.as_ref().unwrap().name,
        "acme-key"
    );
}

/// The kinds of value a key takes, each with values of that shape, odd ones included.
const STRINGS: &[&str] = &[
    "\"\"",
    "\"a\"",
    "\"é✓ 𝄞\"",
    "\"30d\"",
    "\"7d\"",
    "\"0d\"",
    "\"-3d\"",
    "\"1y\"",
    "\"99999999999999999999d\"",
    "\"1d-2h\"",
    "\"2026-04-18T12:07:09Z\"",
    "\"2026-04-18T12:07:09+25:00\"",
    "\"\\u0000\"",
    "\"vault\"",
    "\"directory\"",
    "\"minted_at\"",
    "\"expires_at\"",
    "\"jwt\"",
    "\"pem-certificate\"",
    "\"claude-oauth\"",
    "\"earliest\"",
    "\"leaf\"",
    "\"metadata\"",
    "\"value\"",
    "\"x509\"",
    "\"http://h:1/\"",
    "\"http://u:p@h\"",
    "\"a/../b\"",
    "\"/\"",
    "\"A=B\"",
    "\"inventory\"",
    "\"1x\"",
    "\"__x\"",
];
const ODD: &[&str] = &[
    "0",
    "-1",
    "9223372036854775807",
    "1e400",
    "true",
    "1979-05-27",
    "2026-04-18T12:07:09Z",
    "2027-01-01T00:00:00",
    "{}",
    "[]",
    "1776528429",
];
const INTS: &[&str] = &["0", "1", "-1", "257", "9223372036854775807", "\"3\""];
const TABLES: &[&str] = &[
    "{}",
    "{ team = \"x\" }",
    "{ \"\" = \"\" }",
    "{ source = \"x\" }",
    "{ job = \"x\" }",
    "{ \"a-b\" = \"x\" }",
    "[]",
];
const ARRAYS: &[&str] = &[
    "[]",
    "[\"a/b\", \"\"]",
    "[\"a\", \"a\"]",
    "[\"*/old-*\"]",
    "\"a\"",
];
const VAULT_REFS: &[&str] = &[
    "{ path = \"x\" }",
    "{ path = \"x\", field = \"f\" }",
    "{ path = \"/\", source = \"v\" }",
    "{ path = \"x\", field = \"\", source = \"nope\" }",
    "{}",
];
const AUTHS: &[&str] = &[
    "{ method = \"token\" }",
    "{ method = \"token\", token_file = \"t\" }",
    "{ method = \"kubernetes\", role = \"r\" }",
    "{ method = \"kubernetes\", role = \"\" }",
    "{ method = \"jwt\", role = \"r\" }",
    "{ method = \"jwt\", role_id = \"r\" }",
    "{ method = \"approle\", role_id = \"r\", secret_id_file = \"s\" }",
    "{ method = \"approle\", role_id = \"r\", role_id_file = \"f\", secret_id_file = \"s\" }",
    "{ method = \"ldap\" }",
];

/// A key and the values it gets.
type KeyShape = (&'static str, &'static [&'static str]);

/// Each table's header and keys, the first one required (serde stops at a missing one).
const SHAPES: &[(&str, &[KeyShape])] = &[
    (
        "[defaults]",
        &[
            ("ttl", STRINGS),
            ("warn_before", STRINGS),
            ("critical_before", STRINGS),
            ("pool_warn_before", STRINGS),
            ("pool_spread", STRINGS),
        ],
    ),
    (
        "[pushgateway]",
        &[
            ("url", STRINGS),
            ("job", STRINGS),
            ("timeout", STRINGS),
            ("retries", INTS),
            ("grouping", TABLES),
            ("token_file", STRINGS),
        ],
    ),
    (
        "[metrics]",
        &[
            ("expiry_metric", STRINGS),
            ("last_success_metric", STRINGS),
            ("credential_label", STRINGS),
            ("extra_series", &["true", "false"]),
        ],
    ),
    (
        "[alerts]",
        &[
            ("prefix", STRINGS),
            ("warning_severity", STRINGS),
            ("run_interval", STRINGS),
            ("stale_after", STRINGS),
            ("expiring_for", STRINGS),
            ("labels", TABLES),
        ],
    ),
    (
        "[[credential]]",
        &[
            ("name", STRINGS),
            ("pool", STRINGS),
            ("labels", TABLES),
            ("minted_at", STRINGS),
            ("minted_at", ODD),
            ("expires_at", STRINGS),
            ("expires_at", ODD),
            ("ttl", STRINGS),
            ("warn_before", STRINGS),
            ("critical_before", STRINGS),
            ("file", STRINGS),
            ("env", STRINGS),
            ("format", STRINGS),
            ("expiry_from", STRINGS),
            ("chain", STRINGS),
            ("vault", VAULT_REFS),
        ],
    ),
    (
        "[[source]]",
        &[
            ("kind", STRINGS),
            ("name", STRINGS),
            ("path", STRINGS),
            ("content", STRINGS),
            ("address", STRINGS),
            ("mount", STRINGS),
            ("paths", ARRAYS),
            ("prefix", STRINGS),
            ("include", ARRAYS),
            ("concurrency", INTS),
            ("retries", INTS),
            ("timeout", STRINGS),
            ("auth", AUTHS),
            ("field", STRINGS),
            ("format", STRINGS),
            ("ttl", STRINGS),
            ("pool", STRINGS),
            ("labels", TABLES),
            ("warn_before", STRINGS),
        ],
    ),
    (
        "[[format]]",
        &[
            ("name", STRINGS),
            ("prefix", STRINGS),
            ("min_length", INTS),
            ("max_length", INTS),
            ("pattern", STRINGS),
        ],
    ),
];

/// Text shaped like a config: tables with their own keys, each key with a value of its shape or,
/// now and then, of any shape; now and then a line of arbitrary text.
fn config_shaped_text() -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::prelude::*;
    use proptest::sample::{Index, select};
    let table = (
        select(SHAPES),
        proptest::collection::vec((any::<Index>(), any::<Index>(), 0..10u8), 0..8),
    )
        .prop_map(|((header, keys), picks)| {
            let mut lines = vec![header.to_string()];
            let mut used = Vec::new();
            let first = std::iter::once((0, None, 1));
            let rest = picks
                .iter()
                .map(|(k, v, odd)| (k.index(keys.len()), Some(v), *odd));
            for (k, v, odd) in first.chain(rest) {
                let (key, values) = keys[k];
                if used.contains(&key) {
                    continue;
                }
                used.push(key);
                let values = if odd == 0 { ODD } else { values };
                let value = v.map_or(values[0], |v| values[v.index(values.len())]);
                lines.push(format!("{key} = {value}"));
            }
            lines.join("\n")
        });
    let part = prop_oneof![9 => table, 1 => "\\PC{0,40}"];
    proptest::collection::vec(part, 0..6).prop_map(|parts| parts.join("\n"))
}

proptest::proptest! {
    // About half of the shaped texts get past serde to the validator, so a few hundred go
    // further than thousands of random strings, nearly all of which the TOML parser rejects at
    // once (and that took most of the unit tests' time).
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

    /// Any config-shaped text, odd lines included, gets a config or an error, never a panic.
    #[test]
    fn arbitrary_text_never_panics(text in config_shaped_text()) {
        let _ = parse(&text);
    }

}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

    /// Near-valid configs, with values mutated into every odd shape.
    #[test]
    fn odd_values_never_panic(
        key in proptest::sample::select(vec!["minted_at", "expires_at", "ttl", "warn_before", "critical_before", "pool", "labels", "file", "env", "format", "chain", "expiry_from"]),
        value in proptest::sample::select(vec!["\"\"", "0", "-1", "9223372036854775807", "1e400", "\"99999999999999999999d\"", "\"1d-2h\"", "{}", "[]", "true", "1979-05-27", "\"\\u0000\"", "{ \"\" = \"\" }", "\"2026-04-18T12:07:09+25:00\""]),
        pool_kind in proptest::sample::select(vec!["directory", "", "vault"]),
    ) {
        let text = format!("[[credential]]\nname = \"a\"\n{key} = {value}\n\n[[source]]\nkind = \"{pool_kind}\"\npath = \"x\"\n");
        let _ = parse(&text);
    }
}

#[test]
fn consumers_name_their_copy_and_its_credential() {
    let config = parse(
        "[alerts]\npropagation_grace = \"2h\"\n\
         [[consumer]]\ncredential = \"primary\"\nenv = \"CLAUDE_CODE_OAUTH_TOKEN\"\n\
         [[consumer]]\ncredential = \"primary\"\nfile = \"secrets/token\"\nname = \"batch\"\n",
    )
    .unwrap();
    assert_eq!(
        config.alerts.propagation_grace,
        SignedDuration::from_hours(2)
    );
    assert_eq!(
        config.consumers,
        [
            Consumer {
                credential: "primary".into(),
                from: ValueFrom::Env("CLAUDE_CODE_OAUTH_TOKEN".into()),
                name: None,
            },
            Consumer {
                credential: "primary".into(),
                from: ValueFrom::File(PathBuf::from("/etc/credwatch/secrets/token")),
                name: Some("batch".into()),
            },
        ]
    );
    assert_eq!(
        parse("").unwrap().alerts.propagation_grace,
        SignedDuration::from_mins(90),
        "the default covers an ExternalSecret's hourly refresh and a margin"
    );
    assert_eq!(
        only_error("[[consumer]]\ncredential = \"primary\"\n"),
        "2:14: consumer of `primary`: expected `env = \"VARIABLE\"` or `file = \"path\"`: where the workload sees its copy"
    );
    assert_eq!(
        only_error("[[consumer]]\ncredential = \"primary\"\nenv = \"A\"\nfile = \"b\"\n"),
        "2:14: consumer of `primary`: give `env` or `file`, not both (one copy per `[[consumer]]`)"
    );
}

#[test]
fn a_vault_source_may_only_connect_its_credentials() {
    let config = parse(
        "[[source]]\nkind = \"vault\"\n\
         [[credential]]\nname = \"primary\"\nvault = { path = \"agent\", field = \"token\" }\n",
    )
    .unwrap();
    let vault = config.sources[0].kind.as_vault().unwrap();
    assert!(vault.paths.is_empty() && vault.prefix.is_none());
}
