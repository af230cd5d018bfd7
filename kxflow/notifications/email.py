"""E-mail for a notification: rendered in the recipient's language, sent over SMTP or to the local sink.

The Message-ID is derived from the notification's dedupe key, so a receiving server or mailbox
that sees the same message twice (a worker killed after the server accepted it but before the
outbox row was marked) can tell it is one message.
"""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from email.policy import SMTP as WIRE_POLICY
from email.utils import formatdate
from pathlib import Path

from flask import current_app, render_template
from flask_babel import force_locale, gettext

from kxflow.accounts.models import User
from kxflow.notifications.models import Notification
from kxflow.notifications.operations import render_message


def message_id(notification: Notification) -> str:
    domain = current_app.config["MAIL_SENDER"].rpartition("@")[2] or "kxflow.local"
    return f"<{notification.dedupe_key.replace(':', '.')}@{domain}>"


def build(notification: Notification, recipient: User) -> EmailMessage:
    lang = recipient.locale or "zh"
    with force_locale(lang):
        text = render_message(notification, lang)
        link = None
        if notification.application_id:
            link = f"{current_app.config['KXFLOW_BASE_URL']}/applications/{notification.application_id}"
        body = render_template("email/notification.txt", recipient=recipient, text=text, link=link, lang=lang)
        subject = gettext("[kxflow] %(text)s", text=text)
    msg = EmailMessage()
    msg["Subject"] = subject
    # headers whose values kxflow makes itself are stored as written (parsing them costs more than sending
    # them); the recipient's address is user data and goes through the parser, which refuses a bad one
    msg.set_raw("From", current_app.config["MAIL_SENDER"])
    msg["To"] = recipient.email
    msg.set_raw("Date", formatdate(localtime=False))
    msg.set_raw("Message-ID", message_id(notification))
    msg.set_content(body)
    msg.set_raw("Content-Language", "en" if lang.startswith("en") else "zh-CN")  # after set_content (resets Content-*)
    return msg


def _to_folder(msg: EmailMessage) -> None:
    folder = Path(current_app.config["MAIL_SINK_FOLDER"])
    folder.mkdir(parents=True, exist_ok=True)
    name = msg["Message-ID"].strip("<>").replace("@", "_").replace("/", "_")
    tmp = folder / f".{name}.tmp"
    tmp.write_bytes(bytes(msg))
    tmp.replace(folder / f"{name}.eml")  # atomic: a reader never sees half a message


def _connect() -> smtplib.SMTP:
    cfg = current_app.config
    smtp = smtplib.SMTP(cfg["MAIL_SERVER"], cfg["MAIL_PORT"], timeout=cfg["MAIL_TIMEOUT_SECONDS"])
    try:
        if cfg["MAIL_USE_TLS"]:
            smtp.starttls()
        if cfg["MAIL_USERNAME"]:
            smtp.login(cfg["MAIL_USERNAME"], cfg["MAIL_PASSWORD"] or "")
    except BaseException:
        smtp.close()
        raise
    return smtp


class Mailer:
    """One SMTP connection for a dispatcher run: opened on first use, dropped after any failure (the next
    message opens a fresh one), so a batch costs one handshake instead of one per message."""

    def __init__(self) -> None:
        self._smtp: smtplib.SMTP | None = None

    def send(self, msg: EmailMessage, to: str) -> None:
        """Hands the message to the SMTP server (envelope: the sender, ``to``), or writes it to the sink folder
        when none is configured. Returns once the server has accepted it."""
        if not current_app.config["MAIL_SERVER"]:
            _to_folder(msg)
            return
        reused = self._smtp is not None
        try:
            if self._smtp is None:
                self._smtp = _connect()
            self._transmit(msg, to)
        except smtplib.SMTPServerDisconnected:
            self.close()
            if not reused:
                raise
            self._smtp = _connect()  # the server closed an idle connection: once more on a new one
            self._transmit(msg, to)
        except BaseException:
            self.close()
            raise

    def _transmit(self, msg: EmailMessage, to: str) -> None:
        sender = current_app.config["MAIL_SENDER"]
        if not (sender + to).isascii():  # an internationalised address: smtplib asks for SMTPUTF8 itself
            self._smtp.send_message(msg, sender, [to])
            return
        # the envelope is known and the message flattened once, with the CRLF line ends SMTP wants: what
        # send_message would do after parsing the headers again
        self._smtp.sendmail(sender, [to], msg.as_bytes(policy=WIRE_POLICY))

    def close(self) -> None:
        if self._smtp is not None:
            smtp, self._smtp = self._smtp, None
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()

    def __enter__(self) -> Mailer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
