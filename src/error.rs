//! The library's errors and the exit codes they map to: 1 failure, 2 bad input.

use crate::scenario::ScenarioError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A scenario file that does not parse or validate.
    #[error("{0}")]
    Scenario(Box<ScenarioError>),
    /// A command line that asks for something impossible.
    #[error("{0}")]
    Usage(String),
    /// Anything else: I/O, a broken environment.
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl Error {
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Scenario(_) | Error::Usage(_) => 2,
            Error::Other(_) => 1,
        }
    }
}

impl From<ScenarioError> for Error {
    fn from(e: ScenarioError) -> Self {
        Error::Scenario(Box::new(e))
    }
}
