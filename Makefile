# Backstop's plain entry points. Every target sets itself up first (cached: seconds when nothing changed).
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
export PATH := $(CURDIR)/.venv/bin:$(CURDIR)/node_modules/.bin:$(PATH)
export SOLCX_BINARY_PATH := $(CURDIR)/.solc
export HARDHAT_DISABLE_TELEMETRY_PROMPT := true
SCENARIO ?= scenarios/om-2025.yaml
OUT ?= reports

.PHONY: setup compile demo deploy test test-long bench clean

setup:
	@bash tools/setup.sh

compile: setup
	ape compile

## The main job: replay a crash on a local Anvil that it starts and stops itself.
demo: setup
	ape compile
	backstop replay $(SCENARIO) --out $(OUT)/$(basename $(notdir $(SCENARIO)))

deploy: setup
	ape run deploy

## The test suite CI runs (short property runs; `make test-long` for the long ones).
test: setup
	ape test tests/ -p no:cacheprovider $(PYTEST_ARGS)

test-long: setup
	BACKSTOP_PROPERTY_EXAMPLES=300 ape test tests/ -p no:cacheprovider $(PYTEST_ARGS)

## Every benchmark into benchmarks/results.json and .md (several minutes); BENCH_ARGS=--quick skips the OM replay.
bench: setup
	ape run bench $(BENCH_ARGS)

clean:
	rm -rf .build .cache .solc .venv node_modules reports
