# make embed-test: install the library into a temporary prefix and build
# examples/embed against it twice, as applications would: with pkg-config
# (c++ main.cpp $(pkg-config --cflags --libs troupe)) and with CMake
# (find_package(Troupe), examples/embed/CMakeLists.txt); run both.
.PHONY: embed-test
embed-test: lib
	@prefix=$$(mktemp -d) && status=0 && \
	  $(MAKE) --no-print-directory install PREFIX=$$prefix >/dev/null && \
	  export PKG_CONFIG_PATH=$$prefix/lib/pkgconfig && \
	  { $(CXX) $(CORO_FLAGS) examples/embed/main.cpp $$(pkg-config --cflags --libs troupe) \
	      -Wl,-rpath,$$prefix/lib -o $(BUILD)/embed-installed && \
	    $(BUILD)/embed-installed && echo "embed-test: pkg-config build passed" || \
	    { echo "embed-test: pkg-config build FAILED"; status=1; }; } && \
	  rm -rf $(BUILD)/embed-cmake && \
	  { cmake -S examples/embed -B $(BUILD)/embed-cmake -DCMAKE_PREFIX_PATH=$$prefix \
	      -DCMAKE_CXX_COMPILER=$(CXX) -DCMAKE_CXX_FLAGS='$(CORO_FLAGS)' >$(BUILD)/embed-cmake.log 2>&1 && \
	    cmake --build $(BUILD)/embed-cmake >>$(BUILD)/embed-cmake.log 2>&1 && \
	    $(BUILD)/embed-cmake/embed && echo "embed-test: CMake find_package build passed" || \
	    { tail -n 30 $(BUILD)/embed-cmake.log; echo "embed-test: CMake find_package build FAILED"; status=1; }; }; \
	  rm -rf $$prefix; \
	  if [ $$status -eq 0 ]; then echo "embed-test: passed"; else echo "embed-test: FAILED"; fi; \
	  exit $$status

# make browser-test: two Chromium pages chat through the example server
# (test/browser/chat.mjs); part of `make test`.
.PHONY: browser-test
browser-test: $(BUILD)/examples/server
	@bash test/browser/run.sh $(BUILD)
