# attnzoo — every entry point of the project.
#
#   make            install missing Debian packages, build everything (library, lessons, CLI, tests, benches)
#   make run        build, run every lesson, write out/ (and the gallery out/index.html), print a summary
#   make test       build and run the doctest suite
#   make sanitize   the suite under AddressSanitizer + UndefinedBehaviorSanitizer (build/asan/)
#   make notebooks  every lesson and companion notebook as out/notebooks/NAME.ipynb, plus out/index.html
#   make gallery-check  open out/index.html in headless Chromium: screenshot, fail on a missing/broken image
#   make bench      op throughput (bench/ops.cpp), every scheme's time/memory vs n and % of this machine's
#                   roofline (attnzoo bench), its 1 vs all-thread speed-up at 4K (out/bench/threads/) and what one
#                   generated token costs vs context, cached and recomputed (attnzoo bench --decode) -> out/bench/
#   make bench-torch  the same attention, training-step, byte-LM-step and greedy-decoding timings in PyTorch, as
#                   ratios (python3-torch)
#   make lra        the mini Long Range Arena suite: every scheme on its five tasks (ListOps, which-book text,
#                   same-book retrieval, Fashion-MNIST image, Pathfinder), efficiency at 1K-4K tokens
#                   -> out/lra/ (results.md, efficiency.md, bubbles.png, ...); about an hour on 2 cores (estimated)
#   make lm         pretraining on real text: every scheme as a byte-level LM on the KJV Bible, bits per byte vs
#                   context, Linformer's k -> out/lm/ (results.md, context.png, ...); see lm/suite.h
#   make lra-pretrained  which book? from scratch vs fine-tuned from make lm's pretrained model, every scheme
#                   -> out/lra-pretrained/; about an hour
#   make claims     each paper's headline claim beside what make lm / lra / lra-pretrained measured -> out/claims.md
#   make attention-page  two small LMs trained on the KJV Bible and where their heads look: out/lm/attention.html
#   make deps       install missing Debian packages only (scripts/install-deps.sh)
#   make reference  regenerate tests/reference/*.npy with PyTorch (needs python3-torch: make deps-torch)
#   make clean      remove build/ and out/
#
# Top-level targets first make sure the packages are there, then call this Makefile again with -j so that
# pkg-config (evaluated when the Makefile is read) sees the installed libraries. Plain `make` is already parallel
# (-j$(JOBS), all cores); `make -jN` works too and then uses N jobs.

SHELL   := /bin/bash
CXX     ?= g++
PYTHON  ?= /usr/bin/python3
BUILD   ?= build
OUT     ?= out
JOBS    ?= $(shell nproc 2>/dev/null || echo 2)
SANITIZE ?= 0
# The inner make's -j: -j$(JOBS), unless this make was itself started with -j. Then the inner make shares the
# outer one's job slots by itself, and forcing -j on it would make GNU make warn "-jN forced in submake".
PARALLEL = $(if $(filter -j%,$(MAKEFLAGS)),,-j$(JOBS))

# OpenBLAS's OpenMP build (libopenblas-openmp-dev): it shares libgomp's thread pool with the engine's own
# OpenMP loops. With the default pthread build, two pools of spinning threads fight over the cores and a
# small attention call takes ~8 ms instead of <1 ms. The rpath makes the binaries load that build at run time
# whatever the system-wide BLAS alternative says.
BLAS_PC   := /usr/lib/$(shell $(CXX) -dumpmachine 2>/dev/null)/openblas-openmp/pkgconfig
PKG        = PKG_CONFIG_PATH=$(BLAS_PC) pkg-config
PKG_CFLAGS = $(shell $(PKG) --cflags openblas stb 2>/dev/null)
PKG_LIBS   = $(shell $(PKG) --libs openblas stb 2>/dev/null || echo -lopenblas -lstb) \
             -Wl,-rpath,$(shell $(PKG) --variable=libdir openblas 2>/dev/null)

# No -ffast-math anywhere: it breaks exp/erf edge cases and -inf masks.
# -fno-trapping-math is not part of that: it changes no result (every operation still rounds as IEEE 754 says),
# it only lets the compiler compute both sides of a select, since no program here reads the floating-point
# exception flags. Without it GCC leaves loops with selects scalar on AVX2 (it cannot if-convert an operation that
# might trap): gelu's x·Φ(x) ran 6× slower on a Zen 3 machine (76 ms vs 12 ms for 4M floats, one thread). Clang
# assumes it by default.
# The sanitizer build keeps line tables only (-g1): its stack traces still name file and line, and it compiles
# a third faster than with full -g (lesson 15: 37 s instead of 54 s here), which is most of `make sanitize`.
ifeq ($(SANITIZE),1)
  OPT := -O1 -g1 -fno-trapping-math -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
else
  OPT := -O3 -march=native -g1 -fno-trapping-math
endif
CXXFLAGS ?=
CXXFLAGS += -std=c++17 $(OPT) -fopenmp -Wall -Wextra -Wno-unused-parameter -I. $(PKG_CFLAGS) -MMD -MP
LDFLAGS  += $(OPT) -fopenmp
# zlib, libbz2, liblzma: the compressors a language model is measured against (lm/compressors.cpp).
LDLIBS   += $(PKG_LIBS) -lz -lbz2 -llzma -lm
# --whole-archive: schemes register themselves from static objects that nothing else references.
LIB_LINK  = -Wl,--whole-archive $(LIB) -Wl,--no-whole-archive

CORE_SRC   := $(wildcard core/*.cpp)
PLOT_SRC   := $(wildcard plot/*.cpp)      # figures: canvas, colormaps, heatmaps, line plots, PNG (beside the engine)
ATTN_SRC   := $(wildcard attention/*.cpp attention/kernels/*.cpp)
CORPORA_SRC := $(wildcard corpora/*.cpp)  # real text from Debian packages (KJV, fortunes, GCIDE) and its splits
LRA_SRC    := $(wildcard lra/*.cpp)   # the Long Range Arena tasks and trainer: part of the library (the CLI uses them)
LM_SRC     := $(wildcard lm/*.cpp)    # language modelling on real text: byte LMs, compressors, the LM trainer
LIB_OBJ    := $(patsubst %.cpp,$(BUILD)/obj/%.o,$(CORE_SRC) $(PLOT_SRC) $(ATTN_SRC) $(CORPORA_SRC) $(LRA_SRC) \
                                                $(LM_SRC))
LIB        := $(BUILD)/libattnzoo.a

LESSON_SRC := $(sort $(wildcard lessons/[0-9]*.cpp))
LESSONS    := $(patsubst lessons/%.cpp,$(BUILD)/lessons/%,$(LESSON_SRC))
TEST_SRC   := $(wildcard tests/*.cpp)
TEST_OBJ   := $(patsubst %.cpp,$(BUILD)/obj/%.o,$(TEST_SRC))
TEST_BIN   := $(BUILD)/tests/run_tests
CLI        := $(BUILD)/attnzoo
CLI_OBJ    := $(patsubst %.cpp,$(BUILD)/obj/%.o,$(wildcard cli/*.cpp))   # one file per command, cli/main.cpp
BENCH_SRC  := $(wildcard bench/*.cpp)
BENCHES    := $(patsubst bench/%.cpp,$(BUILD)/bench/%,$(BENCH_SRC))
# notebooks_cpp/: the companion notebooks (percent-format programs, built like lessons). tools/: the notebook
# runner and the gallery generator, programs that need neither the engine nor BLAS.
COMPANION_SRC := $(sort $(wildcard notebooks_cpp/*.cpp))
COMPANIONS    := $(patsubst notebooks_cpp/%.cpp,$(BUILD)/notebooks/%,$(COMPANION_SRC))
NB_RUNNER     := $(BUILD)/tools/nbrun
GALLERY       := $(BUILD)/tools/gallery
# nbrun compiles each notebook's instrumented copy exactly as a lesson is built, JOBS copies at a time (~20 s
# each, 23 of them); it then runs the programs one at a time, so their timings see an otherwise idle machine.
NB_BUILD_FLAGS = --jobs $(JOBS) --cxx "$(CXX)" --cxxflags "$(CXXFLAGS)" --ldflags "$(LDFLAGS)" --ldlibs "$(LIB_LINK) $(LDLIBS)"

.PHONY: all build run test sanitize bench lra lra-pretrained claims lm attention-page notebooks gallery-check deps-gallery deps-text deps-data bench-torch deps deps-torch reference clean help FORCE
# Keep every object file: make would delete the lessons' and notebooks' .o as intermediates of a pattern chain, and
# the next make (whose included .d files name them) would compile them all again — twice per CI run.
.SECONDARY:
.DEFAULT_GOAL := all

# Idle OpenMP threads sleep instead of spinning, for everything run from here: on a busy machine (CI, a shared
# box) spinning threads steal the cores the work needs. Seen here under load: a lesson's --quick run took 33 s
# with spinning threads and 2.7 s with sleeping ones; linear attention at n=2048 took 280 ms instead of 21 ms.
# Override with `make ... OMP_WAIT_POLICY=active`; programs run by hand use OpenMP's default unless you export it.
export OMP_WAIT_POLICY ?= passive

all: deps
	@$(MAKE) --no-print-directory $(PARALLEL) build

build: $(LIB) $(LESSONS) $(COMPANIONS) $(CLI) $(TEST_BIN) $(BENCHES) $(NB_RUNNER) $(GALLERY)

run: all deps-text
	@status=0; bash scripts/run-lessons.sh $(BUILD)/lessons $(OUT) || status=$$?; \
	  $(GALLERY) --out $(OUT) || status=1; exit $$status

# NB_ARGS: extra arguments for every notebook program, e.g. `make notebooks NB_ARGS=--quick` (CI does this).
# A --quick run writes everything (notebooks, figures, logs, gallery) under OUT/quick, as a quick lesson does, so
# that it never replaces the full-size figures of `make run`; its gallery is OUT/quick/index.html.
NB_ARGS ?=
NB_OUT = $(if $(filter --quick,$(NB_ARGS)),$(OUT)/quick,$(OUT))
notebooks: all
	@status=0; $(NB_RUNNER) $(NB_BUILD_FLAGS) --out-dir $(NB_OUT)/notebooks $(LESSON_SRC) $(COMPANION_SRC) \
	  -- --out $(NB_OUT) $(NB_ARGS) || status=$$?; $(GALLERY) --out $(NB_OUT) || status=1; exit $$status

gallery-check: deps-gallery
	bash scripts/check-gallery.sh $(OUT)
	@if [ -f $(OUT)/lm/attention.html ]; then bash scripts/check-attention-page.sh $(OUT)/lm/attention.html; fi

test: deps deps-text
	@$(MAKE) --no-print-directory $(PARALLEL) $(TEST_BIN) $(LESSONS) $(COMPANIONS) $(CLI) $(NB_RUNNER) $(GALLERY)
	$(TEST_BIN)

# Under the sanitizers every test runs but one: each lesson's exercise run twice more, with its reference solution
# and with its known-wrong answer (the slowest test case: 5 of the normal build's 9 minutes, several times that
# under ASan, for code the lesson's own --quick run has already been through). `make test` runs it.
SANITIZE_SKIP = -tce="lessons: every exercise's solution*"
sanitize: deps
	@$(MAKE) --no-print-directory $(PARALLEL) BUILD=build/asan SANITIZE=1 build/asan/tests/run_tests \
	  $(patsubst $(BUILD)/%,build/asan/%,$(LESSONS) $(COMPANIONS) $(CLI) $(NB_RUNNER) $(GALLERY))
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 build/asan/tests/run_tests $(SANITIZE_SKIP)

bench: all
	@mkdir -p $(OUT)/bench
	$(BUILD)/bench/ops --out $(OUT)/bench
	$(CLI) bench --n 1024,2048,4096,8192,16384 --out $(OUT)/bench
	$(CLI) bench --n 4096 --thread-speedup --out $(OUT)/bench/threads
	$(CLI) bench --decode --out $(OUT)/bench

# out/claims.md: each paper's claim beside what make lm, make lra and make lra-pretrained measured (attnzoo claims).
CLAIMS = $(CLI) claims --out $(OUT)/claims.md --lm-runs $(OUT)/lm/all_runs.csv --lra $(OUT)/lra/results.csv \
         --pretrained $(OUT)/lra-pretrained/results.csv

# LRA_ARGS: extra arguments for the suite, e.g. `make lra LRA_ARGS="--schemes full,linear --no-efficiency"`.
LRA_ARGS ?=
lra: all deps-text deps-data
	$(CLI) lra suite --out $(OUT)/lra $(LRA_ARGS)
	$(CLAIMS) > /dev/null

# Pretraining vs scratch on which book?, every scheme, same budget: from scratch, and fine-tuned from make lm's long
# run (exact attention, 3000 steps at n = 256; the attention swapped to each scheme). About an hour here.
PRETRAINED_LM = $(OUT)/lm/runs/long/flash_n256
lra-pretrained: all deps-text
	@[ -f $(PRETRAINED_LM)/model.safetensors ] || { echo "attnzoo: lra-pretrained starts from $(PRETRAINED_LM): run make lm first"; exit 2; }
	$(CLI) lra suite --init $(PRETRAINED_LM) --out $(OUT)/lra-pretrained $(LRA_ARGS)
	$(CLAIMS) > /dev/null

# out/claims.md alone, from whatever make lm, make lra and make lra-pretrained have written so far.
claims: all
	$(CLAIMS)

# LM_ARGS: extra arguments for the pretraining experiments, e.g. `make lm LM_ARGS="--experiments 1 --quick"`.
LM_ARGS ?=
lm: all deps-text
	$(CLI) lm suite --out $(OUT)/lm $(LM_ARGS)
	@models=""; for s in flash longformer bigbird reformer routing; do \
	  d=$(OUT)/lm/runs/schemes/$${s}_n512; [ -f $$d/model.safetensors ] && models="$$models --model $$d"; done; \
	  if [ -n "$$models" ]; then $(CLI) lm attention --corpus kjv --out $(OUT)/lm $$models; fi

# The interactive attention page alone, in about a minute: two small causal LMs on the KJV Bible (exact attention and
# Longformer's window), their heads on a passage of the test split -> out/lm/attention.html, heatmaps.png,
# distance.png. CI runs it before gallery-check.
PAGE_TRAIN = --corpus kjv --context 128 --steps 200 --d-model 64 --heads 4 --layers 2 --eval-every 200 \
             --no-compressors --progress lines
attention-page: all deps-text
	$(CLI) lm train $(PAGE_TRAIN) --scheme flash --out $(OUT)/lm/runs/page/flash
	$(CLI) lm train $(PAGE_TRAIN) --scheme longformer --set window=16 --out $(OUT)/lm/runs/page/longformer
	$(CLI) lm attention --corpus kjv --model $(OUT)/lm/runs/page/flash --model $(OUT)/lm/runs/page/longformer \
	  --out $(OUT)/lm

bench-torch: all deps-torch
	$(PYTHON) bench/torch/compare.py $(BUILD) $(OUT)/bench

deps:
	@sh scripts/install-deps.sh

deps-torch:
	@sh scripts/install-deps.sh --torch

deps-gallery:
	@sh scripts/install-deps.sh --gallery

# The real text of lm/ (KJV Bible, fortunes, GCIDE): for `make lm`, lesson 17 (`make run`) and the corpus tests.
deps-text:
	@sh scripts/install-deps.sh --text

# Fashion-MNIST, the offline image task of `make lra` (lra/fashion.h).
deps-data:
	@sh scripts/install-deps.sh --data

reference: deps-torch
	$(PYTHON) tests/reference/make_reference.py

clean:
	rm -rf build $(OUT)

help:
	@sed -n '3,22p' Makefile

# ---- rules ------------------------------------------------------------------------------------------------
$(BUILD)/obj/%.o: %.cpp
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -c $< -o $@

$(BUILD)/obj/tests/%.o: CXXFLAGS += -DATTNZOO_SOURCE_DIR='"$(CURDIR)"'

# The list of the library's objects, rewritten only when it changes: a source file added or removed rebuilds the
# library (otherwise a deleted scheme would stay registered from the old archive).
$(BUILD)/libattnzoo.objects: FORCE
	@mkdir -p $(dir $@)
	@echo '$(LIB_OBJ)' | cmp -s - $@ || echo '$(LIB_OBJ)' > $@

$(LIB): $(LIB_OBJ) $(BUILD)/libattnzoo.objects
	@mkdir -p $(dir $@)
	@rm -f $@
	ar rcs $@ $(LIB_OBJ)

$(BUILD)/lessons/%: $(BUILD)/obj/lessons/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CXX) $(LDFLAGS) $< $(LIB_LINK) $(LDLIBS) -o $@

$(CLI): $(CLI_OBJ) $(LIB)
	@mkdir -p $(dir $@)
	$(CXX) $(LDFLAGS) $(CLI_OBJ) $(LIB_LINK) $(LDLIBS) -o $@

$(TEST_BIN): $(TEST_OBJ) $(LIB)
	@mkdir -p $(dir $@)
	$(CXX) $(LDFLAGS) $(TEST_OBJ) $(LIB_LINK) $(LDLIBS) -o $@

$(BUILD)/notebooks/%: $(BUILD)/obj/notebooks_cpp/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CXX) $(LDFLAGS) $< $(LIB_LINK) $(LDLIBS) -o $@

$(NB_RUNNER): $(BUILD)/obj/tools/nbrun.o
	@mkdir -p $(dir $@)
	$(CXX) $(LDFLAGS) $< -o $@

$(GALLERY): $(BUILD)/obj/tools/gallery.o
	@mkdir -p $(dir $@)
	$(CXX) $(LDFLAGS) $< -o $@

$(BUILD)/bench/%: $(BUILD)/obj/bench/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CXX) $(LDFLAGS) $< $(LIB_LINK) $(LDLIBS) -o $@

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
