#!/usr/bin/env bash
# Start the real window under Xvfb, press Play, let it train, and save a screenshot.
#   scripts/screenshot.sh OUT.png [SECONDS] [KEYS...]
# Needs: apt-get install -y --no-install-recommends xvfb imagemagick mesa-vulkan-drivers xdotool
set -euo pipefail
out=${1:-shot.png}
secs=${2:-45}
shift 2 || true
display=:99
Xvfb $display -screen 0 1600x1000x24 -nolisten tcp >/dev/null 2>&1 &
xvfb=$!
trap 'kill $app $xvfb 2>/dev/null || true' EXIT
sleep 1
# A fresh settings folder, so the window opens on the defaults.
export XDG_DATA_HOME=$(mktemp -d) XDG_CONFIG_HOME=$(mktemp -d)
DISPLAY=$display ./target/release/cari-mtl >/tmp/cari-mtl-window.log 2>&1 &
app=$!
# Wait for the window, then for the dataset and models.
for _ in $(seq 1 60); do
  if DISPLAY=$display xdotool search --name "cari-mtl" >/dev/null 2>&1; then break; fi
  sleep 0.5
done
sleep 4
win=$(DISPLAY=$display xdotool search --name "cari-mtl" | head -1)
DISPLAY=$display xdotool windowactivate --sync "$win" 2>/dev/null || true
DISPLAY=$display xdotool windowsize "$win" 1600 1000 2>/dev/null || true
# Press Play (the top bar's Play button; the window has no window manager to give it key focus).
DISPLAY=$display xdotool mousemove --sync 362 12 click 1
for key in "$@"; do
  DISPLAY=$display xdotool key --window "$win" "$key"
done
sleep "$secs"
DISPLAY=$display import -window root "$out"
echo "saved $out after ${secs}s of training"
