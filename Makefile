# Two commands on a fresh machine with Python 3.11+:
#   make demo   install everything into .venv, then run the bundled HIL scenarios on MicroPython
#   make test   install (if needed) and run the test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint coverage mutate test-all bench install clean

$(STAMP): pyproject.toml tests/board_stubs.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test,mf4]"
	$(BIN)/python tests/board_stubs.py --install $(VENV)/mpy-stubs
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/keigov demo --out runs/demo

# The tests that hold the safety core (firmware/core rx, safety, governor, tx) to the coverage
# gate, and that mutation testing runs against.
CORE_TESTS := tests/test_fw_core_coverage_governor.py tests/test_fw_core_coverage_rx_tx.py \
	tests/test_fw_core_coverage_safety.py tests/test_fw_core_coverage_zones.py tests/test_fw_core_coverage_tables.py \
	tests/test_fw_rx.py tests/test_fw_tx.py tests/test_fw_governor.py tests/test_fw_safety.py tests/test_fw_speed_checks.py

test: $(STAMP)
	$(BIN)/python -m pytest
	$(MAKE) --no-print-directory lint coverage

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

coverage: $(STAMP)
	$(BIN)/python -m pytest -p no:cacheprovider $(CORE_TESTS) --cov --cov-report=term-missing

mutate: $(STAMP)
	$(BIN)/python tools/mutate.py $(CORE_TESTS)

test-all: $(STAMP)
	$(BIN)/python -m pytest -m "slow or not slow"

bench: $(STAMP)
	for b in benchmarks/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) runs build *.egg-info
