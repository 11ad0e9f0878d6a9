# The two README commands: `make demo` and `make test`. Both create .venv and install the project.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test venv toolchain clean

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

demo: $(STAMP) toolchain
	$(PY) cli.py demo --out demo_out

test: $(STAMP) toolchain
	$(PY) -m pytest

clean:
	rm -rf $(VENV) demo_out
