//! Load errors: each one located (file, line, column) and named by its dotted key, so
//! `switchyard check` can print every problem of a file at once, compiler style.

use std::fmt;

/// One problem in a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The path as the caller gave it.
    pub file: String,
    /// 1-based.
    pub line: usize,
    /// 1-based, in characters.
    pub column: usize,
    /// Dotted path such as `models[0].endpoints[1].prompt_price`; empty for a TOML
    /// syntax error, which has no key to name.
    pub key: String,
    pub message: String,
}

/// `file:line:column: `key`: message`, the key part dropped when there is none.
impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = self;
        write!(f, "{}:{}:{}: ", e.file, e.line, e.column)?;
        if !e.key.is_empty() {
            write!(f, "`{}`: ", e.key)?;
        }
        f.write_str(&e.message)
    }
}

impl std::error::Error for ConfigError {}

/// Every problem found in one file, in file order; never empty when returned by `load`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadErrors(pub Vec<ConfigError>);

impl LoadErrors {
    pub fn iter(&self) -> std::slice::Iter<'_, ConfigError> {
        self.0.iter()
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<'a> IntoIterator for &'a LoadErrors {
    type Item = &'a ConfigError;
    type IntoIter = std::slice::Iter<'a, ConfigError>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl fmt::Display for LoadErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for LoadErrors {}
