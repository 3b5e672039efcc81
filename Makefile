# sparsemem: every test, Rust and C, behind one command (`make test`), which installs
# what it needs first (`make deps`). .ci/run runs it, then `make miri` and `make fuzz`.

CARGO ?= cargo
NO_STD_TARGETS := thumbv7em-none-eabihf aarch64-unknown-none riscv64gc-unknown-none-elf x86_64-unknown-none

.PHONY: c-lib c-test-m32 test check rust-test lint no-std run sizes bench fuzz header header-check c-abi c-test \
	loom miri install install-c install-memmap install-check install-check-c install-check-memmap \
	deps test-steps c-lib-bare c-lib-firmware c-test-cortex-m docs package msrv version-check

# The steps of `make test`, in order.
TEST_STEPS := lint rust-test loom no-std header-check c-abi c-test c-test-m32 c-test-cortex-m install-check \
	docs package msrv version-check

# `make test`: `make deps`, then every step, its output streamed and kept in
# target/test.log; the last line adds up every runner's counts (tools/totals.awk). The
# status is the steps' (a failed step stops them) and the totals' (a failed test).
test:
	@mkdir -p target
	@{ $(MAKE) --no-print-directory deps && $(MAKE) --no-print-directory test-steps; \
	  echo $$? > target/test.status; } 2>&1 | tee target/test.log
	@awk -f tools/totals.awk target/test.log; t=$$?; \
	  test "$$(cat target/test.status)" -eq 0 || { echo "make test: a step failed (target/test.log)"; exit 1; }; \
	  exit $$t
test-steps: $(TEST_STEPS)

# Checks the Debian packages, rustup targets and components and cbindgen that `make
# test` needs, and installs what is missing (tools/deps.sh says what and how).
deps:
	CBINDGEN_VERSION=$(CBINDGEN_VERSION) tools/deps.sh

# The quick loop while editing (well under a minute once built): format, clippy and
# the core's unit tests.
check:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy -p sparsemem --all-targets -- -D warnings
	$(CARGO) test -p sparsemem --lib

# Per package: the core's tests turn on its `alloc` and `fault-injection` features,
# which must not leak into the no_std C library (cargo unifies features per call).
# The ffi package's tests (hostile input to every C function) call it through its rlib
# with the `std` feature, with debug assertions and overflow checks on.
rust-test:
	$(CARGO) test -p sparsemem --all-targets
	$(CARGO) test -p sparsemem --doc
	@# memmap's tests include tests/lsmem_compat.rs: util-linux lsmem against memmap.
	$(CARGO) test -p sparsemem-memmap
	$(CARGO) test -p sparsemem-ffi --tests

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy -p sparsemem --all-targets -- -D warnings
	$(CARGO) clippy -p sparsemem-ffi --all-targets -- -D warnings
	$(CARGO) clippy -p sparsemem-memmap --all-targets -- -D warnings
	$(CARGO) clippy -p sparsemem-testkit --all-targets --all-features -- -D warnings
	@# --all-targets builds the tests, whose dev-dependency turns `std` on: the no_std
	@# library with its panic handler (what C links) is linted on its own.
	$(CARGO) clippy -p sparsemem-ffi --lib -- -D warnings

# The core and the C library must build for bare-metal targets, including one without
# 64-bit atomics, and for Armv7-M with the README's firmware capacity too. The C
# library's rlib and staticlib only: rustc drops the cdylib for these targets (with a
# warning), so `cargo rustc --crate-type` names the two it builds.
# Each C library is relinked with only smem_* global and checked (ffi/relink.sh), into
# target/c/no-std/<target>/; and the firmware library first (c-lib-firmware).
no-std: c-lib-firmware
	for t in $(NO_STD_TARGETS); do $(CARGO) build -p sparsemem --release --target $$t || exit 1; \
	  $(CARGO) rustc -p sparsemem-ffi --release --target $$t --crate-type rlib,staticlib || exit 1; \
	  ffi/relink.sh $$t target/$$t/release/libsparsemem_ffi.a target/c/no-std/$$t || exit 1; done

# A bare-metal C library: `make c-lib-bare C_TARGET=<one of NO_STD_TARGETS>
# [CAPACITY=...]` writes libsparsemem.a, only smem_* global (ffi/relink.sh), and its
# header (include/sparsemem.h) to target/c/<C_TARGET>/.
c-lib-bare:
	env $(CAPACITY) $(CARGO) rustc -p sparsemem-ffi --release $(CARGO_C) --crate-type rlib,staticlib
	ffi/relink.sh $(C_TARGET) $(CARGO_C_OUT)/libsparsemem_ffi.a $(C_LIB_DIR)
	$(MAKE) --no-print-directory header C_TARGET=$(C_TARGET) CAPACITY="$(CAPACITY)"

# The README's small firmware configuration on Armv7-M, in $(FIRMWARE_DIR).
FIRMWARE_TARGET := thumbv7em-none-eabihf
FIRMWARE_DIR := target/c/$(FIRMWARE_TARGET)
c-lib-firmware:
	$(MAKE) --no-print-directory c-lib-bare C_TARGET=$(FIRMWARE_TARGET) CAPACITY="$(FIRMWARE_CAPACITY)"
	$(CC) -std=c99 -Wall -Wextra -Werror -pedantic -fsyntax-only -x c $(FIRMWARE_DIR)/include/sparsemem.h

# The C contract checks of c-tests/cortex-m/contract.c on an emulated Cortex-M4 (QEMU's
# mps2-an386 board), against the firmware library (only smem_* global: the program brings
# its own memcpy and memset, libgcc its __aeabi_*): arm-none-eabi-gcc, no libc, no heap;
# output and exit status through semihosting. The program prints "c-tests: N passed,
# M failed"; a hang (a fault handler exits, so only a wedged core) ends after 120 s.
ARM_CC := arm-none-eabi-gcc
CORTEX_M4 := -mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16
c-test-cortex-m: c-lib-firmware
	$(ARM_CC) $(CORTEX_M4) -std=c11 -O2 -g -Wall -Wextra -Werror -ffreestanding -nostdlib \
	  -I$(FIRMWARE_DIR)/include -T c-tests/cortex-m/mps2.ld c-tests/cortex-m/startup.c \
	  c-tests/cortex-m/contract.c $(FIRMWARE_DIR)/libsparsemem.a -lgcc -Wl,-z,noexecstack -Wl,--gc-sections -o $(FIRMWARE_DIR)/contract.elf
	timeout 120 qemu-system-arm -M mps2-an386 -display none -monitor none -serial null \
	  -semihosting-config enable=on,target=native -kernel $(FIRMWARE_DIR)/contract.elf

CC ?= cc
HOST := $(shell rustc -vV | sed -n 's/^host: //p')
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
MAJOR := $(firstword $(subst ., ,$(VERSION)))
MINOR := $(word 2,$(subst ., ,$(VERSION)))
# The shared library's ABI version (its SONAME suffix): MAJOR, but MAJOR.MINOR while the
# major version is 0, because a 0.x minor release may break the C ABI (README,
# "Versioning"): a program linked against 0.1 must not load 0.2.
SOVERSION := $(if $(filter 0,$(MAJOR)),$(MAJOR).$(MINOR),$(MAJOR))

# The C library as C projects get it, in target/c, from cargo's libsparsemem_ffi.a (the
# crate's staticlib; its rlib is for Rust tests): cargo's staticlib carries every Rust
# object with its global symbols (about 230 besides smem_*: rust_begin_unwind, mangled
# names), which clash when a program links two Rust static libraries, and cargo's
# cdylib exports rust_eh_personality. So the archive is linked into one relocatable
# object whose only global symbols are smem_* (objcopy; the LLVM bitcode sections are
# dropped, which binutils' LLVM plugin may choke on), archived again, and the shared
# library is linked from that object with SONAME libsparsemem.so.SOVERSION.
#
# C_TARGET (a rustc target triple with a C toolchain here: the host's, or i686 with -m32)
# and CAPACITY (SPARSEMEM_* assignments) build another configuration into
# target/c/<C_TARGET>/, with its own header in include/ there (needs cbindgen).
ifeq ($(C_TARGET)$(CAPACITY),)
C_LIB_DIR := target/c
C_HEADER := include/sparsemem.h
else
C_LIB_DIR := target/c/$(or $(C_TARGET),$(HOST))
C_HEADER := $(C_LIB_DIR)/include/sparsemem.h
endif
CARGO_C := $(if $(CAPACITY),--target-dir target/capacity) $(if $(C_TARGET),--target $(C_TARGET))
CARGO_C_OUT := $(if $(CAPACITY),target/capacity,target)/$(if $(C_TARGET),$(C_TARGET)/)release
C_ARCH := $(if $(filter i686-%,$(C_TARGET)),-m32)
c-lib:
	env $(CAPACITY) $(CARGO) build -p sparsemem-ffi --release $(CARGO_C)
	@mkdir -p $(C_LIB_DIR)
	$(CC) $(C_ARCH) -r -nostdlib -Wl,--whole-archive $(CARGO_C_OUT)/libsparsemem_ffi.a -o $(C_LIB_DIR)/sparsemem-all.o
	objcopy --wildcard --keep-global-symbol='smem_*' --remove-section=.llvmbc \
	  --remove-section=.llvmcmd $(C_LIB_DIR)/sparsemem-all.o $(C_LIB_DIR)/sparsemem.o
	rm -f $(C_LIB_DIR)/libsparsemem.a $(C_LIB_DIR)/sparsemem-all.o
	ar rcs $(C_LIB_DIR)/libsparsemem.a $(C_LIB_DIR)/sparsemem.o
	$(CC) $(C_ARCH) -shared -Wl,-soname,libsparsemem.so.$(SOVERSION) -o $(C_LIB_DIR)/libsparsemem.so.$(VERSION) \
	  $(C_LIB_DIR)/sparsemem.o
	ln -sf libsparsemem.so.$(VERSION) $(C_LIB_DIR)/libsparsemem.so.$(SOVERSION)
	ln -sf libsparsemem.so.$(SOVERSION) $(C_LIB_DIR)/libsparsemem.so
	$(if $(filter include/%,$(C_HEADER)),,$(MAKE) --no-print-directory header HEADER=$(C_HEADER))

# The C tests again, 32-bit: the library for i686-unknown-linux-gnu with its own header
# (SMEM_MAP_BYTES is that target's), and the suites built with -m32 against it.
M32 := i686-unknown-linux-gnu
c-test-m32: c-test
	$(MAKE) --no-print-directory c-lib C_TARGET=$(M32)
	$(MAKE) -C c-tests all B=build-m32 CC="$(CC) -m32" PROGRAMS="demo readme_example" LIB_DIR=$(abspath target/c/$(M32)) \
	  INCLUDE_DIR=$(abspath target/c/$(M32)/include) TRACE_DIR=$(abspath target/tmp/c-diff)

# The C library (needs no cbindgen: the header is checked in; `make header-check`,
# part of `make test`, is what needs it): header clean as C99 and C++17, every function
# with a documented return value; only smem_* symbols
# global in libsparsemem.a and exported by libsparsemem.so; and no panic path in cargo's
# shared library (rustc links a cdylib with --gc-sections, so what remains is what the
# exported functions can reach).
c-abi: c-lib
	$(CC) -std=c99 -Wall -Wextra -Werror -pedantic -Iinclude -fsyntax-only -x c include/sparsemem.h
	$(CXX) -std=c++17 -Wall -Wextra -Werror -pedantic -Iinclude -fsyntax-only -x c++ include/sparsemem.h
	@# Every function that returns a value documents it (kernel-doc `Return:`).
	@f=$$(grep -cE '^[a-z].*[ *]smem_[a-z0-9_]+\(' include/sparsemem.h); \
	  v=$$(grep -cE '^void smem_[a-z0-9_]+\(' include/sparsemem.h); \
	  r=$$(grep -c '^ \* Return: ' include/sparsemem.h); \
	  echo "sparsemem.h: $$f functions, $$r with a Return: section, $$v void"; test "$$r" -eq $$((f - v))
	@a=$$(nm -g --defined-only $(C_LIB_DIR)/libsparsemem.a | grep -c ' T smem_'); \
	  ax=$$(nm -g --defined-only $(C_LIB_DIR)/libsparsemem.a | grep ' [A-Z] ' | grep -vc ' smem_' || true); \
	  d=$$(nm -D --defined-only $(C_LIB_DIR)/libsparsemem.so | grep -c ' T smem_'); \
	  dx=$$(nm -D --defined-only $(C_LIB_DIR)/libsparsemem.so | grep -vc ' smem_' || true); \
	  so=$$(readelf -d $(C_LIB_DIR)/libsparsemem.so | grep -c 'SONAME.*libsparsemem.so.$(SOVERSION)\]'); \
	  echo "libsparsemem.a: $$a smem_ functions, $$ax other global symbols; libsparsemem.so: $$d smem_ exports, $$dx others, SONAME ok: $$so"; \
	  test "$$a" -ge 32 && test "$$ax" -eq 0 && test "$$d" -eq "$$a" && test "$$dx" -eq 0 && test "$$so" -eq 1
	@# A C program links against the shared library by its name and runs.
	$(CC) -std=c11 -Wall -Werror -Iinclude c-tests/demo.c -L$(C_LIB_DIR) -lsparsemem \
	  -Wl,-rpath,$(abspath $(C_LIB_DIR)) -o $(C_LIB_DIR)/demo-shared
	$(C_LIB_DIR)/demo-shared > /dev/null
	@p=$$(nm target/release/libsparsemem_ffi.so | grep -ci 'panic\|rust_begin_unwind' || true); \
	  echo "cargo's libsparsemem_ffi.so holds $$p panic symbols"; test "$$p" -eq 0
	@# The same check must see the panic paths of an unoptimised build, or it looks for nothing.
	$(CARGO) build -p sparsemem-ffi
	@q=$$(nm target/debug/libsparsemem_ffi.so | grep -ci 'panic' || true); \
	  echo "the debug build holds $$q panic symbols (the check can see them)"; test "$$q" -gt 0

# Installs the C library as C projects expect it (GNU layout; DESTDIR for staging):
# the header, libsparsemem.a, libsparsemem.so.X.Y.Z with its SONAME link .so.X and
# its development link .so, a pkg-config file and a CMake package (find_package).
# The CMake files find everything relative to themselves, so a staged tree works too.
PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
CMAKE_DIR := $(LIBDIR)/cmake/sparsemem
PKG_SUBST := sed -e 's|@PREFIX@|$(PREFIX)|; s|@LIBDIR@|$(LIBDIR)|; s|@INCLUDEDIR@|$(INCLUDEDIR)|' \
	-e 's|@VERSION@|$(VERSION)|g; s|@MAJOR@|$(MAJOR)|g; s|@MINOR@|$(MINOR)|g; s|@SOVERSION@|$(SOVERSION)|g' \
	-e 's|@CMAKE_TO_PREFIX@|$(shell realpath -m --relative-to=$(CMAKE_DIR) $(PREFIX))|' \
	-e 's|@LIBDIR_REL@|$(shell realpath -m --relative-to=$(PREFIX) $(LIBDIR))|' \
	-e 's|@INCLUDEDIR_REL@|$(shell realpath -m --relative-to=$(PREFIX) $(INCLUDEDIR))|'
install: install-c
install-c: c-lib
	install -d $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(CMAKE_DIR)
	install -m 644 $(C_HEADER) $(DESTDIR)$(INCLUDEDIR)/
	install -m 644 $(C_LIB_DIR)/libsparsemem.a $(DESTDIR)$(LIBDIR)/
	install -m 755 $(C_LIB_DIR)/libsparsemem.so.$(VERSION) $(DESTDIR)$(LIBDIR)/
	ln -sf libsparsemem.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libsparsemem.so.$(SOVERSION)
	ln -sf libsparsemem.so.$(SOVERSION) $(DESTDIR)$(LIBDIR)/libsparsemem.so
	$(PKG_SUBST) ffi/pkg/sparsemem.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/sparsemem.pc
	$(PKG_SUBST) ffi/pkg/sparsemem-config.cmake.in > $(DESTDIR)$(CMAKE_DIR)/sparsemem-config.cmake
	$(PKG_SUBST) ffi/pkg/sparsemem-config-version.cmake.in > $(DESTDIR)$(CMAKE_DIR)/sparsemem-config-version.cmake

# Installs into a staging tree (DESTDIR, PREFIX=/usr as a distribution package would)
# and builds c-tests/installed/consumer.c against it twice: with pkg-config (shared
# library, by -lsparsemem) and with CMake's find_package (shared and static), and runs
# each; find_package must refuse the next minor version.
STAGE := $(CURDIR)/target/c/stage
install-check: install-check-c install-check-memmap
install-check-c:
	rm -rf $(STAGE) target/c/consumer-cmake target/c/consumer-cmake-next
	$(MAKE) --no-print-directory install-c DESTDIR=$(STAGE) PREFIX=/usr
	@test "$$(readlink $(STAGE)/usr/lib/libsparsemem.so)" = libsparsemem.so.$(SOVERSION) && \
	  test "$$(readlink $(STAGE)/usr/lib/libsparsemem.so.$(SOVERSION))" = libsparsemem.so.$(VERSION) || \
	  { echo "install: wrong .so links"; exit 1; }
	PKG_CONFIG_SYSROOT_DIR=$(STAGE) PKG_CONFIG_LIBDIR=$(STAGE)/usr/lib/pkgconfig; \
	  export PKG_CONFIG_SYSROOT_DIR PKG_CONFIG_LIBDIR; \
	  test "$$(pkg-config --modversion sparsemem)" = $(VERSION) && \
	  $(CC) -std=c11 -Wall -Werror c-tests/installed/consumer.c $$(pkg-config --cflags --libs sparsemem) \
	    -o target/c/consumer-pkgconfig
	readelf -d target/c/consumer-pkgconfig | grep -q 'NEEDED.*\[libsparsemem.so.$(SOVERSION)\]'
	LD_LIBRARY_PATH=$(STAGE)/usr/lib target/c/consumer-pkgconfig
	cmake -S c-tests/installed -B target/c/consumer-cmake -DCMAKE_PREFIX_PATH=$(STAGE)/usr \
	  -DSMEM_WANT_VERSION=$(MAJOR).$(MINOR) > /dev/null
	cmake --build target/c/consumer-cmake > /dev/null
	target/c/consumer-cmake/consumer
	target/c/consumer-cmake/consumer_static
	@# The package's version file refuses the next minor version (0.x: incompatible).
	@! cmake -S c-tests/installed -B target/c/consumer-cmake-next -DCMAKE_PREFIX_PATH=$(STAGE)/usr \
	  -DSMEM_WANT_VERSION=$(MAJOR).$(shell echo $$(($(MINOR) + 1))) > /dev/null 2>&1 || \
	  { echo "find_package accepted an incompatible version"; exit 1; }

# The C differential driver replays traces of the Rust reference model: write them first.
c-test: c-abi
	$(CARGO) test -p sparsemem --test differential traces_for_the_c_driver
	$(MAKE) -C c-tests all LIB_DIR=$(abspath $(C_LIB_DIR)) INCLUDE_DIR=$(abspath include) \
	  TRACE_DIR=$(abspath target/tmp/c-diff)

# The demo: builds memmap and its dependencies only (16 crates from a clean target
# directory), none of the core's dev-dependencies.
run:
	$(CARGO) run --release -p sparsemem-memmap

# `make install [PREFIX=/usr/local] [DESTDIR=]`. memmap's part: the binary and its man
# pages (memmap.1, memmap-run.1), generated from the clap definition by the hidden
# `--generate-man DIR` flag (no build script: the pages come from the binary built).
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
install: install-memmap

install-memmap:
	$(CARGO) build --release -p sparsemem-memmap
	install -D -m 755 target/release/memmap $(DESTDIR)$(BINDIR)/memmap
	target/release/memmap --generate-man $(DESTDIR)$(MANDIR)/man1

# install-memmap into a staging directory: the installed binary runs, its man page
# documents an lsmem option.
INSTALL_CHECK := $(CURDIR)/target/install-check
install-check-memmap:
	rm -rf $(INSTALL_CHECK)
	$(MAKE) --no-print-directory install-memmap DESTDIR=$(INSTALL_CHECK) PREFIX=/usr
	$(INSTALL_CHECK)/usr/bin/memmap --version
	grep -q '^.TH memmap 1' $(INSTALL_CHECK)/usr/share/man/man1/memmap.1
	grep -q 'output\\-all' $(INSTALL_CHECK)/usr/share/man/man1/memmap.1
	grep -q 'add\\-memory NODE' $(INSTALL_CHECK)/usr/share/man/man1/memmap-run.1

sizes:
	$(CARGO) run --release -p sparsemem --example sizes

# The README's small firmware build (its own target dir: capacity is a build input).
FIRMWARE_CAPACITY := SPARSEMEM_MAX_SECTION_NR_BITS=13 SPARSEMEM_SECTIONS_PER_LEAF=32 \
	SPARSEMEM_MAX_SECTIONS=256 SPARSEMEM_MAX_SUBSECTIONS=64 SPARSEMEM_MAX_NODES=4 \
	SPARSEMEM_MAX_BOOT_RANGES=64 SPARSEMEM_MAX_SHARED_DEVICE_SECTIONS=4 \
	SPARSEMEM_MAX_GROUPS=4 SPARSEMEM_MAX_FAKE_OFFLINE_SECTIONS=4 \
	SPARSEMEM_FLAT_VALID_SUBSECTIONS=32768 SPARSEMEM_FLAT_ONLINE_SUBSECTIONS=16384

# The criterion suite (core/benches/suite/, a few minutes): rewrites the generated
# table of BENCHMARKS.md; criterion's HTML report is target/criterion/report/index.html.
# First the C benchmark (c-tests/bench/pfn_valid.c: the inline and the exported
# smem_pfn_valid against a C flat table), whose lines the report puts in the table.
bench:
	mkdir -p target
	env $(FIRMWARE_CAPACITY) $(CARGO) run -q --release -p sparsemem --example sizes \
	  --target-dir target/firmware > target/firmware-sizes.txt
	$(MAKE) --no-print-directory c-lib
	@# -falign-loops=64: every measured loop starts on a cache line. Without it the same
	@# inline lookup measured 0.72 or 0.97 ns depending on where the loop landed.
	$(CC) -std=c11 -O2 -falign-loops=64 -Wall -Wextra -Werror -Iinclude c-tests/bench/pfn_valid.c \
	  target/c/libsparsemem.a -o target/c/bench-pfn-valid
	target/c/bench-pfn-valid > target/c-bench.txt
	BENCH_FIRMWARE_SIZES=$(CURDIR)/target/firmware-sizes.txt BENCH_C_RESULTS=$(CURDIR)/target/c-bench.txt \
	  $(CARGO) bench -p sparsemem --bench suite

CBINDGEN ?= cbindgen
CBINDGEN_VERSION := 0.29.4

# The C header for a target and a capacity (ffi/header.sh: cbindgen, plus the build-time
# values of ffi/src/capacity.rs read from a build for the target). `make header` writes
# the checked-in include/sparsemem.h (host target, default capacity: the same header for
# every 64-bit target); with C_TARGET (a rustc target triple) or CAPACITY (SPARSEMEM_*
# assignments, see the README's "Footprint") it writes target/c/<C_TARGET>/include/.
ifeq ($(C_TARGET)$(CAPACITY),)
HEADER ?= include/sparsemem.h
else
HEADER ?= target/c/$(or $(C_TARGET),$(HOST))/include/sparsemem.h
endif
header:
	@mkdir -p $(dir $(HEADER))
	env $(CAPACITY) CARGO=$(CARGO) CBINDGEN=$(CBINDGEN) ffi/header.sh $(HEADER) $(or $(C_TARGET),$(HOST))
	@echo "wrote $(HEADER)"

# Fails when the checked-in header is not what the current sources generate. The
# fresh header goes to a temporary file; the checked-in one is never written.
header-check:
	@test "$$($(CBINDGEN) --version)" = "cbindgen $(CBINDGEN_VERSION)" || { echo "need cbindgen $(CBINDGEN_VERSION)"; exit 1; }
	@mkdir -p target
	CARGO=$(CARGO) CBINDGEN=$(CBINDGEN) ffi/header.sh target/sparsemem.h.fresh $(HOST)
	@if ! cmp -s include/sparsemem.h target/sparsemem.h.fresh; then \
	  diff -u include/sparsemem.h target/sparsemem.h.fresh; \
	  echo "include/sparsemem.h is stale: run make header and commit it"; exit 1; fi

# loom models of the concurrency protocols, on a tiny table so each iteration is cheap.
# Three leaves of 4 sections: boot RAM's and two more (a writer crossing two leaves
# handed out in descending address order, against a snapshot); flat valid and online
# bitmaps over the first 16 sections, so every model races its readers against the
# bitmaps' writers.
LOOM_CAPACITY := SPARSEMEM_MAX_SECTION_NR_BITS=8 SPARSEMEM_SECTIONS_PER_LEAF=4 SPARSEMEM_MAX_SECTIONS=12 \
	SPARSEMEM_MAX_SUBSECTIONS=64 SPARSEMEM_MAX_NODES=2 SPARSEMEM_MAX_BOOT_RANGES=4 \
	SPARSEMEM_MAX_SHARED_DEVICE_SECTIONS=1 SPARSEMEM_MAX_GROUPS=2 \
	SPARSEMEM_MAX_FAKE_OFFLINE_SECTIONS=1 SPARSEMEM_FLAT_VALID_SUBSECTIONS=1024 \
	SPARSEMEM_FLAT_ONLINE_SUBSECTIONS=1024
loom:
	env $(LOOM_CAPACITY) RUSTFLAGS="--cfg loom" $(CARGO) test -p sparsemem --release --target-dir target/loom --test loom -- --nocapture --test-threads=1

# The core's tests under Miri (UB, data races, uninitialised reads). Stacked Borrows
# re-checks a reference over the whole map at every call (about 90% of Miri's time in
# a measured run), so a call costs in proportion to the map's size: Miri's build is
# small (MIRI_CAPACITY: x86-64's 19 bits of section numbers, 4 leaves, 64 boot ranges,
# 4 shared device sections, 4 groups, 4 fake-offline sections, flat valid and online
# bitmaps of 64 Ki sub-sections: about 78 KB, a query about 0.07 s interpreted).
# `make miri` (in CI, about 10 minutes on 2 cores) runs the unit tests, the boot
# scenarios, the threaded stress test in its Miri size, and snapshot_versions, with
# isolation off for that one (it reads the checked-in snapshots: file IO).
# Not under Miri (README, "What runs under Miri"):
#  - loom: a model for loom's checker (--cfg loom; `make loom` runs it);
#  - boot_model, boot_property, differential, device_scenarios, ram_hotplug,
#    snapshot_export, rollback, restore_consistency: too slow as they are; their checks
#    compare every pfn, whole-map dumps or snapshots after each step (device_scenarios:
#    4 of 18 tests in 33 min), and boot_model, boot_property and snapshot_export use
#    arm64 presets, which need more section-number bits than Miri's build holds;
#  - the doc tests and the other crates' tests: not tried under Miri yet.
# Tests needing a 52-bit table carry #[cfg_attr(miri, ignore)].
MIRI_CAPACITY := SPARSEMEM_MAX_SECTION_NR_BITS=19 SPARSEMEM_MAX_SECTIONS=512 SPARSEMEM_MAX_BOOT_RANGES=64 \
	SPARSEMEM_MAX_SHARED_DEVICE_SECTIONS=4 SPARSEMEM_MAX_GROUPS=4 SPARSEMEM_MAX_FAKE_OFFLINE_SECTIONS=4 \
	SPARSEMEM_FLAT_VALID_SUBSECTIONS=65536 SPARSEMEM_FLAT_ONLINE_SUBSECTIONS=65536
MIRI := env $(MIRI_CAPACITY) $(CARGO) +nightly miri test -p sparsemem --target-dir target/miri
miri:
	$(MIRI) --lib --test stress --test boot_scenarios
	env MIRIFLAGS="$$MIRIFLAGS -Zmiri-disable-isolation" $(MIRI) --test snapshot_versions

# cargo-fuzz targets (fuzz/, nightly + cargo-fuzz): each runs FUZZ_SECONDS under
# ASan from a copy of its committed seed corpus; libFuzzer's final stats (executions,
# coverage) are printed. A difference from the model or a changed map is a crash.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := differential restore c_abi
fuzz:
	@mkdir -p target
	@for t in $(FUZZ_TARGETS); do \
	  c=$(CURDIR)/target/fuzz-corpus/$$t; log=$(CURDIR)/target/fuzz-$$t.log; \
	  rm -rf $$c && mkdir -p $$c && cp fuzz/corpus/$$t/* $$c/ || exit 1; \
	  if $(CARGO) +nightly fuzz run $$t $$c -- -max_total_time=$(FUZZ_SECONDS) \
	      -print_final_stats=1 > $$log 2>&1; then \
	    echo "fuzz $$t: no crash in $(FUZZ_SECONDS) s"; \
	    grep -E '^#[0-9]+' $$log | tail -1; grep -E '^stat::number_of_executed_units' $$log; \
	  else tail -60 $$log; echo "fuzz $$t: FAILED (log: $$log)"; exit 1; fi; \
	done

# ---- Release checks ------------------------------------------------------------------
PUBLISHED := sparsemem sparsemem-ffi sparsemem-memmap

# The API documentation as docs.rs builds it, without a warning (broken links, bad
# markup); the core's crate-level overview and every public item (missing_docs is deny).
docs:
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --no-deps $(addprefix -p ,$(PUBLISHED))

# What `cargo publish` would upload, packed and built from the tarballs: the three
# together, so that ffi and memmap build against the core's tarball (cargo serves it from
# a local registry) before it is on crates.io. panic=abort as the workspace's profiles
# say, which do not travel with a package: the no_std C library links only with it.
# --allow-dirty: checks the working tree, and publishes nothing. Fails on any warning
# except the tests and benchmarks left out on purpose, and checks what each package holds.
package:
	@mkdir -p target
	$(CARGO) package --allow-dirty $(addprefix -p ,$(PUBLISHED)) --config 'profile.dev.panic="abort"' \
	  2> target/package.log || { cat target/package.log; exit 1; }
	@if grep '^warning' target/package.log | grep -v '^warning: ignoring \(test\|benchmark\) '; then \
	  echo "cargo package: warnings (target/package.log)"; exit 1; fi
	@for p in $(PUBLISHED); do c=target/package/$$p-$(VERSION).crate; \
	  for f in Cargo.toml README.md LICENSE-MIT LICENSE-APACHE src/main.rs:src/lib.rs; do \
	    tar tzf $$c | grep -qxE "$$p-$(VERSION)/($$(echo $$f | tr : '|'))" || { echo "$$c: no $$f"; exit 1; }; done; \
	  if tar tzf $$c | grep -E '/(tests|benches|fuzz)/'; then echo "$$c: test files"; exit 1; fi; \
	  echo "$$c: $$(tar tzf $$c | wc -l) files, $$(du -k $$c | cut -f1) KiB"; done

# The declared minimum Rust version (workspace rust-version) builds the core and the C
# library with the locked dependencies. memmap declares its own, newer one (clap).
MSRV := $(shell sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml | head -1)
msrv:
	$(CARGO) +$(MSRV) build -p sparsemem -p sparsemem-ffi --locked --target-dir target/msrv

# The checked-in header is the C contract: it may change only with a version bump.
version-check:
	.ci/version-check
