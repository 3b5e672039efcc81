#!/usr/bin/env bash
# `make deps` (the first step of `make test`): checks everything `make test` needs beyond
# the Rust toolchain and installs what is missing, on Debian 12 (bookworm):
# - rustup: the clippy and rustfmt components and the targets of `make no-std` and
#   `make c-test-m32`, for the active toolchain;
# - rustup: the toolchain of the declared minimum Rust version (`make msrv`);
# - cbindgen at the version the checked-in header was made with (cargo install);
# - apt: libcmocka-dev, valgrind (C suites); gcc-multilib, libcmocka-dev:i386 and
#   libc6-dbg:i386 (their -m32 run; valgrind needs libc6-dbg); pkg-config, cmake (the
#   consumers of the installed library); util-linux (memmap's tests compare with lsmem);
#   gcc-arm-none-eabi and qemu-system-arm (the C contract checks on an emulated
#   Cortex-M4), binutils-aarch64-linux-gnu and binutils-riscv64-linux-gnu (ffi/relink.sh),
#   these four without their recommended packages (72 MB to download; about 570 MB with them).
# apt-get runs as root, or through sudo when sudo works without a password; otherwise
# the script fails and prints the exact commands to run. Each check is quick: with
# everything present this installs nothing and prints one line.
set -euo pipefail

CBINDGEN_VERSION=${CBINDGEN_VERSION:-0.29.4}
TARGETS="thumbv7em-none-eabihf aarch64-unknown-none riscv64gc-unknown-none-elf x86_64-unknown-none
  i686-unknown-linux-gnu"
COMPONENTS="clippy rustfmt"
APT="libcmocka-dev valgrind gcc-multilib libcmocka-dev:i386 libc6-dbg:i386 pkg-config cmake util-linux"
APT_NO_RECOMMENDS="gcc-arm-none-eabi qemu-system-arm binutils-aarch64-linux-gnu binutils-riscv64-linux-gnu"

# "ii": installed (an unqualified name matches any of its architectures).
installed() { dpkg-query -W -f='${db:Status-Abbrev}\n' "$1" 2>/dev/null | grep -q '^ii'; }
missing() { for p in "$@"; do installed "$p" || printf '%s ' "$p"; done; }

# shellcheck disable=SC2086 # lists of names
apt_missing=$(missing $APT)
# shellcheck disable=SC2086
apt_missing_nr=$(missing $APT_NO_RECOMMENDS)
if [ -n "$apt_missing$apt_missing_nr" ]; then
  if [ "$(id -u)" -eq 0 ]; then
    as_root=
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    as_root="sudo "
  else
    echo "make deps: missing Debian packages: $apt_missing$apt_missing_nr" >&2
    echo "make deps: run as root (or with sudo), then make test again:" >&2
    case "$apt_missing" in *:i386*) echo "  dpkg --add-architecture i386" >&2 ;; esac
    echo "  apt-get update" >&2
    [ -z "$apt_missing" ] || echo "  apt-get install -y $apt_missing" >&2
    [ -z "$apt_missing_nr" ] || echo "  apt-get install -y --no-install-recommends $apt_missing_nr" >&2
    exit 1
  fi
  echo "make deps: installing with apt-get: $apt_missing$apt_missing_nr"
  export DEBIAN_FRONTEND=noninteractive
  case "$apt_missing" in
    *:i386*) dpkg --print-foreign-architectures | grep -qx i386 || ${as_root}dpkg --add-architecture i386 ;;
  esac
  # A failed index download (a mirror mid-sync) leaves the previous index: go on with it.
  ${as_root}apt-get update -qq || echo "make deps: apt-get update failed, trying the installed package lists"
  # shellcheck disable=SC2086
  [ -z "$apt_missing" ] || ${as_root}apt-get install -y -qq $apt_missing >/dev/null
  # shellcheck disable=SC2086
  [ -z "$apt_missing_nr" ] || ${as_root}apt-get install -y -qq --no-install-recommends $apt_missing_nr >/dev/null
fi

have_targets=$(rustup target list --installed)
for t in $TARGETS; do
  grep -qx "$t" <<<"$have_targets" || rustup target add "$t"
done
have_components=$(rustup component list --installed)
for c in $COMPONENTS; do
  grep -q "^$c-" <<<"$have_components" || rustup component add "$c"
done

# The declared minimum Rust version (`make msrv` builds the core and the C library
# with it), from the workspace's rust-version.
msrv=$(sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml | head -1)
rustup toolchain list | grep -q "^$msrv-" || rustup toolchain install "$msrv" --profile minimal

if [ "$(cbindgen --version 2>/dev/null)" != "cbindgen $CBINDGEN_VERSION" ]; then
  cargo install cbindgen --version "$CBINDGEN_VERSION" --locked
fi
echo "make deps: Debian packages, rustup targets and components, Rust $msrv, cbindgen $CBINDGEN_VERSION present"
