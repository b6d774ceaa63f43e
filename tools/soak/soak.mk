# make soak SOAK_S=N: the chaos soak (docs/soak.md). The example server in
# its FileStore mode, then its Redis mode (SOAK_S/2 seconds each), under 32
# counter and chat clients, with faults injected at random: session crashes,
# SIGKILL and restart of the server, redis-server killed and restarted, slow
# consumers, connection churn, a full disk. First the unit tests of the
# invariant arithmetic; ends with one line,
#   soak seconds=N faults=N acked=N lost=N duplicated=N fd_growth=N rss_growth_kb=N
# and fails when an invariant breaks. SOAK_SEED=N repeats a run's faults;
# the servers' logs are kept in $(BUILD)/soak/. The whole run is bounded:
# SIGINT at SOAK_S + 300 s (the controller cleans up), SIGKILL 30 s later.
# make soak-selftest: the checker must fail when the accounting is broken
# on purpose (a phantom ack; an id resent past the server's dedupe window).
SOAK_S    ?= 600
SOAK_SEED ?=
SOAK_PY   := /usr/bin/python3
SOAK_RUN   = timeout -s INT -k 30 $$(( $(SOAK_S) + 300 )) $(SOAK_PY) tools/soak/soak.py \
             $(BUILD)/examples/server examples/server/www --log-dir $(BUILD)/soak \
             $(if $(SOAK_SEED),--seed $(SOAK_SEED))

.PHONY: soak soak-unit soak-selftest
soak: deps soak-unit $(BUILD)/examples/server
	$(SOAK_RUN) --seconds $(SOAK_S)

soak-unit:
	@$(SOAK_PY) -m unittest discover -s tools/soak -p 'test_*.py'

soak-selftest: deps soak-unit $(BUILD)/examples/server
	@bash tools/soak/selftest.sh $(BUILD)/examples/server
