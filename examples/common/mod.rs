//! Small helpers shared by the examples (not an example itself).
#![allow(dead_code)]

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

/// Command-line flags of the form `--name value`, `--flag`, and positional arguments.
pub struct Args {
    items: Vec<String>,
}

impl Args {
    /// The process's arguments.
    pub fn from_env() -> Self {
        Args {
            items: std::env::args().skip(1).collect(),
        }
    }

    /// Removes `--name value` and returns the value.
    pub fn value(&mut self, name: &str) -> Result<Option<String>, String> {
        match self.items.iter().position(|a| a == name) {
            Some(i) => {
                if i + 1 >= self.items.len() {
                    return Err(format!("{name} needs a value"));
                }
                let value = self.items.remove(i + 1);
                self.items.remove(i);
                Ok(Some(value))
            }
            None => Ok(None),
        }
    }

    /// Removes `--name value` and parses it.
    pub fn parsed<T: std::str::FromStr>(&mut self, name: &str) -> Result<Option<T>, String>
    where
        T::Err: std::fmt::Display,
    {
        match self.value(name)? {
            Some(v) => v.parse().map(Some).map_err(|e| format!("{name} `{v}`: {e}")),
            None => Ok(None),
        }
    }

    /// Removes `--flag` and says whether it was there.
    pub fn flag(&mut self, name: &str) -> bool {
        match self.items.iter().position(|a| a == name) {
            Some(i) => {
                self.items.remove(i);
                true
            }
            None => false,
        }
    }

    /// What is left: positional arguments. An unknown `--option` is an error.
    pub fn rest(self) -> Result<Vec<String>, String> {
        if let Some(unknown) = self.items.iter().find(|a| a.starts_with("--")) {
            return Err(format!("unknown option `{unknown}`; try --help"));
        }
        Ok(self.items)
    }
}

/// Prints `message` and exits with status 2 (bad usage) or 1 (failure).
pub fn exit_with(message: &str, status: i32) -> ! {
    eprintln!("{message}");
    std::process::exit(status)
}
