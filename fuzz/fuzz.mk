# make fuzz: every libFuzzer target under fuzz/ for FUZZ_S seconds each
# (docs/fuzzing.md). Built with clang into build-fuzz: the targets with
# -fsanitize=fuzzer,address,undefined, the library sources they exercise with
# -fsanitize=fuzzer-no-link,address,undefined, both with the Makefile's
# CXXFLAGS (-std, -I, -D). Prints one line per target,
#   fuzz target=NAME execs=N crashes=N
# and fails if any target crashed, leaving the input under
# build-fuzz/crashes/NAME/. Each run works on a copy of fuzz/corpus/NAME.
FUZZ_S       ?= 10
FUZZ_BUILD   := build-fuzz
FUZZ_CXX     ?= clang++
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize=function -fno-omit-frame-pointer \
                -fno-sanitize-recover=undefined
FUZZ_FLAGS    = $(CXXFLAGS) -O1 $(FUZZ_SAN)
FUZZ_SRC     := $(wildcard fuzz/*_fuzz.cpp)
FUZZ_NAMES   := $(FUZZ_SRC:fuzz/%_fuzz.cpp=%)
FUZZ_BINS    := $(FUZZ_NAMES:%=$(FUZZ_BUILD)/%_fuzz)
# The library sources the targets reach (pure parsers and the FileStore's
# blocking half), in one archive: each target links only what it uses.
FUZZ_LIB_SRC := net/ws/route_name.cpp net/ws/utf8.cpp net/ws/request.cpp \
                net/ws/detail/head_reader.cpp net/ws/detail/request_checks.cpp \
                net/ws/detail/request_reader.cpp \
                persist/snapshot_codec.cpp persist/redis_url.cpp persist/store.cpp \
                persist/detail/crc32c.cpp persist/detail/file_dir.cpp \
                persist/detail/file_names.cpp persist/detail/batch_plan.cpp \
                cluster/link/frame.cpp cluster/request_codec.cpp
FUZZ_LIB_OBJ := $(FUZZ_LIB_SRC:%.cpp=$(FUZZ_BUILD)/obj/%.o)
FUZZ_LIB_A   := $(FUZZ_BUILD)/libtroupe_fuzz.a

.PHONY: fuzz fuzz-build
fuzz: fuzz-build
	@FUZZ_S=$(FUZZ_S) bash fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_NAMES)

fuzz-build: $(FUZZ_BINS)

$(FUZZ_BUILD)/obj/%.o: %.cpp | pkg-check
	@mkdir -p $(@D)
	$(FUZZ_CXX) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_LIB_A): $(FUZZ_LIB_OBJ)
	rm -f $@ && ar rcs $@ $^

$(FUZZ_BUILD)/%_fuzz: fuzz/%_fuzz.cpp $(FUZZ_LIB_A) | pkg-check
	@mkdir -p $(@D)
	$(FUZZ_CXX) $(FUZZ_FLAGS) -fsanitize=fuzzer $< $(FUZZ_LIB_A) $(LDLIBS) -o $@

-include $(shell find $(FUZZ_BUILD) -name '*.d' 2>/dev/null)
