# cvpn build, test and demo entry points. `make test` is what CI runs.
SHELL := /bin/bash
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
STATICCHECK_VERSION := v0.8.2
ACTIONLINT_VERSION := v1.7.12
# Packages with macOS/Windows integration tests (TestOS*): os-tests-compile type-checks them, tests included, for those OSes.
OS_TEST_PKGS := ./platform/... ./app/policy/ ./app/daemon/ ./app/ipc/ ./internal/testkit/osinteg/ ./internal/e2e/osloop/
GOBIN := $(shell $(GO) env GOPATH)/bin
STATICCHECK := $(GOBIN)/staticcheck
FUZZTIME ?= 2m
CROSS := linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64

# Debian packages, by what needs them; .ci/deps.sh installs only the missing ones.
# DEB_GO: what any go command needs on a bare (minbase) machine to reach the module proxy over HTTPS.
# DEB_BUILD: the cgo GUI build (fyne: GL, X11, Wayland headers, gcc); build, deb, dist, lint.
# DEB_DISPLAY: the real window under Xvfb (screenshots). DEB_TEST: the tests' and demo's peers and tools
# (systemd for systemd-analyze: always there on a booted Debian, not in a container or chroot;
# dbus-daemon for the private bus of the network monitor's resume test).
DEB_GO := ca-certificates
DEB_BUILD := $(DEB_GO) libgl1-mesa-dev xorg-dev libwayland-dev libxkbcommon-dev wayland-protocols pkg-config gcc
DEB_DISPLAY := xvfb xauth x11-apps libgl1-mesa-dri
DEB_TEST := openvpn iperf3 iputils-ping iproute2 openssl procps chromium desktop-file-utils systemd dbus-daemon
DEB_PACKAGES := $(DEB_BUILD) $(DEB_DISPLAY) $(DEB_TEST)

.PHONY: all deps deps-go deps-build deps-lint deps-openvpn27 build cross test unit actionlint os-tests-compile fuzz fuzz-ci lint tidy-check bench soak demo screenshots fresh-check fresh-check-ci clean

all: build

## deps: install everything any target needs: missing Debian packages, staticcheck, Go modules (idempotent)
deps: deps-lint
	@bash .ci/deps.sh $(DEB_PACKAGES)

## deps-go: what a pure-Go target (cross, gui-vet, soak) needs: CA certificates and the Go modules
deps-go:
	@bash .ci/deps.sh $(DEB_GO)
	@$(GO) mod download

## deps-build: deps-go plus the GUI's cgo build libraries (build, deb, dist)
deps-build: deps-go
	@bash .ci/deps.sh $(DEB_BUILD)

## deps-lint: deps-build plus staticcheck (go vet type-checks the cgo GUI too)
deps-lint: deps-build
	@test -x $(STATICCHECK) && $(STATICCHECK) -version | grep -q '$(STATICCHECK_VERSION:v%=%)' || \
		GOBIN=$(GOBIN) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

## deps-openvpn27: the Debian sid chroot with OpenVPN 2.7 the interop tests run (cached in /var/cache/cvpn-sid; idempotent)
deps-openvpn27:
	@bash .ci/sid-chroot.sh

## build: the CLI (pure Go) and the desktop app (cgo, fyne) into build/
build: deps-build
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o build/cvpn ./cmd/cvpn
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o build/cvpn-gui ./cmd/cvpn-gui

## cross: cvpn for every supported OS and architecture with CGO_ENABLED=0
cross: deps-go
	@set -e; for t in $(CROSS); do \
		os=$${t%/*}; arch=$${t#*/}; ext=; [ $$os = windows ] && ext=.exe; \
		echo "cross $$os/$$arch"; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o build/dist/cvpn-$$os-$$arch$$ext ./cmd/cvpn; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) vet ./ovpn/... ./routing/... ./platform/... ./samlflow/... ./cmd/cvpn/...; \
	done

## lint: gofmt, go.mod/go.sum tidy, go vet and staticcheck
lint: deps-lint tidy-check
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '^testdata/')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(STATICCHECK) ./...

## tidy-check: go.mod and go.sum are what `go mod tidy` makes (prints the diff otherwise)
tidy-check: deps-go
	@$(GO) mod tidy -diff || { echo "go.mod/go.sum not tidy: run go mod tidy"; exit 1; }

## unit: go test for every package (end-to-end tests run when root and /dev/net/tun are present)
unit: deps deps-openvpn27
	$(GO) test -count=1 -timeout 30m ./...

## fuzz: each fuzz target for FUZZTIME (default 2m); CI runs the short form (fuzz-ci, 20s each)
fuzz: deps-build
	@bash .ci/fuzz.sh $(FUZZTIME)

fuzz-ci: deps-build
	@bash .ci/fuzz.sh 20s

## actionlint: check .github/workflows with actionlint (pinned; built by go run from the module proxy)
actionlint: deps-go
	$(GO) run github.com/rhysd/actionlint/cmd/actionlint@$(ACTIONLINT_VERSION) -color=false

## os-tests-compile: the macOS and Windows integration tests compile and link (go vet and go test -c with GOOS set)
os-tests-compile: deps-go
	@set -e; for t in darwin/arm64 windows/amd64; do os=$${t%/*}; \
		echo "os-tests-compile $$t"; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$${t#*/} $(GO) vet $(OS_TEST_PKGS); \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$${t#*/} $(GO) test -c -o build/ostest/$$os/ $(OS_TEST_PKGS); \
	done

## test: everything CI checks: deps, lint, the workflow (actionlint), unit + end-to-end tests, short fuzzing,
## cross-compilation, the macOS/Windows tests compiled, the fresh-machine build (fresh-check-ci)
test: deps lint actionlint unit fuzz-ci cross os-tests-compile gui-vet build demo screenshots fresh-check-ci
	@echo "make test: all checks passed"

## bench: micro-benchmarks, then the side-by-side tunnel benchmarks (cvpn vs OpenVPN 2.6 and 2.7) written to bench/results.md
bench: deps deps-openvpn27
	@mkdir -p build
	$(GO) test -run '^$$' -bench . -benchmem ./ovpn/... ./routing/... ./internal/testkit/loadgen/ | tee build/bench-micro.txt
	CVPN_BENCH=1 $(GO) test -count=1 -v -timeout 60m -run 'TestTunnelBenchmark|TestServerBenchmark|TestOpenVPN27Benchmark|TestWireguardBenchmark' ./bench/
	CVPN_BENCH=1 $(GO) test -count=1 -v -timeout 10m -run 'TestConnectTimeline' ./bench/
	CVPN_BENCH=1 $(GO) test -count=1 -v -timeout 10m -run 'TestRoamBenchmark|TestRoamUplinkBenchmark|TestDaemonConnectBenchmark' ./bench/
	CVPN_BENCH=1 $(GO) test -count=1 -v -timeout 10m -run 'TestThroughputUnderJunkFlood' ./internal/e2e/hostile/
	CVPN_BENCH=1 $(GO) test -count=1 -v -timeout 20m -run 'TestMeasure' ./internal/e2e/routing/ | tee build/bench-enforcement.txt
	@{ echo; echo "## Client route enforcement (Linux, netlink)"; echo; \
	   echo "From \`go test -run TestMeasure ./internal/e2e/routing/\` in the same run: reaction time from a conflicting route appearing to its removal, and CPU cost of watching a table."; echo; \
	   grep -E 'reaction time over|start with|idle watching|churn:' build/bench-enforcement.txt | sed -E 's/^ *[a-z_]+\.go:[0-9]+: /- /'; } >> bench/results.md
	@{ echo; echo "## Server capacity and per-packet cost (micro-benchmarks, same run)"; echo; \
	   echo "From \`go test -bench . -benchmem ./ovpn/... ./routing/...\` (build/bench-micro.txt): handshakes per second (one at a time, and 16 at a time up to 1,000 sessions), memory per idle session (in-process heap, and the RSS of a real \`cvpn server\` process holding 1,000 sessions), and the client's TUN <-> socket loop per packet (0 allocations)."; echo; \
	   echo '```'; grep -E '^Benchmark(Handshake|IdleSessions|ServerIdleSessions|DataPathUpload|DataPathDownload|ServerDataPath)' build/bench-micro.txt; echo '```'; } >> bench/results.md

## soak: 1,000 sessions with churn against an in-process server for SOAKTIME (default 10m); CI runs a 20 s form in make test
soak: deps-go
	CVPN_SOAK=$(or $(SOAKTIME),10m) $(GO) test -run '^TestSoak$$' -count=1 -timeout 30m -v ./internal/e2e/hostile/

## demo: the whole job end to end on the bundled reference server, in network namespaces (root)
demo: deps build
	$(GO) run ./cmd/cvpn-demo --cvpn build/cvpn --transport udp
	$(GO) run ./cmd/cvpn-demo --cvpn build/cvpn --transport tcp
	$(GO) run ./cmd/cvpn-demo --cvpn build/cvpn --federated

## screenshots: PNGs of the desktop app (disconnected, connected, banner, error): headless renderer, then the real window under Xvfb (real-*.png), in build/screenshots
screenshots: deps-build
	@bash .ci/deps.sh $(DEB_DISPLAY)
	$(GO) test -count=1 -tags screenshots -run TestScreenshots ./internal/e2e/screenshots/
	$(GO) run ./internal/tools/xvfbshot/cmd/cvpn-xvfbshot -out build/screenshots

## fresh-check: make build, make deb and make dist, each in its own fresh Debian 12 chroot
## (debootstrap minbase + make + git, Go bind-mounted, cold Go caches) where nothing else is installed
fresh-check:
	@bash .ci/fresh-targets.sh build deb dist

## fresh-check-ci: the part of fresh-check that make test runs (see README)
fresh-check-ci:
	@bash .ci/fresh-targets.sh build

clean:
	rm -rf build
include packaging/packaging.mk
