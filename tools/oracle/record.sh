#!/bin/sh
# Record oracle traces (a real Linux 6.1 under QEMU, see ../shared/oracle/README.md) for the
# scenarios of core/tests/data/oracle/scenarios, one at a time, next to them in
# core/tests/data/oracle/NAME.txt. core/tests/oracle_replay.rs replays them.
#   tools/oracle/record.sh              every scenario
#   tools/oracle/record.sh mom am50-numa   some of them
# $ORACLE (default ../shared/oracle from the repository root) is the oracle's checkout; run
# its setup.sh once first.
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
ORACLE=${ORACLE:-$ROOT/../shared/oracle}
DATA=$ROOT/core/tests/data/oracle
[ $# -gt 0 ] || set -- $(cd "$DATA/scenarios" && ls *.scn | sed 's/\.scn$//')
for name in "$@"; do
  # Serial and niced: the machine is shared.
  (cd "$ORACLE" && ORACLE_TRACES=$DATA nice -n 10 ./oracle.py "$DATA/scenarios/$name.scn")
done
