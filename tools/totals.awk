# The closing line of `make test` and .ci/run: the totals of every runner in a log.
# cargo test prints one "test result: ok. N passed; M failed; ..." line per test binary,
# each C suite (c-tests/Makefile, c-tests/cortex-m) one "c-tests: N passed, M failed".
# Exits 1 when a test failed or none passed.
/^test result:/ {
    for (i = 1; i < NF; i++) {
        if ($(i + 1) ~ /^passed/) p += $i
        if ($(i + 1) ~ /^failed/) f += $i
    }
}
/^c-tests: [0-9]+ passed, [0-9]+ failed$/ { p += $2; f += $4 }
END {
    printf "tests: %d passed, %d failed\n", p, f
    if (p == 0 || f != 0) exit 1
}
