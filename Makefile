# The two set-up commands of the README: `make run` and `make test`. Each creates the venv it needs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

SANDBOX_CONFIG := config/sandbox.yaml
# Options of `cmsync run`, e.g. `make run RUN_OPTIONS="--cm-port 0 --sf-port 0 --metrics-listen 127.0.0.1:9474"`.
RUN_OPTIONS ?=

.PHONY: run status sync-now test lint clean pubsub-stubs

$(BIN)/cmsync: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --editable '.[dev,sandbox]'
	touch $@

run: $(BIN)/cmsync
	mkdir -p var
	$(BIN)/cmsync run --config $(SANDBOX_CONFIG) --sandbox $(RUN_OPTIONS)

# From a second shell while `make run` runs (or after it: status reads the state store).
status: $(BIN)/cmsync
	$(BIN)/cmsync status --config $(SANDBOX_CONFIG)

sync-now: $(BIN)/cmsync
	$(BIN)/cmsync sync-now --config $(SANDBOX_CONFIG) --wait

test: $(BIN)/cmsync
	tests/install-prerequisites
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/pytest -n 4 --dist loadfile

lint: $(BIN)/cmsync
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache

pubsub-stubs: $(BIN)/cmsync
	$(BIN)/python -m grpc_tools.protoc -I. --python_out=. --grpc_python_out=. cmsync/protocols/pubsub/pubsub_api.proto
