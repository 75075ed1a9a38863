# cododemo's build and test entry points. `make test` is what CI runs.
GO      ?= go
BIN     ?= bin/cododemo
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X github.com/cododemo/cododemo/pkg/app.Version=$(VERSION)

.PHONY: build test lint fmt update-golden bench

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/cododemo

test:
	$(GO) vet ./...
	$(GO) test -count=1 ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

update-golden:
	$(GO) test ./... -update

bench: build
	$(GO) test -run '^$$' -bench . -benchmem ./...
