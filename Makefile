# Two commands do everything on a fresh machine with Python 3.11:
#   make demo   – install, then run the whole loop on the embedded Feishu sandbox
#   make test   – install, then run the whole test suite
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
STAMP  := $(VENV)/.installed

$(STAMP): pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

.PHONY: install demo test bench sandbox
install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/gtm demo $(ARGS)

test: $(STAMP)
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(VENV)/bin/python -m gtm.benchmarks $(ARGS)

sandbox: $(STAMP)
	$(VENV)/bin/gtm sandbox $(ARGS)
