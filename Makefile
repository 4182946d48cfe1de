# sluice — make help lists the targets.
SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec
export GOTOOLCHAIN := local

WHAT ?= ./...
BIN := $(CURDIR)/bin
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo v0.0.0-dev)
LDFLAGS := -X github.com/sluicehq/sluice/internal/version.Version=$(VERSION)

CONTROLLER_GEN_VERSION := v0.23.0
GOLANGCI_LINT_VERSION := v2.15.0
CONTROLLER_GEN := $(BIN)/controller-gen-$(CONTROLLER_GEN_VERSION)
GOLANGCI_LINT := $(BIN)/golangci-lint-$(GOLANGCI_LINT_VERSION)

# Integration tests each boot a local cluster (etcd, apiserver, controller-manager, scheduler,
# kwok); bound how many run at once on small machines.
TEST_PARALLEL ?= 2
TEST_TIMEOUT ?= 30m

.PHONY: help
help: ## List the targets.
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*?## "}{printf "  %-14s %s\n",$$1,$$2}'

##@ Everyday
.PHONY: build
build: ## Build bin/sluice (and the kubectl plugin name kubectl-sluice).
	go build -ldflags '$(LDFLAGS)' -o $(BIN)/sluice ./cmd/sluice
	ln -sf sluice $(BIN)/kubectl-sluice

.PHONY: fmt
fmt: ## gofmt + goimports through golangci-lint's formatters.
	gofmt -s -w $$(git ls-files '*.go')
	$(MAKE) -s $(GOLANGCI_LINT)
	$(GOLANGCI_LINT) fmt ./...

.PHONY: vet
vet: ## go vet.
	go vet $(WHAT)

.PHONY: lint
lint: $(GOLANGCI_LINT) ## golangci-lint (pinned).
	$(GOLANGCI_LINT) run $(WHAT)

.PHONY: generate
generate: $(CONTROLLER_GEN) ## Deep-copy code, CRDs and RBAC from the API types and markers.
	$(CONTROLLER_GEN) object:headerFile=hack/boilerplate.go.txt paths=./api/...
	$(CONTROLLER_GEN) crd paths=./api/... output:crd:artifacts:config=config/crd
	go run ./hack/crdpostprocess config/crd
	$(CONTROLLER_GEN) rbac:roleName=sluice-controller paths=./internal/controller/... output:rbac:artifacts:config=config/rbac
	./hack/sync-tools-src.sh

.PHONY: manifests
manifests: generate ## Alias of generate.

.PHONY: verify
verify: generate ## Regenerate, tidy, and fail if anything changed.
	go mod tidy
	cd devcluster/tools/k8s && go mod tidy
	cd devcluster/tools/kwok && go mod tidy
	@if [ -n "$$(git status --porcelain -- . ':!bin')" ]; then \
	  echo "make verify: generated files or go.mod are stale:"; git status --porcelain; git --no-pager diff --stat; exit 1; fi

##@ Tests
.PHONY: test-unit
test-unit: ## Pure tests, no cluster (seconds).
	SLUICE_SKIP_CLUSTER=1 go test -count=1 $(WHAT)

.PHONY: cluster-binaries
cluster-binaries: build ## Build (once, cached per user) the local cluster's binaries.
	$(BIN)/sluice dev build

.PHONY: test-servers
test-servers: ## Install the servers metric-provider tests run against (Prometheus; apt-get, once).
	./hack/install-test-servers.sh

.PHONY: test
test: cluster-binaries test-servers ## Everything: unit + local-cluster integration tests, then the fuzzer for FUZZTIME (the CI command).
	go test -count=1 -race -p $(TEST_PARALLEL) -timeout $(TEST_TIMEOUT) $(WHAT)
	@if [ "$(WHAT)" = "./..." ]; then $(MAKE) --no-print-directory fuzz; fi

# How long `make fuzz` (and `make test`) fuzz the planner's scenarios beyond the seed corpus.
FUZZTIME ?= 60s

.PHONY: fuzz
fuzz: ## Fuzz whole rollouts in the planner's simulated world for FUZZTIME (failures land in internal/plan/testdata/fuzz).
	go test -run '^$$' -fuzz '^FuzzRolloutScenario$$' -fuzztime $(FUZZTIME) ./internal/plan

##@ Run
# Rollouts in `make bench` (make bench N=1000).
N ?= 100

.PHONY: bench
bench: build ## Benchmark the controller: N Rollouts (N=100), one image change; prints the table (bin/bench-N.json).
	$(BIN)/sluice bench --rollouts $(N) --json $(BIN)/bench-$(N).json

.PHONY: dev
dev: build ## Start the local cluster and keep it up until Ctrl-C.
	$(BIN)/sluice dev

.PHONY: demo
demo: build ## The main job: local cluster + the demo, then clean up.
	$(BIN)/sluice demo

##@ Tools
$(CONTROLLER_GEN):
	GOBIN=$(BIN)/.tmp go install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_GEN_VERSION)
	mv $(BIN)/.tmp/controller-gen $@

$(GOLANGCI_LINT):
	GOBIN=$(BIN)/.tmp go install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)
	mv $(BIN)/.tmp/golangci-lint $@

.PHONY: clean
clean: ## Remove bin/ (the per-user cluster cache stays; see README).
	rm -rf $(BIN)
