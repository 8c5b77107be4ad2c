"""tshark as a bounded subprocess: one row of fields per packet, parsed into Frames.

The control ports are decoded as TLS (`-d tcp.port==21,tls`) whatever they carry: clear FTP
lines are never valid TLS records (their bytes are printable; record types are 20-24), so a
frame with `tls.record.content_type` is TLS and one without is clear text, before AUTH TLS and
after CCC alike. What TLS decrypts on those ports goes to the `data` dissector
(`-d tls.port==21,data`), whose `data.data` is the plaintext. The ftp dissectors are off: the
lines are read from the bytes here (its STARTTLS only knows "AUTH TLS", not "AUTH SSL"), and
its ftp-data conversations would hide a data connection's TLS from the heuristic that finds it.
Only the packets worth reading are printed (-Y): SYN, FIN and RST, the control ports, TLS
handshakes and alerts, ICMP unreachable, and a first line of FTP on any other port.
"""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from harness.core.inputs import InputError

TIMEOUT = 120.0  # seconds for one run of tshark
MAX_OUTPUT = 64 * 1024 * 1024  # bytes of tshark's output
FIELDS = (
    "frame.number",
    "frame.time_relative",
    "frame.protocols",
    "ip.src",
    "ip.dst",
    "ipv6.src",
    "ipv6.dst",
    "tcp.stream",
    "tcp.srcport",
    "tcp.dstport",
    "tcp.flags",
    "tcp.seq_raw",
    "tcp.len",
    "tcp.analysis.retransmission",
    "icmp.type",
    "icmp.code",
    "icmpv6.type",
    "icmpv6.code",
    "tls.record.content_type",
    "tls.record.opaque_type",  # a TLS 1.3 record not decrypted: 23
    "tls.handshake.type",
    "tls.handshake.version",
    "tls.handshake.random",
    "tls.handshake.session_id",
    "tls.handshake.extension.type",
    "tls.handshake.extension.len",
    "tls.handshake.extensions.supported_version",
    "tls.alert_message.level",
    "tls.alert_message.desc",
    "tcp.payload",
    "data.data",
)
SYN, RST, FIN, ACK = 0x02, 0x04, 0x01, 0x10


@dataclass(frozen=True)
class Icmp:
    """An ICMP(v6) destination unreachable, and the TCP packet it quotes."""

    code: int
    v6: bool
    reporter: str  # who sent it (a router, a firewall, the destination)


@dataclass(frozen=True)
class Frame:
    number: int
    t: float
    src: str  # for an ICMP error: the quoted packet's addresses and ports
    dst: str
    stream: int | None
    sport: int
    dport: int
    flags: int
    seq: int
    length: int
    retransmission: bool
    icmp: Icmp | None = None
    content_types: tuple[int, ...] = ()  # TLS records in clear or decrypted
    opaque_types: tuple[int, ...] = ()  # TLS 1.3 records as sent (23), decrypted or not
    handshakes: tuple[int, ...] = ()
    versions: tuple[int, ...] = ()  # tls.handshake.version
    randoms: tuple[str, ...] = ()
    session_ids: tuple[str, ...] = ()
    ext_types: tuple[int, ...] = ()
    ext_lens: tuple[int, ...] = ()
    supported_versions: tuple[int, ...] = ()
    alerts: tuple[tuple[int, int], ...] = ()  # (level, description)
    payload: bytes = b""  # the TCP payload as sent
    decrypted: bytes = b""  # what TLS decrypted on a control port

    @property
    def tls(self) -> bool:
        return bool(self.content_types or self.opaque_types)

    @property
    def undecrypted(self) -> bool:
        """Application data that was not decrypted (no key for it)."""
        if 23 in self.content_types:  # TLS 1.2's, or TLS 1.3's decrypted
            return not self.decrypted
        return 23 in self.opaque_types and not self.content_types

    # The flags of the packet itself (an ICMP error's quoted TCP header is not a packet sent).
    @property
    def syn(self) -> bool:
        return self.icmp is None and bool(self.flags & SYN) and not self.flags & ACK

    @property
    def syn_ack(self) -> bool:
        return self.icmp is None and self.flags & (SYN | ACK) == SYN | ACK

    @property
    def rst(self) -> bool:
        return self.icmp is None and bool(self.flags & RST)

    @property
    def fin(self) -> bool:
        return self.icmp is None and bool(self.flags & FIN)


@dataclass(frozen=True)
class Dump:
    frames: tuple[Frame, ...]
    cut: str = ""  # tshark's words when the file ends early or is damaged after some packets


def command(pcap: Path, keylog: Path | None, control_ports: Iterable[int]) -> list[str]:
    ports = sorted(set(control_ports))
    wanted = (
        "icmp.type == 3 or icmpv6.type == 1 or (tcp and (tcp.flags.syn == 1 or tcp.flags.reset == 1"
        " or tcp.flags.fin == 1 or tls.handshake or tls.record.content_type == 21"
        f' or tcp.port in {{{",".join(map(str, ports))}}} or tcp.payload matches "^(220[ -]|USER |AUTH )"))'
    )
    argv = ["tshark", "-n", "-r", str(pcap), "--disable-protocol", "ftp", "--disable-protocol", "ftp-data"]
    for p in ports:
        argv += ["-d", f"tcp.port=={p},tls", "-d", f"tls.port=={p},data"]
    if keylog is not None:
        argv += ["-o", f"tls.keylog_file:{keylog}"]
    argv += ["-Y", wanted, "-T", "fields", "-E", "separator=/t", "-E", "occurrence=a", "-E", "aggregator=,"]
    for f in FIELDS:
        argv += ["-e", f]
    return argv


def run(pcap: Path, shown: str, keylog: Path | None, control_ports: Iterable[int], home: Path) -> Dump:
    """tshark over the capture; InputError when it is missing, fails or takes too long."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "HOME": str(home)}
    env["WIRESHARK_CONFIG_DIR"] = str(home)  # no personal preferences or decode-as rules
    err_path = home / "tshark.err"
    try:
        with open(err_path, "wb") as err:
            proc = subprocess.Popen(
                command(pcap, keylog, control_ports),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=err,
                env=env,
            )
    except FileNotFoundError:
        raise InputError(f"{shown}: reading a capture needs tshark (Debian: apt-get install tshark)") from None
    except OSError as e:
        raise InputError(f"{shown}: cannot run tshark: {e.strerror}") from None
    late = threading.Event()

    def stop() -> None:
        late.set()
        proc.kill()

    timer = threading.Timer(TIMEOUT, stop)
    timer.start()
    out, too_much = bytearray(), False
    try:
        assert proc.stdout is not None, "spawned with stdout=PIPE"
        while chunk := proc.stdout.read(1 << 16):
            out += chunk
            if len(out) > MAX_OUTPUT:
                too_much = True
                proc.kill()
                break
        rc = proc.wait()
    finally:
        timer.cancel()
        if proc.stdout is not None:
            proc.stdout.close()
    if too_much:
        raise InputError(f"{shown}: the capture decodes to more than {MAX_OUTPUT // 2**20} MiB; cut it to the session")
    if late.is_set():
        raise InputError(f"{shown}: tshark took longer than {TIMEOUT:.0f} s; cut the capture to the session")
    said = _said(err_path).replace(f' "{pcap}"', "")  # "The file appears to have been cut short ..."
    frames = tuple(f for line in out.decode("utf-8", "replace").splitlines() if (f := _frame(line)) is not None)
    if rc != 0 and not frames:
        raise InputError(f"{shown}: tshark cannot read it: {said or f'exit status {rc}'}")
    return Dump(frames, said if rc != 0 else "")


def _said(path: Path) -> str:
    """tshark's first words on stderr that are not the warning about running as root."""
    with open(path, "rb") as f:
        text = f.read(4096).decode("utf-8", "replace")
    lines = [s.strip() for s in text.splitlines() if s.strip() and not s.startswith("Running as user")]
    return " ".join(s.removeprefix("tshark: ") for s in lines)[:300]


def _ints(s: str, base: int = 10) -> tuple[int, ...]:
    out = []
    for x in s.split(","):
        try:
            out.append(int(x, 16) if x.startswith("0x") else int(x, base))
        except ValueError:
            continue
    return tuple(out)


def _last(s: str) -> str:
    return s.rsplit(",", 1)[-1]


def _int(s: str) -> int:
    """The last of a field's values as a number (0 when it has none)."""
    n = _ints(_last(s))
    return n[0] if n else 0


def _hex(s: str) -> bytes:
    try:
        return bytes.fromhex(s.replace(",", "").replace(":", ""))
    except ValueError:
        return b""


def _frame(line: str) -> Frame | None:
    v = line.split("\t")
    if len(v) != len(FIELDS) or not v[0].isdigit():
        return None
    row = dict(zip(FIELDS, v))
    protocols = row["frame.protocols"].split(":")
    inner_v6 = "ipv6" in protocols and ("ip" not in protocols or protocols.index("ipv6") > protocols.index("ip"))
    srcs, dsts = (row["ipv6.src"], row["ipv6.dst"]) if inner_v6 else (row["ip.src"], row["ip.dst"])
    icmp: Icmp | None = None
    if row["icmp.type"] or row["icmpv6.type"]:
        v6 = bool(row["icmpv6.type"])
        srcs_all = (row["ipv6.src"] if v6 else row["ip.src"]).split(",")
        code = _ints(row["icmpv6.code" if v6 else "icmp.code"])
        icmp = Icmp(code[0] if code else -1, v6, srcs_all[0])
        srcs, dsts = (row["ipv6.src"], row["ipv6.dst"]) if v6 else (row["ip.src"], row["ip.dst"])
    if not row["tcp.srcport"] or not srcs:
        return None
    levels, descs = _ints(row["tls.alert_message.level"]), _ints(row["tls.alert_message.desc"])
    return Frame(
        number=int(row["frame.number"]),
        t=float(row["frame.time_relative"] or 0),
        src=_last(srcs),
        dst=_last(dsts),
        stream=_int(row["tcp.stream"]) if row["tcp.stream"] else None,
        sport=_int(row["tcp.srcport"]),
        dport=_int(row["tcp.dstport"]),
        flags=_int(row["tcp.flags"]),
        seq=_int(row["tcp.seq_raw"]),
        length=_int(row["tcp.len"]),
        retransmission=bool(row["tcp.analysis.retransmission"]),
        icmp=icmp,
        content_types=_ints(row["tls.record.content_type"]),
        opaque_types=_ints(row["tls.record.opaque_type"]),
        handshakes=_ints(row["tls.handshake.type"]),
        versions=_ints(row["tls.handshake.version"]),
        randoms=tuple(x for x in row["tls.handshake.random"].split(",") if x),
        session_ids=tuple(x for x in row["tls.handshake.session_id"].split(",") if x),
        ext_types=_ints(row["tls.handshake.extension.type"]),
        ext_lens=_ints(row["tls.handshake.extension.len"]),
        supported_versions=_ints(row["tls.handshake.extensions.supported_version"]),
        alerts=tuple(zip(levels, descs)),
        payload=_hex(row["tcp.payload"]),
        decrypted=_hex(row["data.data"]),
    )
