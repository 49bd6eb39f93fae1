# fastcap: `make demo` sets up and analyses the bundled example; `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
ACTIVATE := source $(BIN)/activate

# The sub-targets of `test` assume `setup` ran (it is `test`'s first prerequisite).
.PHONY: setup build demo test test-rust test-python test-mitmproxy12 lint format bench bench-ci clean fuzz

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

setup: $(BIN)/python
	$(BIN)/pip install --quiet "maturin>=1.7,<2"
	$(ACTIVATE) && maturin develop --release --extras dev
	@# genai-prices (the `cost` extra) beside mitmproxy 11.0.2 on Python 3.11: its HTTP client (httpx2,
	@# used only to fetch price updates, which fastcap never does) wants h11 >= 0.16, mitmproxy 11.0.2
	@# h11 <= 0.14; pip cannot resolve both, so its pure-Python parts go in without that pin.
	$(BIN)/python -c 'import sys; sys.exit(sys.version_info < (3, 12))' || $(BIN)/python -c 'import genai_prices' 2>/dev/null || { \
		$(BIN)/pip install --quiet "pydantic>=2.10" anyio idna truststore typing-extensions && \
		$(BIN)/pip install --quiet --no-deps "genai-prices>=0.2.3" "httpx2>=2.0" httpcore2; }
	$(BIN)/python -c "import fastcap._native as n; print('fastcap native build:', n.build_profile)"

build:
	$(ACTIVATE) && maturin develop --release --quiet

demo: setup
	$(BIN)/fastcap analyze examples/demo_session.cbor --out out/demo

test-rust:
	cargo test --release -p fastcap-core

# Formatting, lints, types and the native stub, Python and Rust: the same checks as .pre-commit-config.yaml.
lint:
	$(BIN)/ruff check python tests benches examples
	$(BIN)/ruff format --check python tests benches examples
	$(BIN)/python -m mypy
	$(BIN)/lint-imports
	$(BIN)/python -m mypy.stubtest fastcap._native --allowlist stubtest-allowlist.txt
	cargo fmt --all --check
	cargo clippy --release --workspace --all-targets --quiet -- -D warnings

format:
	$(BIN)/ruff check --fix python tests benches examples
	$(BIN)/ruff format python tests benches examples
	cargo fmt --all

test-python:
	$(BIN)/python -m pytest -q -ra

bench-ci:
	$(BIN)/python benches/run_ci.py

# The capture tests again on mitmproxy 12 (Python >= 3.12), beside .venv's mitmproxy 11.0.2 on
# Python 3.11: a second virtualenv with the runtime and test dependencies from pyproject.toml, and
# the native module `setup` built (abi3: one build serves both Pythons). PY312 is any Python >= 3.12:
# python3.13 / python3.12 on PATH, else the newest one pyenv has.
PY312 ?= $(shell for p in python3.13 python3.12; do $$p -c 'import sys; assert sys.version_info >= (3, 12)' >/dev/null 2>&1 && command -v $$p && exit; done; \
	v=$$(pyenv versions --bare 2>/dev/null | grep -E '^3\.1[2-9](\.[0-9]+)?$$' | tail -1); [ -n "$$v" ] && echo "$$(pyenv root)/versions/$$v/bin/python3")
VENV12 := .venv-mitmproxy12
NO_TEST_TOOLS := maturin|mypy|ruff|vulture|pre-commit|import-linter|playwright
$(VENV12)/bin/python:
	@test -n "$(PY312)" || { echo "make test-mitmproxy12: no Python >= 3.12 found (PATH or pyenv); set PY312=/path/to/python3.12" >&2; exit 1; }
	$(PY312) -m venv $(VENV12)
	$(VENV12)/bin/pip install --quiet --upgrade pip
	$(VENV12)/bin/python -c "import tomllib, re; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; \
		print('\n'.join(d for d in p['dependencies'] + p['optional-dependencies']['dev'] if not re.match(r'($(NO_TEST_TOOLS))\b', d)))" \
		> $(VENV12)/requirements.txt
	$(VENV12)/bin/pip install --quiet -r $(VENV12)/requirements.txt

test-mitmproxy12: $(VENV12)/bin/python
	$(VENV12)/bin/python -c "import mitmproxy.version as v, sys; assert v.VERSION.startswith('12.'), v.VERSION; print('mitmproxy', v.VERSION, 'on Python', sys.version.split()[0])"
	PYTHONPATH=python $(VENV12)/bin/python -m pytest -q -ra -p no:cacheprovider tests/capture

test: setup test-rust lint test-python test-mitmproxy12 bench-ci

bench: setup
	$(BIN)/python benches/bench_cbor.py --size-mb 200
	$(BIN)/python benches/bench_eventstream.py
	$(BIN)/python benches/bench_sse.py
	$(BIN)/python benches/bench_mitmlog.py

# Fuzzing (docs/fuzzing.md): replay fuzz/regressions/, then run every target for FUZZ_SECONDS
# each (Rust targets through cargo-fuzz on the nightly toolchain; the Python ones when atheris is
# installed in .venv). Corpora grow in fuzz/corpus/, crashes land in fuzz/artifacts/.
# FUZZ_SANITIZER=none builds the Rust targets without AddressSanitizer (about ten times faster,
# for long runs; CI keeps ASan).
FUZZ_SECONDS ?= 60
FUZZ_SANITIZER ?= address
fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_SANITIZER=$(FUZZ_SANITIZER) fuzz/run.sh

clean:
	rm -rf target $(VENV) $(VENV12) out
