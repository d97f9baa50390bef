mod check;
mod push;
mod push_faults;
