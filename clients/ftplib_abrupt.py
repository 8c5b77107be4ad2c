"""ftplib-abrupt: the ftplib agent with session reuse, closing each data connection without a
TLS close_notify (a bare TCP FIN), as some clients and middleboxes do. Servers that read to
the end of an upload then see an unclean end of stream (lftp issue 753, vsftpd
strict_ssl_read_eof)."""

from clients import register
from clients.python_ftplib import Ftplib


class FtplibAbrupt(Ftplib):
    name = "ftplib-abrupt"
    order = 4
    label = "ftplib without close_notify"
    summary = "Python ftplib with session reuse that skips the TLS close_notify on data connections"
    reuse = True
    reuses_tls_sessions = False  # it does reuse, but is never advice: it truncates uploads
    reusing_variant = ""
    close_notify = False
    clean_variant = "ftplib-reuse"


register(FtplibAbrupt())
