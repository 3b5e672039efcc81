#!/bin/sh
# Writes the C header for a target and a capacity: `make header [C_TARGET=triple]
# [CAPACITY="SPARSEMEM_...=N ..."]` runs it as `ffi/header.sh OUT TARGET`, with the
# capacity in the environment. cbindgen writes the header from ffi/src; the build-time
# values it cannot evaluate (ffi/src/capacity.rs) come from a build of the crate for
# the target, whose assembly holds one `->NAME value doc` line per value, and replace
# the line `SMEM_BUILD_VALUES` that cbindgen.toml puts after the includes.
set -eu
out=$1 target=$2
dir=target/header                       # its own target dir: this build is for values only
# Cleaned first, so that rustc runs and writes the assembly (only this crate rebuilds).
"${CARGO:-cargo}" clean -q -p sparsemem-ffi --release --target "$target" --target-dir "$dir"
"${CARGO:-cargo}" rustc -q -p sparsemem-ffi --release --lib --crate-type rlib --target "$target" \
  --target-dir "$dir" -- --emit asm --cfg smem_header_values
asm=$(ls "$dir/$target/release/deps"/sparsemem_ffi-*.s)
values=$(mktemp) && trap 'rm -f "$values"' EXIT
# `.ascii "->NAME value doc"`: each as a documented macro, the doc wrapped at 88 columns.
sed -n 's/^[[:space:]]*\.ascii[[:space:]]*"->\(SMEM_[A-Z0-9_]*\) \([0-9]*\) *\(.*\)"$/\1 \2 \3/p' \
  "$asm" |
  awk '{ name = $1; value = $2; $1 = $2 = ""; sub(/^ +/, "");
         n = split($0, w, " "); line = " *"; print "/**";
         for (i = 1; i <= n; i++) { if (length(line) + length(w[i]) > 88) { print line; line = " *" } line = line " " w[i] }
         print line; print " */"; printf "#define %s %s\n\n", name, value }' > "$values"
test "$(grep -c '^#define' "$values")" -ge 11 || { echo "header.sh: no build values in the assembly" >&2; exit 1; }
"${CBINDGEN:-cbindgen}" --quiet --config ffi/cbindgen.toml --crate sparsemem-ffi --output "$out" ffi
# Insert the values; parenthesise negative literals (cbindgen writes `#define X -22`,
# which lets `x-SMEM_EINVAL` become `x--22`).
awk -v f="$values" '$0 == "SMEM_BUILD_VALUES" { while ((getline l < f) > 0) print l; next } { print }' \
  "$out" > "$out.tmp" && mv "$out.tmp" "$out"
sed -i -E 's/^(#define SMEM_[A-Z0-9_]+) (-[0-9]+)$/\1 (\2)/' "$out"
