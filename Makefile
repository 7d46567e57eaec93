# junco - the commands people type. The build itself is CMake (build/).
#   make            build (Release with debug info)
#   make test       build and run the whole test suite (unit + CLI + HTTP)
#   make demo       build, then import the bundled MovieLens data, train,
#                   evaluate and serve it
#   make check      formatting, banned functions, header self-containment
#   make sanitize   build with ASan + UBSan and run the test suite
#   make fuzz       build the libFuzzer targets and run each for FUZZ_SECONDS
#   make bench      run the benchmarks in bench/ (long; installs the peers)
BUILD       ?= build
ASAN_BUILD  ?= build-asan
FUZZ_BUILD  ?= build-fuzz
JOBS        ?= $(shell nproc)
FUZZ_SECONDS ?= 60
CMAKE_FLAGS ?=
JUNCO_HOME  ?= ./junco-data

.PHONY: all build deps test demo check sanitize fuzz bench clean format docs

all: build

deps:
	@scripts/install-deps

$(BUILD)/build.ninja: CMakeLists.txt | deps
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS) >/dev/null

build: deps $(BUILD)/build.ninja
	@cmake --build $(BUILD) -j $(JOBS)

test: build
	@scripts/install-deps --test
	@scripts/run-tests $(BUILD)

demo: build
	@$(BUILD)/junco --home $(JUNCO_HOME) demo

check: deps
	@scripts/install-deps --test
	@scripts/check

sanitize: deps
	@scripts/install-deps --test
	@cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DJUNCO_SANITIZE=ON \
	  -DCMAKE_C_COMPILER=clang $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)
	@JC_SANITIZE=1 scripts/run-tests $(ASAN_BUILD)

fuzz: deps
	@scripts/install-deps --test
	@cmake -S . -B $(FUZZ_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DJUNCO_FUZZ=ON \
	  -DJUNCO_TESTS=OFF -DCMAKE_C_COMPILER=clang >/dev/null
	@cmake --build $(FUZZ_BUILD) -j $(JOBS)
	@scripts/run-fuzz $(FUZZ_BUILD) $(FUZZ_SECONDS)

bench: build
	@scripts/install-deps --bench
	@bench/run-all $(BUILD)

docs: build
	@$(BUILD)/junco config docs > docs/CONFIG.md

format:
	@git ls-files '*.c' '*.h' | xargs clang-format -i

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
