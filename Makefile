# Bedside EWS — the two quick-start commands are `make demo` and `make test`.
# Both set everything up first: Debian packages (as root), a virtualenv with the
# project, the Kafka jars (through Maven, cached) and the local Kafka + Redis stack.

PYTHON ?= python3
VENV   ?= .venv
EWS    := $(VENV)/bin/ews
PYTEST := $(VENV)/bin/pytest

# command:debian-package pairs the project needs on the machine
SYSTEM_TOOLS := java:default-jre-headless mvn:maven redis-server:redis-server kcat:kcat docker-compose:docker-compose \
                chromium:chromium chromedriver:chromium-driver

.PHONY: demo test bench setup system-deps stack-up stack-down stack-status clean

demo: setup
	$(EWS) demo

test: setup
	$(EWS) stack up
	EWS_REQUIRE_SERVICES=1 $(PYTEST)

bench: setup
	$(VENV)/bin/python bench/kernels.py

setup: system-deps $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -e '.[dev]'
	touch $@

system-deps:
	@missing=""; \
	for pair in $(SYSTEM_TOOLS); do \
	  command -v $${pair%%:*} >/dev/null 2>&1 || missing="$$missing $${pair#*:}"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "missing system packages:$$missing"; \
	    echo "install them as root: apt-get update && apt-get install -y$$missing"; exit 1; \
	  fi; \
	fi

stack-up: setup
	$(EWS) stack up

stack-down:
	@if [ -x $(EWS) ]; then $(EWS) stack down; fi

stack-status:
	$(EWS) stack status

clean: stack-down
	rm -rf .ews test-artifacts .pytest_cache
