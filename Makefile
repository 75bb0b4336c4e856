# The two set-up commands of the README: `make run` and `make test`. Each creates the venv it needs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test lint clean pubsub-stubs

$(BIN)/cmsync: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --editable '.[dev]'
	touch $@

run: $(BIN)/cmsync
	mkdir -p var
	$(BIN)/cmsync run --config config/sandbox.yaml --sandbox

test: $(BIN)/cmsync
	tests/install-prerequisites
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest -n 4 --dist loadfile

lint: $(BIN)/cmsync
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache

pubsub-stubs: $(BIN)/cmsync
	$(BIN)/python -m grpc_tools.protoc -I. --python_out=. --grpc_python_out=. cmsync/workers/salesforce/pubsub/pubsub_api.proto
