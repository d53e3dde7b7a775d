# SPDX-License-Identifier: MIT
# genmix — top-level Makefile. It only installs Debian packages and wraps cmake/ctest.
#   make demo    install what is missing, build, run the Fashion-MNIST showcase (results/)
#   make test    install what is missing, build, run all tests (release + ASan/UBSan builds)
#   make bench   benchmarks against NumPy/PyTorch references (see docs/benchmarks.md)
#   make fuzz    libFuzzer targets for the file parsers, bounded time
#   make valgrind  the unit tests under valgrind --leak-check=full
#   make mutate  mutation testing: the mutants of tools/mutants.txt against the non-slow suite (docs/testing.md)
#   make study-latent-mcmc  the latent-MCMC study of docs/latent_mcmc.md
#   make study-das  the toy part of the DAS study of docs/das.md (about a minute)
#   make study-das-fmnist  the Fashion-MNIST part of the DAS study (about 15 CPU minutes)
#   make install / make uninstall   PREFIX (/usr/local) and DESTDIR: genmix, libgenmix.{a,so}, headers,
#                genmix.pc, man page, the Python package (PREFIX/lib/python3.X/dist-packages/genmix)
#   make study-prdiv   the lambda study of docs/pr_divergence.md (PR-GANs and flows on 8 and 25 Gaussians, conv PR-GANs on Fashion-MNIST, 3 seeds)
#   make study-prdiv-variants   the pr-nofloor variant and the longer protocols of the same doc

JOBS    ?= 2
BUILD   ?= build
ASAN    ?= build-asan
FUZZDIR ?= build-fuzz
FUZZ_SECONDS ?= 60

# Build and run dependencies (Debian 12 packages).
DEPS_BUILD := cmake make gcc pkg-config libopenblas-openmp-dev liblapacke-dev libcjson-dev \
              zlib1g-dev libpng-dev dataset-fashion-mnist
# What `make test` and `make demo` use beyond the build (tests/cli_deps.sh checks these lists against the
# commands and Python modules the scripts of each target use: tools/check_deps.py).
# The tests' Python: the extension's build and unittest suite (python3-dev, numpy, setuptools, pip), SciPy
# references, and the PyTorch denoiser of the genmix.align test (tests/test_python_align.py).
DEPS_TEST  := python3 python3-numpy python3-dev python3-setuptools python3-pip python3-scipy python3-torch
DEPS_DEMO  :=
# fuzz/run.sh writes the moe model seed with python3 (standard library only).
DEPS_FUZZ  := clang libclang-rt-14-dev python3
DEPS_CHECK := valgrind
# tools/study_das_fmnist.sh times each job with /usr/bin/time and summarises with python3 (standard library).
DEPS_STUDY := time python3
DEPS_BENCH := python3 python3-numpy python3-scipy python3-sklearn python3-torch r-cran-flexmix

define install_deps
	@missing=""; for p in $(1); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing:$$missing" >&2; \
	    apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing >/dev/null || exit 1; \
	  else \
	    echo "genmix needs Debian packages that are missing. Run:" >&2; \
	    echo "  sudo apt-get install$$missing" >&2; exit 1; \
	  fi; \
	fi
endef

.PHONY: all deps deps-test build install uninstall test test-release test-asan demo bench fuzz valgrind study-latent-mcmc study-das study-das-fmnist study-prdiv study-prdiv-variants mutate clean

all: build

deps:
	$(call install_deps,$(DEPS_BUILD))

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

# What building and installing the Python package needs (make install, make bench).
DEPS_PYTHON := python3 python3-dev python3-numpy python3-setuptools python3-pip

deps-test:
	$(call install_deps,$(DEPS_TEST))

# deps-test comes first: CMake looks for python3-dev/NumPy when it configures the build.
test-release: deps-test build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

test-asan: deps deps-test
	cmake -S . -B $(ASAN) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGM_SANITIZE=address,undefined >/dev/null
	cmake --build $(ASAN) -j $(JOBS)
	cd $(ASAN) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --output-on-failure -j $(JOBS) -LE slow

test: test-release test-asan

demo: build
	$(call install_deps,$(DEPS_DEMO))
	bash tools/demo.sh $(BUILD)/genmix

# The latent-MCMC study of docs/latent_mcmc.md (four autoencoders x chain lengths; about an hour).
study-latent-mcmc: build
	OUT=results/latent_mcmc CACHE=cache bash tools/study_latent_mcmc.sh $(BUILD)/genmix

# The toy part of the DAS study of docs/das.md (results/study_das/).
study-das: build
	bash tools/study_das.sh $(BUILD)/genmix 100

# The Fashion-MNIST part of the DAS study of docs/das.md (results/study_das_fmnist/; ~15 CPU minutes).
study-das-fmnist: build
	$(call install_deps,$(DEPS_STUDY))
	bash tools/study_das_fmnist.sh $(BUILD)/genmix

study-prdiv: build
	mkdir -p results/prdiv
	bash tools/study_prdiv.sh $(BUILD)/genmix results/prdiv > results/prdiv/gan.tsv
	DATA=toy:25gaussians bash tools/study_prdiv.sh $(BUILD)/genmix results/prdiv > results/prdiv/gan25.tsv
	bash tools/study_prdiv_flow.sh $(BUILD)/genmix results/prdiv > results/prdiv/flow.tsv
	DATA=toy:25gaussians bash tools/study_prdiv_flow.sh $(BUILD)/genmix results/prdiv > results/prdiv/flow25.tsv
	for s in 1 2 3; do SEED=$$s bash tools/study_prdiv_fmnist.sh $(BUILD)/genmix cache results/prdiv_fmnist_s$$s > results/prdiv/fmnist_s$$s.tsv || exit 1; done
	cat results/prdiv/gan.tsv results/prdiv/gan25.tsv results/prdiv/flow.tsv results/prdiv/flow25.tsv results/prdiv/fmnist_s*.tsv

# the genmix variant pr-nofloor and the longer protocols of docs/pr_divergence.md (reuses study-prdiv's pre-trained toy GANs)
study-prdiv-variants: build
	mkdir -p results/prdiv
	OBJ=pr-nofloor PRE_REUSE=1 bash tools/study_prdiv.sh $(BUILD)/genmix results/prdiv > results/prdiv/gan_nofloor.tsv
	SEEDS="4 5 6 7 8" bash tools/study_prdiv.sh $(BUILD)/genmix results/prdiv > results/prdiv/gan_s4-8.tsv
	SEEDS="4 5 6 7 8" OBJ=pr-nofloor PRE_REUSE=1 bash tools/study_prdiv.sh $(BUILD)/genmix results/prdiv > results/prdiv/gan_nofloor_s4-8.tsv
	SEEDS="1 2 3 4 5 6 7 8" FT_ITERS=6000 bash tools/study_prdiv.sh $(BUILD)/genmix results/prdiv_ft6000 > results/prdiv/gan_ft6000.tsv
	SEEDS="1 2 3 4 5 6 7 8" FT_ITERS=6000 OBJ=pr-nofloor PRE_REUSE=1 bash tools/study_prdiv.sh $(BUILD)/genmix results/prdiv_ft6000 > results/prdiv/gan_nofloor_ft6000.tsv
	OBJ=pr-nofloor SEED=1 bash tools/study_prdiv_fmnist.sh $(BUILD)/genmix cache results/prdiv_fmnist_s1 > results/prdiv/fmnist_nofloor.tsv

bench: build
	$(call install_deps,$(DEPS_BENCH) $(DEPS_PYTHON))
	bash bench/run.sh $(BUILD)

fuzz: deps
	$(call install_deps,$(DEPS_FUZZ))
	CC=clang cmake -S . -B $(FUZZDIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGM_FUZZ=ON -DGM_OPENMP=OFF >/dev/null
	cmake --build $(FUZZDIR) -j $(JOBS)
	bash fuzz/run.sh $(FUZZDIR) $(FUZZ_SECONDS)

valgrind: build
	$(call install_deps,$(DEPS_CHECK))
	@fail=0; for t in $(BUILD)/tests/test_*; do \
	  case $$t in *_slow) continue;; esac; \
	  echo "valgrind $$t" >&2; \
	  OMP_NUM_THREADS=1 valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect \
	    --error-exitcode=1 $$t > /dev/null || fail=1; \
	done; exit $$fail

PREFIX ?= /usr/local
install: deps
	$(call install_deps,$(DEPS_PYTHON))
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=$(PREFIX) >/dev/null
	cmake --build $(BUILD) -j $(JOBS)
	cmake --install $(BUILD)

uninstall:
	cmake --build $(BUILD) --target uninstall

clean:
	rm -rf $(BUILD) $(ASAN) $(FUZZDIR)

# Mutation testing (docs/testing.md): each mutant of tools/mutants.txt on a scratch copy, non-slow suite.
mutate: deps deps-test
	python3 tools/mutate.py --jobs $(JOBS)
