#!/usr/bin/env bash
# The SuperCollider example as a file, with no sound card and no one at the keyboard:
# JACK's dummy driver at 44.1 kHz (SuperCollider's usual setup), the bridge playing its
# soundscape on JACK's "system" device, and headless_check.scd driving both.
#
#   apt-get install supercollider-language supercollider-server jackd2
#   osc_bridge/examples/supercollider/run_headless.sh [painting.jpg]
#
# Exits 0 when every step was answered (sclang's log: $OUT/sclang.log).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
image="$(realpath "${1:-$repo/examples/vincent-van-gogh_the-starry-night-1889.jpg}")"
OUT="${OUT:-$(mktemp -d)}"
bridge_cmd="${A2M_OSC:-a2m-osc}"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

if ! jack_lsp >/dev/null 2>&1; then
    JACK_NO_AUDIO_RESERVATION=1 jackd -d dummy -r 44100 -p 1024 >"$OUT/jackd.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 50); do jack_lsp >/dev/null 2>&1 && break; sleep 0.1; done
fi
$bridge_cmd serve --allow "$(dirname "$image")" --out "$OUT/clips" >"$OUT/bridge.log" 2>&1 &
pids+=($!)
# sclang's class library uses Qt; offscreen needs no display (the sandbox flag: root)
A2M_IMAGE="$image" QT_QPA_PLATFORM=offscreen QTWEBENGINE_DISABLE_SANDBOX=1 \
    timeout 300 sclang "$here/headless_check.scd" >"$OUT/sclang.log" 2>&1 || {
        code=$?; grep -E "^(a2m|check|ERROR)" "$OUT/sclang.log" || true
        echo "run_headless: sclang exited $code (logs in $OUT)" >&2; exit "$code"; }
grep -E "^(a2m|check)" "$OUT/sclang.log"
grep "soundscape started" "$OUT/bridge.log"
