"""Delivery of one notice to one target: Slack-compatible webhook, ntfy, SMTP email.

Synchronous on purpose: they run on the notifier's worker thread, never on the loop.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Literal

import httpx

from openintern.config import NotificationEvent, NotificationTarget

Priority = Literal["default", "high"]


@dataclass
class Notice:
    """One message: what happened (``kind``), a one-line title and a short body."""

    kind: NotificationEvent
    title: str
    body: str
    session_id: str = ""
    priority: Priority = "default"


class DeliveryError(RuntimeError):
    """A target refused or could not be reached; the message says which and why."""


def send(target: NotificationTarget, notice: Notice, timeout_s: float = 10.0) -> None:
    """Deliver ``notice`` to ``target`` (raises DeliveryError)."""
    try:
        if target.kind == "webhook":
            _webhook(target, notice, timeout_s)
        elif target.kind == "ntfy":
            _ntfy(target, notice, timeout_s)
        else:
            _email(target, notice, timeout_s)
    except (httpx.HTTPError, OSError, smtplib.SMTPException) as exc:
        raise DeliveryError(f"{target.kind} notification failed: {type(exc).__name__}: "
                            f"{exc}") from None


def _url(target: NotificationTarget) -> str:
    assert target.url is not None
    return target.url.get_secret_value()


def _webhook(target: NotificationTarget, notice: Notice, timeout_s: float) -> None:
    # Slack's incoming-webhook body; Mattermost, Rocket.Chat and Discord's /slack
    # endpoint take the same one.
    text = f"*{notice.title}*\n{notice.body}" if notice.body else f"*{notice.title}*"
    response = httpx.post(_url(target), json={"text": text}, timeout=timeout_s)
    if response.status_code >= 300:
        raise DeliveryError(f"webhook answered HTTP {response.status_code}: "
                            f"{response.text[:200]}")


def _ntfy(target: NotificationTarget, notice: Notice, timeout_s: float) -> None:
    headers = {
        "Title": _header_safe(notice.title),
        "Priority": "high" if notice.priority == "high" else "default",
        "Tags": {"approval": "raised_hand", "job": "gear", "budget": "moneybag",
                 "session": "checkered_flag"}[notice.kind],
    }
    if target.token is not None:
        headers["Authorization"] = f"Bearer {target.token.get_secret_value()}"
    response = httpx.post(_url(target), content=(notice.body or notice.title).encode(),
                          headers=headers, timeout=timeout_s)
    if response.status_code >= 300:
        raise DeliveryError(f"ntfy answered HTTP {response.status_code}: "
                            f"{response.text[:200]}")


def _email(target: NotificationTarget, notice: Notice, timeout_s: float) -> None:
    assert target.smtp_host and target.sender
    message = EmailMessage()
    message["Subject"] = f"[OpenIntern] {notice.title}"
    message["From"] = target.sender
    message["To"] = ", ".join(target.recipients)
    message.set_content(notice.body or notice.title)
    smtp: smtplib.SMTP
    if target.smtp_security == "ssl":
        smtp = smtplib.SMTP_SSL(target.smtp_host, target.smtp_port, timeout=timeout_s,
                                context=ssl.create_default_context())
    else:
        smtp = smtplib.SMTP(target.smtp_host, target.smtp_port, timeout=timeout_s)
    with smtp:
        if target.smtp_security == "starttls":
            smtp.starttls(context=ssl.create_default_context())
        if target.username and target.password is not None:
            smtp.login(target.username, target.password.get_secret_value())
        smtp.send_message(message)


def _header_safe(text: str) -> str:
    # HTTP headers are latin-1; ntfy reads UTF-8 titles from the body form only.
    return text.encode("latin-1", "replace").decode("latin-1").replace("\n", " ")[:200]
