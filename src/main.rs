//! The `credwatch` binary: parse the command line, run, exit with the code the run chose.

fn main() -> std::process::ExitCode {
    let code = match credwatch::run::parse_args() {
        Ok(cli) => credwatch::run(cli),
        Err(code) => code,
    };
    std::process::ExitCode::from(code as u8)
}
