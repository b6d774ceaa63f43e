# make bench-ws: the WebSocket workloads of ../shared/bench-peers/ws on
# Troupe's gateway, beside Node ws and Go gorilla in the same run.
# BENCH_WS_ARGS passes options to the kit's run.sh (e.g. --quick).
WS_KIT := $(abspath ../shared/bench-peers/ws)

.PHONY: bench-ws
bench-ws: deps $(BUILD)/bench/ws_server
	@tmp=$$(mktemp -d) && cp -r $(WS_KIT) $$tmp/ws && \
	  bash $$tmp/ws/run.sh --server '$(abspath $(BUILD))/bench/ws_server --port=$$PORT' \
	    --port 9200 --name troupe --out $(abspath $(BUILD))/ws-results.txt $(BENCH_WS_ARGS); \
	  status=$$?; rm -rf $$tmp; exit $$status
