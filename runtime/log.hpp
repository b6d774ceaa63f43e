#pragma once
// The library's one log sink, process-wide (like a process's stderr, it is
// shared by every Runtime, store and gateway in the process; the stores have
// no Runtime to hang it on).
//
//   troupe::log_warning("redis", "connection lost", {{"url", url}, {"error", why}});
//   troupe::set_log_level(troupe::LogLevel::debug);
//   troupe::set_log_format(troupe::LogFormat::json);        // the default sink's lines
//   troupe::set_log_sink([](const troupe::LogRecord& r) { ... });  // the application's own
//
// Default: text lines on stderr, records below info dropped. A text line is
//
//   2026-12-03T12:10:18.123Z warning redis: connection lost url=redis://127.0.0.1:6379 error="..."
//
// and a JSON line is one object: {"time":"...","level":"warning",
// "component":"redis","message":"connection lost","url":"...","error":"..."}
// (the fields are top-level keys after the four fixed ones, values strings).
//
// Every function here may be called from any thread. A sink may run on
// several threads at once (each scheduler's, the stores' loop threads): it
// must be thread-safe, quick, and must not log itself. A record below the
// level costs one relaxed atomic load in log() (build costly arguments only
// under `if (log_enabled(level))`).

#include <atomic>
#include <chrono>
#include <functional>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "runtime/export.hpp"

namespace troupe {

enum class LogLevel : int {
  debug,
  info,
  warning,
  error,
  off,  // as a level threshold only: drops every record
};

enum class LogFormat { text, json };

// One key/value pair of a record, e.g. {"name", name}. Views: valid for the
// duration of the log() call only.
struct LogField {
  std::string_view key;
  std::string_view value;
};

// One record as a sink receives it. Views into the caller's data: a sink that
// keeps anything past its return copies it.
struct LogRecord {
  std::chrono::system_clock::time_point time;
  LogLevel level = LogLevel::info;
  std::string_view component;  // the part of the library: "supervisor", "redis", "gateway", ...
  std::string_view message;
  std::span<const LogField> fields;
};

using LogSink = std::function<void(const LogRecord&)>;

// Records below `level` are dropped before they reach the sink. Default info.
TROUPE_EXPORT void set_log_level(LogLevel level);
TROUPE_EXPORT LogLevel log_level();

// The format of the default sink. Default text.
TROUPE_EXPORT void set_log_format(LogFormat format);

// Installs the application's sink; nullptr restores the default (stderr)
// sink. Records being logged at that moment may still reach the previous one.
TROUPE_EXPORT void set_log_sink(LogSink sink);

namespace detail {
TROUPE_EXPORT extern std::atomic<int> log_threshold;
}  // namespace detail

inline bool log_enabled(LogLevel level) {
  return static_cast<int>(level) >= detail::log_threshold.load(std::memory_order_relaxed);
}

// Hands a record stamped with the current time to the sink, if `level` passes.
TROUPE_EXPORT void log(LogLevel level, std::string_view component, std::string_view message,
                       std::span<const LogField> fields = {});
inline void log(LogLevel level, std::string_view component, std::string_view message,
                std::initializer_list<LogField> fields) {
  log(level, component, message, std::span<const LogField>(fields.begin(), fields.size()));
}

inline void log_debug(std::string_view component, std::string_view message,
                      std::initializer_list<LogField> fields = {}) {
  if (log_enabled(LogLevel::debug)) log(LogLevel::debug, component, message, fields);
}
inline void log_info(std::string_view component, std::string_view message,
                     std::initializer_list<LogField> fields = {}) {
  if (log_enabled(LogLevel::info)) log(LogLevel::info, component, message, fields);
}
inline void log_warning(std::string_view component, std::string_view message,
                        std::initializer_list<LogField> fields = {}) {
  if (log_enabled(LogLevel::warning)) log(LogLevel::warning, component, message, fields);
}
inline void log_error(std::string_view component, std::string_view message,
                      std::initializer_list<LogField> fields = {}) {
  if (log_enabled(LogLevel::error)) log(LogLevel::error, component, message, fields);
}

// The default sink's two line formats, without the trailing newline; for a
// sink of the application's that writes elsewhere in the same format.
TROUPE_EXPORT std::string format_log_text(const LogRecord& record);
TROUPE_EXPORT std::string format_log_json(const LogRecord& record);

TROUPE_EXPORT const char* to_string(LogLevel level);
// "debug", "info", "warning", "error", "off"; "text", "json". nullopt otherwise.
TROUPE_EXPORT std::optional<LogLevel> parse_log_level(std::string_view text);
TROUPE_EXPORT std::optional<LogFormat> parse_log_format(std::string_view text);

}  // namespace troupe
