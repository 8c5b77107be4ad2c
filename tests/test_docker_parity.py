"""The Docker backend gives the same verdicts as netns on the same topology model.

Runs only under `make test-docker` (FTPS_HARNESS_TEST_DOCKER=1), which starts the
harness's own Docker daemon in its own network namespace and builds the images first.
"""

import json
import os
import subprocess

import pytest
from conftest import REPO, harness

pytestmark = [pytest.mark.docker, pytest.mark.netns]

SUBSET = [
    "--topology",
    "direct,server-nat,server-nat-alg,client-nat-alg,lb-roundrobin,client-multiwan",
    "--tls",
    "none,explicit",
    "--mode",
    "pasv,epsv,port",
    "--masquerade",
    "off,on",
    "--pasv-address",
    "trust",
    "--family",
    "ipv4",
]  # the Docker backend runs IPv4 only


def docker_objects() -> tuple[str, str]:
    sock = os.environ.get("FTPS_HARNESS_DOCKER_HOST", "unix:///run/ftps-harness/docker.sock")
    ps = subprocess.run(
        ["docker", "-H", sock, "ps", "-aq", "--filter", "label=ftps-harness.run"], capture_output=True, text=True
    ).stdout.strip()
    nets = subprocess.run(
        ["docker", "-H", sock, "network", "ls", "-q", "--filter", "label=ftps-harness.run"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    return ps, nets


def run(backend: str, tmp_path) -> dict[str, tuple]:
    out = tmp_path / f"{backend}.json"
    r = harness("matrix", "--backend", backend, "--no-rules", "--json", str(out), *SUBSET, timeout=1800)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    return {c["id"]: (c["outcome"], c["stage"]) for c in json.loads(out.read_text())["cases"]}


def test_docker_and_netns_give_identical_verdicts(tmp_path):
    netns = run("netns", tmp_path)
    docker = run("docker", tmp_path)
    assert docker.keys() == netns.keys()
    differ = {k: (netns[k], docker[k]) for k in netns if netns[k] != docker[k]}
    assert not differ, differ
    assert any(v[0] == "fail" for v in docker.values()) and any(v[0] == "pass" for v in docker.values())
    assert docker_objects() == ("", ""), "the docker run left containers or networks behind"


def test_docker_clean_removes_what_a_killed_run_left():
    import sys
    import time

    p = subprocess.Popen(
        [sys.executable, "-m", "harness", "matrix", "--backend", "docker", "--topology", "server-nat", "--no-rules"],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while docker_objects()[0] == "" and time.monotonic() < deadline:
        time.sleep(0.2)
    p.kill()
    p.wait()
    assert docker_objects() != ("", ""), "SIGKILL leaves containers behind (that is why clean exists)"
    r = harness("clean", "--backend", "docker", timeout=120)
    assert r.returncode == 0, r.stderr
    assert docker_objects() == ("", "")
