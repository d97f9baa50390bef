//! Pure renderers: a validated config → the files operators deploy next to credwatch.

pub mod dashboard;
pub mod k8s;
pub mod rule_tests;
pub mod rules;
pub mod sidecar;
pub mod vault_k8s_role;
pub mod vault_policy;
