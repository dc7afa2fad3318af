# The two commands: `make demo` and `make test`. Each installs what is missing first.

SWIFT ?= swift
# Debug builds for tests keep compile times short; the demo and benchmarks run release builds.
TEST_FLAGS ?=

.PHONY: demo test build release setup setup-test format clean

demo: setup release
	.build/release/osprey demo

test: setup-test
	$(SWIFT) build --build-tests
	$(SWIFT) build -c release --product osprey
	# One test at a time: the end-to-end suites run brokers, daemons and kcat as processes, and
	# on two cores they starve each other when run side by side. Serial is slower, and
	# bounded and repeatable.
	OSPREY_BINARY=$(CURDIR)/.build/release/osprey $(SWIFT) test --skip-build --no-parallel $(TEST_FLAGS)

build: setup
	$(SWIFT) build

release: setup
	$(SWIFT) build -c release --product osprey

setup:
	@scripts/setup.sh

setup-test:
	@scripts/setup.sh --test

format:
	$(SWIFT) format --in-place --recursive Sources Tests Package.swift

clean:
	rm -rf .build
