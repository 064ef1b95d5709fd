# Entry points of the template. Each target sets up what it needs:
# a fresh machine with Python 3.11+ only needs `make reports` or `make test`.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO   := data/demo/truth.json
PYTEST := $(BIN)/python -m pytest

.PHONY: help venv data notebooks reports reports-online-retail reports-ecom test test-unit test-notebooks lab bench clean

help:
	@echo "make reports  build the HTML reports on the demo data into reports/"
	@echo "make test     run the unit, doctest, notebook (nbval) and end-to-end tests"
	@echo "make reports-online-retail  the same reports on the shipped UCI Online Retail export"
	@echo "make reports-ecom  the reports on the shipped ecom clickstream (events only)"
	@echo "make data     generate the demo data into data/demo/"
	@echo "make lab      open JupyterLab on the project's kernel"
	@echo "make notebooks  re-execute the notebooks in place (refreshes the outputs nbval compares)"
	@echo "make bench    run the performance benchmarks"
	@echo "make clean    remove generated reports and demo data"

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required (found " + sys.version.split()[0] + "); run: make PYTHON=python3.11 ...")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	# Register the venv's own interpreter as the `python3` kernel inside the venv,
	# so papermill and nbval never pick up another environment's python3.
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (engagement)" >/dev/null
	touch $(STAMP)

venv: $(STAMP)

$(DEMO): $(STAMP) engagement_utils/demo.py
	$(BIN)/engagement-demo-data --out data/demo

data: $(DEMO)

# `make reports PARAMS=reports/params/online_retail.yml` builds another data set's reports.
reports: venv data
	JUPYTER_PREFER_ENV_PATH=1 $(BIN)/engagement-report $(if $(PARAMS),--params $(PARAMS)) $(REPORT_ARGS)

reports-online-retail:
	$(MAKE) reports PARAMS=reports/params/online_retail.yml

reports-ecom:
	$(MAKE) reports PARAMS=reports/params/ecom.yml

test: venv data
	JUPYTER_PREFER_ENV_PATH=1 $(PYTEST) -n 2 --dist loadfile \
		--nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg \
		tests engagement_utils notebooks

test-unit: venv data
	$(PYTEST) -n 2 --dist loadfile tests engagement_utils

test-notebooks: venv data
	$(PYTEST) --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg notebooks

# Re-execute the notebooks in place so their stored outputs (compared by nbval) are current;
# per-cell execution timestamps are stripped so re-runs do not churn the diffs.
notebooks: venv data
	for nb in notebooks/*.ipynb; do \
		JUPYTER_PREFER_ENV_PATH=1 $(BIN)/jupyter nbconvert --to notebook --execute --inplace \
			--ClearMetadataPreprocessor.enabled=True --ClearMetadataPreprocessor.clear_notebook_metadata=False \
			--ClearMetadataPreprocessor.preserve_cell_metadata_mask='[("tags")]' "$$nb" || exit 1; \
	done

# JupyterLab refuses to start as root unless told to (containers, CI boxes run as root).
LAB_ARGS ?= $(if $(filter 0,$(shell id -u)),--allow-root)

lab: venv data
	JUPYTER_PREFER_ENV_PATH=1 $(BIN)/jupyter lab --notebook-dir=. $(LAB_ARGS)

bench: venv
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev,bench]'
	$(BIN)/python benchmarks/run_benchmarks.py $(BENCH_ARGS)

clean:
	rm -rf data/demo reports/*.html reports/_failed reports/online_retail reports/.engagement-reports.json exports .pytest_cache
	find . -name __pycache__ -type d -prune -not -path './$(VENV)/*' -exec rm -rf {} +
