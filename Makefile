# cododemo's build and test entry points. `make test` is what CI runs.
GO          ?= go
BIN         ?= bin/cododemo
VERSION     ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS     := -s -w -X github.com/cododemo/cododemo/pkg/app.Version=$(VERSION)
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

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
	$(GO) test -run '^$$' -bench StatusOverhead -benchtime 9x ./pkg/cmd/status

# A short run of every fuzz target (the seeds run in `make test` anyway).
fuzz:
	$(GO) test ./pkg/config -run '^$$' -fuzz FuzzLoad -fuzztime 30s

# The real-VM tier (root, Debian 12): cododemo up -> verify --deep -> halt a
# node -> verify names it -> up -> verify -> destroy, on vagrant-libvirt under
# QEMU software emulation, with the test box e2e/build-box.sh makes.
e2e:
	bash e2e/e2e.sh

# One hand-written VM: the box, Ignition from fw_cfg, etcd and fleet inside.
e2e-proof:
	bash e2e/setup-libvirt.sh && bash e2e/proof/run.sh
