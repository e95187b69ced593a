# taskbook: `make demo` (install + main job) and `make test` (install + every test).
PYTHON ?= python3
CONSTRAINTS ?= constraints.txt
# the real CIFAR-10 as a .npz, when it lies beside the checkout (else: torchvision, or built-in data)
TDLIB_DATA ?= $(abspath $(wildcard ../shared/data/cifar10.npz))
export TDLIB_DATA
export PYTHONUNBUFFERED = 1

.PHONY: install jslib demo test pytest notebooks book clean

install:            ## Python packages (pinned by constraints.txt) and tdlib in editable mode
	$(PYTHON) -m pip install -q -r requirements.txt -c $(CONSTRAINTS)
	$(PYTHON) -m pip install -q --no-deps --no-build-isolation -e .

jslib:              ## widget manager, require.js and MathJax for the offline book (npm)
	@[ -d node_modules/@jupyter-widgets/html-manager ] || npm ci --no-audit --no-fund --silent

demo: install jslib ## main job: execute every notebook at the smoke profile, then build the book
	$(PYTHON) -m tdlib notebooks --profile smoke --out _build/papermill
	$(MAKE) book
	@echo "Book: file://$(abspath _build/html/index.html)"

test: install jslib ## every test: pytest, notebooks at smoke with papermill, book build with -W
	$(MAKE) pytest notebooks book

pytest:
	$(PYTHON) -m pytest -q -p no:cacheprovider

notebooks:
	$(PYTHON) -m tdlib notebooks --profile smoke --out _build/papermill

book:
	jupyter-book build . -W --keep-going -q
	$(PYTHON) -c "from tdlib.notebooks import check_built_book; check_built_book('_build/html')"
	@echo "Book: file://$(abspath _build/html/index.html)"

clean:
	rm -rf _build results/smoke
