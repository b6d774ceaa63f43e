// Loading what is stored when it is not what the actor expects: corrupt
// snapshots (the start fails naming the key and the cause, the blob is
// quarantined and never overwritten, the next start falls back a
// generation), poison snapshots that crash the actor, and schema migration
// from a golden snapshot of an older version.
#include <filesystem>
#include <fstream>
#include <sstream>

#include "persist/persistent_server.hpp"
#include "test/persistence/support.hpp"
#include "test/support/temp_dir.hpp"
#include "test/support/test_loop.hpp"

using namespace troupe;
using namespace troupe::test;

namespace {

struct Count {
  long n = 0;
  bool poison = false;
  MSGPACK_DEFINE(n, poison)
};

// Commits n = 1, 2, ..., revisions times.
void write_revisions(StoreEnv& env, const std::string& actor, int revisions) {
  CHECK_TRUE(run_process(env.rt, [&](Process& self) -> Task<> {
    PersistentState<Count> state(*env.actors, actor);
    co_await state.load(self);
    for (int i = 0; i < revisions; ++i) {
      ++state.mutate().n;
      co_await state.commit_or_exit(self);
    }
  }));
}

struct Loaded {
  std::optional<ExitReason> failure;
  long n = -1;
  Revision revision = 0, from = 0;
};

Loaded load(StoreEnv& env, const std::string& actor, StateSchema<Count> schema = {}) {
  Loaded out;
  Pid pid = env.rt.spawn([&](Process& self) -> Proc {
    PersistentState<Count> state(*env.actors, actor, schema);
    co_await state.load(self);
    out.n = state->n;
    out.revision = state.revision();
    out.from = state.loaded_revision();
  });
  auto reason = wait_exit(env.rt, pid);
  if (reason && *reason != troupe::normal) out.failure = reason;
  return out;
}

std::string value_of(StoreEnv& env, const std::string& key) {
  auto got = env.get(key);
  if (!got || !got.value()) return "(absent)";
  return got.value()->value;
}

// Schema 1 of Count, as the golden snapshot holds it.
struct CountV1 {
  long n = 0;
  MSGPACK_DEFINE(n)
};

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

TEST_GROUP(Recovery) {
  TempDir dir;
  std::unique_ptr<StoreEnv> env;
  void setup() override {
    env = StoreEnv::file(dir.path());
  }
  void teardown() override {
    env.reset();
  }

  // Revisions 1 and 2 stored, then revision 2's blob replaced by `blob`:
  // the start fails naming the key and `cause`; the blob is quarantined;
  // the next start resumes from revision 1 and writes past the bad slot.
  void check_corrupt(const std::string& blob, const std::string& cause) {
    write_revisions(*env, "c", 2);
    const std::string slot = env->actors->generation_key("c", 2);
    STRCMP_EQUAL("actor/c/gen/0", slot.c_str());
    CHECK_TRUE(env->batch({WriteOp::put(slot, blob)}).ok());

    auto first = load(*env, "c");
    CHECK(first.failure.has_value());
    check_contains(to_string(*first.failure), "actor 'c' from key 'actor/c/gen/0'");
    check_contains(to_string(*first.failure), cause);
    check_contains(to_string(*first.failure), "quarantined as 'actor/c/q/2'");
    CHECK(value_of(*env, "actor/c/q/2") == blob);

    auto second = load(*env, "c");
    CHECK_FALSE(second.failure.has_value());
    LONGS_EQUAL(1, second.n);  // the generation before
    LONGS_EQUAL(1, second.from);
    LONGS_EQUAL(2, second.revision);      // still fenced at head's revision
    write_revisions(*env, "c", 1);        // revision 3, slot 1
    CHECK(value_of(*env, slot) == blob);  // the bad slot was not overwritten
    CHECK(value_of(*env, "actor/c/q/2") == blob);
    LONGS_EQUAL(2, load(*env, "c").n);
  }
};

TEST(Recovery, BadMagicFailsTheStartNamingKeyAndCause) {
  check_corrupt("this is not a snapshot at all", "not a snapshot (bad magic)");
}

TEST(Recovery, ChecksumMismatchFailsTheStartNamingKeyAndCause) {
  std::string blob = encode_state(Count{2, false}, 1, 2);
  blob[blob.size() - 6] ^= 0x20;  // a payload byte
  check_corrupt(blob, "snapshot checksum mismatch");
}

TEST(Recovery, PayloadThatIsNotTheStateTypeFailsTheStartNamingKeyAndCause) {
  check_corrupt(encode_state(std::string("not a Count"), 1, 2), "msgpack does not decode to");
}

TEST(Recovery, FutureSchemaVersionFailsTheStartNamingKeyAndCause) {
  check_corrupt(encode_state(Count{2, false}, 9, 2), "written with schema version 9");
}

namespace {
struct Get {
  using reply = long;
};
// Crashes on every call while its state is poison.
struct Fragile : PersistentServer<Fragile, Count> {
  using calls = types<Get>;
  explicit Fragile(Persistence* actors) : PersistentServer(*actors, "fragile") {}
  long handle_call(const Get&) {
    if (state()->poison) throw std::runtime_error("poison state");
    return state()->n;
  }
};
}  // namespace

TEST(Recovery, PoisonSnapshotThatCrashesTheActorRepeatedlyIsQuarantinedAndThePreviousLoaded) {
  CHECK_TRUE(run_process(env->rt, [&](Process& self) -> Task<> {
    PersistentState<Count> state(*env->actors, "fragile");
    co_await state.load(self);
    state.mutate().n = 1;
    co_await state.commit_or_exit(self);
    state.mutate() = Count{2, true};
    co_await state.commit_or_exit(self);
  }));
  std::vector<bool> answered;
  long n = -1;
  CHECK_TRUE(run_process(env->rt, [&](Process& self) -> Task<> {
    self.trap_exit(true);
    for (int start = 0; start < 4; ++start) {
      auto pid = co_await start_server<Fragile>(self, {.link = false}, env->actors.get());
      if (!pid) break;
      auto got = co_await call(self, *pid, Get{});
      answered.push_back(got.ok());
      if (got) n = *got;
      if (got) self.exit(*pid, troupe::shutdown);
    }
  }));
  CHECK(answered == (std::vector<bool>{false, false, false, true}));
  LONGS_EQUAL(1, n);
  CHECK(value_of(*env, "actor/fragile/q/2") != "(absent)");
}

// A stored payload is input too: one whose array header claims 2^32 - 1
// elements (five bytes) must fail the migration, not make msgpack allocate
// for them first.
TEST(Recovery, AnOldPayloadClaimingBillionsOfElementsFailsItsMigrationCleanly) {
  const std::string huge_array("\xdd\xff\xff\xff\xff", 5);
  msgpack::sbuffer head;
  msgpack::packer<msgpack::sbuffer>(head).pack(std::make_tuple(1, 0, msgpack::type::nil_t()));
  CHECK_TRUE(
      env->batch({WriteOp::put_at("actor/huge/head", std::string(head.data(), head.size()), 1),
                  WriteOp::put("actor/huge/gen/1", encode_snapshot(Snapshot{1, 1, huge_array}))})
          .ok());
  bool hook_ran = false;
  StateSchema<Count> v2{.version = 2, .migrate = [&](std::uint32_t, const msgpack::object&) {
                          hook_ran = true;
                          return Count{};
                        }};
  auto migrated = load(*env, "huge", v2);
  CHECK(migrated.failure.has_value());
  CHECK_FALSE(hook_ran);
  // Refused by the size limit, not by a failed allocation.
  check_contains(to_string(*migrated.failure), "size overflow");
}

TEST(Recovery, GoldenSnapshotOfSchemaOneIsMigratedToSchemaTwo) {
  const auto golden = std::filesystem::path(__FILE__).parent_path() / "data/count_v1_rev1.snapshot";
  const std::string blob = read_file(golden);
  CHECK(blob.size() > 10);
  // The head at revision 1 ([layout 1, writer token 0, no alarm]) and the slot.
  msgpack::sbuffer head;
  msgpack::packer<msgpack::sbuffer>(head).pack(std::make_tuple(1, 0, msgpack::type::nil_t()));
  CHECK_TRUE(
      env->batch({WriteOp::put_at("actor/old/head", std::string(head.data(), head.size()), 1),
                  WriteOp::put("actor/old/gen/1", blob)})
          .ok());

  StateSchema<Count> v2{.version = 2, .migrate = [](std::uint32_t old, const msgpack::object& o) {
                          if (old != 1) throw std::runtime_error("unknown schema");
                          return Count{o.as<CountV1>().n + 1000, false};
                        }};
  auto migrated = load(*env, "old", v2);
  CHECK_FALSE(migrated.failure.has_value());
  LONGS_EQUAL(1041, migrated.n);

  auto without_hook = load(*env, "old", {.version = 2});
  CHECK(without_hook.failure.has_value());
  check_contains(to_string(*without_hook.failure), "no migration hook");
}
