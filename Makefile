# Two commands do everything on a fresh clone: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app app
HOST ?= 127.0.0.1
PORT ?= 5000
# Sync workers: on a 2-core machine they measured faster than threaded ones (read by gunicorn.conf.py).
WORKERS ?= 3

.PHONY: run dev test test-fast bench assets migrate install install-test chromium clean lock translations catalogs screenshots

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

.stamp-install: pyproject.toml requirements.lock | $(BIN)/python
	$(BIN)/pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

.stamp-install-test: requirements-test.lock .stamp-install
	$(BIN)/pip install --quiet --require-hashes -r requirements-test.lock
	touch $@

# The exact versions (with their hashes) that every install uses come from the lock files; `make lock`
# resolves pyproject.toml's ranges anew to the newest releases and rewrites both (then run `make test`).
# pip-tools lives in a virtualenv of its own so that it never ends up in the app's.
LOCK_VENV := .venv-lock
LOCK_FLAGS := --quiet --upgrade --generate-hashes --no-emit-index-url --no-emit-find-links --strip-extras --allow-unsafe
lock:
	test -x $(LOCK_VENV)/bin/pip-compile || { $(PYTHON) -m venv $(LOCK_VENV) && $(LOCK_VENV)/bin/pip install --quiet pip-tools; }
	$(LOCK_VENV)/bin/pip-compile $(LOCK_FLAGS) --extra postgres -o requirements.lock pyproject.toml
	$(LOCK_VENV)/bin/pip-compile $(LOCK_FLAGS) --extra test -o requirements-test.lock pyproject.toml

install: .stamp-install assets catalogs

install-test: .stamp-install-test assets catalogs chromium

# Translations (Flask-Babel): translations/*/LC_MESSAGES/messages.po are the sources, kept in git; the
# compiled .mo files are built here (by every install, so by `make run`, `make dev`, `make test`) and
# never committed. Fuzzy entries are never compiled: a guessed translation is not shown to anybody.
PYBABEL := $(BIN)/pybabel
CATALOGS := $(patsubst %.po,%.mo,$(wildcard translations/*/LC_MESSAGES/messages.po))

translations/%/LC_MESSAGES/messages.mo: translations/%/LC_MESSAGES/messages.po .stamp-install
	$(PYBABEL) compile -d translations -l $* --statistics

catalogs: $(CATALOGS)

# After changing a string a person reads: extract the template, merge it into every catalog, compile.
# A keyword named without its arguments replaces Babel's default, so the plural ones say `:1,2`
# (a bare `-k ngettext` extracts the singular only, and the plural is then never translated).
# `update` keeps Babel's fuzzy matching on purpose: a changed English string gets the old translation
# as a *fuzzy* suggestion, which saves the translator the retyping, is never compiled (English shows
# until it is reviewed) and makes tests/unit/test_catalogs.py fail until a translator has confirmed it.
translations: .stamp-install
	$(PYBABEL) extract -F babel.cfg -k _ -k _l -k lazy_gettext -k ngettext:1,2 -k lazy_ngettext:1,2 \
		--sort-by-file --project=Sitepass --copyright-holder=Sitepass -o translations/messages.pot .
	$(PYBABEL) update -i translations/messages.pot -d translations
	$(PYBABEL) compile -d translations --statistics

# Front-end assets come from the npm registry, pinned by package-lock.json; never from a CDN.
static/vendor/.stamp: package.json package-lock.json
	npm ci --no-audit --no-fund --silent
	mkdir -p static/vendor
	cp node_modules/htmx.org/dist/htmx.min.js static/vendor/htmx.min.js
	cp node_modules/@picocss/pico/css/pico.min.css static/vendor/pico.min.css
	# axe-core: only the e2e accessibility check (tests/e2e/test_layout.py) injects it; no page includes it.
	cp node_modules/axe-core/axe.min.js static/vendor/axe.min.js
	touch $@

assets: static/vendor/.stamp

migrate: install
	$(FLASK) db upgrade

# gunicorn.conf.py starts the scheduler (mail, reminders, daily backup) beside the workers: no cron needed.
run: migrate
	HOST=$(HOST) PORT=$(PORT) WORKERS=$(WORKERS) $(BIN)/gunicorn -c gunicorn.conf.py 'app:create_app()'

# Flask's development server with the reloader; not for production.
dev: migrate
	$(FLASK) run --debug --host $(HOST) --port $(PORT)

chromium:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else \
		echo "Chromium is missing: install Debian's 'chromium' package (as root: apt-get install chromium)."; exit 1; \
	fi

# The suite runs on every core (pytest-xdist); a module's tests stay on one worker, so a world it
# builds once is built once. TEST_WORKERS=0 runs it in one process.
TEST_WORKERS ?= auto
XDIST = -n $(TEST_WORKERS) --dist loadscope

test: install-test
	$(BIN)/python -m pytest $(XDIST) $(PYTEST_ARGS)

# Everything but the browser tests, e.g. against PostgreSQL in .ci/run.
test-fast: install-test
	$(BIN)/python -m pytest -m 'not e2e' $(XDIST) $(PYTEST_ARGS)

# PNGs of the main pages of a demo site (seed-demo) at 1280 and 390 wide, by the e2e browser, into
# docs/screenshots/ (shown in the README); a scratch database, nothing of instance/ is touched.
screenshots: install-test
	$(BIN)/python scripts/screenshots.py

bench: .stamp-install catalogs
	$(BIN)/python -m tests.bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) $(LOCK_VENV) node_modules static/vendor .stamp-install .stamp-install-test
