# The two README commands: `make demo` and `make test`. Both create .venv and install the project.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test venv toolchain bench-deps bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

# Cortex-M4 cross compiler and QEMU (Debian packages); skipped quietly where apt is unavailable.
toolchain:
	@if ! command -v arm-none-eabi-gcc >/dev/null || ! command -v qemu-system-arm >/dev/null; then \
	  if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm >/dev/null; \
	  else echo "toolchain: arm-none-eabi-gcc / qemu-system-arm not installed (needs root and apt-get)"; fi; \
	fi

# End to end on the shipped fan example: synthesise, train k-means + autoencoder, evaluate coverage,
# export int8 + C sources, build and run the firmware on the host and (with the toolchain) a Cortex-M4 in QEMU.
DEMO := demo_out
demo: $(STAMP) toolchain
	$(PY) cli.py experiment examples/fan_experiment.toml --out $(DEMO)/experiment
	$(PY) cli.py export --model $(DEMO)/experiment/models/autoencoder --out $(DEMO)/export
	$(PY) cli.py firmware --export $(DEMO)/export --clips $(DEMO)/experiment/data --out $(DEMO)/firmware
	@echo "demo done: report $(DEMO)/experiment/report.md, export $(DEMO)/export, firmware $(DEMO)/firmware/firmware.json"

test: $(STAMP) toolchain
	$(PY) -m pytest

# Comparison packages for bench/: TimeSynth's own pins do not install on current Python, so its
# dependencies are installed at current versions.
bench-deps: $(STAMP)
	$(PY) -m pip install --quiet --no-deps timesynth
	$(PY) -m pip install --quiet symengine jitcdde

bench: bench-deps toolchain
	for script in bench/bench_*.py bench/mimii_fan_quality.py; do echo "== $$script"; $(PY) $$script || exit 1; done

clean:
	rm -rf $(VENV) demo_out
