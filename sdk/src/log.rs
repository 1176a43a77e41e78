//! Logging to the host's log, tagged with the plugin's name and version.
//!
//! ```no_run
//! switchboard_sdk::log::info("webhook verified");
//! switchboard_sdk::log!(warn, "unknown message type {}", "sticker");
//! ```

use crate::LogLevel;
use crate::wit::base::switchboard::plugin::host;

/// Writes a line at the given level.
pub fn write(level: LogLevel, message: &str) {
    host::log(level, message);
}
/// Writes a `trace` line.
pub fn trace(message: impl AsRef<str>) {
    write(LogLevel::Trace, message.as_ref());
}
/// Writes a `debug` line.
pub fn debug(message: impl AsRef<str>) {
    write(LogLevel::Debug, message.as_ref());
}
/// Writes an `info` line.
pub fn info(message: impl AsRef<str>) {
    write(LogLevel::Info, message.as_ref());
}
/// Writes a `warn` line.
pub fn warn(message: impl AsRef<str>) {
    write(LogLevel::Warn, message.as_ref());
}
/// Writes an `error` line.
pub fn error(message: impl AsRef<str>) {
    write(LogLevel::Error, message.as_ref());
}

/// Formats and logs a line: `log!(info, "x = {}", x)`; the level is one of
/// `trace`, `debug`, `info`, `warn`, `error`.
#[macro_export]
macro_rules! log {
    ($level:ident, $($arg:tt)+) => {
        $crate::log::$level(::std::format!($($arg)+))
    };
}
