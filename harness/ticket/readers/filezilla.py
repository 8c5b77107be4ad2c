"""FileZilla client logs: the message pane copied out, or the log file (Settings → Logging).

The message pane, one message a line: a label, a colon, a tab, the message. With "Show timestamps
in message log" on, the time and a tab come first (macOS pads the label with spaces before the tab;
a paste whose tabs became spaces is not read):

    Status:\tConnecting to 203.0.113.10:21...
    10:15:42\tCommand:\tPASS ********

The log file, one message a line: local date and time, process id, engine id (one engine per
connection of a session; a queue's transfers run on their own), the label, a space, the message:

    2026-12-03 10:15:42 5124 1 Status: Connecting to 203.0.113.10:21...

Labels: Status, Error, Command, Response, Trace (debug levels), Listing (raw listings) — in the
user's language in both forms (the log file's labels are translated too). A multi-line reply is one
Response line per reply line; a password is logged as stars (one per character). FileZilla writes
no version into either; the About dialog's "Copy to clipboard" text ("FileZilla Client" /
"Version: 3.66.4"), pasted into the same file, is read for it.

Read into the Log: Command → sent (PASS ******), Response → received, Status, Trace and Listing →
note, Error → error. A line about a connection carries a Dial: "Connecting to 203.0.113.10:21..."
(control, where to), "Connection established, ..." (control, ok), a socket error by its name
(ECONNREFUSED → refused, ETIMEDOUT → timeout, ECONNRESET/ECONNABORTED → reset, EHOSTUNREACH →
unreachable: data when the message names the data connection, control otherwise), the inactivity
timeout and GnuTLS errors and alerts (data while a transfer command waits on the data connection
after a passive reply, control otherwise). FileZilla does not log where its data connection goes:
the reader takes the 227's address, or the control connection's peer once FileZilla says it
substituted it ("unroutable address", replaced_pasv). Summary errors ("Could not connect to
server", "Failed to retrieve directory listing", "Critical file transfer error") carry no Dial:
the error before them says why. Debug (Trace) lines give TLS notes only. t: seconds since the
file's first time stamp (the log file, or the pane with its time column), else None. Settings, when
the lines show them: transfer mode (Passive/Active: the first PASV/EPSV or PORT/EPRT), encryption
(explicit: AUTH sent; implicit; none: FileZilla's plain-FTP warning), timeout (seconds).

Checked against FileZilla 3.66.4's source (deepin-community/filezilla mirror, commit b2b73674):
src/engine/logging.cpp (the log file's "%s %u %u %s %s" line), src/interface/StatusView.cpp
(the pane), src/engine/ftp/{ftpcontrolsocket,logon,rawtransfer,transfersocket}.cpp and
src/engine/controlsocket.cpp (the messages below); older 3.5 (basvodde/filezilla) writes the same
line format. Socket error names and the TLS messages come from libfilezilla 0.45
(deepin-community/libfilezilla: lib/socket_errors.cpp, lib/tls_layer_impl.cpp). The translations
below are the msgstr of FileZilla 3.66.4's locales/{it,de,fr}.po and libfilezilla 0.45's
locales/{it,de,fr}.po, each one looked up by its msgid (French puts a no-break space before a colon
and writes "…" for "..."; text is compared after folding those).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from harness.ticket.log import Connection, Event, Kind, Log, Where
from harness.ticket.readers import reader
from harness.ticket.readers._gui import ERRNO, ERRNO_RESULT, Clock, Context, host_port, lines_of, mask, text_of

# label → kind, in English and the verified translations (it, de, fr).
LABELS: dict[str, Kind] = {
    **dict.fromkeys(("Status", "Stato", "Statut"), "note"),
    **dict.fromkeys(("Error", "Errore", "Fehler", "Erreur"), "error"),
    **dict.fromkeys(("Command", "Comando", "Befehl", "Commande"), "sent"),
    **dict.fromkeys(("Response", "Risposta", "Antwort", "Réponse"), "received"),
    **dict.fromkeys(("Trace", "Traccia", "Suivi", "Listing", "Elenco", "Auflistung", "Contenu"), "note"),
}
# FileZilla's debug lines (its internals, never translated) and raw listing lines: notes, only the
# TLS ones read (an error on a debug line is logged again, as an Error, when it matters).
TRACE = {"Trace", "Traccia", "Suivi"}
LISTING = {"Listing", "Elenco", "Auflistung", "Contenu"}
_LABEL = "|".join(sorted(map(re.escape, LABELS), key=len, reverse=True))
# The pane needs its tab: "Status: text" in a customer's own words is not FileZilla's.
PANE = re.compile(rf"(?:(\d{{1,2}}):(\d\d):(\d\d)\t)?({_LABEL})\u00a0?: *\t(.*)")
LOGFILE = re.compile(rf"(\d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d) (\d+) (\d+) ({_LABEL})\u00a0?: (.*)")

Meaning = Literal["ok", "ok-tls", "implicit", "tls", "replaced", "plain", "closed", "resumed", "not-resumed"]
# Messages that say one thing, folded (see _fold), in en, it, de, fr.
MESSAGES: dict[str, Meaning] = {
    **dict.fromkeys(
        (
            "Connection established, waiting for welcome message...",
            "Connessione stabilita, in attesa del messaggio di benvenuto...",
            "Verbindung hergestellt, warte auf Willkommensnachricht...",
            "Connexion établie, attente du message d'accueil...",
        ),
        "ok",
    ),
    **dict.fromkeys(
        (
            "TLS connection established, waiting for welcome message...",
            "Connessione TLS stabilita. In attesa del messaggio di benvenuto...",
            "TLS-Verbindung hergestellt, warte auf Willkommensnachricht...",
            "Connexion TLS établie, attente du message d'accueil...",
        ),
        "ok-tls",
    ),
    **dict.fromkeys(  # implicit FTPS: TLS right after the TCP connection
        (
            "Connection established, initializing TLS...",
            "Connessione stabilita, inizializzazione TLS...",
            "Verbindung hergestellt, initialisiere TLS...",
            "Connexion établie, initialisation TLS...",
        ),
        "implicit",
    ),
    **dict.fromkeys(
        (
            "Initializing TLS...",
            "Inizializzazione TLS...",
            "Initialisiere TLS...",
            "Initialisation de TLS...",
            "Verifying certificate...",  # FileZilla up to 3.x's GnuTLS days; libfilezilla's .po still has it
            "Verifica del certificato in corso...",
            "Überprüfe Zertifikat...",
            "Vérification du certificat...",
            "TLS connection established.",
            "Connessione TLS stabilita.",
            "TLS-Verbindung hergestellt.",
            "Connexion TLS établie.",
            "TLS Handshake successful",  # Trace (debug), never translated
        ),
        "tls",
    ),
    **dict.fromkeys(
        (
            "Server sent passive reply with unroutable address. Using server address instead.",
            "Il server ha inviato una risposta passiva contenente un indirizzo non raggiungibile. Sarà usato l'indirizzo del server.",
            "Vom Server gesendete Adresse für den Passiv-Modus ist nicht routingfähig. Benutze stattdessen die Serveradresse.",
            "Le serveur a envoyé une réponse passive avec une adresse non routable. Adresse remplacée par celle du serveur.",
        ),
        "replaced",
    ),
    **dict.fromkeys(
        (
            "Plain FTP is insecure. Please switch to FTP over TLS.",
            "L'FTP in chiaro non è sicuro. Passa a FTP su TLS.",
            "Unverschlüsseltes FTP ist unsicher. Bitte wechseln Sie zu FTP über TLS.",
            "Le protocole FTP est non sécurisé. Basculez du protocole FTP au protocole TLS.",
        ),
        "plain",
    ),
    **dict.fromkeys(
        (
            "Connection closed by server",
            "Connessione chiusa dal server",
            "Verbindung vom Server geschlossen",
            "Connexion interrompue par le serveur",
        ),
        "closed",
    ),
    "TLS Session resumed": "resumed",  # Trace
    **dict.fromkeys(
        (
            "TLS session resumption on data connection failed. Closing control connection to start over.",
            "La ripresa della sessione TLS della connessione dati non è riuscita. Chiudi la connessione di controllo per ricominciare.",
            "La reprise de la session TLS sur les données de connexion a échoué. Fermeture du contrôle de connexion pour recommencer.",
        ),
        "not-resumed",
    ),
}
CONNECTING = re.compile(r"(?:Connecting to|Connessione a|Verbinde mit|Connexion à) (\S+)\.\.\.")
TIMEOUT = re.compile(
    r"Connection timed out(?: after (\d+) seconds? of inactivity)?"
    r"|Timeout connessione dopo (\d+) second[oi] di inattività"
    r"|Zeitüberschreitung der Verbindung nach (\d+) Sekunden? Inaktivität"
    r"|Connection interrompue après (\d+) secondes? d'inactivité"
)
# Errors that name the data connection; the socket error follows.
DATA_ERRORS = (
    "The data connection could not be established: ",
    "Transfer connection interrupted: ",
    "Impossibile stabilire la connessione dati. ",
    "Connessione interrotta: ",
    "Die Datenverbindung konnte nicht hergestellt werden: ",
    "Übertragungsverbindung unterbrochen: ",
    "Les données de connexion ne peuvent pas être établies : ",
    "Connexion interrompue : ",
)
GNUTLS = re.compile(r"(?:GnuTLS error|Errore GnuTLS|GnuTLS-Fehler|Erreur GnuTLS) (-?\d+)")
ALERT = re.compile(
    r"(?:Received TLS alert from the server|Ricevuto avviso TLS dal server|TLS-Warnung vom Server erhalten"
    r"|Réception d'une alerte TLS à partir du serveur) ?: (.+) \(\d+\)"
)
CORE = {
    "Status",
    "Stato",
    "Statut",
    "Command",
    "Comando",
    "Befehl",
    "Commande",
    "Response",
    "Risposta",
    "Antwort",
    "Réponse",
}
# "FileZilla Client 3.66.4" in a ticket's words, or the About dialog's copy: "FileZilla Client",
# a rule, then "Version:          3.66.4".
VERSION = re.compile(r"FileZilla Client[ \t]+(?:version[ \t]+)?v?(\d+\.\d+\.\d+\S*)")
ABOUT_VERSION = re.compile(r"Version:[ \t]+(\d+\.\d+\.\d+\S*)")


def _fold(text: str) -> str:
    """French typography and the ellipsis folded, so one table serves every language."""
    return text.replace("\u00a0", " ").replace("\u2026", "...").replace("\u2019", "'").strip()


def _parse(line: str) -> tuple[str, str, str, float | None] | None:
    """(engine, label, message, seconds) of a FileZilla line, or None."""
    m = LOGFILE.fullmatch(line)
    if m:
        try:
            return m[3], m[4], m[5], datetime.fromisoformat(m[1]).replace(tzinfo=UTC).timestamp()
        except ValueError:  # a date no clock shows: not a line of FileZilla's
            return None
    m = PANE.fullmatch(line)
    if m:
        secs = None if m[1] is None else int(m[1]) * 3600 + int(m[2]) * 60 + int(m[3])
        return "", m[4], m[5], secs
    return None


def sniff(head: bytes) -> bool:
    """Two FileZilla lines (pane or log file) and at least one of them a Status, Command or Response."""
    seen, core = 0, False
    for line in lines_of(text_of(head))[:400]:
        p = _parse(line)
        if p:
            seen += 1
            core = core or p[1] in CORE
            if seen >= 2 and core:
                return True
    return False


@reader("filezilla", "a FileZilla log (message pane or log file)", order=200)
def parse(path: Path, data: bytes) -> Log:
    file, clock = str(path), Clock()
    contexts: dict[str, Context] = {}
    events: list[Event] = []
    settings: dict[str, str] = {}
    version, about = "", False
    for n, line in enumerate(lines_of(text_of(data)), 1):
        p = _parse(line)
        if p is None:  # not FileZilla's: perhaps what the customer pasted with it
            m = VERSION.search(line) or (ABOUT_VERSION.fullmatch(line.strip()) if about else None)
            version = version or (m[1] if m else "")
            about = about or line.strip() == "FileZilla Client"
            continue
        engine, label, msg, secs = p
        kind = LABELS[label]
        ctx = contexts.setdefault(engine, Context())
        where, t = Where(file, line=n), None if secs is None else clock(secs)
        if kind == "sent":
            msg = mask(msg)
            ctx.sent(msg)
            verb = msg.split(" ", 1)[0].upper()
            if verb in ("PASV", "EPSV", "PORT", "EPRT"):
                settings.setdefault("transfer mode", "Passive" if verb in ("PASV", "EPSV") else "Active")
            if verb == "AUTH":
                settings.setdefault("encryption", "explicit")
            events.append(Event("sent", msg, where, t))
        elif kind == "received":
            ctx.received(msg)
            events.append(Event("received", msg, where, t))
        elif label in TRACE or label in LISTING:
            meaning = MESSAGES.get(msg.strip()) if label in TRACE else None
            tls = meaning if meaning in ("resumed", "not-resumed") else "handshake" if meaning == "tls" else None
            events.append(Event("note", msg, where, t, tls=tls))
        else:
            events.append(_note(kind, msg, where, t, ctx, settings))
    return Log(file, "filezilla", "filezilla", tuple(events), version, settings)


def _note(kind: Kind, msg: str, where: Where, t: float | None, ctx: Context, settings: dict[str, str]) -> Event:
    """A Status or Error line, with what it says of a connection."""
    text = _fold(msg)
    meaning = MESSAGES.get(text)

    dial = ctx.dial

    m = CONNECTING.fullmatch(text)
    if m:
        ctx.connect(*host_port(m[1], 21))
        return Event(kind, msg, where, t, dial=dial("control", None))
    if meaning in ("ok", "ok-tls", "implicit"):
        if meaning == "implicit":
            settings.setdefault("encryption", "implicit")
        return Event(kind, msg, where, t, dial=dial("control", "ok"), tls="handshake" if meaning == "ok-tls" else None)
    if meaning == "tls":
        return Event(kind, msg, where, t, tls="handshake")
    if meaning in ("resumed", "not-resumed"):
        return Event(kind, msg, where, t, tls=meaning)
    if meaning == "replaced":
        ctx.data_host = ctx.host or ctx.data_host  # FileZilla connects to the control connection's peer
        return Event(kind, msg, where, t, replaced_pasv=True)
    if meaning == "plain":
        settings.setdefault("encryption", "none")
    if meaning == "closed":
        ctx.closed()
        return Event(kind, msg, where, t, dial=dial("control", "closed"))
    m = TIMEOUT.fullmatch(text)
    if m:
        secs = next((g for g in m.groups() if g), None)
        if secs:
            settings.setdefault("timeout", secs)
        d = dial("data" if ctx.transferring else "control", "timeout")
        ctx.closed()  # FileZilla closes the control connection on a timeout
        return Event(kind, msg, where, t, dial=d)
    m = ERRNO.search(text)
    if m and m[1] in ERRNO_RESULT:
        conn: Connection = "data" if text.startswith(DATA_ERRORS) else "control"
        d = dial(conn, ERRNO_RESULT[m[1]])
        if conn == "control":
            ctx.closed()
        return Event(kind, msg, where, t, dial=d)
    alert = ALERT.search(text)
    if alert or GNUTLS.search(text):
        tls = f"alert: {alert[1] if alert else text}"
        return Event(kind, msg, where, t, dial=dial("data" if ctx.transferring else "control", "tls-alert"), tls=tls)
    return Event(kind, msg, where, t)
