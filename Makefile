# genmix — top-level Makefile. It only installs Debian packages and wraps cmake/ctest.
#   make demo    install what is missing, build, run the Fashion-MNIST showcase (results/)
#   make test    install what is missing, build, run all tests (release + ASan/UBSan builds)
#   make bench   benchmarks against NumPy/PyTorch references (see docs/benchmarks.md)
#   make fuzz    libFuzzer targets for the file parsers, bounded time
#   make valgrind  the unit tests under valgrind --leak-check=full
#   make study-latent-mcmc  the latent-MCMC study of docs/latent_mcmc.md
#   make study-das  the toy part of the DAS study of docs/das.md (about a minute)
#   make install / make uninstall   PREFIX (/usr/local) and DESTDIR: genmix, libgenmix.{a,so}, headers,
#                genmix.pc, man page, the Python package (PREFIX/lib/python3.X/dist-packages/genmix)

JOBS    ?= 2
BUILD   ?= build
ASAN    ?= build-asan
FUZZDIR ?= build-fuzz
FUZZ_SECONDS ?= 60

# Build and run dependencies (Debian 12 packages).
DEPS_BUILD := cmake make gcc pkg-config libopenblas-openmp-dev liblapacke-dev libcjson-dev \
              zlib1g-dev libpng-dev dataset-fashion-mnist
DEPS_FUZZ  := clang libclang-rt-14-dev
# CLI tests: JSON checks and the example reward command (tools/reward_cmd_example.py, standard library only).
DEPS_TEST  := python3
DEPS_CHECK := valgrind
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

.PHONY: all deps build install uninstall test test-release test-asan demo bench fuzz valgrind study-latent-mcmc study-das clean

all: build

deps:
	$(call install_deps,$(DEPS_BUILD))

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

# The Python package and its tests (python/, tests/test_python.py) — appended to what `make test` installs.
DEPS_PYTHON := python3 python3-dev python3-numpy python3-setuptools python3-pip python3-scipy python3-torch

test-release: build
	$(call install_deps,$(DEPS_TEST) $(DEPS_PYTHON))
	cmake -S . -B $(BUILD) >/dev/null && cmake --build $(BUILD) -j $(JOBS)
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

test-asan: deps
	$(call install_deps,$(DEPS_TEST))
	cmake -S . -B $(ASAN) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGM_SANITIZE=address,undefined >/dev/null
	cmake --build $(ASAN) -j $(JOBS)
	cd $(ASAN) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --output-on-failure -j $(JOBS) -LE slow

test: test-release test-asan

demo: build
	bash tools/demo.sh $(BUILD)/genmix

# The latent-MCMC study of docs/latent_mcmc.md (four autoencoders x chain lengths; about an hour).
study-latent-mcmc: build
	OUT=results/latent_mcmc CACHE=cache bash tools/study_latent_mcmc.sh $(BUILD)/genmix

# The toy part of the DAS study of docs/das.md (results/study_das/).
study-das: build
	bash tools/study_das.sh $(BUILD)/genmix 100

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
