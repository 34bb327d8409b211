"""Real receivers on 127.0.0.1 for the delivery tests: an HTTP server whose answers a test
scripts, an SMTP server (aiosmtpd) that keeps what it receives, and a self-signed certificate
for the TLS cases. Each binds a free port and is closed by its fixture, threads joined."""

from __future__ import annotations

import email
import email.policy
import shutil
import socket
import ssl
import subprocess
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def free_port() -> int:
    """A port nothing listens on (bound and released: the tests' own servers take it next)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- HTTP --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """What the hook answers one request: a status, headers, a body, after ``delay`` s."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"ok"
    delay: float = 0.0


@dataclass(frozen=True)
class Received:
    """One request as the hook saw it: headers (names lower-cased) and the raw body."""

    headers: dict[str, str]
    body: bytes


class Hook:
    """A threaded HTTP server answering POSTs with ``script`` in order, then ``then``."""

    def __init__(self, script: list[Answer] | tuple[Answer, ...] = (), then: Answer = Answer()):
        self.script, self.then = list(script), then
        self.requests: list[Received] = []
        self.release = threading.Event()  # ends a delayed answer early when the test is done
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                index = len(hook.requests)
                hook.requests.append(Received({k.lower(): v for k, v in self.headers.items()},
                                              body))
                answer = hook.script[index] if index < len(hook.script) else hook.then
                if answer.delay:
                    hook.release.wait(answer.delay)
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)

            def log_message(self, *args) -> None:  # keep pytest's output clean
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = False  # so server_close() joins every handler thread

            def handle_error(self, request, client_address) -> None:
                pass  # a client that timed out and left: expected in the timeout tests

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


# -- SMTP --------------------------------------------------------------------------------------


class Inbox:
    """aiosmtpd handler keeping each mail: envelope sender, recipients, parsed message."""

    def __init__(self) -> None:
        self.mails: list[tuple[str, list[str], EmailMessage]] = []

    async def handle_DATA(self, server, session, envelope) -> str:
        parsed = email.message_from_bytes(envelope.original_content or envelope.content,
                                          policy=email.policy.default)
        self.mails.append((envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 2.0.0 Ok: queued as TEST1"


class Logins:
    """aiosmtpd authenticator accepting the given user → password pairs."""

    def __init__(self, accounts: dict[str, str]):
        self.accounts = accounts
        self.tried: list[str] = []

    def __call__(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user, password = auth_data.login.decode(), auth_data.password.decode()
        self.tried.append(user)
        return AuthResult(success=self.accounts.get(user) == password, handled=False)


class MailServer:
    """aiosmtpd on a free port of 127.0.0.1.

    ``starttls``: a server TLS context offered through STARTTLS (and then required);
    ``implicit_tls``: TLS from the first byte; ``logins``: AUTH required, with these accounts
    (over plain text too when there is no TLS, which aiosmtpd refuses unless told).
    """

    def __init__(self, *, starttls: ssl.SSLContext | None = None,
                 implicit_tls: ssl.SSLContext | None = None,
                 logins: dict[str, str] | None = None):
        self.inbox = Inbox()
        self.logins = Logins(logins or {})
        options: dict = {}
        if starttls is not None:
            options.update(tls_context=starttls, require_starttls=True)
        if logins is not None:
            options.update(authenticator=self.logins, auth_required=True,
                           auth_require_tls=starttls is not None)
        self.port = free_port()
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port,
                                     ssl_context=implicit_tls, ready_timeout=5, **options)
        self.controller.start()

    @property
    def mails(self) -> list[tuple[str, list[str], EmailMessage]]:
        return self.inbox.mails

    def close(self) -> None:
        self.controller.stop()


# -- certificates ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Certificate:
    """A self-signed certificate for 127.0.0.1: the PEM files and a server context."""

    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, self.key)
        return context


def self_signed(folder: Path) -> Certificate | None:
    """Make one with the openssl command (the ``cryptography`` package is not a dependency);
    None when there is no openssl."""
    openssl = shutil.which("openssl")
    if openssl is None:
        return None
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "2", "-subj", "/CN=127.0.0.1", "-addext",
                    "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True, timeout=30)
    return Certificate(cert, key)
