# Thin entry points; the work is in scripts/ and CMake.
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)

.PHONY: setup build test chaos demo bench clean asan

setup:
	bash scripts/setup

build: setup
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_EXTRA)
	cmake --build $(BUILD_DIR) -j $(JOBS)

test: build
	bash scripts/run_tests $(BUILD_DIR)

# Suites that need minutes (a Flink job over Kafka): the tests marked slow, which `make test` skips.
chaos: build
	HEADWATER_SLOW=1 HEADWATER_BIN="$(CURDIR)/$(BUILD_DIR)/headwater" .venv/bin/python -m pytest -q -m slow tests

demo: build
	bash scripts/demo $(BUILD_DIR)

bench: build
	bash bench/run $(BUILD_DIR)

# AddressSanitizer + UndefinedBehaviorSanitizer build and tests, in build-asan/.
asan:
	$(MAKE) test BUILD_DIR=build-asan BUILD_TYPE=Debug CMAKE_EXTRA=-DHEADWATER_SANITIZE=ON

clean:
	rm -rf $(BUILD_DIR) build-asan
