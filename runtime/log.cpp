#include "runtime/log.hpp"

#include <cstdio>
#include <ctime>
#include <memory>
#include <mutex>

namespace troupe {

namespace detail {
std::atomic<int> log_threshold{static_cast<int>(LogLevel::info)};
}  // namespace detail

namespace {

std::atomic<LogFormat> default_format{LogFormat::text};

std::mutex sink_mutex;
std::shared_ptr<const LogSink> custom_sink;  // null: the default sink

void write_stderr(const LogRecord& record) {
  std::string line = default_format.load(std::memory_order_relaxed) == LogFormat::json
                         ? format_log_json(record)
                         : format_log_text(record);
  line += '\n';
  // One call per line: stdio locks the stream, so lines of several threads
  // do not interleave.
  std::fwrite(line.data(), 1, line.size(), stderr);
}

// 2026-12-03T12:10:18.123Z
std::string format_time(std::chrono::system_clock::time_point t) {
  using namespace std::chrono;
  auto ms = duration_cast<milliseconds>(t.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  int millis = static_cast<int>(ms % 1000);
  if (millis < 0) {
    millis += 1000;
    --secs;
  }
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
  return buf;
}

bool needs_quotes(std::string_view v) {
  if (v.empty()) return true;
  for (unsigned char c : v)
    if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c == 0x7f) return true;
  return false;
}

// Escapes for a double-quoted string: valid JSON, and readable in a text line.
void append_quoted(std::string& out, std::string_view v) {
  out += '"';
  for (unsigned char c : v) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

}  // namespace

void set_log_level(LogLevel level) {
  detail::log_threshold.store(static_cast<int>(level), std::memory_order_relaxed);
}

LogLevel log_level() {
  return static_cast<LogLevel>(detail::log_threshold.load(std::memory_order_relaxed));
}

void set_log_format(LogFormat format) {
  default_format.store(format, std::memory_order_relaxed);
}

void set_log_sink(LogSink sink) {
  auto next = sink ? std::make_shared<const LogSink>(std::move(sink)) : nullptr;
  std::lock_guard lock(sink_mutex);
  custom_sink.swap(next);
  // `next` (the previous sink) is released after the lock, in case its
  // destructor logs.
}

void log(LogLevel level, std::string_view component, std::string_view message,
         std::span<const LogField> fields) {
  if (!log_enabled(level) || level == LogLevel::off) return;
  LogRecord record{std::chrono::system_clock::now(), level, component, message, fields};
  std::shared_ptr<const LogSink> sink;
  {
    std::lock_guard lock(sink_mutex);
    sink = custom_sink;
  }
  if (sink)
    (*sink)(record);
  else
    write_stderr(record);
}

std::string format_log_text(const LogRecord& r) {
  std::string out = format_time(r.time);
  out += ' ';
  out += to_string(r.level);
  out += ' ';
  out += r.component;
  out += ": ";
  out += r.message;
  for (const LogField& f : r.fields) {
    out += ' ';
    out += f.key;
    out += '=';
    if (needs_quotes(f.value))
      append_quoted(out, f.value);
    else
      out += f.value;
  }
  return out;
}

std::string format_log_json(const LogRecord& r) {
  std::string out = "{\"time\":";
  append_quoted(out, format_time(r.time));
  out += ",\"level\":";
  append_quoted(out, to_string(r.level));
  out += ",\"component\":";
  append_quoted(out, r.component);
  out += ",\"message\":";
  append_quoted(out, r.message);
  for (const LogField& f : r.fields) {
    out += ',';
    append_quoted(out, f.key);
    out += ':';
    append_quoted(out, f.value);
  }
  out += '}';
  return out;
}

const char* to_string(LogLevel level) {
  switch (level) {
    case LogLevel::debug:
      return "debug";
    case LogLevel::info:
      return "info";
    case LogLevel::warning:
      return "warning";
    case LogLevel::error:
      return "error";
    case LogLevel::off:
      return "off";
  }
  return "?";
}

std::optional<LogLevel> parse_log_level(std::string_view text) {
  for (LogLevel l :
       {LogLevel::debug, LogLevel::info, LogLevel::warning, LogLevel::error, LogLevel::off})
    if (text == to_string(l)) return l;
  return std::nullopt;
}

std::optional<LogFormat> parse_log_format(std::string_view text) {
  if (text == "text") return LogFormat::text;
  if (text == "json") return LogFormat::json;
  return std::nullopt;
}

}  // namespace troupe
