# Two commands from a fresh clone: `make demo` and `make test`.
# Each creates .venv, installs qembed with its dev extra and the integrations' extras
# (hf, lightning, ray: their tests are part of `make test`), then does its job.

PYTHON ?= python3
VENV ?= .venv
# A pinned torch takes the CPU wheel here; an unpinned one pulls a multi-GB CUDA build.
TORCH_SPEC ?= torch==2.13.0
PYTEST_ARGS ?=

BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: demo test install clean

demo: $(INSTALLED)
	$(BIN)/qembed demo

test: $(INSTALLED)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

install: $(INSTALLED)

$(INSTALLED): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e ".[dev,hf,lightning,ray]"
	touch $@

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis runs
