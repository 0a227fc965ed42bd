# robustlib: `make test` runs the test suite, `make book` runs the study and builds the book.
# Both create the virtual environment in .venv on first use.

PYTHON ?= python3.11
VENV ?= .venv
PROFILE ?= default
# Parallel experiment processes; empty means one per CPU core.
WORKERS ?=
BUILD ?= build

BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
RUNS := $(BUILD)/runs/$(PROFILE)
BOOK_BUILD := $(BUILD)/book/$(PROFILE)

.PHONY: all test book data grid results benchmarks clean clean-book help

all: help

help:
	@echo "make test                  run the test suite (creates $(VENV) on first use)"
	@echo "make book [PROFILE=smoke]  fetch data, run the experiment grid, build the book"
	@echo "make data                  download and checksum the default dataset"
	@echo "make benchmarks            time the methods and the training loop"
	@echo "make clean                 remove $(BUILD)/ (runs and book); keeps $(VENV) and the data cache"

$(STAMP): pyproject.toml
	@test -x "$$(command -v $(PYTHON))" || { echo "error: $(PYTHON) not found; install Python 3.11 or run make PYTHON=/path/to/python3.11" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first and alone: this exact version resolves to the CPU wheel on the study's machines.
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e ".[study,test]"
	$(BIN)/python -m ipykernel install --sys-prefix --name robustlib --display-name "robustlib (Python 3)" >/dev/null
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest tests --nbval-lax notebooks/experiment.ipynb -p no:cacheprovider

data: $(STAMP)
	$(BIN)/python -m robustlib data clinc150

grid: data
	$(BIN)/python -m robustlib grid --profile $(PROFILE) --out $(RUNS) $(if $(WORKERS),--workers $(WORKERS))

results: grid
	$(BIN)/python -m robustlib results --profile $(PROFILE) --runs $(RUNS) --book-build $(BOOK_BUILD)

book: results
	$(BIN)/python -m robustlib book --profile $(PROFILE) --runs $(RUNS) --book-build $(BOOK_BUILD)

benchmarks: $(STAMP)
	$(BIN)/python benchmarks/bench_methods.py
	$(BIN)/python benchmarks/bench_methods.py --optimizer adam
	$(BIN)/python benchmarks/bench_loop.py

clean:
	rm -rf $(BUILD)
