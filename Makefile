# MiningWatch: `make demo` brings the app up with demo data; `make test` runs every test.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: venv demo test lint bench clean

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

demo: venv
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py demo

test: venv
	bin/test

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: venv
	$(BIN)/python bench/bench_generate.py --employers 1000000
	$(BIN)/python bench/bench_import.py --rows 1000000 --repeat 3

clean:
	rm -rf $(VENV) staticfiles
