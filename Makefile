# imo-oracle — two commands: `make run` and `make test`. Everything else is a helper.
SHELL := /bin/bash
.DEFAULT_GOAL := help
CARGO ?= cargo
FORGE := .tools/bin/forge

.PHONY: help tools tools-peers browser web build run dispute-demo test test-web test-rust test-contracts test-deploy lint openapi postgres bench clean vectors

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

tools: ## install pinned tools into .tools/ (ONNX Runtime, anvil, forge, solc-js, models)
	@scripts/install-tools.sh

tools-peers: ## the benchmark's peers (KServe, PyTriton, tritonclient) in .tools/venv-peers (tools/requirements-peers.txt)
	@scripts/install-tools.sh peers

browser: ## Debian's chromium for the dashboard's browser tests (apt-get, as root, when missing)
	@scripts/install-tools.sh chromium

web: ## build the dashboard into web/dist (npm ci from web/package-lock.json, esbuild); cargo embeds it
	@scripts/build-web.sh

build: tools web ## build the imo binary (with the dashboard at /app/)
	$(CARGO) build --bin imo

run: build ## start the service on SQLite with a registered sample model
	@scripts/run.sh

dispute-demo: tools ## a wrong output served, `imo verify` catches it, the game is played on a local chain (TEST-ONLY fraud build)
	$(CARGO) build --bin imo --features fault-injection
	@scripts/dispute-demo.sh

postgres: ## make sure the local PostgreSQL answers (starts an installed cluster)
	@scripts/ensure-postgres.sh

lint: ## rustfmt and clippy, warnings are errors
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

vectors: ## regenerate the judge's differential vectors (contracts/test/vectors; `cargo test` checks they are current)
	IMO_WRITE_VECTORS=1 $(CARGO) test -p imo-oracle --lib judge::vectors::vectors_are_up_to_date

openapi: ## regenerate the committed OpenAPI document
	$(CARGO) run -q --bin imo -- openapi > api/openapi.json.tmp && mv api/openapi.json.tmp api/openapi.json

test-web: web ## the dashboard's type check and unit tests (its browser test is an end-to-end test in test-rust)
	cd web && npm run --silent format:check && npm run --silent typecheck && npm run --silent test:unit

test-rust: tools browser postgres web ## Rust unit and end-to-end tests (SQLite and PostgreSQL; the dashboard in Chromium)
	$(CARGO) build --bin imo --features fault-injection
	$(CARGO) test --workspace --no-fail-fast

test-contracts: tools ## Foundry tests (offline, solc-js), gas snapshot and committed artifacts up to date
	cd contracts && ../$(FORGE) test
	cd contracts && ../$(FORGE) snapshot --check
	contracts/export-artifacts.sh --check

test-deploy: tools ## deploy/ validated: yamllint, hadolint, kubernetes-validate --strict, cross-checks with `imo config`
	$(CARGO) build --bin imo --features fault-injection
	scripts/check-deploy.sh

test: tools browser postgres web lint test-web test-rust test-contracts test-deploy ## everything CI runs
	@echo "make test: all suites passed"

bench: tools tools-peers web postgres ## service vs bare ONNX Runtime, peers (KServe, Triton via PyTriton), receipts/s on SQLite and PostgreSQL, receipt tree vs bare hashing, 1-3 replicas on PostgreSQL (release build)
	$(CARGO) build --release --bin imo
	$(CARGO) bench -p imo-e2e --bench inference
	.tools/venv-peers/bin/python tests/python/peers_bench.py --imo "$${CARGO_TARGET_DIR:-target}/release/imo"
	$(CARGO) bench -p imo-e2e --bench tree
	$(CARGO) bench -p imo-e2e --bench cluster

clean: ## remove build outputs and local data (keeps .tools/)
	$(CARGO) clean
	rm -rf data contracts/out contracts/cache web/dist/assets web/dist/index.html web/src/generated
