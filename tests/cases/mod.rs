mod alerting;
mod check;
mod push;
mod push_faults;
mod render_k8s;
mod render_rules;
