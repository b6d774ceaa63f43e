# make bench-isolation (issue #17): one session computing for 2 s while 20
# others echo, with the isolation on and off, then what the isolation costs
# on echo throughput and ring (bench/README.md, "bench-isolation"). Uses the
# ws kit of bench/ws.mk (WS_KIT) for the echo figure when it is there.
.PHONY: bench-isolation
bench-isolation: deps $(BUILD)/bench/ws_server $(BUILD)/bench/actors_bench
	@bash bench/isolation.sh $(BUILD) $(WS_KIT)
