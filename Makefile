# ftps-harness. The two commands a newcomer needs: `make test-matrix` and `make test`.
# Both install what is missing first (`make setup`, safe to run again). After that the
# command is .venv/bin/ftps-harness (or `. .venv/bin/activate` and then `ftps-harness`).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# command:Debian package pairs the harness runs
TOOLS  := ip:iproute2 nft:nftables conntrack:conntrack haproxy:haproxy stdbuf:coreutils \
          unshare:util-linux ss:iproute2 curl:curl lftp:lftp openssl:openssl apt-get:apt dpkg-deb:dpkg \
          tcpdump:tcpdump tshark:tshark chromium:chromium tayga:tayga iptables-nft-restore:iptables
# Libraries the cached FTP servers (vsftpd, proftpd, pure-ftpd) link against.
PEER_LIBS := libwrap0 libhiredis0.14 libmemcached11 libmemcachedutil2 libpcre2-posix3 libsodium23
# Labs in parallel. Empty: the harness default, four a core (at most 16), the fastest here.
JOBS   ?=
JOBS_ARG = $(if $(JOBS),--jobs $(JOBS))
# One part of the peers matrices, for CI jobs (docs/ci/): make test-matrix-peers SHARD=2/4
SHARD  ?=
SHARD_ARG = $(if $(SHARD),--shard $(SHARD))

.PHONY: setup system-packages peers lint test test-matrix test-matrix-peers test-matrix-peers-tls test-matrix-path test-matrix-kube test-scenarios reproduce verify bench clean \
        distclean docker-up docker-down docker-base test-docker

setup: system-packages $(VENV)/.installed peers

system-packages:
	@missing=""; \
	for pair in $(TOOLS); do \
	  command -v $${pair%%:*} >/dev/null 2>&1 || missing="$$missing $${pair##*:}"; \
	done; \
	$(PYTHON) -c 'import venv, ensurepip' >/dev/null 2>&1 || missing="$$missing python3-venv"; \
	for lib in $(PEER_LIBS); do \
	  dpkg -s $$lib >/dev/null 2>&1 || missing="$$missing $$lib"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" != 0 ]; then \
	    echo "missing Debian packages:$$missing; install them as root: apt-get install$$missing"; exit 1; \
	  fi; \
	  echo "installing Debian packages:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test,dev]'
	@touch $@

# vsftpd, proftpd and pure-ftpd conflict as packages: unpack each into .cache/peers instead.
peers: $(VENV)/.installed
	@$(BIN)/python -m servers._peers fetch

# The habits of the house: ruff (lint and format), mypy (strict on the typed contracts between
# the steps), import-linter (the layers: no import against the flow, no cycle). pre-commit runs
# the same on every commit: `.venv/bin/pre-commit install`.
lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# The end-to-end tests wait more than they compute and their labs are isolated by run id, so
# they run in parallel; a test file stays on one worker (its module fixtures build one lab).
TEST_WORKERS ?= 4
test: setup
	@$(BIN)/python -m pytest -ra -n $(TEST_WORKERS) --dist loadfile; rc=$$?; \
	if [ $$rc -eq 5 ]; then \
	  echo "pytest collected no tests (exit 5)"; \
	  if [ -n "$(ALLOW_NO_TESTS)" ]; then exit 0; fi; \
	fi; exit $$rc

test-matrix: setup
	$(BIN)/ftps-harness matrix $(JOBS_ARG) --report-dir reports $(MATRIX_ARGS)

# Path impairments (docs/path.md), not in the default matrix: each scenario fails, named by
# its own check, then every fix that applies is re-run; --prove-minimal shows the MSS clamp
# is needed in the derived rules.
PATH_SCENARIOS ?= scenarios/13-control-idle-timeout.yaml scenarios/14-pmtu-black-hole.yaml \
                  scenarios/15-hairpin-nat-missing.yaml scenarios/16-passive-port-translated.yaml
test-matrix-path: setup
	$(BIN)/ftps-harness reproduce $(PATH_SCENARIOS) $(JOBS_ARG) --prove-minimal --report-dir reports/path

# Kubernetes-shaped Services (docs/containers.md): kube-proxy's iptables rules on a node box, not
# a cluster; none of them is in the default matrix. kube-proxy picks a replica at random, so every
# case runs 5 times: a case whose runs disagree is reported flaky, with its counts.
KUBE_TOPOLOGIES ?= kube-clusterip,kube-clusterip-affinity,kube-nodeport,kube-nodeport-affinity,kube-nodeport-translated,kube-hostnetwork
test-matrix-kube: setup
	$(BIN)/ftps-harness matrix $(JOBS_ARG) --topology $(KUBE_TOPOLOGIES) --repeat 5 --report-dir reports/kube

# The full cross product of real servers and clients (the default matrix keeps to the
# embedded pair so it stays fast).
PEER_TOPOLOGIES ?= direct,server-nat,server-nat-alg,client-nat,client-nat-alg
test-matrix-peers: setup
	$(BIN)/ftps-harness matrix $(JOBS_ARG) --server all --client all \
	  --topology $(PEER_TOPOLOGIES) $(SHARD_ARG) \
	  --report-dir reports/peers
	$(MAKE) test-matrix-peers-tls

# The TLS behaviours across the real peers (docs/tls.md): CCC next to explicit TLS, both TLS
# versions, two transfers per control session, through no helper and through both ALGs.
test-matrix-peers-tls: setup
	$(BIN)/ftps-harness matrix $(JOBS_ARG) --server all --client all \
	  --topology direct,server-nat-alg,client-nat-alg --family ipv4 \
	  --tls explicit,ccc --tls-version 1.2,1.3 --transfers 2 \
	  --mode pasv,epsv,port --pasv-address trust --masquerade off $(SHARD_ARG) \
	  --report-dir reports/peers-tls

# Every scenario file's expectations as pytest items (see docs/cli.md, "pytest").
test-scenarios: setup
	$(BIN)/python -m pytest -ra scenarios/ --junitxml=reports/scenarios/junit.xml

# make reproduce S=scenarios/03-passive-range-not-forwarded.yaml
reproduce: setup
	@test -n "$(S)" || { echo "usage: make reproduce S=scenarios/<name>.yaml"; exit 2; }
	$(BIN)/ftps-harness reproduce $(S) --report-dir reports/reproduce

# make verify P=plans/vsftpd-edge.yaml
verify: setup
	@test -n "$(P)" || { echo "usage: make verify P=plans/<plan>.yaml"; exit 2; }
	$(BIN)/ftps-harness verify $(P) --report-dir reports/verify

# The Docker backend: the harness's own dockerd, in its own network namespace (never the
# host's firewall), and locally built images (no registry needed).
docker-up:
	@bash docker/daemon.sh up

docker-down:
	@bash docker/daemon.sh down

docker-base: setup
	@command -v debootstrap >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; }
	@$(BIN)/python -m harness.build.backends.docker_images base

# Starts the daemon if it is not running, and stops it again only if it started it.
test-docker: setup
	@started=0; bash docker/daemon.sh status >/dev/null 2>&1 || { bash docker/daemon.sh up && started=1; }; \
	$(MAKE) --no-print-directory docker-base && \
	FTPS_HARNESS_TEST_DOCKER=1 $(BIN)/python -m pytest -ra -m docker tests/test_docker_parity.py; rc=$$?; \
	if [ $$started = 1 ]; then bash docker/daemon.sh down; fi; exit $$rc

# The performance figures and goals in one run (docs/benchmark.md); more: python bench/bench.py full|trace|peers.
# Like test-docker, it starts the harness's Docker daemon for the netns/Docker figures and
# stops it again only if it started it; without Docker that part says why it is skipped.
bench: setup
	@started=0; bash docker/daemon.sh status >/dev/null 2>&1 || { bash docker/daemon.sh up && started=1; }; \
	{ $(MAKE) --no-print-directory docker-base || echo "bench: no Docker base image, the netns/Docker part will say so"; }; \
	$(BIN)/python bench/bench.py; rc=$$?; \
	if [ $$started = 1 ]; then bash docker/daemon.sh down; fi; exit $$rc

clean:
	@if [ -x $(BIN)/ftps-harness ]; then $(BIN)/ftps-harness clean; fi

distclean: clean
	rm -rf $(VENV) reports certs/out .pytest_cache *.egg-info
