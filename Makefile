# Dealcast: `make run` serves the demo, `make test` runs the whole suite.
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
PYTEST_ARGS ?=
WEB ?= 1
WORKERS ?= 1
NGINX := /usr/sbin/nginx
CHROMIUM := /usr/bin/chromium
# Tests get their own channel prefix and Celery queue (a `make run` may share the servers) and
# throttles high enough for a whole suite from one address; throttling has its own test.
# Pushes may go to the push services the tests run on this machine.
TEST_ENV := DEALCAST_LOCAL=1 CHANNEL_LAYER_PREFIX=dealcast-test CELERY_QUEUE=dealcast-test SIGNUPS_PER_HOUR=100000 \
	THROTTLE_ANON=100000/min THROTTLE_USER=100000/min PUSH_SERVICE_HOSTS='127.0.0.1:*' \
	PASSWORD_RESETS_PER_ADDRESS=100000 PASSWORD_RESETS_PER_CLIENT=100000

.PHONY: run test bench bench-sweep faults audit check clean-data

$(VENV)/.installed: requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements.txt
	touch $@

$(CHROMIUM):
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

# nginx balances WEB>1; when it cannot be installed the launcher falls back to localdev/balancer.py.
$(NGINX):
	-apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light

run: $(VENV)/.installed $(if $(filter-out 1,$(WEB)),$(NGINX))
	DEALCAST_LOCAL=1 $(PY) -m localdev.launcher --port $(PORT) --web $(WEB) --workers $(WORKERS)

# The import rules first (docs/architecture.md): a second, quick failure mode beside the suite's.
test: $(VENV)/.installed $(CHROMIUM) $(NGINX)
	$(VENV)/bin/lint-imports
	$(TEST_ENV) $(PY) -m pytest $(PYTEST_ARGS)

# SERVER=uvicorn measures the same code under uvicorn instead of daphne.
bench: $(VENV)/.installed
	$(PY) -m bench.run $(if $(QUICK),--quick,) $(if $(SERVER),--server $(SERVER),)

# The connection sweep: make bench at 1,000, 5,000, 10,000 and 20,000 shoppers, one after another (~25 min).
bench-sweep: $(VENV)/.installed
	$(PY) -m bench.sweep

faults: $(VENV)/.installed
	$(PY) -m harness.faults $(if $(SHORT),--short,)

# Needs PyPI's or OSV's advisory service, which CI's network here does not reach.
audit: $(VENV)/.installed
	$(VENV)/bin/pip-audit -r requirements.txt --strict

check: $(VENV)/.installed
	DEALCAST_LOCAL=1 $(PY) manage.py check

clean-data:
	$(PY) -m localdev.embedded stop; rm -rf var
