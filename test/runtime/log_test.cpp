// The log sink: levels, the two line formats, the application's sink, the default sink.
#include "runtime/log.hpp"

#include <CppUTest/TestHarness.h>
#include <unistd.h>

#include <cstdio>
#include <map>
#include <thread>

#include "test/support/log_recorder.hpp"
#include "test/support/runtime_helpers.hpp"

using namespace troupe;
using namespace troupe::test;

namespace {

// 2026-12-03T12:10:18.123Z
std::chrono::system_clock::time_point fixed_time() {
  using namespace std::chrono;
  return sys_days{year{2026} / 12 / 3} + 12h + 10min + 18s + 123ms;
}

// Runs `body` with stderr redirected to a file and returns what it wrote.
template <class F>
std::string capture_stderr(F body) {
  std::fflush(stderr);
  std::FILE* file = std::tmpfile();
  int saved = dup(fileno(stderr));
  dup2(fileno(file), fileno(stderr));
  body();
  std::fflush(stderr);
  dup2(saved, fileno(stderr));
  close(saved);
  std::string out;
  std::rewind(file);
  char buf[512];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, file)) > 0;) out.append(buf, n);
  std::fclose(file);
  return out;
}

}  // namespace

TEST_GROUP(Log){void teardown() override{set_log_sink(nullptr);
set_log_level(LogLevel::info);
set_log_format(LogFormat::text);
}
}
;

TEST(Log, TheInstalledSinkReceivesLevelComponentMessageAndFields) {
  LogRecorder recorder;
  log_warning("redis", "connection lost", {{"url", "redis://127.0.0.1:1"}, {"error", "refused"}});
  auto kept = recorder.kept();
  LONGS_EQUAL(1, kept.size());
  CHECK(kept[0].level == LogLevel::warning);
  STRCMP_EQUAL("redis", kept[0].component.c_str());
  STRCMP_EQUAL("connection lost", kept[0].message.c_str());
  LONGS_EQUAL(2, kept[0].fields.size());
  STRCMP_EQUAL("redis://127.0.0.1:1", kept[0].fields["url"].c_str());
  STRCMP_EQUAL("refused", kept[0].fields["error"].c_str());
}

TEST(Log, RecordsBelowTheLevelDoNotReachTheSink) {
  LogRecorder recorder;
  CHECK(log_level() == LogLevel::info);  // the default
  CHECK_FALSE(log_enabled(LogLevel::debug));
  log_debug("t", "dropped");
  log_info("t", "kept");
  set_log_level(LogLevel::error);
  log_warning("t", "dropped");
  log(LogLevel::info, "t", "dropped");
  log_error("t", "kept");
  set_log_level(LogLevel::off);
  log_error("t", "dropped");
  set_log_level(LogLevel::debug);
  log_debug("t", "kept");
  auto kept = recorder.kept();
  LONGS_EQUAL(3, kept.size());
  for (const auto& k : kept) STRCMP_EQUAL("kept", k.message.c_str());
  CHECK(kept[0].level == LogLevel::info);
  CHECK(kept[1].level == LogLevel::error);
  CHECK(kept[2].level == LogLevel::debug);
}

TEST(Log, ATextLineIsTimeLevelComponentMessageThenKeyValues) {
  LogField fields[] = {{"name", "ws://h/chat/a"}, {"error", "said \"no\"\n"}, {"empty", ""}};
  LogRecord r{fixed_time(), LogLevel::warning, "gateway", "cannot start", fields};
  STRCMP_EQUAL(
      "2026-12-03T12:10:18.123Z warning gateway: cannot start name=ws://h/chat/a "
      "error=\"said \\\"no\\\"\\n\" empty=\"\"",
      format_log_text(r).c_str());
}

TEST(Log, AJsonLineIsOneObjectWithTheFieldsAsKeys) {
  LogField fields[] = {{"route", "/chat/"}, {"error", "a\\b\"c\x01"}};
  LogRecord r{fixed_time(), LogLevel::error, "persist", "write failed", fields};
  STRCMP_EQUAL(
      "{\"time\":\"2026-12-03T12:10:18.123Z\",\"level\":\"error\",\"component\":\"persist\","
      "\"message\":\"write failed\",\"route\":\"/chat/\",\"error\":\"a\\\\b\\\"c\\u0001\"}",
      format_log_json(r).c_str());
}

TEST(Log, TheDefaultSinkWritesOneLinePerRecordToStderrInTheChosenFormat) {
  std::string text = capture_stderr([] { log_info("runtime", "hello", {{"k", "v"}}); });
  CHECK_EQUAL('\n', text.back());
  CHECK(text.find(" info runtime: hello k=v\n") != std::string::npos);
  LONGS_EQUAL(1, std::count(text.begin(), text.end(), '\n'));

  set_log_format(LogFormat::json);
  std::string json = capture_stderr([] { log_error("runtime", "hello", {{"k", "v"}}); });
  CHECK(json.rfind("{\"time\":\"", 0) == 0);
  CHECK(json.find(
            "\"level\":\"error\",\"component\":\"runtime\",\"message\":\"hello\",\"k\":\"v\"}\n") !=
        std::string::npos);
}

TEST(Log, ResettingTheSinkRestoresTheDefault) {
  {
    LogRecorder recorder;
    std::string out = capture_stderr([] { log_info("t", "to the recorder"); });
    STRCMP_EQUAL("", out.c_str());
    LONGS_EQUAL(1, recorder.kept().size());
  }  // set_log_sink(nullptr)
  std::string out = capture_stderr([] { log_info("t", "to stderr"); });
  CHECK(out.find("t: to stderr") != std::string::npos);
}

TEST(Log, ThreadsLogConcurrentlyAndEveryRecordArrives) {
  LogRecorder recorder;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([t] {
      std::string id = std::to_string(t);
      for (int i = 0; i < 200; ++i) log_info("t", "m", {{"thread", id}});
    });
  for (auto& t : threads) t.join();
  auto kept = recorder.kept();
  LONGS_EQUAL(800, kept.size());
  std::map<std::string, int> per_thread;
  for (auto& k : kept) ++per_thread[k.fields["thread"]];
  LONGS_EQUAL(4, per_thread.size());
  for (auto& [id, n] : per_thread) LONGS_EQUAL(200, n);
}

TEST(Log, LevelsAndFormatsParseFromTheirNames) {
  CHECK(parse_log_level("debug") == LogLevel::debug);
  CHECK(parse_log_level("warning") == LogLevel::warning);
  CHECK(parse_log_level("off") == LogLevel::off);
  CHECK_FALSE(parse_log_level("loud").has_value());
  CHECK(parse_log_format("json") == LogFormat::json);
  CHECK(parse_log_format("text") == LogFormat::text);
  CHECK_FALSE(parse_log_format("xml").has_value());
}
