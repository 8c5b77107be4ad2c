"""A small hostile FTP server for the probe's tests (asyncio, loopback).

Each behaviour is one way a server nobody controls can misbehave; otherwise it answers like
a minimal anonymous FTP server (LIST over PASV/EPSV/PORT/EPRT), so the probe gets as far as
the misbehaviour. Writers await drain(): the server never buffers what the probe does not read.
"""

from __future__ import annotations

import asyncio
import threading

LISTING = b"-rw-r--r-- 1 ftp ftp 5 Jan 01 00:00 hello.txt\r\n"


class Hostile:
    def __init__(self, behaviour: str, host: str = "127.0.0.1"):
        self.behaviour, self.host = behaviour, host
        self.port = 0
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Hostile:
        self.thread.start()
        self.ready.wait(5)
        return self

    def __exit__(self, *exc) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(asyncio.start_server(self.session, self.host, 0))
        self.port = server.sockets[0].getsockname()[1]
        self.ready.set()
        self.loop.run_forever()
        server.close()
        tasks = asyncio.all_tasks(self.loop)
        for t in tasks:
            t.cancel()
        self.loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
        self.loop.close()

    async def send(self, w: asyncio.StreamWriter, data: bytes) -> None:
        w.write(data)
        await w.drain()

    async def greeting(self, w: asyncio.StreamWriter) -> bool:
        """The behaviour's greeting; False when it never ends (the probe must give up)."""
        b = self.behaviour
        if b == "endless-multiline":
            while True:
                await self.send(w, b"220-welcome, and welcome again\r\n")
        if b == "trickle":
            for byte in b"220-" + b"x" * 100000:
                await self.send(w, bytes([byte]))
                await asyncio.sleep(0.05)
        if b == "long-line":
            await self.send(w, b"220 " + b"A" * (10 << 20) + b"\r\n")
            await asyncio.sleep(30)
            return False
        if b == "latin1-greeting":
            await self.send(w, "220 Willkommen, Grüße aus Köln\r\n".encode("latin-1"))
            return True
        await self.send(w, b"220 hostile test server\r\n")
        return True

    async def session(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        try:
            if await self.greeting(w):
                await self.commands(r, w)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            w.close()

    async def commands(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        data_port: tuple[str, int] | None = None
        listener: asyncio.Server | None = None
        accepted: asyncio.Future | None = None
        while line := await r.readline():
            cmd, _, arg = line.decode("latin-1").strip().partition(" ")
            cmd = cmd.upper()
            if cmd == "AUTH":
                await self.send(w, b"234 go ahead\r\n")
                if self.behaviour == "234-plaintext":
                    await self.send(w, b"220 but here is plaintext instead of a handshake\r\n")
                    await asyncio.sleep(30)
                    return
                await self.send(w, b"534 no TLS here\r\n")
            elif cmd == "FEAT":
                await self.send(w, b"211-Features:\r\n EPSV\r\n EPRT\r\n211 End\r\n")
            elif cmd == "USER":
                await self.send(w, b"331 any password\r\n")
            elif cmd == "PASS":
                await self.send(w, b"230 logged in\r\n")
            elif cmd == "PWD":
                await self.send(w, b'257 "/"\r\n')
            elif cmd in ("TYPE", "PBSZ", "PROT"):
                await self.send(w, b"200 ok\r\n")
            elif cmd in ("PASV", "EPSV"):
                accepted = self.loop.create_future()
                listener = await asyncio.start_server(
                    lambda dr, dw, f=accepted: f.done() or f.set_result(dw), self.host, 0
                )
                p = listener.sockets[0].getsockname()[1]
                ip = "192,0,2,99" if self.behaviour == "227-third-party" else self.host.replace(".", ",")
                await self.send(
                    w,
                    f"227 Entering Passive Mode ({ip},{p >> 8},{p & 255})\r\n".encode()
                    if cmd == "PASV"
                    else f"229 Extended Passive Mode (|||{p}|)\r\n".encode(),
                )
            elif cmd in ("PORT", "EPRT"):
                if cmd == "PORT":
                    n = arg.split(",")
                    data_port = (".".join(n[:4]), int(n[4]) * 256 + int(n[5]))
                else:
                    _, _, h, p, _ = arg.split("|")
                    data_port = (h, int(p))
                await self.send(w, b"200 ok\r\n")
            elif cmd in ("LIST", "NLST", "RETR"):
                await self.send(w, b"150 here it comes\r\n")
                if self.behaviour == "150-no-data":
                    await asyncio.sleep(60)  # never opens (or serves) the data connection
                    return
                if data_port:
                    _, dw = await asyncio.open_connection(*data_port)
                else:
                    dw = await asyncio.wait_for(accepted, 10)
                await self.send(dw, LISTING)
                dw.close()
                if listener:
                    listener.close()
                data_port = None
                await self.send(w, b"226 done\r\n")
            elif cmd == "QUIT":
                await self.send(w, b"221 bye\r\n")
                return
            else:
                await self.send(w, b"502 not implemented\r\n")
