"""ftplib-reuse: the ftplib agent, passing the control connection's TLS session to every
data connection (what vsftpd and ProFTPD require by default; stock ftplib does not do it,
CPython issue 63699)."""

from clients import register
from clients.python_ftplib import Ftplib


class FtplibReuse(Ftplib):
    name = "ftplib-reuse"
    order = 1
    label = "ftplib with session reuse"
    summary = "Python ftplib with TLS session reuse on data connections"
    reuse = True
    reuses_tls_sessions = True
    reusing_variant = ""


register(FtplibReuse())
