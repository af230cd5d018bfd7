"""E-mail for a notification: rendered in the recipient's language, sent over SMTP or to the local sink.

The Message-ID is derived from the notification's dedupe key, so a receiving server or mailbox
that sees the same message twice (a worker killed after the server accepted it but before the
outbox row was marked) can tell it is one message.
"""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
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
    msg["From"] = current_app.config["MAIL_SENDER"]
    msg["To"] = recipient.email
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = message_id(notification)
    msg.set_content(body)
    msg["Content-Language"] = "en" if lang.startswith("en") else "zh-CN"  # after set_content, which resets Content-*
    return msg


def send(msg: EmailMessage) -> None:
    """Hands the message to the SMTP server, or writes it to the sink folder when none is configured."""
    cfg = current_app.config
    if not cfg["MAIL_SERVER"]:
        folder = Path(cfg["MAIL_SINK_FOLDER"])
        folder.mkdir(parents=True, exist_ok=True)
        name = msg["Message-ID"].strip("<>").replace("@", "_").replace("/", "_")
        tmp = folder / f".{name}.tmp"
        tmp.write_bytes(bytes(msg))
        tmp.replace(folder / f"{name}.eml")  # atomic: a reader never sees half a message
        return
    with smtplib.SMTP(cfg["MAIL_SERVER"], cfg["MAIL_PORT"], timeout=cfg["MAIL_TIMEOUT_SECONDS"]) as smtp:
        if cfg["MAIL_USE_TLS"]:
            smtp.starttls()
        if cfg["MAIL_USERNAME"]:
            smtp.login(cfg["MAIL_USERNAME"], cfg["MAIL_PASSWORD"] or "")
        smtp.send_message(msg)
