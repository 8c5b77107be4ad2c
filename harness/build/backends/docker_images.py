"""Docker images for the Docker backend, built locally (no registry is needed or used).

Base image (`make docker-base`): debootstrap a Debian bookworm root filesystem with every
tool a host role runs (iproute2, nftables, conntrack, tcpdump, HAProxy, curl, lftp, Python,
the FTP servers' libraries), install pyftpdlib into it with the host's pip (so no CA bundle
has to be carried into a build behind an intercepting proxy), and `docker import` it. Role
images (client, server, middlebox) are then built from docker/<role>.Dockerfile with the
SDK. Every image is tagged with a hash of its inputs and rebuilt only when they change.

    python -m harness.build.backends.docker_images base     # what `make docker-base` runs
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from importlib.metadata import version
from typing import Any

from harness.core.repo import REPO

DEFAULT_SOCKET = "unix:///run/ftps-harness/docker.sock"
ROOTFS = REPO / ".cache" / "docker" / "rootfs"
MIRROR = "http://deb.debian.org/debian"
PACKAGES = (
    "iproute2,nftables,conntrack,tcpdump,haproxy,curl,lftp,python3,python3-openssl,"
    "python3-cffi-backend,python3-cryptography,openssl,ca-certificates,procps,util-linux,libwrap0,libhiredis0.14,"
    "libmemcached11,libmemcachedutil2,libpcre2-posix3,libsodium23"
)
ROLES = ("client", "server", "middlebox")


class ImageError(Exception):
    pass


def base_tag() -> str:
    h = hashlib.sha256(f"{PACKAGES}|pyftpdlib=={version('pyftpdlib')}".encode()).hexdigest()[:12]
    return f"ftps-harness-base:{h}"


def build_base(client: Any) -> str:  # a docker.DockerClient (the docker SDK has no type hints)
    tag = base_tag()
    if client.images.list(name=tag):
        return tag
    if not (ROOTFS / "usr" / "bin" / "python3").exists():
        ROOTFS.parent.mkdir(parents=True, exist_ok=True)
        print(f"debootstrap bookworm into {ROOTFS} (a few minutes)…", flush=True)
        subprocess.run(
            ["debootstrap", "--variant=minbase", f"--include={PACKAGES}", "bookworm", str(ROOTFS), MIRROR], check=True
        )
    target = ROOTFS / "usr" / "local" / "lib" / "python3.11" / "dist-packages"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--target",
            str(target),
            "--upgrade",
            f"pyftpdlib=={version('pyftpdlib')}",
        ],
        check=True,
    )
    print(f"docker import {tag}…", flush=True)
    tar = subprocess.Popen(["tar", "-C", str(ROOTFS), "-c", "."], stdout=subprocess.PIPE)
    client.api.import_image(src=tar.stdout, repository=tag.split(":")[0], tag=tag.split(":")[1], stream_src=True)
    tar.wait()
    return tag


def role_tag(role: str, base: str) -> str:
    text = (REPO / "docker" / f"{role}.Dockerfile").read_text()
    return f"ftps-harness-{role}:{hashlib.sha256((base + text).encode()).hexdigest()[:12]}"


def images(client: Any, build: bool = True) -> dict[str, str]:
    """Role -> image tag; builds what is missing from the base. Raises ImageError with the
    command to run when there is no base image."""
    base = base_tag()
    if not client.images.list(name=base):
        raise ImageError(
            f"no base image {base}: run `make docker-base` (debootstrap + docker import; "
            "this machine has no container registry)"
        )
    out = {}
    for role in ROLES:
        tag = role_tag(role, base)
        if not client.images.list(name=tag):
            if not build:
                raise ImageError(f"image {tag} is missing")
            client.images.build(
                path=str(REPO / "docker"),
                dockerfile=f"{role}.Dockerfile",
                tag=tag,
                buildargs={"BASE": base},
                rm=True,
                network_mode="none",
            )
        out[role] = tag
    return out


if __name__ == "__main__":
    import os

    import docker

    if sys.argv[1:] != ["base"]:
        print(__doc__)
        sys.exit(2)
    # mypy finds the repository's docker/ directory (Dockerfiles) as a namespace package, not the SDK
    c = docker.DockerClient(base_url=os.environ.get("FTPS_HARNESS_DOCKER_HOST", DEFAULT_SOCKET))  # type: ignore[attr-defined]
    print(build_base(c))
    print(images(c))
