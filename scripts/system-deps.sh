#!/usr/bin/env bash
# Debian/Ubuntu system libraries the project needs: PortAudio (sounddevice) and what Qt needs
# to render offscreen and under Xvfb. Idempotent; a no-op when everything is present.
# `system-deps.sh corpus-extra` adds the optional corpus source wesnoth-music.
set -euo pipefail
# From ldd of PySide6 QtCore/QtGui/QtWidgets/offscreen plugin and of libportaudio (apt pulls
# the rest in as their dependencies).
# The libxcb ones are for a real X11 window (Qt's xcb platform; offscreen tests don't need
# them, the PyInstaller build bundles them).
pkgs=(libportaudio2 libsndfile1 libegl1 libgl1 libglib2.0-0 libx11-6 libxkbcommon0 libfontconfig1
      libfreetype6 libdbus-1-3 libxkbcommon-x11-0 libxcb-icccm4 libxcb-keysyms1 libxcb-cursor0
      libxcb-image0 libxcb-render-util0 libxcb-shape0 libxcb-xinerama0 libxcb-randr0
      # the starter's sources (make starter) and the corpus tests: MIDI rendering, its GM
      # soundfont (MIT), public-domain paintings, CC BY-SA game music
      fluidsynth fluid-soundfont-gm gcompris-qt-data singularity-music)
if [ "${1:-}" = "corpus-extra" ]; then
  pkgs+=(wesnoth-1.16-music)  # GPL-2+ orchestral game music, 150 MB (a2m-train corpus)
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
if ! command -v apt-get >/dev/null; then
  echo "system-deps: please install: ${missing[*]}" >&2; exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
    echo "system-deps: not root; please install: ${missing[*]}" >&2; exit 0; fi
fi
echo "system-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
