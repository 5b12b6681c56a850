# Two commands do all set-up on a fresh machine with Python 3.11+ and make:
#   make run    derive the seed examples, write their LaTeX, train on real data
#   make test   run the whole test suite
#   make gallery  write docs/gallery (the derivations people look for: .md, .html, .tex, .pdf)
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: run test benchmark catalogue gallery clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

run: $(VENV)/.installed
	$(PY) examples/run_all.py

test: $(VENV)/.installed
	$(PY) -m pytest

benchmark: $(VENV)/.installed
	$(PY) benchmarks/derive.py
	$(PY) benchmarks/bench.py

gallery: $(VENV)/.installed
	$(PY) scripts/gallery.py --out docs/gallery

clean:
	rm -rf $(VENV) build dist out *.egg-info
