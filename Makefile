# Backstop's plain entry points. Every target sets itself up first (cached: seconds when nothing changed).
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
export PATH := $(CURDIR)/.venv/bin:$(CURDIR)/node_modules/.bin:$(PATH)
export SOLCX_BINARY_PATH := $(CURDIR)/.solc
export HARDHAT_DISABLE_TELEMETRY_PROMPT := true
SCENARIO ?= scenarios/om-2025.yaml
OUT ?= reports

.PHONY: setup compile lint lint-py lint-sol demo deploy test test-long stateful-long bench gas gas-update clean

setup:
	@bash tools/setup.sh

compile: setup
	ape compile

## Lint everything: Python (ruff) and Solidity (solhint, forge fmt).
lint: lint-py lint-sol

## Python lint (ruff, configured in pyproject.toml); make test runs it too (tests/test_python_lint.py).
lint-py: setup
	ruff check backstop tests scripts tools

## Solidity lint and format check (`make test` runs the same through tests/test_lint.py): solhint with .solhint.json
## over every contract, solhint with .solhint-interfaces.json (NatSpec on every interface function and event) over
## contracts/interfaces, and forge fmt (foundry.toml [fmt]) with nothing to change.
SOLHINT := solhint --disc --noPoster --max-warnings 0
lint-sol: setup
	$(SOLHINT) 'contracts/**/*.sol'
	$(SOLHINT) -c .solhint-interfaces.json 'contracts/interfaces/*.sol'
	forge fmt --check contracts

## The main job: replay a crash on a local Anvil that it starts and stops itself.
demo: setup
	ape compile
	backstop replay $(SCENARIO) --out $(OUT)/$(basename $(notdir $(SCENARIO)))

## Deploy to a local Anvil that stops when the command ends (a dry run: the addresses go with it);
## NETWORK=http://127.0.0.1:8545 deploys to a node you run, where the contracts stay.
deploy: setup
	backstop deploy $(if $(NETWORK),--network $(NETWORK))

## The test suite CI runs (short property runs; `make test-long` for the long ones), on WORKERS processes
## (pytest-xdist, whole files per worker) and on an Anvil without step tracing (tools/anvil-untraced/anvil).
WORKERS ?= 2
TEST_RUN = PATH=$(CURDIR)/tools/anvil-untraced:$$PATH ape test tests/ -p no:cacheprovider -n $(WORKERS) --dist loadfile
test: setup
	$(TEST_RUN) $(PYTEST_ARGS)

test-long: setup
	BACKSTOP_PROPERTY_EXAMPLES=300 $(TEST_RUN) $(PYTEST_ARGS)

## The stateful invariant hunt at length: EXAMPLES x STEPS steps (default 2,000 x 50: up to 100,000 steps). It runs
## on its own Anvil without the step tracing Ape starts Anvil with (which doubles the cost of a transaction), at
## ANVIL_PORT; prints steps, rules, ADL executions and wall time, and writes them to $(OUT)/stateful-long.json
## (rewritten every 100 examples, so a run cut short still leaves its figures).
# 2,400 examples of about 43 steps on average: 100,000 steps and more
EXAMPLES ?= 2400
STEPS ?= 50
ANVIL_PORT ?= 8575
stateful-long: setup
	ape compile
	anvil --port $(ANVIL_PORT) --mnemonic "test test test test test test test test test test test junk" --accounts 10 \
		--balance 10000 --block-base-fee-per-gas 0 --gas-price 0 --hardfork cancun --silent & node=$$!; \
	trap 'kill $$node' EXIT; sleep 3; \
	APE_FOUNDRY_HOST=http://127.0.0.1:$(ANVIL_PORT) BACKSTOP_PROPERTY_EXAMPLES=$(EXAMPLES) BACKSTOP_STATEFUL_STEPS=$(STEPS) \
		BACKSTOP_STATEFUL_REPORT=$(OUT)/stateful-long.json ape test tests/test_stateful.py -p no:cacheprovider -s -q $(PYTEST_ARGS)

## Every benchmark into benchmarks/results.json and .md (several minutes); BENCH_ARGS=--quick skips the OM replay.
bench: setup
	ape run bench $(BENCH_ARGS)

## Gas per operation against snapshots/gas.json (about a minute): fails when one costs more than 1% above it.
gas: setup
	ape run gas

## Re-measure snapshots/gas.json after a deliberate gas change (commit it with the change).
gas-update: setup
	ape run gas --update

clean:
	rm -rf .build .cache .solc .venv node_modules reports
