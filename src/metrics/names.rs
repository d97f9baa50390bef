//! The one home of every series and label name credwatch emits, reads back or queries.
//!
//! Encoding ([`super::families`]), reading a previous delivery back ([`super::known_from_series`]),
//! the alert rules and their promtool tests (`render::rules`, `render::rule_tests`) all take their
//! names from here. The expiry and last-success series and the credential label can be renamed by
//! `[metrics]`; their defaults live here too. A test renders the rules and rule tests of several
//! configs and checks that every name they reference is one `push --dry-run` emits.

// Per credential.
/// Default name of the expiry series (`[metrics] expiry_metric` renames it).
pub const EXPIRY: &str = "credwatch_credential_expiry_timestamp_seconds";
pub const MINTED: &str = "credwatch_credential_minted_timestamp_seconds";
/// When the credential's validity starts, where the value states it (an X.509 `notBefore`, an
/// OpenSSH certificate's `valid after`), past or future.
pub const NOT_BEFORE: &str = "credwatch_credential_not_before_timestamp_seconds";
pub const WARN_BEFORE: &str = "credwatch_credential_warn_before_seconds";
pub const CRITICAL_BEFORE: &str = "credwatch_credential_critical_before_seconds";
pub const READ_OK: &str = "credwatch_credential_read_ok";
pub const FORMAT_OK: &str = "credwatch_credential_format_ok";
pub const INFO: &str = "credwatch_credential_info";
pub const REPLACEMENT_AVAILABLE: &str = "credwatch_credential_replacement_available";
/// 1 the issuer accepted the credential when last probed, 0 not (rejected or no verdict).
pub const PROBE_OK: &str = "credwatch_credential_probe_ok";
/// 1 the issuer rejected the credential when last probed, 0 otherwise.
pub const PROBE_REJECTED: &str = "credwatch_credential_probe_rejected";
/// When the credential was last probed (the cached result's time).
pub const PROBE_TIMESTAMP: &str = "credwatch_credential_probe_timestamp_seconds";

// Per pool.
pub const POOL_MEMBERS: &str = "credwatch_pool_members";
pub const POOL_DISTINCT: &str = "credwatch_pool_distinct_credentials";
pub const POOL_RUNWAY_EXPIRY: &str = "credwatch_pool_runway_expiry_timestamp_seconds";
pub const POOL_RUNWAY_WARN_BEFORE: &str = "credwatch_pool_runway_warn_before_seconds";

// Consumers (copies of a stored credential where they are used) and what the store recorded.
/// 1 per consumer whose copy was read, with the copy's fingerprint (no Vault access needed).
pub const CONSUMER_FINGERPRINT: &str = "credwatch_consumer_fingerprint_info";
/// 1 if the consumer's copy was read, 0 if not (unset, unreadable, empty).
pub const CONSUMER_READ_OK: &str = "credwatch_consumer_read_ok";
/// The expiry of each value a store holds (`state="current"`) or held (`state="replaced"`), by
/// fingerprint, as credwatch recorded it.
pub const STORED_VALUE_EXPIRY: &str = "credwatch_stored_value_expiry_timestamp_seconds";
/// When the store stopped holding a value (a replaced one's fingerprint).
pub const STORED_VALUE_REPLACED: &str = "credwatch_stored_value_replaced_timestamp_seconds";

// Per source and per run.
pub const SOURCE_UP: &str = "credwatch_source_up";
pub const SOURCE_ERROR: &str = "credwatch_source_error";
/// Default name of the last-success series (`[metrics] last_success_metric` renames it).
pub const LAST_SUCCESS: &str = "credwatch_last_success_timestamp_seconds";
pub const LAST_RUN: &str = "credwatch_last_run_timestamp_seconds";
pub const RUN_DURATION: &str = "credwatch_run_duration_seconds";
pub const BUILD_INFO: &str = "credwatch_build_info";

/// The families whose names `[metrics]` cannot rename, which a renamed expiry or last-success
/// series must not take (a second family of the same name breaks the exposition).
pub const FIXED: &[&str] = &[
    MINTED,
    NOT_BEFORE,
    WARN_BEFORE,
    CRITICAL_BEFORE,
    READ_OK,
    FORMAT_OK,
    INFO,
    REPLACEMENT_AVAILABLE,
    POOL_MEMBERS,
    POOL_DISTINCT,
    POOL_RUNWAY_EXPIRY,
    POOL_RUNWAY_WARN_BEFORE,
    SOURCE_UP,
    SOURCE_ERROR,
    LAST_RUN,
    RUN_DURATION,
    BUILD_INFO,
    PUSHGATEWAY_PUSH_TIME,
    PUSHGATEWAY_PUSH_FAILURE_TIME,
];

// Series the Pushgateway itself adds to every group it holds (queried by the push-failure alert).
pub const PUSHGATEWAY_PUSH_TIME: &str = "push_time_seconds";
pub const PUSHGATEWAY_PUSH_FAILURE_TIME: &str = "push_failure_time_seconds";

// Label names.
/// Default name of the label naming the credential (`[metrics] credential_label` renames it).
pub const CREDENTIAL_LABEL: &str = "credential";
pub const POOL_LABEL: &str = "pool";
pub const SOURCE_LABEL: &str = "source";
pub const KIND_LABEL: &str = "kind";
pub const FORMAT_LABEL: &str = "format";
pub const FINGERPRINT_LABEL: &str = "fingerprint";
pub const REASON_LABEL: &str = "reason";
/// The credential's own runbook (else its source's) on [`INFO`], for the alerts' `runbook_url`.
pub const RUNBOOK_LABEL: &str = "runbook";
pub const VERSION_LABEL: &str = "version";
/// The probe preset (`github`, …) on the probe series.
pub const PROBE_LABEL: &str = "probe";
/// `2xx`, `4xx`, `5xx`, … or `none` (no answer) on `credwatch_credential_probe_ok`.
pub const STATUS_CLASS_LABEL: &str = "status_class";
pub const CONSUMER_LABEL: &str = "consumer";
pub const STATE_LABEL: &str = "state";
/// Values of [`STATE_LABEL`] on [`STORED_VALUE_EXPIRY`].
pub const STATE_CURRENT: &str = "current";
pub const STATE_REPLACED: &str = "replaced";
/// Labels Prometheus attaches to every scraped series; the rules join on them.
pub const JOB_LABEL: &str = "job";
pub const INSTANCE_LABEL: &str = "instance";
