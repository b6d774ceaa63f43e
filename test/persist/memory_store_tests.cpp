// MemoryStore against the Store contract.
#include <memory>

#include "persist/memory_store.hpp"
#include "test/persist/store_contract.hpp"

using namespace troupe;

TEST_GROUP(MemoryStore) {
  std::unique_ptr<test::TestLoop> loop;
  std::unique_ptr<MemoryStore> memory;
  std::unique_ptr<test::SyncStore> sync;

  void setup() override {
    loop = std::make_unique<test::TestLoop>();
    memory = std::make_unique<MemoryStore>(loop->get());
    sync = std::make_unique<test::SyncStore>(*memory, *loop);
  }
  void teardown() override {
    loop->close(*memory);
    sync.reset();
    memory.reset();
    loop.reset();
  }
  test::SyncStore& store() {
    return *sync;
  }
};

STORE_CONTRACT_TESTS(MemoryStore)

TEST(MemoryStore, OperationsAfterCloseAreProgrammingErrors) {
  loop->close(*memory);
  CHECK_THROWS(std::logic_error, memory->put("k", "v", [](StoreResult<Revision>) {}));
  // teardown closes again; give it a fresh store to close.
  memory = std::make_unique<MemoryStore>(loop->get());
}
