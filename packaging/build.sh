#!/usr/bin/env bash
# Build dist/art2music/ (a2m, a2m-osc, a2m-desktop) with PyInstaller, then smoke-test it:
# the CLI describes the bundled starter and generates a WAV from the example painting, the
# OSC bridge answers --help. ~4 minutes and several GB with the CUDA torch build.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
$BIN/pip install -q -r packaging/requirements.txt
$BIN/pyinstaller --noconfirm --clean --log-level WARN --distpath dist --workpath build/pyinstaller \
    packaging/art2music.spec
APP=dist/art2music
for name in a2m a2m-osc a2m-desktop; do cp "$APP/art2music" "$APP/$name"; done
echo "== smoke test"
"$APP/a2m" info | head -3
"$APP/a2m" generate --image examples/vincent-van-gogh_the-starry-night-1889.jpg \
    --comment "the swirling sky feels alive" --seed 1 -q -o build/packaged-smoke.wav
"$APP/a2m-osc" serve --help | head -2
QT_QPA_PLATFORM=offscreen timeout 20 "$APP/a2m-desktop" --help | head -2
du -sh "$APP"
echo "built $APP"
