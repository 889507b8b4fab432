//! Errors of a failed import: every bad row with its file and line, or an internal failure.

use std::{fmt, path::Path};

use crate::error::Error;

/// One thing wrong with an input file, or a conflict between the file and the database.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The file name, without its folder, as it appears in messages.
    pub file: String,
    /// The 1-based line where the bad row starts, when the problem belongs to one row.
    pub line: Option<u64>,
    /// Description of the fault, with the offending value and the fix.
    pub message: String,
}

impl Problem {
    /// Builds a problem of one row of `file`.
    pub fn at(file: &str, line: Option<u64>, message: impl Into<String>) -> Self {
        Problem {
            file: file.to_owned(),
            line,
            message: message.into(),
        }
    }

    /// Builds a problem of a whole file, such as a missing column or unreadable file.
    pub fn in_file(file: &str, message: impl Into<String>) -> Self {
        Problem::at(file, None, message)
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{} line {line}: {}", self.file, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

/// The reason an import wrote nothing.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// Some rows are invalid or conflict with the database. Every problem found is listed, and
    /// the database is unchanged.
    #[error("{}", rejection_text(.0))]
    Rejected(Vec<Problem>),
    /// The database or the file system failed; the database is unchanged.
    #[error("import failed: {0:#}")]
    Failed(anyhow::Error),
}

impl ImportError {
    /// Returns the problems of a rejected import, or none for a failed one.
    pub fn problems(&self) -> &[Problem] {
        match self {
            ImportError::Rejected(problems) => problems,
            ImportError::Failed(_) => &[],
        }
    }
}

fn rejection_text(problems: &[Problem]) -> String {
    let count = problems.len();
    let noun = if count == 1 { "problem" } else { "problems" };
    let pronoun = if count == 1 { "it" } else { "them" };
    let mut text = format!(
        "nothing was imported because the input has {count} {noun}; fix {pronoun} and run the import again:"
    );
    for problem in problems {
        text.push_str("\n  ");
        text.push_str(&problem.to_string());
    }
    text
}

impl From<Error> for ImportError {
    /// Converts a service error that belongs to no row. The caller turns a rejection of a row
    /// into a [`Problem`], because only it has the row's file and line.
    fn from(err: Error) -> Self {
        match err {
            Error::Internal(err) => ImportError::Failed(err),
            rejected => ImportError::Failed(anyhow::anyhow!(rejected.message())),
        }
    }
}

/// Returns the name of `path` as shown in messages: its file name, or the whole path when it
/// has none.
pub fn file_label(path: &Path) -> String {
    path.file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// Reads a whole input file as UTF-8 text.
pub fn read_text(path: &Path) -> Result<String, Problem> {
    let label = file_label(path);
    let bytes = std::fs::read(path).map_err(|err| {
        Problem::in_file(
            &label,
            format!("cannot be read from {}: {err}", path.display()),
        )
    })?;
    let text = String::from_utf8(bytes).map_err(|err| {
        Problem::in_file(
            &label,
            format!(
                "is not valid UTF-8 (invalid byte at offset {}); save the file as UTF-8",
                err.utf8_error().valid_up_to()
            ),
        )
    })?;
    // A byte order mark is legal in UTF-8 files but not part of the content.
    Ok(text
        .strip_prefix('\u{feff}')
        .map(str::to_owned)
        .unwrap_or(text))
}
