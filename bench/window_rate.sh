#!/usr/bin/env bash
# The window's training rate against the same runs as headless processes, back to back, on
# this machine. Needs Xvfb (apt-get install xvfb mesa-vulkan-drivers); run on a quiet machine.
#
#   bench/window_rate.sh [SECS]        # default 30
#
# 1. two single-thread headless `train` processes at once (RAYON_NUM_THREADS=1 each);
# 2. the window with both runs playing: `cari-mtl --play --quit-after SECS` (and the CPU of
#    each of its threads, sampled over the middle of the run);
# 3. one headless `train` with the default threads;
# 4. the window with only run A playing: `--play a`.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-30}
BIN=${BIN:-target/release/cari-mtl}
STEPS=${STEPS:-4000}
export XDG_CONFIG_HOME=$(mktemp -d) XDG_DATA_HOME=$(mktemp -d)  # a fresh settings folder
if [[ -z "${DISPLAY:-}" ]]; then
  Xvfb :97 -screen 0 1600x1000x24 -nolisten tcp >/dev/null 2>&1 &
  XVFB=$!
  trap 'kill $XVFB 2>/dev/null' EXIT
  export DISPLAY=:97
  sleep 2
fi
out=$(mktemp -d)

# steps/s of a `train` run that is stopped after SECS seconds of training (its progress line
# is not needed: the metrics file counts the steps, its last wall_s the seconds).
headless() {  # $1 = strategy, $2 = out dir, extra env before the call
  timeout "$((SECS + 30))" "$BIN" train --strategy "$1" --steps "$STEPS" --seed 1 --out "$2" >/dev/null 2>&1 || true
}
rate_of() {  # metrics.csv → steps/s over the rows with wall_s <= SECS
  python3 - "$1" "$SECS" <<'PY'
import csv, sys
rows = [r for r in csv.DictReader(open(sys.argv[1])) if float(r["wall_s"]) <= float(sys.argv[2])]
print(f"{int(rows[-1]['step']) / float(rows[-1]['wall_s']):.1f}" if rows else "0")
PY
}

echo "== two single-thread headless train processes at once"
RAYON_NUM_THREADS=1 headless proposed "$out/p" & p1=$!
RAYON_NUM_THREADS=1 headless naive "$out/n" & p2=$!
wait $p1 $p2
a=$(rate_of "$out/p/metrics.csv.partial" 2>/dev/null || rate_of "$out/p/metrics.csv")
b=$(rate_of "$out/n/metrics.csv.partial" 2>/dev/null || rate_of "$out/n/metrics.csv")
apart=$(python3 -c "print(f'{$a + $b:.1f}')")
echo "A $a + B $b = $apart steps/s"

echo "== the window, A and B playing: --play --quit-after $SECS"
"$BIN" --play --quit-after "$SECS" >"$out/window.txt" 2>/dev/null & wpid=$!
python3 bench/thread_cpu.py "$wpid" --wait 8 --secs "$((SECS - 10))" || true
wait $wpid || true
cat "$out/window.txt"
together=$(python3 -c "
import re; t=open('$out/window.txt').read()
m=re.search(r'A (\d+) steps, B (\d+) steps in ([\d.]+) s', t)
print(f'{(int(m[1]) + int(m[2])) / float(m[3]):.1f}')")
echo "window $together steps/s = $(python3 -c "print(f'{$together / $apart:.2f}')") x the two headless processes"

echo "== one headless train (default threads)"
headless proposed "$out/one"
one=$(rate_of "$out/one/metrics.csv.partial" 2>/dev/null || rate_of "$out/one/metrics.csv")
echo "$one steps/s"

echo "== the window, only A playing: --play a --quit-after $SECS"
"$BIN" --play a --quit-after "$SECS" >"$out/window_a.txt" 2>/dev/null || true
cat "$out/window_a.txt"
alone=$(python3 -c "
import re; t=open('$out/window_a.txt').read()
m=re.search(r'A (\d+) steps, B (\d+) steps in ([\d.]+) s', t)
print(f'{int(m[1]) / float(m[3]):.1f}')")
echo "window A alone $alone steps/s = $(python3 -c "print(f'{$alone / $one:.2f}')") x one headless train"
echo "RESULT window_ratio=$(python3 -c "print(f'{$together / $apart:.3f}')") alone_ratio=$(python3 -c "print(f'{$alone / $one:.3f}')")"
