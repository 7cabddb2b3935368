# Thin entry points; the work is in scripts/ and CMake.
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)

.PHONY: setup build test chaos demo bench clean asan tsan

setup:
	bash scripts/setup

build: setup
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_EXTRA)
	cmake --build $(BUILD_DIR) -j $(JOBS)

test: build
	bash scripts/run_tests $(BUILD_DIR)

# Suites that need minutes: the tests marked slow (a Flink job over Kafka), which `make test`
# skips; the kill -9 test with 60 kills inside requests; every fuzzer for FUZZ_RUNS executions
# (at most FUZZ_MAX_SECONDS each); a 30-minute soak (bench/soak.py). docs/reliability.md lists
# what each part checks.
FUZZ_RUNS ?= 10000000
FUZZ_MAX_SECONDS ?= 3600
chaos: build
	HEADWATER_SLOW=1 HEADWATER_BIN="$(CURDIR)/$(BUILD_DIR)/headwater" .venv/bin/python -m pytest -q -m slow tests
	HEADWATER_CHAOS_KILLS=60 HEADWATER_BIN="$(CURDIR)/$(BUILD_DIR)/headwater" .venv/bin/python -m pytest -q -s tests/test_idempotency.py
	cmake -S . -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DHEADWATER_FUZZ=ON -DHEADWATER_BUILD_TESTS=ON -DHEADWATER_BUILD_BENCH=OFF
	FUZZ_RUNS=$(FUZZ_RUNS) FUZZ_SECONDS=$(FUZZ_MAX_SECONDS) bash scripts/fuzz build-fuzz
	.venv/bin/python bench/soak.py --minutes 30 --build $(BUILD_DIR)

demo: build
	bash scripts/demo $(BUILD_DIR)

bench: build
	bash bench/run $(BUILD_DIR)

# AddressSanitizer + UndefinedBehaviorSanitizer build and tests, in build-asan/.
asan:
	$(MAKE) test BUILD_DIR=build-asan BUILD_TYPE=Debug CMAKE_EXTRA=-DHEADWATER_SANITIZE=ON

# ThreadSanitizer build (clang) of the unit tests and the server, in build-tsan/: the unit tests
# and the end-to-end tests of the server, the push path and the stream runner, which share threads.
tsan: setup
	cmake -S . -B build-tsan -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DHEADWATER_TSAN=ON -DHEADWATER_BUILD_BENCH=OFF
	cmake --build build-tsan -j $(JOBS)
	bash scripts/run_tsan build-tsan

clean:
	rm -rf $(BUILD_DIR) build-asan build-tsan build-fuzz
