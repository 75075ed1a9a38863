# cododemo's build and test entry points. `make test` is what CI runs.
GO          ?= go
BIN         ?= bin/cododemo
VERSION     ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS     := -s -w -X github.com/cododemo/cododemo/pkg/app.Version=$(VERSION)
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
# The release targets: each must build, with cgo off as the releases are.
TARGETS     := linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64

.PHONY: build test lint fmt update-golden bench fuzz e2e e2e-proof

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/cododemo

# Unit, golden, real-validator and real-peer tests (vagrant, sshd, etcd).
test:
	$(GO) test -count=1 ./...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...
	@for t in $(TARGETS); do echo "build $$t"; CGO_ENABLED=0 GOOS=$${t%/*} GOARCH=$${t#*/} $(GO) build ./... || exit 1; done
	GOOS=darwin $(GO) vet ./...
	GOOS=windows $(GO) vet ./...
	@# Every package's tests compile and link for Windows. They cannot run
	@# here; `-exec true` stands in for running each test binary, so this
	@# proves the build, not the tests.
	GOOS=windows GOARCH=amd64 CGO_ENABLED=0 $(GO) test -count=1 -exec true ./... >/dev/null

fmt:
	gofmt -w $$(git ls-files '*.go')

# Regenerate golden files; review them in the diff.
update-golden:
	$(GO) test ./pkg/render -update

# Figures the issues ask for, printed (each script says what it measures).
bench:
	bash scripts/bench-render.sh
	bash scripts/bench-verify.sh
	bash scripts/bench-ssh.sh
	sh scripts/bench-download.sh
	sh scripts/bench-doctor.sh
	sh scripts/bench-size.sh
	sh scripts/bench-startup.sh
	sh scripts/bench-workshop.sh
	$(GO) test -run '^$$' -bench StatusOverhead -benchtime 9x ./pkg/cmd/status

# A short run of every fuzz target (the seeds run in `make test` anyway).
fuzz:
	$(GO) test ./pkg/config -run '^$$' -fuzz FuzzLoad -fuzztime 30s

# The real-VM tier (root, Debian 12), on vagrant-libvirt under QEMU software
# emulation with the test boxes e2e/build-box.sh makes: per flavour (Ignition;
# stable-like, coreos-cloudinit) cododemo up -> verify --deep -> the workshop
# (Ignition flavour) -> halt a node, verify names it -> reload every node ->
# verify --deep -> destroy, nothing left. Not in .ci/run for now: too slow here.
e2e:
	bash e2e/e2e.sh

# One hand-written VM: the box, Ignition from fw_cfg, etcd and fleet inside.
e2e-proof:
	bash e2e/setup-libvirt.sh && bash e2e/proof/run.sh
