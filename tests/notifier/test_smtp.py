"""Sending over real SMTP (aiosmtpd on loopback) and classifying what goes wrong."""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import socket
import ssl
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from strideguard.integrations.email.mime import build_message
from strideguard.integrations.email.render import render_digest
from strideguard.integrations.email.smtp import (
    PermanentBounce,
    PermanentSendError,
    TransientSendError,
    parse_smtp_url,
    send_message,
)
from strideguard.web.live import free_port
from tests.notifier.worked import BUILT_IN, digest


class Recorder:
    """Accepts mail, or answers RCPT/DATA with a chosen reply."""

    def __init__(self, rcpt_reply: str | None = None, data_reply: str | None = None) -> None:
        self.rcpt_reply = rcpt_reply
        self.data_reply = data_reply
        self.received: list[tuple[str, list[str], bytes]] = []
        self.peers: list[Any] = []  # the client's (address, port): one per connection

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.data_reply:
            return self.data_reply
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        self.peers.append(session.peer)
        return "250 Message accepted"


@pytest.fixture
def smtp_server() -> Iterator[tuple[Recorder, str]]:
    recorder = Recorder()
    controller = Controller(recorder, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield recorder, f"smtp://127.0.0.1:{controller.port}"
    controller.stop()


def _message() -> EmailMessage:
    context = digest([BUILT_IN["weekly_distance_spike"]])
    return build_message(
        render_digest(context),
        to="ana@example.org",
        from_="strideguard <alerts@sg.example.org>",
        message_id="<digest-7-2025-10-13@sg.example.org>",
        links=context.links,
    )


def test_delivers_the_digest(smtp_server: tuple[Recorder, str]) -> None:
    recorder, url = smtp_server
    send_message(_message(), url, timeout=5)
    ((mail_from, rcpt_tos, content),) = recorder.received
    assert mail_from == "alerts@sg.example.org"
    assert rcpt_tos == ["ana@example.org"]
    received = message_from_bytes(content, policy=policy.default)
    assert received["Message-ID"] == "<digest-7-2025-10-13@sg.example.org>"
    assert received.get_content_type() == "multipart/alternative"


def test_451_is_transient(smtp_server: tuple[Recorder, str]) -> None:
    recorder, url = smtp_server
    recorder.data_reply = "451 4.3.0 Try again later"
    with pytest.raises(TransientSendError) as caught:
        send_message(_message(), url, timeout=5)
    assert caught.value.code == 451


def test_550_on_rcpt_is_a_bounce(smtp_server: tuple[Recorder, str]) -> None:
    recorder, url = smtp_server
    recorder.rcpt_reply = "550 5.1.1 Mailbox unavailable"
    with pytest.raises(PermanentBounce) as caught:
        send_message(_message(), url, timeout=5)
    assert caught.value.code == 550
    assert "Mailbox unavailable" in caught.value.reason
    assert recorder.received == []


def test_450_on_rcpt_is_transient(smtp_server: tuple[Recorder, str]) -> None:
    recorder, url = smtp_server
    recorder.rcpt_reply = "450 4.2.1 Mailbox busy"
    with pytest.raises(TransientSendError):
        send_message(_message(), url, timeout=5)


def test_554_on_data_is_permanent_but_not_a_bounce(smtp_server: tuple[Recorder, str]) -> None:
    recorder, url = smtp_server
    recorder.data_reply = "554 5.6.0 Message content rejected"
    with pytest.raises(PermanentSendError) as caught:
        send_message(_message(), url, timeout=5)
    assert caught.value.code == 554


def test_nothing_listening_is_transient() -> None:
    with pytest.raises(TransientSendError, match=r"cannot reach smtp://127\.0\.0\.1"):
        send_message(_message(), f"smtp://127.0.0.1:{free_port()}", timeout=5)


def test_silent_server_times_out_as_transient() -> None:
    """A relay that accepts the connection but never greets (overloaded, or a black hole)."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        port = silent.getsockname()[1]
        with pytest.raises(TransientSendError, match="timed out"):
            send_message(_message(), f"smtp://127.0.0.1:{port}", timeout=0.5)


def test_login_and_no_credentials_in_logs(caplog: pytest.LogCaptureFixture) -> None:
    logins: list[tuple[bytes, bytes]] = []

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, auth: Any) -> Any:
        assert isinstance(auth, LoginPassword)
        logins.append((auth.login, auth.password))
        # handled=False: let aiosmtpd send the 535 reply itself.
        return AuthResult(success=auth.password == b"p@ss word", handled=False)

    recorder = Recorder()
    controller = Controller(
        recorder,
        hostname="127.0.0.1",
        port=free_port(),
        authenticator=authenticate,
        auth_require_tls=False,
    )
    controller.start()
    try:
        caplog.set_level(logging.DEBUG)
        url = f"smtp://mailer:p%40ss%20word@127.0.0.1:{controller.port}"
        send_message(_message(), url, timeout=5)
        assert logins == [(b"mailer", b"p@ss word")]
        assert len(recorder.received) == 1
        bad = f"smtp://mailer:wrong@127.0.0.1:{controller.port}"
        with pytest.raises(PermanentSendError) as caught:
            send_message(_message(), bad, timeout=5)
        assert caught.value.code == 535
    finally:
        controller.stop()
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("strideguard"))
    assert "p@ss word" not in logged
    assert "wrong" not in logged
    assert "You ran 52.0 km" not in logged
    assert "<digest-7-2025-10-13@sg.example.org>" in logged


def test_smtp_url_forms() -> None:
    assert parse_smtp_url("smtp://relay.example.org").port == 25
    assert parse_smtp_url("smtps://u:p@relay.example.org").port == 465
    target = parse_smtp_url("smtp+starttls://u%40x:p@relay.example.org:2525")
    assert (target.port, target.username, target.password) == (2525, "u@x", "p")
    assert "p@" not in target.safe_name
    with pytest.raises(PermanentSendError, match="SMTP_URL"):
        parse_smtp_url("http://relay.example.org")


# ------------------------------------------------------------------ TLS


@pytest.fixture
def tls_files(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "strideguard test relay")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "relay.pem", tmp_path / "relay.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def _tls_server(tls_files: tuple[Path, Path], implicit: bool) -> tuple[Controller, Recorder]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*tls_files)
    recorder = Recorder()
    port = free_port()
    if implicit:
        controller = Controller(recorder, hostname="127.0.0.1", port=port, ssl_context=context)
    else:
        controller = Controller(
            recorder, hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True
        )
    controller.start()
    return controller, recorder


@pytest.mark.parametrize(("scheme", "implicit"), [("smtps", True), ("smtp+starttls", False)])
def test_tls_delivery_trusting_the_relay(
    tls_files: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, scheme: str, implicit: bool
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_files[0]))  # what the default context trusts
    controller, recorder = _tls_server(tls_files, implicit)
    try:
        send_message(_message(), f"{scheme}://127.0.0.1:{controller.port}", timeout=5)
    finally:
        controller.stop()
    assert len(recorder.received) == 1


@pytest.mark.parametrize(("scheme", "implicit"), [("smtps", True), ("smtp+starttls", False)])
def test_untrusted_certificate_is_permanent(
    tls_files: tuple[Path, Path], scheme: str, implicit: bool
) -> None:
    controller, recorder = _tls_server(tls_files, implicit)
    try:
        with pytest.raises(PermanentSendError, match="TLS with"):
            send_message(_message(), f"{scheme}://127.0.0.1:{controller.port}", timeout=5)
    finally:
        controller.stop()
    assert recorder.received == []


def test_digests_in_a_row_share_one_connection(smtp_server: tuple[Recorder, str]) -> None:
    recorder, url = smtp_server
    for _ in range(3):
        send_message(_message(), url, timeout=5)
    assert len(recorder.received) == 3
    assert len(set(recorder.peers)) == 1


def test_a_connection_the_server_dropped_is_replaced_before_sending() -> None:
    """The relay restarted between two digests: the kept connection is dead, the mail is not."""
    recorder = Recorder()
    port = free_port()
    url = f"smtp://127.0.0.1:{port}"
    first = Controller(recorder, hostname="127.0.0.1", port=port)
    first.start()
    send_message(_message(), url, timeout=5)
    first.stop()
    second = Controller(recorder, hostname="127.0.0.1", port=port)
    second.start()
    try:
        send_message(_message(), url, timeout=5)
    finally:
        second.stop()
    assert len(recorder.received) == 2
    assert len(set(recorder.peers)) == 2


def test_a_connection_is_not_reused_after_an_error_or_past_its_message_limit(
    smtp_server: tuple[Recorder, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from strideguard.integrations.email import smtp

    recorder, url = smtp_server
    monkeypatch.setattr(smtp, "MESSAGES_PER_CONNECTION", 2)
    for _ in range(3):
        send_message(_message(), url, timeout=5)
    recorder.data_reply = "451 4.3.0 Try again later"
    with pytest.raises(TransientSendError):
        send_message(_message(), url, timeout=5)
    recorder.data_reply = None
    send_message(_message(), url, timeout=5)
    peers = recorder.peers
    assert len(peers) == 4
    # Two on the first connection, one on the second (which then failed), one on a third.
    assert peers[0] == peers[1] != peers[2] != peers[3]


def test_envelope_recipient_is_the_stored_address_and_a_different_to_is_refused(
    smtp_server: tuple[Recorder, str],
) -> None:
    recorder, url = smtp_server
    with pytest.raises(PermanentSendError, match=r"not only 'bo@example\.org'"):
        send_message(_message(), url, timeout=5, recipient="bo@example.org")
    assert recorder.received == []
    send_message(_message(), url, timeout=5, recipient="ana@example.org")
    assert [rcpt for _, rcpt, _ in recorder.received] == [["ana@example.org"]]


def test_a_to_header_that_decodes_into_two_addresses_is_never_sent(
    smtp_server: tuple[Recorder, str],
) -> None:
    recorder, url = smtp_server
    message = _message()
    attack = "=?utf-8?q?attacker=40evil=2Ecom=2C?=x@example.com"
    message.replace_header("To", attack)
    for stored in (attack, None):  # the outbox passes the stored address; without it too
        with pytest.raises(PermanentSendError, match=r"attacker@evil\.com, x@example\.com"):
            send_message(message, url, timeout=5, recipient=stored)
    assert recorder.received == []
