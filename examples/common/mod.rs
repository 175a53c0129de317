//! Small helpers shared by the examples (not an example itself).
#![allow(dead_code)]

pub mod plot;

/// Mean and sample standard deviation.
pub fn mean_std(values: &[f64]) -> (f64, f64) {
    let n = values.len().max(1) as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = if values.len() > 1 {
        values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    (mean, var.sqrt())
}

/// What a command line asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Cli<T> {
    /// Run with these settings.
    Run(T),
    /// Print the usage (`--help` or `-h`).
    Help,
}

/// The value of the option just read (`name`, for messages), parsed.
pub fn number<T: std::str::FromStr>(parser: &mut lexopt::Parser, name: &str) -> Result<T, lexopt::Error>
where
    T::Err: std::fmt::Display,
{
    use lexopt::ValueExt;
    let text = parser.value()?.string()?;
    text.parse()
        .map_err(|e| lexopt::Error::from(format!("{name} `{text}`: {e}")))
}

/// The settings of a parsed command line, or what to print and the exit status: the usage
/// and 0 for `--help`; the error, the usage and 2 (bad usage) for a bad command line.
pub fn settings<T>(parsed: Result<Cli<T>, lexopt::Error>, usage: &str) -> Result<T, (String, i32)> {
    match parsed {
        Ok(Cli::Run(settings)) => Ok(settings),
        Ok(Cli::Help) => Err((usage.to_owned(), 0)),
        Err(error) => Err((format!("error: {error}\n{usage}"), 2)),
    }
}

/// [`settings`], or print (the usage to standard output, errors to standard error) and exit.
pub fn settings_or_exit<T>(parsed: Result<Cli<T>, lexopt::Error>, usage: &str) -> T {
    settings(parsed, usage).unwrap_or_else(|(message, status)| {
        if status == 0 {
            // Written without `println!`, which panics when the reader has gone (`--help | head`).
            use std::io::Write;
            let _ = writeln!(std::io::stdout(), "{message}");
            std::process::exit(0)
        }
        exit_with(&message, status)
    })
}

/// Prints `message` and exits with status 2 (bad usage) or 1 (failure).
pub fn exit_with(message: &str, status: i32) -> ! {
    eprintln!("{message}");
    std::process::exit(status)
}
