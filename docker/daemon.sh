#!/usr/bin/env bash
# Start or stop the harness's own Docker daemon, inside its own network namespace
# (ftps-docker). Docker's bridges, iptables rules and ip_forward then live there and never
# in the root namespace; it also runs with --iptables=false, so it adds no NAT or FORWARD
# rules at all. `up` remembers that it started the daemon; `down` stops only what `up` started.
#
#   docker/daemon.sh up | down | status
set -euo pipefail
NS=ftps-docker
RUN=/run/ftps-harness
SOCK=$RUN/docker.sock
DATA=/var/lib/ftps-harness-docker
MARK=$RUN/docker.started-by-harness

running() { docker -H "unix://$SOCK" version >/dev/null 2>&1; }

case "${1:-}" in
  up)
    if running; then echo "docker daemon already answers at $SOCK"; exit 0; fi
    if ! command -v dockerd >/dev/null; then
      echo "installing docker.io (Debian)…"
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
    fi
    mkdir -p "$RUN" "$DATA"
    ip netns list | grep -q "^$NS\b" || ip netns add "$NS"
    ip netns exec "$NS" ip link set lo up
    # nsenter, not `ip netns exec`: the latter remounts /sys, hiding the cgroup mounts dockerd needs.
    nsenter --net="/run/netns/$NS" dockerd --data-root "$DATA" --exec-root "$RUN/docker-exec" \
      -H "unix://$SOCK" --pidfile "$RUN/docker.pid" --bridge=none --iptables=false --ip-forward=false \
      >"$RUN/dockerd.log" 2>&1 &
    for _ in $(seq 100); do running && break; sleep 0.2; done
    running || { echo "dockerd did not start; see $RUN/dockerd.log"; tail -5 "$RUN/dockerd.log"; exit 1; }
    touch "$MARK"
    echo "docker daemon up at $SOCK (network namespace $NS)"
    ;;
  down)
    if [ ! -f "$MARK" ]; then echo "no docker daemon started by the harness"; exit 0; fi
    pid=$(cat "$RUN/docker.pid" 2>/dev/null || true)
    if [ -n "$pid" ]; then
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    fi
    ip netns pids "$NS" 2>/dev/null | xargs -r kill -TERM 2>/dev/null || true
    sleep 0.5
    ip netns pids "$NS" 2>/dev/null | xargs -r kill -KILL 2>/dev/null || true
    ip netns del "$NS" 2>/dev/null || true
    rm -f "$MARK"
    echo "docker daemon stopped"
    ;;
  status)
    running && echo "up at $SOCK" || { echo "down"; exit 1; }
    ;;
  *) echo "usage: $0 up|down|status"; exit 2 ;;
esac
