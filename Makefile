# taskbook: `make demo` (install + main job) and `make test` (install + every test).
# the project's own virtual environment (`make venv`) when it exists, else the python3 on the path
PYTHON ?= $(if $(wildcard .venv/bin/python),$(abspath .venv/bin/python),python3)
# jupyter-book of the same environment as $(PYTHON): PYTHON=/path/venv/bin/python works without activating it
JUPYTER_BOOK = $(shell $(PYTHON) -c 'import os, sys; print(os.path.join(os.path.dirname(sys.executable), "jupyter-book"))')
CONSTRAINTS ?= constraints.txt
# the real CIFAR-10 as a .npz, when it lies beside the checkout (else: torchvision, or built-in data)
TDLIB_DATA ?= $(abspath $(wildcard ../shared/data/cifar10.npz))
export TDLIB_DATA
export PYTHONUNBUFFERED = 1

.PHONY: venv install jslib demo test pytest test-bars notebooks book browser ipynb clean

venv:               ## a virtual environment in .venv with everything installed; later make calls use it
	python3 -m venv .venv
	$(MAKE) install PYTHON=$(abspath .venv/bin/python)
	@echo "venv ready: make demo / make test now use .venv (or: source .venv/bin/activate)"

install:            ## Python packages (pinned by constraints.txt) and tdlib in editable mode
	$(PYTHON) -m pip install -q -r requirements.txt -c $(CONSTRAINTS)
	$(PYTHON) -m pip install -q --no-deps --no-build-isolation -e .

jslib:              ## MathJax for the offline book, playwright-core for the browser test (npm, package-lock.json)
	@[ node_modules/.package-lock.json -nt package-lock.json ] || npm ci --no-audit --no-fund --silent

demo: install jslib ## main job: build the book, executing each notebook once (stored results, else smoke)
	$(MAKE) book

test: install jslib ## every test but the bars (make test-bars): pytest, notebooks at smoke with papermill, book build with -W, browser check
	@# pytest and the smoke notebooks side by side (2 cores); the notebooks' smoke results in their own folder
	@# one thread each: two jobs on 2 cores with torch's default 2 threads each ran 6x slower (issue 20:
	@# 47.6 min as is, 7.4 min pinned, same 228 tests)
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(MAKE) -j2 --output-sync=target pytest notebooks NB_RESULTS=$(abspath _build/results)
	$(MAKE) book browser

pytest:             ## every test but the reproduction bars (minutes of compute each: make test-bars)
	$(PYTHON) -m pytest -q -p no:cacheprovider --durations=12 -m "not bars"

test-bars:          ## the issues' reproduction bars (e.g. the 3-seed discovery sandbox, ~20 min on 1 core); CI runs them
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(PYTHON) -m pytest -q -p no:cacheprovider --durations=5 -m bars

notebooks:          ## every page at the smoke profile with papermill (NB_RESULTS=DIR: results go there)
	$(if $(NB_RESULTS),TDLIB_RESULTS=$(NB_RESULTS) )$(PYTHON) -m tdlib notebooks --profile smoke --out _build/papermill

book:
	$(JUPYTER_BOOK) build . --all -W --keep-going -q
	$(PYTHON) -c "from tdlib.lab.notebooks import check_built_book; check_built_book('_build/html')"
	@echo "Book: file://$(abspath _build/html/index.html)"

browser:            ## the built book in headless chromium: sliders work, nothing leaves the site, no console errors
	@if [ -x "$${CHROMIUM:-/usr/bin/chromium}" ]; then node tests/browser/check_book.mjs _build/html; \
	elif [ -n "$$TDLIB_REQUIRE_BROWSER" ]; then echo "no chromium: apt-get install chromium" >&2; exit 1; \
	else echo "browser check skipped: no /usr/bin/chromium (apt-get install chromium)"; fi

ipynb:              ## rewrite each page's paired book/*.ipynb (Colab, JupyterHub) from its .md source
	$(PYTHON) -c "from tdlib.lab.notebooks import write_ipynb; write_ipynb()"

clean:
	rm -rf _build results/smoke
