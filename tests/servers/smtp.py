"""Real SMTP servers (aiosmtpd) on 127.0.0.1 for the digest tests: plain, STARTTLS, implicit TLS.

Certificates are made at test time with the `openssl` command: a test CA, a server
certificate it signs for 127.0.0.1/localhost, one for another host name, and one
signed by a CA the client does not trust.
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

USER, PASSWORD = "reader", "s3cret-pässword"


@dataclass(frozen=True)
class Received:
    """One message the server accepted."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    tls: bool  # whether the session was encrypted when DATA arrived

    @property
    def message(self) -> EmailMessage:
        """The message parsed with the stdlib, as a mail client would."""
        parsed = message_from_bytes(self.data, policy=default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class RecordingHandler:
    """Keeps what arrives; can drop the connection after DATA instead of answering 250."""

    drop_first: int = 0
    refuse: set[str] = field(default_factory=set)  # recipients answered with 550
    messages: list[Received] = field(default_factory=list)
    dropped: list[Received] = field(default_factory=list)
    auth_attempts: list[tuple[str, bytes]] = field(default_factory=list)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        """Accept every recipient but the refused ones."""
        if address in self.refuse:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        tls = server.transport.get_extra_info("ssl_object") is not None  # STARTTLS or implicit
        received = Received(
            envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content, tls
        )
        if len(self.dropped) < self.drop_first:
            # The message arrived whole, but the client never hears 250: like a
            # server (or network) dying at the worst moment.
            self.dropped.append(received)
            server.transport.abort()
            return "421 never seen"
        self.messages.append(received)
        return "250 OK: queued"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        """Accept USER/PASSWORD only, and remember every attempt."""
        login = getattr(auth_data, "login", b"")
        self.auth_attempts.append((mechanism, login))
        ok = isinstance(auth_data, LoginPassword) and auth_data == LoginPassword(
            USER.encode(), PASSWORD.encode()
        )
        return AuthResult(success=ok, handled=False)


class _EphemeralController(Controller):
    """Controller bound to port 0: reads the port the OS chose before its self-check."""

    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


@dataclass(frozen=True)
class Certificates:
    """PEM files of the test PKI."""

    ca: Path  # the CA the client is told to trust
    server: tuple[Path, Path]  # cert, key for 127.0.0.1 and localhost, signed by ca
    wrong_host: tuple[Path, Path]  # signed by ca, but for mail.example.org only
    untrusted: tuple[Path, Path]  # for 127.0.0.1, signed by another CA


@dataclass
class SmtpServer:
    """A running server and what it saw."""

    handler: RecordingHandler
    port: int
    security: str
    ca_file: Path | None = None
    host: str = "127.0.0.1"
    user: str = USER  # the only login the server accepts
    password: str = PASSWORD

    @property
    def messages(self) -> list[Received]:
        """Messages accepted with 250."""
        return self.handler.messages

    def settings(self) -> dict[str, Any]:
        """Settings fields that point the digest mailer at this server."""
        return {
            "smtp_host": self.host,
            "smtp_port": self.port,
            "smtp_security": self.security,
            "smtp_ca_file": self.ca_file,
            "smtp_timeout": 5.0,
        }


def _openssl(*args: str | Path, cwd: Path) -> None:
    subprocess.run(["openssl", *map(str, args)], cwd=cwd, check=True, capture_output=True)


def _make_ca(directory: Path, name: str) -> tuple[Path, Path]:
    cert, key = directory / f"{name}.pem", directory / f"{name}.key"
    _openssl(
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        key,
        "-out",
        cert,
        "-days",
        "2",
        "-subj",
        f"/CN={name}",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
        cwd=directory,
    )
    return cert, key


def _make_leaf(directory: Path, name: str, ca: tuple[Path, Path], san: str) -> tuple[Path, Path]:
    cert, key, csr = (directory / f"{name}{ext}" for ext in (".pem", ".key", ".csr"))
    extensions = directory / f"{name}.ext"
    extensions.write_text(
        f"subjectAltName={san}\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\n"
        "extendedKeyUsage=serverAuth\nsubjectKeyIdentifier=hash\n"
        "authorityKeyIdentifier=keyid,issuer\n"
    )
    _openssl(
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        key,
        "-out",
        csr,
        "-subj",
        f"/CN={name}",
        cwd=directory,
    )
    _openssl(
        "x509",
        "-req",
        "-in",
        csr,
        "-CA",
        ca[0],
        "-CAkey",
        ca[1],
        "-CAcreateserial",
        "-out",
        cert,
        "-days",
        "2",
        "-extfile",
        extensions,
        cwd=directory,
    )
    return cert, key


@pytest.fixture(scope="session")
def smtp_certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    """A test CA and server certificates, made once per session with openssl."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make test certificates")
    directory = tmp_path_factory.mktemp("pki")
    ca, other_ca = _make_ca(directory, "test-ca"), _make_ca(directory, "other-ca")
    local = "IP:127.0.0.1,DNS:localhost"
    return Certificates(
        ca=ca[0],
        server=_make_leaf(directory, "server", ca, local),
        wrong_host=_make_leaf(directory, "wrong-host", ca, "DNS:mail.example.org"),
        untrusted=_make_leaf(directory, "untrusted", other_ca, local),
    )


def _server_context(cert: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert[0], cert[1])
    return context


StartServer = Callable[..., SmtpServer]


@pytest.fixture
def start_smtp(request: pytest.FixtureRequest) -> Iterator[StartServer]:
    """Start servers on 127.0.0.1: start_smtp(security="starttls", cert="server", drop_first=1).

    security "none" offers AUTH without TLS (a client must still refuse to use it);
    "starttls" requires STARTTLS before MAIL and AUTH; "ssl" speaks TLS from the start.
    """
    running: list[Controller] = []

    def start(security: str = "none", cert: str = "server", drop_first: int = 0) -> SmtpServer:
        handler = RecordingHandler(drop_first=drop_first)
        pki: Certificates | None = None
        if security != "none":
            pki = request.getfixturevalue("smtp_certificates")
        kwargs: dict[str, Any] = {"authenticator": handler.authenticate, "auth_require_tls": True}
        if security == "none":
            # Offer AUTH in clear text: the client must still never use it.
            kwargs["auth_require_tls"] = False
        elif security == "starttls":
            kwargs.update(tls_context=_server_context(getattr(pki, cert)), require_starttls=True)
        else:  # aiosmtpd only counts STARTTLS as TLS for AUTH; this whole session is TLS
            kwargs.update(ssl_context=_server_context(getattr(pki, cert)), auth_require_tls=False)
        controller = _EphemeralController(handler, hostname="127.0.0.1", port=0, **kwargs)
        controller.start()
        running.append(controller)
        return SmtpServer(handler, controller.port, security, pki.ca if pki else None)

    yield start
    for controller in running:
        controller.stop()
