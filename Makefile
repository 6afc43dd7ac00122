# watchbot: every target creates .venv on first use, so a fresh machine needs only Python 3.11+ and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test demo eval bench-poll bench-cron bench-match bench-state bench-store-pg bench-scale bench-hostile bench-embed bench-daemon-rss check clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/watchbot run

check: $(STAMP)
	$(BIN)/watchbot check

# Two test processes (pytest-xdist), one test file each at a time: most tests wait on the
# processes and sockets they start, so two share the 2-core machines without doubling each
# other's run time. TEST_WORKERS=0 runs everything in one process.
TEST_WORKERS ?= 2

test: $(STAMP)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

demo: $(STAMP)
	$(BIN)/python -m tests.demo

eval: $(STAMP)
	$(BIN)/python bench/eval.py

bench-poll: $(STAMP)
	$(BIN)/python bench/bench_poll.py

bench-cron: $(STAMP)
	$(BIN)/python bench/bench_cron.py

bench-match: $(STAMP)
	$(BIN)/python bench/bench_match.py

bench-state: $(STAMP)
	$(BIN)/python bench/bench_state.py

bench-store-pg: $(STAMP)
	$(BIN)/python bench/bench_store_pg.py

bench-scale: $(STAMP)
	$(BIN)/python bench/bench_scale.py

bench-hostile: $(STAMP)
	$(BIN)/python bench/bench_hostile.py

bench-embed: $(STAMP)
	$(BIN)/python bench/bench_embed.py

bench-daemon-rss: $(STAMP)
	$(BIN)/python bench/bench_daemon_rss.py

clean:
	rm -rf $(VENV) *.egg-info
