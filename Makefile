# Two commands do everything on a fresh machine: `make serve` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.installed

.PHONY: setup serve test bench devices clean system-deps

# torch is installed first and pinned: letting pip resolve plain `torch` pulls a CUDA build.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e '.[dev,cluster]'
	# librosa's pitch tracker compiles numba code into its cache on first use; compiled here
	# once, so a server and its match process never write that cache at the same moment (a
	# fresh machine's first sketch could load a half-written entry and crash).
	$(PY) -c "from bridge.matching.pitch import warm_up; warm_up()"
	touch $(STAMP)

setup: $(STAMP) system-deps

# Debian packages the end-to-end tests drive (OSC peers, Pure Data). Installed when missing
# and when we may (root, apt-get present); tests that need them skip with a reason otherwise.
system-deps:
	@bash scripts/install_system_deps.sh

serve: setup
	$(VENV)/bin/flowsynth serve

test: setup
	$(PY) -m ruff check .
	$(PY) -m pytest -q

bench: setup
	$(PY) benchmarks/render_speed.py
	$(PY) benchmarks/train_speed.py
	$(PY) benchmarks/infer_speed.py

# Regenerate the Max for Live devices, Max patches and diagrams from m4l_devices/src.
devices: setup
	$(PY) scripts/build_devices.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
