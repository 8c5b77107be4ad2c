"""Real FTP servers from Debian, kept side by side in a project cache.

vsftpd, proftpd and pure-ftpd conflict as Debian packages (they all provide ftp-server), so
none is installed: each package is fetched with `apt-get download` and unpacked with
`dpkg-deb -x` into .cache/peers/<server>/, and run from there. Their shared-library
dependencies do not conflict and are installed normally (`make setup`).

    python -m servers._peers fetch     # what `make setup` runs
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / ".cache" / "peers"
PACKAGES = {
    "vsftpd": ("vsftpd",),
    "proftpd": ("proftpd-core", "proftpd-mod-crypto"),
    "pure-ftpd": ("pure-ftpd", "pure-ftpd-common"),
}
BINARIES = {"vsftpd": "usr/sbin/vsftpd", "proftpd": "usr/sbin/proftpd", "pure-ftpd": "usr/sbin/pure-ftpd"}
# Libraries the unpacked binaries link against; ordinary, non-conflicting Debian packages.


class PeerMissing(Exception):
    pass


def root(server: str) -> Path:
    return CACHE / server


def binary(server: str) -> Path:
    path = root(server) / BINARIES[server]
    if not path.exists():
        raise PeerMissing(
            f"{server} is not in the peer cache ({path}); run `make setup` (or `python -m servers._peers fetch`)"
        )
    return path


def version(server: str) -> str:
    stamp = root(server) / ".version"
    return stamp.read_text().strip() if stamp.exists() else "?"


def fetch(force: bool = False) -> None:
    debs = CACHE.parent / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    for server, pkgs in PACKAGES.items():
        if (root(server) / BINARIES[server]).exists() and not force:
            continue
        shutil.rmtree(root(server), ignore_errors=True)
        root(server).mkdir(parents=True)
        versions = []
        for pkg in pkgs:
            for old in debs.glob(f"{pkg}_*.deb"):
                old.unlink()
            subprocess.run(["apt-get", "download", pkg], cwd=debs, check=True, capture_output=True)
            (deb,) = debs.glob(f"{pkg}_*.deb")
            subprocess.run(["dpkg-deb", "-x", str(deb), str(root(server))], check=True)
            versions.append(deb.name.split("_")[1])
        (root(server) / ".version").write_text(versions[0] + "\n")
        print(f"peer cache: {server} {versions[0]} -> {root(server)}")


if __name__ == "__main__":
    if sys.argv[1:] == ["fetch"]:
        fetch()
    elif sys.argv[1:] == ["fetch", "--force"]:
        fetch(force=True)
    else:
        print(__doc__)
        sys.exit(2)
