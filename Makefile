# Troupe — build, test, benchmark and install with GNU make alone.
#
#   make            build libtroupe.a / libtroupe.so, tests, examples, benchmarks
#   make lib        the libraries only
#   make deps       install missing Debian packages (sudo when not root)
#   make test       make deps, then build and run every suite
#   make asan/tsan  the same suites under ASan+UBSan / ThreadSanitizer
#   make bench      the actor benchmarks (bench/README.md)
#   make chaos      long fault runs: a 30 s Redis outage under 100 clients
#   make soak       a chaos soak with real processes, SOAK_S seconds (docs/soak.md)
#   make run        make deps, then serve the examples
#   make install    headers, libraries, troupe.pc, troupe-testing.pc and TroupeConfig.cmake under PREFIX
#
# Only deps, test/check, asan, tsan, bench, bench-ws, chaos, soak and run install
# packages; every other target builds with what is installed, and stops
# with the names of the pkg-config modules it cannot find.

# clang, not g++ 12: g++ 12 destroys some temporaries of co_await
# expressions twice (aggregates and lambdas passed to an awaitable's
# factory), which breaks co_await self.call(pid, Request{...}). clang 14 is
# correct. Override with CXX=... (g++ 13 or later is fine).
ifeq ($(origin CXX),default)
  CXX := clang++
endif
# clang 14 crashes in CoroSplit on `while (cond) co_await x;` at -O2 after
# SimplifyCFG hoists common code out of the loop's branches; not hoisting
# avoids it (LLVM 15 fixed the bug).
ifneq ($(findstring clang,$(CXX)),)
  CORO_FLAGS := -mllvm -simplifycfg-hoist-common=false
endif
PREFIX   ?= /usr/local
VERSION  := 0.1.0
SAN      ?=
BUILD    ?= build$(if $(SAN),-$(SAN))
DEPS_OK  := $(BUILD)/.deps-ok
# The goals that install missing packages before compiling anything.
INSTALLING_GOALS := deps test check asan tsan bench bench-ws bench-isolation chaos soak run fuzz
DEPS_FIRST := $(if $(filter $(INSTALLING_GOALS),$(MAKECMDGOALS)),$(DEPS_OK))

PKGS     := libuv libwebsockets hiredis openssl
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)

OPT      ?= -O2
WARN     := -Wall -Wextra -Wpedantic -Werror -Wno-missing-field-initializers
CXXFLAGS += -std=c++20 $(OPT) -g -fPIC $(WARN) $(CORO_FLAGS) -pthread -MMD -MP \
            -DMSGPACK_NO_BOOST -DCPPUTEST_MEM_LEAK_DETECTION_DISABLED -I. $(PKG_CFLAGS)
LDLIBS   += $(PKG_LIBS) -pthread

ifeq ($(SAN),asan)
  OPT      := -O1
  # -fno-sanitize=function: clang 14 cannot emit coroutines defined in
  # headers (vague linkage) with it ("Cannot represent a difference across sections").
  CXXFLAGS += -fsanitize=address,undefined -fno-sanitize=function -fno-omit-frame-pointer \
              -fno-sanitize-recover=undefined
  LDFLAGS  += -fsanitize=address,undefined
endif
ifeq ($(SAN),tsan)
  OPT      := -O1
  CXXFLAGS += -fsanitize=thread -fno-omit-frame-pointer
  # CppUTest's static library defines operator new too; TSan's must win.
  LDFLAGS  += -fsanitize=thread -Wl,--allow-multiple-definition
endif

LAYERS   := runtime supervisors persist net/ws net/gateway cluster/link cluster
LIB_SRC  := $(wildcard $(addsuffix /*.cpp,$(LAYERS)) $(addsuffix /detail/*.cpp,$(LAYERS)))
LIB_OBJ  := $(LIB_SRC:%.cpp=$(BUILD)/obj/%.o)
LIB_A    := $(BUILD)/libtroupe.a
LIB_SO   := $(BUILD)/libtroupe.so

SUITES      := $(notdir $(patsubst %/,%,$(dir $(wildcard test/*/*.cpp))))
SUITES      := $(sort $(filter-out support,$(SUITES)))
# test/support: the fixtures shared by every suite and benchmark (the Redis
# launcher, temporary directories, ...), one library linked into each.
SUPPORT_OBJ := $(patsubst %.cpp,$(BUILD)/obj/%.o,$(wildcard test/support/*.cpp))
SUPPORT_A   := $(BUILD)/libtroupe_test_support.a
TEST_MAIN   := $(BUILD)/obj/test/main.o
TEST_BINS   := $(SUITES:%=$(BUILD)/test/%_tests)
TEST_LIBS   := $(shell pkg-config --libs cpputest 2>/dev/null || echo -lCppUTest -lCppUTestExt)

BENCH_SRC   := $(wildcard bench/*.cpp)
BENCH_BINS  := $(BENCH_SRC:bench/%.cpp=$(BUILD)/bench/%)

EXAMPLE_DIRS := $(patsubst %/,%,$(dir $(wildcard examples/*/main.cpp)))
EXAMPLE_BINS := $(EXAMPLE_DIRS:examples/%=$(BUILD)/examples/%)

.PHONY: all deps pkg-check test check asan tsan bench chaos soak run install uninstall format clean lib tests examples fuzz
.DEFAULT_GOAL := all

all: lib tests examples $(BENCH_BINS)
lib: $(LIB_A) $(LIB_SO) $(LIB_TESTING_A)
tests: $(TEST_BINS)
examples: $(EXAMPLE_BINS)

deps: $(DEPS_OK)
$(DEPS_OK): tools/deps.sh
	@bash tools/deps.sh
	@mkdir -p $(@D) && touch $@

# The library exports only what runtime/export.hpp's TROUPE_EXPORT marks.
LIB_VISIBILITY := -fvisibility=hidden -fvisibility-inlines-hidden
$(LIB_OBJ): CXXFLAGS += $(LIB_VISIBILITY)

# Objects are rebuilt when the compiler or its flags change.
FLAGS_FILE := $(BUILD)/.flags
$(shell mkdir -p $(BUILD) && echo '$(CXX) $(CXXFLAGS) $(LIB_VISIBILITY)' | cmp -s - $(FLAGS_FILE) || echo '$(CXX) $(CXXFLAGS) $(LIB_VISIBILITY)' > $(FLAGS_FILE))

# Before compiling: the packages are there (installed first by the goals
# that install), or the build stops naming what is missing.
pkg-check: $(DEPS_FIRST)
	@bash tools/check_pkgs.sh $(PKGS)

$(BUILD)/obj/%.o: %.cpp $(FLAGS_FILE) | pkg-check
	@mkdir -p $(@D)
	$(CXX) $(CXXFLAGS) -c $< -o $@

$(LIB_A): $(LIB_OBJ)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

# Relinked when the Makefile changes (its link flags: the soname).
$(LIB_SO): $(LIB_OBJ) Makefile
	@mkdir -p $(@D)
	$(CXX) -shared -Wl,-soname,libtroupe.so $(LDFLAGS) -o $@ $(LIB_OBJ) $(LDLIBS)

# troupe::testing (testing/, docs/testing.md): the library built again for
# simulation, its virtual clock and hooks compiled in, plus the kit, in one
# archive that a test links instead of libtroupe.a. Only the library's files
# that test TROUPE_SIMULATION are compiled twice: no header does, so both
# builds' objects link together.
SIM_SRC       := $(shell grep -l TROUPE_SIMULATION $(LIB_SRC))
SIM_OBJ       := $(SIM_SRC:%.cpp=$(BUILD)/obj-sim/%.o)
KIT_OBJ       := $(patsubst %.cpp,$(BUILD)/obj/%.o,$(wildcard testing/*.cpp testing/detail/*.cpp))
LIB_TESTING_A := $(BUILD)/libtroupe_testing.a
$(SIM_OBJ): CXXFLAGS += $(LIB_VISIBILITY)

$(BUILD)/obj-sim/%.o: %.cpp $(FLAGS_FILE) | pkg-check
	@mkdir -p $(@D)
	$(CXX) $(CXXFLAGS) -DTROUPE_SIMULATION -c $< -o $@

$(LIB_TESTING_A): $(filter-out $(SIM_SRC:%.cpp=$(BUILD)/obj/%.o),$(LIB_OBJ)) $(SIM_OBJ) $(KIT_OBJ)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

$(SUPPORT_A): $(SUPPORT_OBJ)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

# Objects named only through the secondary expansion below would count as
# intermediate files, deleted after every build and so rebuilt by the next.
.SECONDARY:

# One binary per subsystem, so a crash in one suite cannot hide another's results.
.SECONDEXPANSION:
$(BUILD)/test/%_tests: $$(subst .cpp,.o,$$(addprefix $(BUILD)/obj/,$$(wildcard test/$$*/*.cpp))) $(TEST_MAIN) $(SUPPORT_A) $(LIB_A)
	@mkdir -p $(@D)
	$(CXX) $(LDFLAGS) -o $@ $(filter %.o,$^) $(SUPPORT_A) $(LIB_A) $(TEST_LIBS) $(LDLIBS)

# The suite of troupe::testing and of the tests written with it: linked
# with the simulation build.
$(BUILD)/test/testing_tests: $$(subst .cpp,.o,$$(addprefix $(BUILD)/obj/,$$(wildcard test/testing/*.cpp))) $(TEST_MAIN) $(SUPPORT_A) $(LIB_TESTING_A)
	@mkdir -p $(@D)
	$(CXX) $(LDFLAGS) -o $@ $(filter %.o,$^) $(SUPPORT_A) $(LIB_TESTING_A) $(TEST_LIBS) $(LDLIBS)

$(BUILD)/bench/%: $(BUILD)/obj/bench/%.o $(SUPPORT_A) $(LIB_A)
	@mkdir -p $(@D)
	$(CXX) $(LDFLAGS) -o $@ $< $(SUPPORT_A) $(LIB_A) $(LDLIBS)

$(BUILD)/examples/%: $$(subst .cpp,.o,$$(addprefix $(BUILD)/obj/,$$(wildcard examples/$$*/*.cpp))) $(LIB_A)
	@mkdir -p $(@D)
	$(CXX) $(LDFLAGS) -o $@ $(filter %.o,$^) $(LIB_A) $(LDLIBS)

# The browser test needs a real browser: in the plain build only (the
# sanitizer builds run the suites). The example server is run by both.
BROWSER_TEST := $(if $(SAN),,bash test/browser/run.sh $(BUILD))

# A layer includes only earlier ones (tools/check_layers.py); the self-test
# proves the check rejects bad includes.
.PHONY: layer-check
layer-check:
	@python3 tools/check_layers.py && python3 tools/check_layers.py --self-test

test check: deps layer-check tests $(BUILD)/examples/server
	@BUILD=$(BUILD) EXTRA_TEST='$(BROWSER_TEST)' bash tools/run_tests.sh $(TEST_BINS)

asan:
	@$(MAKE) --no-print-directory SAN=asan test

tsan:
	@TSAN_OPTIONS="suppressions=$(CURDIR)/tools/tsan.supp $$TSAN_OPTIONS" $(MAKE) --no-print-directory SAN=tsan test

bench: deps $(BENCH_BINS)
	@BUILD=$(BUILD) bash bench/run.sh

# The short versions run in make test (test/net/interop_test.cpp).
CHAOS_CLIENTS ?= 100
CHAOS_OUTAGE_SECONDS ?= 30
chaos: deps $(BUILD)/examples/server
	timeout 600 /usr/bin/python3 test/net/outage_client.py $(BUILD)/examples/server examples/server/www \
	  $(CHAOS_CLIENTS) $(CHAOS_OUTAGE_SECONDS)

run: deps lib examples
	@bash tools/run.sh $(BUILD) $(ARGS)

PUBLIC_HEADERS := troupe.hpp $(wildcard $(addsuffix /*.hpp,$(LAYERS) testing) $(addsuffix /detail/*.hpp,$(LAYERS) testing))
CMAKE_DIR := $(DESTDIR)$(PREFIX)/lib/cmake/Troupe
install: lib
	install -d $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include/troupe $(CMAKE_DIR)
	for h in $(PUBLIC_HEADERS); do install -D -m 644 $$h $(DESTDIR)$(PREFIX)/include/troupe/$$h; done
	install -m 644 $(LIB_A) $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(LIB_SO) $(DESTDIR)$(PREFIX)/lib/
	install -m 644 $(LIB_TESTING_A) $(DESTDIR)$(PREFIX)/lib/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' tools/troupe-testing.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/troupe-testing.pc
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' tools/troupe.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/troupe.pc
	sed -e 's|@VERSION@|$(VERSION)|' tools/cmake/TroupeConfig.cmake.in > $(CMAKE_DIR)/TroupeConfig.cmake
	sed -e 's|@VERSION@|$(VERSION)|' -e "s|@SIZEOF_VOID_P@|$$(getconf LONG_BIT | awk '{print $$1/8}')|" \
	  tools/cmake/TroupeConfigVersion.cmake.in > $(CMAKE_DIR)/TroupeConfigVersion.cmake

uninstall:
	rm -rf $(DESTDIR)$(PREFIX)/include/troupe $(DESTDIR)$(PREFIX)/lib/libtroupe.* \
	  $(DESTDIR)$(PREFIX)/lib/pkgconfig/troupe.pc $(DESTDIR)$(PREFIX)/lib/pkgconfig/troupe-testing.pc $(CMAKE_DIR)

format:
	clang-format -i $(shell git ls-files '*.cpp' '*.hpp')

clean:
	rm -rf build build-asan build-tsan build-fuzz

# Fragments owned by the parts they build: the WebSocket benchmark
# (bench-ws), the example apps' extra targets, the fuzzers and the soak.
-include bench/ws.mk
-include bench/isolation.mk
-include examples/examples.mk
-include fuzz/fuzz.mk
-include tools/soak/soak.mk

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
