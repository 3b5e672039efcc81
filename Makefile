# sparsemem: every test, Rust and C, behind one command (`make test`).
# .ci/run installs the toolchain pieces and packages this needs, then runs `make test`.

CARGO ?= cargo
NO_STD_TARGETS := thumbv7em-none-eabihf aarch64-unknown-none riscv64gc-unknown-none-elf x86_64-unknown-none

.PHONY: test rust-test lint no-std run sizes

test: lint rust-test no-std

rust-test:
	$(CARGO) test --workspace --all-targets
	$(CARGO) test --workspace --doc

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# The core must build for bare-metal targets, including one without 64-bit atomics.
no-std:
	for t in $(NO_STD_TARGETS); do $(CARGO) build -p sparsemem --release --target $$t || exit 1; done

run:
	$(CARGO) run --release -p sparsemem --example memmap

sizes:
	$(CARGO) run --release -p sparsemem --example sizes
