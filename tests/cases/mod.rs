mod alerting;
mod check;
mod leaks;
mod push;
mod push_faults;
mod render_k8s;
mod render_rules;
mod rotate;
pub mod values;
