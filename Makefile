# The two commands a user needs: `make pilot` (the whole pilot) and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed

.PHONY: setup kafka browser test pilot bench bench-peers profile lint clean screenshot

setup: $(STAMP) kafka

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Resolves the pinned Apache Kafka distribution from Maven Central into the
# cache (~/.cache/labctl by default, LABCTL_CACHE to move it). A no-op when cached.
kafka: $(STAMP)
	$(BIN)/labctl fetch-kafka

# Debian's headless Chromium, its driver and tmux for the dashboard tests (no browser
# download). Installs only what is missing, and only as root with apt-get; elsewhere it says
# what to install and the browser tests skip.
BROWSER_PKGS = chromium chromium-driver tmux fonts-dejavu-core
browser:
	@if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ] && command -v tmux >/dev/null; then \
		echo "chromium, chromedriver and tmux are installed"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -qq --no-install-recommends $(BROWSER_PKGS) >/dev/null; \
	else \
		echo "install $(BROWSER_PKGS) to run the dashboard's browser tests (they skip)"; \
	fi

test: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

pilot: setup
	$(BIN)/labctl pilot

# docs/dashboard.png: the dashboard during a real pilot run, taken by the browser test.
screenshot: setup browser
	DASHBOARD_README_SHOT=docs/dashboard.png $(BIN)/python -m pytest \
		tests/dashboard/test_dashboard_browser.py $(PYTEST_ARGS)

# The collectors `make bench` measures beside the agent: Debian's kcat (librdkafka's CLI)
# and rsyslog with omkafka (run as a private instance, never the system service); Apache
# Flume comes from Maven Central like Kafka. Installs only what is missing, and only as root
# with apt-get; elsewhere it says what to install and the bench skips those peers, saying why.
BENCH_PKGS = kcat rsyslog rsyslog-kafka
bench-peers:
	@missing=$$(for p in $(BENCH_PKGS); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; \
	done); \
	if [ -z "$$missing" ]; then \
		echo "$(BENCH_PKGS) are installed"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	else \
		echo "install $$missing to measure them in make bench (they are skipped)"; \
	fi

# py-spy (PyPI) samples a running agent: where its CPU goes, how long the GIL is held.
$(BIN)/py-spy: $(STAMP)
	$(BIN)/python -m pip install --quiet py-spy

# BENCH_ARGS: e.g. --quick (a smaller day file, one round), or one benchmark: peers, scale.
bench: setup bench-peers $(BIN)/py-spy
	$(BIN)/python -m bench $(BENCH_ARGS)

# Where the agent's CPU goes on the batch path (docs/performance.md).
profile: setup $(BIN)/py-spy
	$(BIN)/python -m bench profile $(BENCH_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
