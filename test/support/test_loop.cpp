#include "test/support/test_loop.hpp"

namespace troupe::test {

TestLoop::TestLoop() {
  uv_loop_init(&loop_);
}

TestLoop::~TestLoop() {
  // Let close callbacks of handles the test closed run, then free the loop.
  uv_run(&loop_, UV_RUN_NOWAIT);
  uv_walk(
      &loop_,
      [](uv_handle_t* h, void*) {
        if (!uv_is_closing(h)) uv_close(h, nullptr);
      },
      nullptr);
  uv_run(&loop_, UV_RUN_DEFAULT);
  uv_loop_close(&loop_);
}

bool TestLoop::run_until(const std::function<bool()>& done, std::chrono::milliseconds deadline) {
  if (done()) return true;
  bool expired = false;
  uv_timer_t timer;
  uv_timer_init(&loop_, &timer);
  timer.data = &expired;
  uv_timer_start(
      &timer, [](uv_timer_t* t) { *static_cast<bool*>(t->data) = true; },
      static_cast<std::uint64_t>(deadline.count()), 0);
  while (!done() && !expired) uv_run(&loop_, UV_RUN_ONCE);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer), nullptr);
  uv_run(&loop_, UV_RUN_NOWAIT);  // runs the timer's close callback
  return done();
}

void TestLoop::close(Store& store) {
  bool closed = false;
  store.close([&closed] { closed = true; });
  if (!run_until([&] { return closed; })) FAIL("the store did not close before the deadline");
}

StoreResult<std::optional<Entry>> SyncStore::get(const std::string& key) {
  return loop_.call<std::optional<Entry>>([&](auto cb) { store_.get(key, cb); });
}

StoreResult<Revision> SyncStore::put(const std::string& key, const std::string& value) {
  return loop_.call<Revision>([&](auto cb) { store_.put(key, value, cb); });
}

StoreResult<bool> SyncStore::del(const std::string& key) {
  return loop_.call<bool>([&](auto cb) { store_.del(key, cb); });
}

StoreResult<Page> SyncStore::list(const std::string& prefix, ListOptions options) {
  return loop_.call<Page>([&](auto cb) { store_.list(prefix, options, cb); });
}

StoreResult<void> SyncStore::batch(std::vector<WriteOp> ops) {
  return loop_.call<void>([&](auto cb) { store_.batch(ops, cb); });
}

StoreResult<void> SyncStore::compare_and_put(const std::string& key, const std::string& value,
                                             Revision revision) {
  return loop_.call<void>([&](auto cb) { store_.compare_and_put(key, value, revision, cb); });
}

StoreResult<std::vector<CasOutcome>> SyncStore::compare_and_put_many(std::vector<CasWrite> writes) {
  return loop_.call<std::vector<CasOutcome>>(
      [&](auto cb) { store_.compare_and_put_many(writes, cb); });
}

std::vector<Item> SyncStore::list_all(const std::string& prefix, std::size_t page_size) {
  std::vector<Item> all;
  ListOptions options{.cursor = {}, .limit = page_size};
  for (int pages = 0; pages < 10000; ++pages) {
    auto page = list(prefix, options);
    if (!page) FAIL(to_string(page.error()).c_str());
    CHECK(page->items.size() <= page_size);
    for (auto& item : page->items) all.push_back(std::move(item));
    if (page->next_cursor.empty()) return all;
    options.cursor = page->next_cursor;
  }
  FAIL("list never reached its last page");
  return all;
}

}  // namespace troupe::test
