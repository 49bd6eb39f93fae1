//! The one error type of the core. The binding maps it to Python exceptions in one place
//! (`fastcap-py/src/errors.rs`): format errors become subclasses of `ValueError`.

use std::fmt;

/// Which file format (or stream format) a [`FormatError`] belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    CborCapture,
    EventStream,
    Sse,
    MitmLog,
    Tnetstring,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::CborCapture => "CBOR V2 capture",
            Format::EventStream => "AWS EventStream",
            Format::Sse => "SSE",
            Format::MitmLog => "mitmdump log",
            Format::Tnetstring => "mitmproxy flow file",
        }
    }
}

/// A malformed input: what was expected, where (byte offset), and a machine-readable kind.
#[derive(Debug, Clone, PartialEq)]
pub struct FormatError {
    pub format: Format,
    /// Machine-readable class, e.g. `bad_magic`, `truncated_tail`, `PreludeChecksumMismatch`.
    pub kind: String,
    /// Byte offset of the offending item in the input.
    pub offset: u64,
    /// Human-readable one-line message (without the file name; the caller adds it).
    pub message: String,
}

impl FormatError {
    pub fn new(format: Format, kind: impl Into<String>, offset: u64, message: impl Into<String>) -> Self {
        FormatError { format, kind: kind.into(), offset, message: message.into() }
    }
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "byte {}: {} ({})", self.offset, self.message, self.kind)
    }
}

#[derive(Debug)]
pub enum Error {
    Io(std::io::Error),
    Format(FormatError),
    /// A long-running call was interrupted (Ctrl-C seen between batches).
    Interrupted,
    Arrow(String),
}

pub type Result<T> = std::result::Result<T, Error>;

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "{e}"),
            Error::Format(e) => write!(f, "{e}"),
            Error::Interrupted => write!(f, "interrupted"),
            Error::Arrow(e) => write!(f, "arrow: {e}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(e)
    }
}

impl From<FormatError> for Error {
    fn from(e: FormatError) -> Self {
        Error::Format(e)
    }
}

impl From<arrow_schema::ArrowError> for Error {
    fn from(e: arrow_schema::ArrowError) -> Self {
        Error::Arrow(e.to_string())
    }
}
