"""SMTP delivery: TLS with a verified certificate and host name, the password only over TLS."""

from __future__ import annotations

import base64
import smtplib
import ssl
from email.utils import parseaddr
from typing import Protocol

from readerd.config import Settings
from readerd.errors import MailError

REQUIRED = ("READERD_SMTP_HOST", "READERD_DIGEST_FROM", "READERD_DIGEST_TO")


class Mailer(Protocol):
    """Something that hands one message to a mail server."""

    def send(self, sender: str, recipients: list[str], message: bytes) -> None: ...


def mail_error(message: str, *, retryable: bool) -> MailError:
    """A MailError that says whether a later attempt can help."""
    return MailError(message, retryable=retryable)


def missing_settings(settings: Settings) -> list[str]:
    """Names of the settings the digest e-mail needs but does not have."""
    values = (settings.smtp_host, settings.digest_from, settings.digest_to)
    return [name for name, value in zip(REQUIRED, values, strict=True) if not value]


class SmtpMailer:
    """Sends through the configured SMTP server; refuses anything it cannot do safely."""

    def __init__(self, settings: Settings) -> None:
        if missing := missing_settings(settings):
            raise mail_error(f"smtp: not configured: set {', '.join(missing)}", retryable=False)
        self.host, self.port = settings.smtp_host or "", settings.smtp_port_or_default
        self.security, self.timeout = settings.smtp_security, settings.smtp_timeout
        self.user = settings.smtp_user
        password = settings.smtp_password.get_secret_value() if settings.smtp_password else ""
        self._password = password
        self.ca_file = settings.smtp_ca_file
        if self.security == "none" and (password or self.user):
            raise mail_error(
                "smtp: refusing to log in over an unencrypted connection "
                "(READERD_SMTP_SECURITY=none with READERD_SMTP_USER/READERD_SMTP_PASSWORD set); "
                "use starttls or ssl, or remove the credentials",
                retryable=False,
            )
        if self.user and not password:
            raise mail_error(
                "smtp: READERD_SMTP_USER is set but READERD_SMTP_PASSWORD is not", retryable=False
            )

    @property
    def where(self) -> str:
        """host:port, for error messages."""
        return f"{self.host}:{self.port}"

    def send(self, sender: str, recipients: list[str], message: bytes) -> None:
        """Deliver; returns only once the server answered 250 to DATA, else raises MailError."""
        client = self._open()
        try:
            client.sendmail(parseaddr(sender)[1] or sender, recipients, message)
        except Exception as exc:
            raise self._translate(exc) from exc
        finally:
            _close(client)

    def check(self) -> None:
        """Connect, secure and log in exactly as send() does, then quit; raises MailError."""
        _close(self._open())

    def _open(self) -> smtplib.SMTP:
        try:
            return self._connect()
        except MailError:
            raise
        except Exception as exc:
            raise self._translate(exc) from exc

    def _context(self) -> ssl.SSLContext:
        # Certificate and host name are always verified; SMTP_CA_FILE only adds trust.
        context = ssl.create_default_context(cafile=str(self.ca_file) if self.ca_file else None)
        context.check_hostname, context.verify_mode = True, ssl.CERT_REQUIRED
        return context

    def _connect(self) -> smtplib.SMTP:
        if self.security == "ssl":
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout, context=self._context()
            )
        else:
            client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            client.ehlo()
            if self.security == "starttls":
                if not client.has_extn("starttls"):
                    raise mail_error(
                        f"smtp: {self.where} does not offer STARTTLS; not sending in clear text "
                        "(set READERD_SMTP_SECURITY=ssl if the server speaks TLS from the start)",
                        retryable=False,
                    )
                client.starttls(context=self._context())
                client.ehlo()
            if self.user:
                self._login(client)
        except BaseException:
            _close(client)
            raise
        return client

    def _login(self, client: smtplib.SMTP) -> None:
        # smtplib encodes credentials as ASCII; AUTH PLAIN is UTF-8 (RFC 4616), so a
        # password like "contraseña" works when we send it ourselves.
        mechanisms = str(client.esmtp_features.get("auth", "")).upper().split()
        if "PLAIN" not in mechanisms:
            client.login(self.user or "", self._password)
            return
        secret = b"\0" + (self.user or "").encode() + b"\0" + self._password.encode()
        code, reply = client.docmd("AUTH", "PLAIN " + base64.b64encode(secret).decode("ascii"))
        if code != 235:
            raise smtplib.SMTPAuthenticationError(code, reply)

    def _translate(self, exc: Exception) -> MailError:
        """The MailError for exc, without the password a server may have quoted back."""
        error = self._classify(exc)
        if self._password and self._password in str(error):
            error = mail_error(str(error).replace(self._password, "***"), retryable=error.retryable)
        return error

    def _classify(self, exc: Exception) -> MailError:
        where = self.where
        if isinstance(exc, ssl.SSLCertVerificationError):
            return mail_error(
                f"smtp: TLS certificate of {where} not trusted: {exc.verify_message} "
                "(READERD_SMTP_CA_FILE can name the CA that signed it)",
                retryable=False,
            )
        if isinstance(exc, smtplib.SMTPAuthenticationError):
            return mail_error(
                f"smtp: login refused by {where}: {exc.smtp_code} {_text(exc.smtp_error)}",
                retryable=False,
            )
        if isinstance(exc, smtplib.SMTPNotSupportedError):
            return mail_error(
                f"smtp: {where} offers no login (AUTH) here; "
                "unset READERD_SMTP_USER or check the port",
                retryable=False,
            )
        if isinstance(exc, smtplib.SMTPRecipientsRefused):
            codes = [code for code, _ in exc.recipients.values()]
            detail = "; ".join(f"{r}: {c} {_text(m)}" for r, (c, m) in exc.recipients.items())
            return mail_error(
                f"smtp: {where} refused recipients: {detail}",
                retryable=all(400 <= c < 500 for c in codes),
            )
        if isinstance(exc, smtplib.SMTPResponseException):
            return mail_error(
                f"smtp: {where} answered {exc.smtp_code} {_text(exc.smtp_error)}",
                retryable=400 <= exc.smtp_code < 500,
            )
        if isinstance(exc, UnicodeError):  # smtplib's AUTH LOGIN and CRAM-MD5 are ASCII-only
            return mail_error(
                f"smtp: {where} offers no AUTH PLAIN, and its other login methods cannot carry "
                "a non-ASCII user name or password",
                retryable=False,
            )
        if isinstance(exc, smtplib.SMTPServerDisconnected):
            return mail_error(f"smtp: {where} closed the connection: {exc}", retryable=True)
        if isinstance(exc, (OSError, smtplib.SMTPException)):  # refused, timeout, TLS, DNS
            return mail_error(f"smtp: {where}: {type(exc).__name__}: {exc}", retryable=True)
        return mail_error(f"smtp: {where}: unexpected {type(exc).__name__}: {exc}", retryable=True)


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _close(client: smtplib.SMTP) -> None:
    # The message is already accepted (or already failed): a failing QUIT changes nothing.
    try:
        client.quit()
    except (OSError, smtplib.SMTPException):
        client.close()
