# petakota: two commands do all set-up on a fresh Debian machine with Python 3.11.
#   make run   - create .venv, install, load the demo city if the database is empty, serve on :5000
#   make test  - create/refresh .venv, install test needs (incl. PostgreSQL 15 + PostGIS 3), run all tests
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 5000

.PHONY: run test system-deps demo-data bench clean translations

# Interface translations: texts are written in Indonesian and marked with _(); English is a catalog.
CATALOG := webmap/translations/en/LC_MESSAGES/messages
$(CATALOG).mo: $(CATALOG).po | $(VENV)/.runtime
	$(BIN)/pybabel compile --statistics -d webmap/translations -D messages

# After changing texts: re-extract them and merge into the catalog (then translate what is new).
translations: $(VENV)/.runtime
	$(BIN)/pybabel extract -F webmap/babel.cfg -k _l -k N_ --no-location --sort-output \
		--project petakota -o webmap/translations/messages.pot webmap geo
	$(BIN)/pybabel update --no-fuzzy-matching -i webmap/translations/messages.pot \
		-d webmap/translations -D messages

# Debian's python3 has no ensurepip (so no `-m venv`) without python3-venv: install it first.
# A failed `-m venv` leaves a half-made .venv/bin/python behind; remove it so the next make retries.
$(BIN)/python:
	@$(PYTHON) -c "import ensurepip, venv" 2>/dev/null || PYTHON=$(PYTHON) bash scripts/install_system_deps.sh
	$(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); exit 1; }
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

# Leaflet, Folium plugins and all browser assets, from the npm registry, served by the app itself.
webmap/static/vendor/.stamp: webmap/assets/package.json webmap/assets/package-lock.json scripts/vendor_assets.py | $(BIN)/python
	@command -v npm >/dev/null || PYTHON=$(PYTHON) bash scripts/install_system_deps.sh
	$(BIN)/python scripts/vendor_assets.py

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(VENV)/.runtime $@

run: $(VENV)/.runtime webmap/static/vendor/.stamp $(CATALOG).mo
	$(BIN)/flask --app webmap load-demo --if-empty
	$(BIN)/flask --app webmap run --host $(HOST) --port $(PORT)

system-deps:
	@PYTHON=$(PYTHON) bash scripts/install_system_deps.sh

test: system-deps $(VENV)/.dev webmap/static/vendor/.stamp $(CATALOG).mo
	$(BIN)/python -m pytest

demo-data: $(VENV)/.runtime
	$(BIN)/python scripts/make_demo_city.py

bench: system-deps $(VENV)/.dev webmap/static/vendor/.stamp $(CATALOG).mo
	$(BIN)/python scripts/bench_ingest.py
	$(BIN)/python scripts/bench_web.py

clean:
	rm -rf $(VENV) instance .pytest_cache .hypothesis
