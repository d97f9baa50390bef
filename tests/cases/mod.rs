mod check;
mod push;
mod push_faults;
mod render_rules;
