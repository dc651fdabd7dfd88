#!/usr/bin/env bash
# Build dist/art2music/ (a2m, a2m-osc, a2m-desktop) with PyInstaller, then smoke-test it:
# the CLI describes the bundled starter and generates a WAV from the example painting, the
# OSC bridge answers /a2m/status and serves a generate. ~5 minutes and several GB with the
# CUDA torch build (`make package-smoke` removes them afterwards, as CI does).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
$BIN/pip install -q -r packaging/requirements.txt -c constraints.txt
$BIN/pyinstaller --noconfirm --clean --log-level WARN --distpath dist --workpath build/pyinstaller \
    packaging/art2music.spec
APP=dist/art2music
for name in a2m a2m-osc a2m-desktop; do cp "$APP/art2music" "$APP/$name"; done
echo "== smoke test"
"$APP/a2m" info | head -3
"$APP/a2m" generate --image examples/vincent-van-gogh_the-starry-night-1889.jpg \
    --comment "the swirling sky feels alive" --seed 1 -q -o build/packaged-smoke.wav
"$APP/a2m" generate --image examples/vincent-van-gogh_the-starry-night-1889.jpg \
    --comment "a calm night" --seed 2 -q -o build/packaged-smoke-2.wav --midi build/packaged-smoke.mid
# the frozen bridge answers /a2m/status and serves a generate, on loopback ports of its own
PORT=${A2M_SMOKE_PORT:-19400}
"$APP/a2m-osc" serve --port "$PORT" --reply-port $((PORT + 1)) --out build/packaged-osc \
    --allow examples > build/packaged-osc.log 2>&1 &
BRIDGE=$!
trap 'kill $BRIDGE 2>/dev/null || true' EXIT
# a status sent before the frozen bridge has bound its socket is lost: ask until it answers
answered=""
for _ in $(seq 60); do
    if "$APP/a2m-osc" send status --port "$PORT" --reply-port $((PORT + 1)) --timeout 1 \
            | grep "/a2m/status"; then answered=1; break; fi
done
[ -n "$answered" ] || { echo "the frozen bridge never answered /a2m/status"; exit 1; }
"$APP/a2m-osc" send generate smoke-1 examples/henri-matisse_woman-with-a-hat-1905.jpg \
    "her hat bursts with colour" 3 --port "$PORT" --reply-port $((PORT + 1)) --timeout 120 \
    | tee build/packaged-osc-replies.txt | grep "/a2m/done smoke-1"
kill -TERM $BRIDGE; wait $BRIDGE || true
QT_QPA_PLATFORM=offscreen timeout 20 "$APP/a2m-desktop" --help | head -2
du -sh "$APP"
echo "built $APP"
