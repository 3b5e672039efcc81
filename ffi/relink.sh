#!/bin/sh
# The C library of a bare-metal target with only smem_* global: `ffi/relink.sh TARGET
# ARCHIVE DIR`. cargo's staticlib ARCHIVE holds Rust objects with their global symbols
# (rust_begin_unwind, mangled names, compiler_builtins' memcpy and __aeabi_*), which clash
# with a firmware's own. What smem_* need of it is linked into one relocatable object,
# only smem_* stay global (the LLVM bitcode sections dropped), and DIR/libsparsemem.a
# holds that object. Checked: every function of include/sparsemem.h is there, no other
# defined global or weak symbol, no undefined symbol. The host's library gets the same
# treatment in the Makefile's c-lib with the host's tools; here the GNU binutils of the
# target's architecture (make deps installs them).
set -eu
target=$1 archive=$2 dir=$3
case $target in
  thumbv7em-*) bin=arm-none-eabi- ;;
  aarch64-*) bin=aarch64-linux-gnu- ;;
  riscv64*) bin=riscv64-linux-gnu- ;;
  x86_64-*) bin=x86_64-linux-gnu- ;;
  *) echo "relink.sh: no binutils known for $target" >&2; exit 1 ;;
esac
mkdir -p "$dir"
# The archive's members that the header's functions reach, not --whole-archive: some of
# compiler_builtins' members that nothing calls do not link with GNU ld (riscv64: C
# objects of the soft-float ABI; relocation types binutils 2.40 does not know).
# The header's static inline functions (smem_pfn_valid_inline) are not in the library.
inline=$(grep -oE '^static inline .*[ *]smem_[a-z0-9_]+\(' include/sparsemem.h | grep -oE 'smem_[a-z0-9_]+\($' | tr -d '(')
undef=$(grep -oE '[ *]smem_[a-z0-9_]+\(' include/sparsemem.h | tr -d ' *(' | sort -u | grep -vxF "$inline" | sed 's/^/-u /')
# shellcheck disable=SC2086 # -u NAME pairs
"${bin}ld" -r -z noexecstack $undef "$archive" -o "$dir/sparsemem-all.o"
"${bin}objcopy" --wildcard --keep-global-symbol='smem_*' --remove-section=.llvmbc \
  --remove-section=.llvmcmd "$dir/sparsemem-all.o" "$dir/sparsemem.o"
rm -f "$dir/libsparsemem.a" "$dir/sparsemem-all.o"
"${bin}ar" rcs "$dir/libsparsemem.a" "$dir/sparsemem.o"
# readelf -sW: Num Value Size Type Bind Vis Ndx Name; defined: Ndx is not UND.
syms=$(readelf -sW "$dir/libsparsemem.a" | awk '($5 == "GLOBAL" || $5 == "WEAK") && $7 != "UND" { print $4, $8 }')
u=$(readelf -sW "$dir/libsparsemem.a" | awk '$7 == "UND" && $8 != ""' | wc -l)
f=$(printf '%s\n' "$syms" | grep -c '^FUNC smem_' || true)
h=$(grep -E '^[a-z].*[ *]smem_[a-z0-9_]+\(' include/sparsemem.h | grep -vc '^static inline')
x=$(printf '%s\n' "$syms" | grep -v ' smem_' | grep -c . || true)
echo "$target libsparsemem.a: $f smem_ functions (the header declares $h), $x other global symbols, $u undefined"
[ "$x" -eq 0 ] || printf '%s\n' "$syms" | grep -v ' smem_' | head -5
test "$f" -eq "$h" && test "$x" -eq 0 && test "$u" -eq 0
