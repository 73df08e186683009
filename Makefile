# Two commands from a fresh clone: `make demo` and `make test` (mypy, then pytest).
# Each creates .venv and installs what it needs: `make demo` qembed with its plot extra
# (.venv/.installed-demo), `make test` also the dev extra and the integrations' extras
# (hf, lightning, ray, datasets: their tests are part of `make test`; .venv/.installed), then does its job.
# `make test` also needs WordNet 3.0 (qembed.data.WordNetSenseCorpus): Debian's wordnet-base,
# installed here when missing and run as root.

PYTHON ?= python3
VENV ?= .venv
# A pinned torch takes the CPU wheel here; an unpinned one pulls a multi-GB CUDA build.
TORCH_SPEC ?= torch==2.13.0
PYTEST_ARGS ?=

BIN := $(VENV)/bin
DEMO_INSTALLED := $(VENV)/.installed-demo
INSTALLED := $(VENV)/.installed

.PHONY: demo test typecheck install wordnet clean

demo: $(DEMO_INSTALLED)
	$(BIN)/qembed demo

test: typecheck wordnet
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# mypy, configured in pyproject.toml ([tool.mypy]): strict on qembed.plugins and qembed.training.
typecheck: $(INSTALLED)
	$(BIN)/python -m mypy

install: $(INSTALLED) wordnet

$(DEMO_INSTALLED): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e ".[plot]"
	touch $@

# everything the demo has, and the test and integration extras: redone whenever the demo's set-up is
$(INSTALLED): $(DEMO_INSTALLED)
	$(BIN)/python -m pip install --quiet -e ".[dev,hf,lightning,ray,datasets]"
	touch $@

# WordNetSenseCorpus reads QEMBED_WORDNET_DIR when set, else /usr/share/wordnet.
wordnet:
	@if [ -n "$$QEMBED_WORDNET_DIR" ]; then \
		[ -f "$$QEMBED_WORDNET_DIR/data.noun" ] || echo "QEMBED_WORDNET_DIR=$$QEMBED_WORDNET_DIR has no data.noun: point it at a WordNet 3.0 dict directory" >&2; \
	elif [ -f /usr/share/wordnet/data.noun ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wordnet-base; \
	else \
		echo "WordNet 3.0 is missing (/usr/share/wordnet/data.noun): run 'sudo apt-get install wordnet-base'" \
			"or set QEMBED_WORDNET_DIR to a WordNet dict directory" >&2; \
	fi

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .hypothesis runs
