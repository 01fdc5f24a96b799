# Two entry points for people: `make run` and `make test`. Everything else supports them.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install run test lint typecheck pytest miniprogram-test bench clean


$(STAMP): pyproject.toml Makefile scripts/install-python.sh scripts/system-deps.sh
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found (Python 3.11+ is required)"; exit 1; }
	@bash scripts/system-deps.sh $(PYTHON)
	PYTHON=$(PYTHON) bash scripts/install-python.sh $(VENV) --dev
	touch $(STAMP)

install: $(STAMP)

run: install
	$(VENV)/bin/vigilo serve

lint: install
	$(VENV)/bin/ruff check src tests scripts
	$(VENV)/bin/ruff format --check src tests scripts

typecheck: install
	$(VENV)/bin/mypy

pytest: install
	$(VENV)/bin/pytest -q

# The WeChat mini-program's page logic, in Node (jest + miniprogram-simulate), from its lock file.
miniprogram-test:
	@command -v npm >/dev/null 2>&1 || { echo "error: npm not found (Node.js is needed: apt-get install nodejs npm)"; exit 1; }
	cd miniprogram && npm ci --no-audit --no-fund && npm test

test: install lint typecheck pytest miniprogram-test

bench: install
	$(PY) -m vigilo.bench

clean:
	rm -rf $(VENV) var build *.egg-info
