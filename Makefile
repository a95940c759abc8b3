# The two commands a user needs: `make pilot` (the whole pilot) and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed

.PHONY: setup kafka test pilot bench lint clean

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

test: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

pilot: setup
	$(BIN)/labctl pilot

bench: setup
	$(BIN)/python -m bench

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
