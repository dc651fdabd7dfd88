#!/usr/bin/env bash
# The wheel as a new user installs it: `pip install` of the built wheel into a clean venv
# (plus the --no-deps sampler the README names), then a clip from the default bundle, made
# outside the checkout so nothing of the source tree is on the path.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
py="${PY:-python3}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
"$repo/.venv/bin/pip" wheel -q --no-deps --no-build-isolation -w "$tmp/dist" "$repo"
rm -rf "$repo/build/lib" "$repo"/build/bdist.*  # setuptools' staging, not ours to keep
"$py" -m venv "$tmp/venv"
"$tmp/venv/bin/pip" install -q "$tmp"/dist/art2music-*.whl
"$tmp/venv/bin/pip" install -q --no-deps tinysoundfont==0.3.7
cd "$tmp"
"$tmp/venv/bin/a2m" generate --image "$repo/examples/vincent-van-gogh_the-starry-night-1889.jpg" \
    --comment "the swirling sky feels alive" --seed 1 -q -o clip.wav --midi clip.mid
test -s clip.wav && test -s clip.mid
"$tmp/venv/bin/python" - <<'PY'
import soundfile as sf
info = sf.info("clip.wav")
assert info.frames > info.samplerate * 5, info
print(f"wheel smoke: a {info.frames / info.samplerate:.1f} s clip from a clean install")
PY
