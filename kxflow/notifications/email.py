"""E-mail for a notification: rendered in the recipient's language, sent over SMTP or to the local sink.

The Message-ID is derived from the notification's dedupe key, so a receiving server or mailbox
that sees the same message twice (a worker killed after the server accepted it but before the
outbox row was marked) can tell it is one message.
"""

from __future__ import annotations

import base64
import functools
import re
import smtplib
import socket
from email.message import EmailMessage
from email.policy import SMTPUTF8, default
from email.utils import formatdate
from pathlib import Path

from flask import current_app, render_template
from flask_babel import force_locale, gettext

from kxflow.accounts.models import User
from kxflow.core.mailbox import mailbox
from kxflow.notifications.models import Notification
from kxflow.notifications.operations import BAD_ADDRESS, render_message


@functools.lru_cache(maxsize=4)
def _sender(value: str) -> tuple[str, str, str]:
    """MAIL_SENDER, bare or with a display name, read once per value: the envelope's address (MAIL FROM), the
    domain of the Message-IDs, and the From header as written — a non-ASCII name in RFC 2047 encoded words, or
    as UTF-8 beside an internationalised address (which needs SMTPUTF8 anyway; encoded words cannot carry it)."""
    address = mailbox(value)
    if address is None:  # production refuses to start with it (``config.unsafe_settings``)
        raise ValueError(f"MAIL_SENDER is not one e-mail address: {value!r}")
    fold = default.clone(utf8=not address.addr_spec.isascii())
    header = fold.header_factory("From", address).fold(policy=fold)
    return address.addr_spec, address.domain, header.removeprefix("From: ").rstrip("\n")


def message_id(notification: Notification) -> str:
    domain = _sender(current_app.config["MAIL_SENDER"])[1]
    return f"<{notification.dedupe_key.replace(':', '.')}@{domain}>"


# one address, nothing that could end the header or add a second recipient
_ADDRESS = re.compile(r"[^\s@<>,;:\"()\[\]\\]+@[^\s@<>,;:\"()\[\]\\]+")


_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_WORD_BYTES = 39  # 52 characters of base64: an encoded word of 64, on a line of 78 even after "Subject: "


def _encoded_words(text: str) -> list[str]:
    chunks, chunk = [], b""
    for char in text:
        encoded = char.encode()
        if len(chunk) + len(encoded) > _WORD_BYTES:
            chunks.append(chunk)
            chunk = b""
        chunk += encoded
    chunks.append(chunk)
    return [f"=?utf-8?b?{base64.b64encode(c).decode('ascii')}?=" for c in chunks if c]


def subject_header(value: str) -> str:
    """An unstructured header's value as RFC 2047 has it, ready to be stored as written: words with non-ASCII
    characters become encoded words (a run of them together: the space between two encoded words is not read
    as text), the others stay as they are (a reader of the raw header still sees them); folded at spaces
    within 78 characters; control characters (a line break in a comment) become spaces."""
    tokens: list[str] = []
    run: list[str] = []
    for word in " ".join(_CONTROL.sub(" ", value).split()).split(" "):
        if word.isascii() and "=?" not in word:
            if run:
                tokens += _encoded_words(" ".join(run))
                run = []
            tokens.append(word)
        else:
            run.append(word)
    if run:
        tokens += _encoded_words(" ".join(run))
    lines, line = [], "Subject:"
    for token in tokens:
        if len(line) + 1 + len(token) > 78 and line.strip() != "Subject:":
            lines.append(line)
            line = ""
        line = f"{line} {token}"
    lines.append(line)
    return "\n".join(lines).removeprefix("Subject: ")


def build(notification: Notification, recipient: User) -> EmailMessage:
    """The message: a plain-text part in UTF-8 (base64). Its headers are written once here and stored as
    written — parsing each one and folding it again when the message is sent cost more than sending it."""
    lang = recipient.locale or "zh"
    with force_locale(lang):
        text = render_message(notification, lang)
        link = None
        if notification.application_id:
            link = f"{current_app.config['KXFLOW_BASE_URL']}/applications/{notification.application_id}"
        body = render_template("email/notification.txt", recipient=recipient, text=text, link=link, lang=lang)
        subject = gettext("[kxflow] %(text)s", text=text)
    if not _ADDRESS.fullmatch(recipient.email or ""):
        raise ValueError(f"{BAD_ADDRESS}: {recipient.email!r}")
    msg = EmailMessage()
    msg.set_raw("Subject", subject_header(subject))
    msg.set_raw("From", _sender(current_app.config["MAIL_SENDER"])[2])
    msg.set_raw("To", recipient.email)
    msg.set_raw("Date", formatdate(localtime=False))
    msg.set_raw("Message-ID", message_id(notification))
    msg.set_raw("MIME-Version", "1.0")
    msg.set_raw("Content-Type", 'text/plain; charset="utf-8"')
    msg.set_raw("Content-Transfer-Encoding", "base64")
    msg.set_raw("Content-Language", "en" if lang.startswith("en") else "zh-CN")
    msg.set_payload(base64.encodebytes(("\n".join(body.splitlines()) + "\n").encode()).decode("ascii"))
    return msg


def _to_folder(msg: EmailMessage) -> None:
    folder = Path(current_app.config["MAIL_SINK_FOLDER"])
    folder.mkdir(parents=True, exist_ok=True)
    name = msg["Message-ID"].strip("<>").replace("@", "_").replace("/", "_")
    tmp = folder / f".{name}.tmp"
    # as written (UTF-8 allowed): ``build`` stores an internationalised address as it is, which the default
    # policy cannot write as ASCII
    tmp.write_bytes(msg.as_bytes(policy=SMTPUTF8))
    tmp.replace(folder / f"{name}.eml")  # atomic: a reader never sees half a message


class ServerUnreachable(smtplib.SMTPException):
    """The SMTP server could not be reached or would not open a session (the connection, its greeting, TLS, the
    login): the trouble is the server's, not one message's."""


def _connect() -> smtplib.SMTP:
    try:
        return _session()
    except (OSError, smtplib.SMTPException) as exc:
        raise ServerUnreachable(f"{type(exc).__name__}: {exc}") from exc


def _session() -> smtplib.SMTP:
    cfg = current_app.config
    smtp = smtplib.SMTP(cfg["MAIL_SERVER"], cfg["MAIL_PORT"], timeout=cfg["MAIL_TIMEOUT_SECONDS"])
    try:
        # a message's end goes out on its own, after its content: without this, Nagle's algorithm holds it until
        # the server's delayed acknowledgement of the content (tens of milliseconds per message)
        smtp.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if cfg["MAIL_USE_TLS"]:
            smtp.starttls()
        if cfg["MAIL_USERNAME"]:
            smtp.login(cfg["MAIL_USERNAME"], cfg["MAIL_PASSWORD"] or "")
    except BaseException:
        smtp.close()
        raise
    return smtp


def wire_bytes(msg: EmailMessage) -> bytes:
    """The message as SMTP carries it (CRLF line ends, dot-stuffed, ending in CRLF), from the headers as ``build``
    stored them and its base64 body: what the e-mail package's generator would write, without parsing every
    header again to fold it anew."""
    head = "".join(f"{name}: {value}\n" for name, value in msg.raw_items())
    text = f"{head}\n{msg.get_payload()}".replace("\r\n", "\n").replace("\n", "\r\n")
    data = _quote_periods(text.encode())
    return data if data.endswith(b"\r\n") else data + b"\r\n"


def _quote_periods(data: bytes) -> bytes:
    """SMTP's dot-stuffing (RFC 5321 4.5.2): a line that starts with a dot gets a second one."""
    return re.sub(rb"(?m)^\.", b"..", data)


class Mailer:
    """One SMTP connection for a dispatcher run: opened on first use, dropped after any failure (the next
    message opens a fresh one), so a batch costs one handshake instead of one per message.

    A message goes in two steps: ``stage`` sends all of it but its end-of-data line — the server has not
    accepted it yet, and a sender that dies now delivers nothing — and ``finish`` sends that line and returns
    once the server has accepted it. The dispatcher stages the next message while the previous delivery is
    being recorded, and finishes it only once that record is on disk."""

    def __init__(self) -> None:
        self._smtp: smtplib.SMTP | None = None
        self._staged: EmailMessage | None = None  # with no SMTP server: the message for the sink folder
        self._in_data = False  # the server is reading a message's content

    def stage(self, msg: EmailMessage, to: str) -> None:
        if not current_app.config["MAIL_SERVER"]:
            self._staged = msg
            return
        reused = self._smtp is not None
        try:
            if self._smtp is None:
                self._smtp = _connect()
            self._open(msg, to)
        except smtplib.SMTPServerDisconnected:
            self.close()
            if not reused:
                raise
            self._smtp = _connect()  # the server closed an idle connection: once more on a new one
            try:
                self._open(msg, to)
            except BaseException:
                self.close()
                raise
        except BaseException:
            self.close()
            raise

    def _open(self, msg: EmailMessage, to: str) -> None:
        """MAIL, RCPT, DATA and the content, as ``smtplib.SMTP.sendmail`` sends them, without the final dot."""
        smtp, sender = self._smtp, _sender(current_app.config["MAIL_SENDER"])[0]
        smtp.ehlo_or_helo_if_needed()
        options = []
        if not (sender + to).isascii():  # an internationalised address (written as UTF-8 in the To header)
            if not smtp.has_extn("smtputf8"):
                raise smtplib.SMTPNotSupportedError("the server does not accept internationalised addresses")
            options = ["SMTPUTF8", "BODY=8BITMIME"]
        data = wire_bytes(msg)
        if smtp.does_esmtp and smtp.has_extn("size"):
            options.append(f"size={len(data)}")
        code, reply = smtp.mail(sender, options)
        if code != 250:
            raise smtplib.SMTPSenderRefused(code, reply, sender)
        code, reply = smtp.rcpt(to)
        if code not in (250, 251):
            raise smtplib.SMTPRecipientsRefused({to: (code, reply)})
        code, reply = smtp.docmd("data")
        if code != 354:
            raise smtplib.SMTPDataError(code, reply)
        self._in_data = True
        smtp.send(data)

    def finish(self) -> None:
        """The end of the staged message: returns once the server has accepted it."""
        if not current_app.config["MAIL_SERVER"]:
            msg, self._staged = self._staged, None
            if msg is not None:
                _to_folder(msg)
            return
        try:
            self._smtp.send(b".\r\n")
            self._in_data = False
            code, reply = self._smtp.getreply()
            if code != 250:
                raise smtplib.SMTPDataError(code, reply)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Ends the connection; a message staged and not finished is dropped (the server never accepts it)."""
        self._staged = None
        if self._smtp is not None:
            smtp, self._smtp = self._smtp, None
            if self._in_data:  # a QUIT now would be read as part of the message: just hang up
                self._in_data = False
                smtp.close()
                return
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()

    def __enter__(self) -> Mailer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
