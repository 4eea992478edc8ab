# Two commands matter (see README.md):
#   make book   build the book (executes every notebook), print where the HTML is
#   make test   lint, workflow check, unit tests and doctests, nbval on every notebook (each executed once), book
#               build with warnings as errors, the page check, and the chapters that read data run from the wheel
#               in a fresh environment (tools/colab_check.py)
# Both create .venv on first use.

SHELL  := /bin/bash
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
JB     := $(VENV)/bin/jupyter-book

# Real image subsets are read from IMPLICIT_DATA; default to ../shared/data when it exists.
ifneq ($(wildcard ../shared/data),)
IMPLICIT_DATA ?= $(abspath ../shared/data)
endif
ifdef IMPLICIT_DATA
export IMPLICIT_DATA
endif

# OpenMP threads that spin while waiting cost seconds per small LAPACK call when the machine is busy; passive
# waiting keeps notebook timings stable at no cost on an idle machine.
export OMP_WAIT_POLICY ?= PASSIVE

# Every notebook under book/ (checkpoints excluded); nbval runs over all of them.
NOTEBOOKS := $(shell find book -name '*.ipynb' -not -path '*/.ipynb_checkpoints/*' 2>/dev/null)

.PHONY: venv data book test clean

venv: $(VENV)/.installed

# torch goes first, pinned: an unpinned torch pulled in as a dependency may be a multi-GB CUDA build.
$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install torch==2.13.0 -c constraints.txt
	$(PY) -m pip install -c constraints.txt -e ".[book,test]"
	touch $@

# The image subsets the chapters read: with IMPLICIT_DATA set they are read from there; otherwise they are fetched
# into the user cache now (nothing to do if cached), so that an unreachable download fails in seconds, not mid-build.
data: venv
ifndef IMPLICIT_DATA
	$(PY) -m implicit data fetch all
endif

# The execution cache keys only on cell code, not on the package, so always build from a clean _build.
book: data
	rm -rf _build
	$(JB) build . --warningiserror --keep-going
	@echo "Book built: file://$(CURDIR)/_build/html/index.html"

# Each notebook runs once: nbval executes it (the test) and stores its outputs in the Jupyter cache; the book build
# with warnings as errors then renders them from the cache, and fails if it had to execute any notebook itself.
test: data
	$(VENV)/bin/ruff check .
	$(VENV)/bin/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
	$(PY) -m pytest tests
	rm -rf _build
ifeq ($(strip $(NOTEBOOKS)),)
	@echo "No notebooks under book/ yet: skipping nbval."
else
	$(PY) -m pytest --nbval-lax --nbval-current-env -p no:cacheprovider --nb-cache _build/.jupyter_cache book/
endif
	set -o pipefail; $(JB) build . --warningiserror --keep-going 2>&1 | tee _build/build.log
	@if grep -q "Executing notebook" _build/build.log; then \
	  echo "error: the book build executed a notebook that nbval had already run (cache miss): see _build/build.log"; \
	  exit 1; fi
	$(PY) tools/check_pages.py _build/html
	$(PY) tools/colab_check.py

clean:
	rm -rf _build .pytest_cache .jupyter_cache *.egg-info
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
	find . -path ./$(VENV) -prune -o -name .ipynb_checkpoints -type d -prune -exec rm -rf {} +
