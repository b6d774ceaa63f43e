# make embed-test: install the library into a temporary prefix and build and
# run examples/embed against it with pkg-config, as an application would.
.PHONY: embed-test
embed-test: lib
	@prefix=$$(mktemp -d) && \
	  $(MAKE) --no-print-directory install PREFIX=$$prefix >/dev/null && \
	  export PKG_CONFIG_PATH=$$prefix/lib/pkgconfig && \
	  $(CXX) $(CORO_FLAGS) examples/embed/main.cpp $$(pkg-config --cflags --libs troupe) \
	    -Wl,-rpath,$$prefix/lib -o $(BUILD)/embed-installed && \
	  $(BUILD)/embed-installed; \
	  status=$$?; rm -rf $$prefix; \
	  if [ $$status -eq 0 ]; then echo "embed-test: passed"; else echo "embed-test: FAILED"; fi; \
	  exit $$status

# make browser-test: two Chromium pages chat through the example server
# (test/browser/chat.mjs); part of `make test`.
.PHONY: browser-test
browser-test: $(BUILD)/examples/server
	@bash test/browser/run.sh $(BUILD)
