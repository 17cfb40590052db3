# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
TORCH  ?= torch==2.13.0

.PHONY: demo test install install-test lint bench clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	# torch first and pinned, so nothing pulls a multi-GB CUDA build
	$(PIP) install -q "$(TORCH)"
	$(PIP) install -q -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PIP) install -q -e ".[test]"
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

# Train a char-level GPT on Tiny Shakespeare for 150 s of training, then sample from it.
demo: install
	$(VENV)/bin/lmlab train gpt --data tinyshakespeare --config shakespeare-char --time-budget 150 --out runs/demo --overwrite
	$(VENV)/bin/lmlab generate runs/demo --prompt "ROMEO:" --max-new-tokens 300 --temperature 0.8 --seed 1

test: install-test
	$(PY) -m pytest -q -ra

lint: install-test
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/lint-imports

bench: install-test
	$(PY) benchmarks/train_gpt.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .pytest_cache
