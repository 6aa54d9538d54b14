#!/usr/bin/env bash
# The step time of every rule that combines gradients, in each gradient space, as a ratio to
# `equal`'s step from the same run of this script (issue: ≤ 2.5× in params, ≤ 1.3× in last and
# z), and the gradient lens's cost (≤ 1.15× for z and last every step, ≤ 1.3× for params every
# 10 steps). Run on a quiet machine; `cargo build --release` first.
#
#   bench/rule_costs.sh            # STEPS=60 by default
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-target/release/cari-mtl}
STEPS=${STEPS:-60}
ms() {  # median ms/step of `bench` with the given flags
  "$BIN" bench --steps "$STEPS" "$@" 2>/dev/null | sed -n 's/.*median \([0-9.]*\) ms\/step.*/\1/p' | tail -1
}
equal=$(ms --strategy equal)
echo "equal: $equal ms/step (median of $STEPS steps)"
printf '%-12s %10s %10s %10s\n' rule params last z
for rule in mgda pcgrad cagrad imtl nash-mtl aligned-mtl upgrad dualproj db-mtl famo gradnorm; do
  row=$(printf '%-12s' "$rule")
  for space in params last z; do
    t=$(ms --strategy "$rule" --grad-space "$space")
    row+=$(printf ' %9.2fx' "$(python3 -c "print($t/$equal)")")
  done
  echo "$row"
done
equal_again=$(ms --strategy equal)
echo "equal again: $equal_again ms/step (the machine's drift over the run)"
echo "== the gradient lens (blocks of 10 steps alternately without and with it)"
for lens in "z 1" "last 1" "params 1" "params 10" "last 5"; do
  set -- $lens
  "$BIN" bench --strategy equal --steps "$((STEPS * 2))" --lens "$1" --lens-every "$2" 2>/dev/null | tail -1
done
