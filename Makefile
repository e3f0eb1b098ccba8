# The two commands: `make run` starts the whole suite, `make test` runs every test.
# Both create the virtualenv and install what is missing first.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat deploy/constraints.txt libs/*/pyproject.toml services/*/pyproject.toml | cksum | cut -d' ' -f1)
PACKAGES := -e libs/contracts -e libs/runtime -e 'libs/devstack[dev]' $(patsubst %,-e %,$(wildcard services/*))

.PHONY: install run test lint typecheck pytest openapi clean

install: $(STAMP)

$(STAMP):
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "installing Python packages into $(VENV) ..."
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check -c deploy/constraints.txt $(PACKAGES)
	@rm -f $(VENV)/.installed-*
	@touch $@

run: install
	@$(BIN)/python -m webinar_devstack run

test: install lint typecheck pytest

lint: install
	$(BIN)/ruff check libs services tests $(wildcard bench)
	$(BIN)/ruff format --check libs services tests $(wildcard bench)

typecheck: install
	$(BIN)/mypy

pytest: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

openapi: install
	$(BIN)/python -m gateway openapi

clean:
	rm -rf $(VENV) var
