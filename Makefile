# fastcap: `make demo` sets up and analyses the bundled example; `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
ACTIVATE := source $(BIN)/activate

# The sub-targets of `test` assume `setup` ran (it is `test`'s first prerequisite).
.PHONY: setup build demo test test-rust test-python lint format bench bench-ci clean fuzz

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

setup: $(BIN)/python
	$(BIN)/pip install --quiet "maturin>=1.7,<2"
	$(ACTIVATE) && maturin develop --release --extras dev
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

test: setup test-rust lint test-python bench-ci

bench: setup
	$(BIN)/python benches/bench_cbor.py --size-mb 200
	$(BIN)/python benches/bench_eventstream.py
	$(BIN)/python benches/bench_sse.py
	$(BIN)/python benches/bench_mitmlog.py

# Fuzzing (docs/fuzzing.md): replay fuzz/regressions/, then run every target for FUZZ_SECONDS
# each (Rust targets through cargo-fuzz on the nightly toolchain; the Python ones when atheris is
# installed in .venv). Corpora grow in fuzz/corpus/, crashes land in fuzz/artifacts/.
FUZZ_SECONDS ?= 60
fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) fuzz/run.sh

clean:
	rm -rf target $(VENV) out
