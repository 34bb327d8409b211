"""Alert delivery against real receivers on 127.0.0.1: an HTTP hook that fails on cue, an SMTP
server (aiosmtpd) with logins and TLS, a JSON-lines file; and the channel settings' errors.

The waits between webhook attempts go to a recording ``sleep`` (the seam), so backoff costs no
time; the only real waiting is a sub-second server delay in the timeout case. Every server is
closed and its threads joined by its fixture; ``no_leaks`` checks no thread outlives a test.
"""

from __future__ import annotations

import doctest
import json
import threading
from datetime import date
from email.message import EmailMessage

import pytest
from pydantic import TypeAdapter, ValidationError
from receivers import Answer, Hook, MailServer, free_port, self_signed

from healthscore.alerts import deliver, digest
from healthscore.alerts.deliver import (
    Delivery,
    message_id,
    send,
    send_mail,
    verify_signature,
)
from healthscore.alerts.digest import render_digest
from healthscore.alerts.message import Message
from healthscore.config import channels
from healthscore.config.channels import Channel, parse_channel
from healthscore.errors import DeliveryError, HealthScoreError

SECRET = "whsec-test-key"
MESSAGE = Message(
    key="alert:7:slack-cs", alert_id=7, rule="red", severity="critical", account_id="A1",
    account_name="Acme & <Sons>", csm="Dana", opened_on=date(2026, 6, 3),
    title="A1 Acme entered red (health 38)", text="Logins fell by half.\nTwo tickets open.",
    url="https://hs.example.com/accounts/A1", detail={"score": 38.0, "band": "red"})


@pytest.fixture(autouse=True)
def no_leaks():
    before = set(threading.enumerate())
    yield
    left = [t.name for t in threading.enumerate() if t not in before and t.is_alive()]
    assert not left, f"threads left running: {left}"


@pytest.fixture
def hook():
    """Make hooks with a script of answers; all closed at the end of the test."""
    made: list[Hook] = []

    def make(*script: Answer, then: Answer = Answer()) -> Hook:
        made.append(Hook(script, then))
        return made[-1]

    yield make
    for h in made:
        h.close()


@pytest.fixture
def smtp():
    made: list[MailServer] = []

    def make(**options) -> MailServer:
        made.append(MailServer(**options))
        return made[-1]

    yield make
    for server in made:
        server.close()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    made = self_signed(tmp_path_factory.mktemp("tls"))
    if made is None:
        pytest.skip("no `openssl` command to make a self-signed certificate, and the "
                    "`cryptography` package is not installed")
    return made


class Sleeps(list):
    """The ``sleep`` seam: records each wait instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def webhook(url: str, **settings) -> Channel:
    return parse_channel({"kind": "webhook", "url": url, **settings})


# -- webhooks ----------------------------------------------------------------------------------


def test_503s_are_retried_with_doubling_waits_and_the_same_key_signed_each_time(hook, tmp_path):
    h = hook(Answer(503), Answer(503), Answer(503))
    sleeps = Sleeps()
    result = send(webhook(h.url, secret_env="HOOK_SECRET"), MESSAGE, root=tmp_path,
                  name="slack-cs", env={"HOOK_SECRET": SECRET}, sleep=sleeps)

    assert isinstance(result, Delivery)
    assert (result.attempts, result.code, result.status) == (4, 200, "HTTP 200")
    assert result.channel == "webhook 'slack-cs'"
    assert sleeps == [1.0, 2.0, 4.0]
    assert len(h.requests) == 4
    for request in h.requests:
        assert request.headers["idempotency-key"] == MESSAGE.key
        assert request.headers["x-healthscore-alert"] == "7"
        assert request.headers["content-type"] == "application/json"
        assert verify_signature(SECRET.encode(), request.headers["x-healthscore-timestamp"],
                                request.body, request.headers["x-healthscore-signature"])
        assert not verify_signature(b"another key", request.headers["x-healthscore-timestamp"],
                                    request.body, request.headers["x-healthscore-signature"])
    body = json.loads(h.requests[-1].body)
    assert body["healthscore"] == json.loads(json.dumps(MESSAGE.as_json()))
    assert "A1 Acme entered red" in body["text"]
    # Slack reads <…> as markup: the account name is escaped, in the blocks as in the text.
    assert "Acme &amp; &lt;Sons&gt;" in json.dumps(body["blocks"])
    assert body["blocks"][-1]["elements"][0]["url"] == MESSAGE.url


def test_a_receiver_that_stays_down_is_reported_retryable_after_the_last_attempt(hook, tmp_path):
    h = hook(then=Answer(503))
    sleeps = Sleeps()
    with pytest.raises(DeliveryError) as caught:
        send(webhook(h.url, retries=2, backoff_s=0.5), MESSAGE, root=tmp_path, name="slack-cs",
             sleep=sleeps)

    assert str(caught.value).startswith(f"webhook 'slack-cs': HTTP 503 after 3 attempts ({h.url})")
    assert caught.value.retryable and caught.value.code == 503 and caught.value.attempts == 3
    assert isinstance(caught.value, HealthScoreError)
    assert sleeps == [0.5, 1.0] and len(h.requests) == 3


@pytest.mark.parametrize("answer, says", [
    (Answer(400, body=b"invalid_payload"), "invalid_payload"),
    (Answer(404, body=b"no_service"), "no such address"),
    (Answer(301, {"Location": "https://elsewhere.test/hook"}, b""), "elsewhere.test"),
])
def test_other_answers_are_final_at_once_and_say_why(hook, tmp_path, answer, says):
    h = hook(answer)
    sleeps = Sleeps()
    with pytest.raises(DeliveryError) as caught:
        send(webhook(h.url), MESSAGE, root=tmp_path, name="slack-cs", sleep=sleeps)

    assert not caught.value.retryable and caught.value.code == answer.status
    assert f"HTTP {answer.status} on attempt 1" in str(caught.value)
    assert says in str(caught.value)
    assert len(h.requests) == 1 and sleeps == []


def test_429_waits_as_long_as_retry_after_says_up_to_max_wait(hook, tmp_path):
    h = hook(Answer(429, {"Retry-After": "7"}), Answer(429, {"Retry-After": "999"}),
             Answer(503, {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}))
    sleeps = Sleeps()
    result = send(webhook(h.url, max_wait_s=30), MESSAGE, root=tmp_path, sleep=sleeps)

    # 7 as asked; 999 capped at 30; a date in the past means now (0).
    assert sleeps == [7.0, 30.0, 0.0] and result.attempts == 4


def test_a_timeout_is_retried_then_reported(hook, tmp_path):
    h = hook(then=Answer(200, delay=0.6))
    sleeps = Sleeps()
    with pytest.raises(DeliveryError) as caught:
        send(webhook(h.url, timeout_s=0.15, retries=1), MESSAGE, root=tmp_path, name="hook",
             sleep=sleeps)

    assert str(caught.value).startswith("webhook 'hook': timed out after 0.15 s after 2 attempts")
    assert caught.value.retryable and caught.value.code is None
    assert len(h.requests) == 2 and sleeps == [1.0]


def test_a_refused_connection_is_retryable(tmp_path):
    with pytest.raises(DeliveryError) as caught:
        send(webhook(f"http://127.0.0.1:{free_port()}/hook", retries=0), MESSAGE, root=tmp_path,
             sleep=Sleeps())
    assert "cannot connect" in str(caught.value) and caught.value.retryable


def test_json_format_extra_headers_and_secrets_from_the_environment(hook, tmp_path):
    h = hook()
    env = {"HOOK_URL": h.url, "HOOK_AUTH": "Bearer t0ken"}
    channel = parse_channel({"kind": "webhook", "url_env": "HOOK_URL", "format": "json",
                             "headers": {"X-Team": "cs"},
                             "headers_env": {"Authorization": "HOOK_AUTH"}})
    send(channel, MESSAGE, root=tmp_path, env=env, sleep=Sleeps())

    request = h.requests[0]
    assert json.loads(request.body) == json.loads(json.dumps(MESSAGE.as_json()))
    assert request.headers["authorization"] == "Bearer t0ken"
    assert request.headers["x-team"] == "cs"
    assert "x-healthscore-signature" not in request.headers  # no secret_env: unsigned


def test_a_url_from_the_environment_is_not_shown_in_errors(tmp_path):
    secret_url = f"http://127.0.0.1:{free_port()}/services/T0/B0/s3cr3t"
    channel = parse_channel({"kind": "webhook", "url_env": "HOOK_URL", "retries": 0})
    with pytest.raises(DeliveryError) as caught:
        send(channel, MESSAGE, root=tmp_path, env={"HOOK_URL": secret_url}, sleep=Sleeps())
    assert "$HOOK_URL" in str(caught.value) and "s3cr3t" not in str(caught.value)
    with pytest.raises(DeliveryError) as caught:
        send(channel, MESSAGE, root=tmp_path, env={"HOOK_URL": "hooks.test/s3cr3t"})
    assert "$HOOK_URL is not an http(s) URL" in str(caught.value)
    assert "s3cr3t" not in str(caught.value) and not caught.value.retryable


@pytest.mark.parametrize("settings, env, missing", [
    ({"secret_env": "HOOK_SECRET"}, {}, "HOOK_SECRET"),
    ({"headers_env": {"Authorization": "HOOK_AUTH"}}, {}, "HOOK_AUTH"),
    ({"secret_env": "HOOK_SECRET"}, {"HOOK_SECRET": ""}, "HOOK_SECRET"),
])
def test_a_missing_environment_variable_says_what_to_set(hook, tmp_path, settings, env,
                                                         missing):
    h = hook()
    with pytest.raises(DeliveryError) as caught:
        send(webhook(h.url, **settings), MESSAGE, root=tmp_path, name="slack-cs", env=env)
    assert not caught.value.retryable and h.requests == []
    assert f"the environment variable {missing}" in str(caught.value)
    assert f"set {missing}" in caught.value.hint


def test_verify_signature_refuses_tampering_replays_and_junk():
    body, stamp = b'{"key": "k"}', "1782907200"
    good = deliver.signature(b"k3y", stamp, body)
    assert verify_signature(b"k3y", stamp, body, good, now=1782907200 + 299)
    assert not verify_signature(b"k3y", stamp, body, good, now=1782907200 + 301)  # a replay
    assert not verify_signature(b"k3y", stamp, body + b"x", good, now=1782907200)
    assert not verify_signature(b"k3y", "1782907201", body, good, now=1782907200)
    assert not verify_signature(b"k3y", "17829O7200", body, good, now=1782907200)
    assert not verify_signature(b"k3y", stamp, body, good.removeprefix("sha256="),
                                now=1782907200)


# -- e-mail ------------------------------------------------------------------------------------


def mail_channel(server: MailServer, **settings) -> Channel:
    return parse_channel({"kind": "email", "host": "127.0.0.1", "port": server.port,
                          "security": "none", "sender": "Health alerts <alerts@acme.test>",
                          "to": ["cs-team@acme.test"], "timeout_s": 5, **settings})


def parts(mail: EmailMessage) -> dict[str, str]:
    return {p.get_content_type(): p.get_content() for p in mail.walk() if not p.is_multipart()}


def test_an_alert_mail_arrives_with_its_key_subject_and_both_parts(smtp, tmp_path):
    server = smtp()
    channel = mail_channel(server)
    result = send(channel, MESSAGE, root=tmp_path, name="mail")
    send(channel, MESSAGE, root=tmp_path, recipient="dana@acme.test")

    assert result.code == 250 and "queued as TEST1" in result.status
    (sender, to, mail), (_, to_csm, again) = server.mails
    assert sender == "alerts@acme.test" and to == ["cs-team@acme.test"]
    assert to_csm == ["dana@acme.test"]
    assert mail["Subject"] == "[critical] A1 Acme entered red (health 38)"
    assert mail["X-Healthscore-Key"] == MESSAGE.key and mail["X-Healthscore-Alert"] == "7"
    # The same key gives the same Message-ID: a re-send is recognisably the same mail.
    assert mail["Message-ID"] == again["Message-ID"] == message_id(MESSAGE.key,
                                                                   channel.sender)
    body = parts(mail)
    assert "Logins fell by half." in body["text/plain"]
    assert "Acme &amp; &lt;Sons&gt;" in body["text/html"]
    assert f'href="{MESSAGE.url}"' in body["text/html"]


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_login_uses_the_password_from_the_environment(smtp, tmp_path):
    server = smtp(logins={"alerts": "pa55"})
    channel = mail_channel(server, username="alerts", password_env="SMTP_PASSWORD")
    send(channel, MESSAGE, root=tmp_path, env={"SMTP_PASSWORD": "pa55"})
    assert len(server.mails) == 1 and server.logins.tried == ["alerts"]

    with pytest.raises(DeliveryError) as caught:
        send(channel, MESSAGE, root=tmp_path, name="mail", env={"SMTP_PASSWORD": "wrong"})
    assert caught.value.code == 535 and not caught.value.retryable
    assert "$SMTP_PASSWORD" in caught.value.hint and len(server.mails) == 1

    with pytest.raises(DeliveryError, match="SMTP_PASSWORD"):
        send(channel, MESSAGE, root=tmp_path, env={})


def test_starttls_with_a_private_ca_and_login(smtp, tmp_path, certificate):
    server = smtp(starttls=certificate.server_context(), logins={"alerts": "pa55"})
    channel = mail_channel(server, security="starttls", ca_file=str(certificate.cert),
                           username="alerts", password_env="SMTP_PASSWORD")
    send(channel, MESSAGE, root=tmp_path, env={"SMTP_PASSWORD": "pa55"})
    assert len(server.mails) == 1

    untrusted = mail_channel(server, security="starttls")
    with pytest.raises(DeliveryError) as caught:
        send(untrusted, MESSAGE, root=tmp_path, name="mail")
    assert "certificate is not trusted" in str(caught.value) and "ca_file" in caught.value.hint
    assert not caught.value.retryable


def test_implicit_tls(smtp, tmp_path, certificate):
    server = smtp(implicit_tls=certificate.server_context())
    channel = mail_channel(server, security="tls", ca_file=str(certificate.cert))
    assert send(channel, MESSAGE, root=tmp_path).code == 250
    assert len(server.mails) == 1


def test_starttls_is_never_skipped_when_the_server_lacks_it(smtp, tmp_path):
    server = smtp()
    with pytest.raises(DeliveryError) as caught:
        send(mail_channel(server, security="starttls"), MESSAGE, root=tmp_path, name="mail")
    assert "does not offer STARTTLS" in str(caught.value) and not caught.value.retryable
    assert server.mails == []


def test_an_unreachable_mail_server_is_retryable(tmp_path):
    channel = parse_channel({"kind": "email", "host": "127.0.0.1", "port": free_port(),
                             "security": "none", "sender": "alerts@acme.test",
                             "to": ["cs@acme.test"]})
    with pytest.raises(DeliveryError) as caught:
        send(channel, MESSAGE, root=tmp_path, name="mail")
    assert caught.value.retryable and str(caught.value).startswith("email 'mail': cannot connect")


def test_no_recipient_or_a_bad_one_is_a_settings_error(smtp, tmp_path):
    server = smtp()
    with pytest.raises(DeliveryError, match="no recipient") as caught:
        send(mail_channel(server, to=[]), MESSAGE, root=tmp_path)
    assert not caught.value.retryable
    with pytest.raises(DeliveryError, match="line break") as caught:
        send(mail_channel(server), MESSAGE, root=tmp_path, recipient="dana@x.test\nBcc: a@b")
    assert not caught.value.retryable and server.mails == []


def test_the_digest_arrives_grouped_by_severity_with_its_html(smtp, tmp_path):
    server = smtp()
    warning = Message(key="alert:8", alert_id=8, rule="drop", severity="warning",
                      account_id="B2", account_name=None, csm="Dana",
                      opened_on=date(2026, 6, 5), title="B2 dropped 18 points",
                      text="Usage fell.")
    subject, text, html = render_digest("Dana", [warning, MESSAGE], start=date(2026, 6, 1),
                                        end=date(2026, 6, 7), workspace_name="Acme CS")
    send_mail(mail_channel(server), "dana@acme.test", subject, text, html,
              key="digest:Dana:2026-06-07", root=tmp_path)

    (_, to, mail), = server.mails
    assert to == ["dana@acme.test"]
    # .strip(): Python folds a subject that fits on its own line to the next one, and its
    # parser keeps the folding space; mail clients drop it.
    assert mail["Subject"].strip() == ("Acme CS: 2 alerts (1 critical, 1 warning) for Dana, "
                               "2026-06-01 to 2026-06-07")
    assert mail["X-Healthscore-Key"] == "digest:Dana:2026-06-07"
    body = parts(mail)
    assert body["text/plain"].index("CRITICAL (1)") < body["text/plain"].index("WARNING (1)")
    page = body["text/html"]
    assert page.index("Critical (1)") < page.index("A1 Acme entered red") < page.index(
        "Warning (1)") < page.index("B2 dropped 18 points")
    assert "Acme &amp; &lt;Sons&gt;" in page and "2026-06-03" in page
    assert f'href="{MESSAGE.url}"' in page


def test_a_link_that_is_not_http_is_left_out_of_mails():
    odd = Message(**{**MESSAGE.__dict__, "url": "javascript:alert(1)"})
    _, text, html = render_digest("Dana", [odd], start=date(2026, 6, 1),
                                  end=date(2026, 6, 7), workspace_name="W")
    assert "javascript" not in html and "javascript" not in text


# -- files -------------------------------------------------------------------------------------


def test_each_send_appends_one_whole_json_line(tmp_path):
    channel = parse_channel({"kind": "file", "path": "out/alerts/sent.jsonl"})
    send(channel, MESSAGE, root=tmp_path)
    result = send(channel, MESSAGE, root=tmp_path, name="audit")

    assert result.status == "appended to out/alerts/sent.jsonl"
    raw = (tmp_path / "out/alerts/sent.jsonl").read_text(encoding="utf-8")
    assert raw.endswith("\n") and raw.count("\n") == 2
    lines = [json.loads(line) for line in raw.splitlines()]
    for line in lines:
        assert line.pop("delivered_at").endswith("Z")
        assert line == json.loads(json.dumps(MESSAGE.as_json()))


def test_a_line_cut_short_before_does_not_swallow_the_next(tmp_path):
    (tmp_path / "sent.jsonl").write_text('{"key": "cut sho', encoding="utf-8")
    send(parse_channel({"kind": "file", "path": "sent.jsonl"}), MESSAGE, root=tmp_path)
    first, second = (tmp_path / "sent.jsonl").read_text(encoding="utf-8").splitlines()
    assert first == '{"key": "cut sho' and json.loads(second)["key"] == MESSAGE.key


def test_a_file_path_that_is_a_folder_is_not_retryable(tmp_path):
    (tmp_path / "sent.jsonl").mkdir()
    with pytest.raises(DeliveryError) as caught:
        send(parse_channel({"kind": "file", "path": "sent.jsonl"}), MESSAGE, root=tmp_path,
             name="audit")
    assert str(caught.value).startswith("file 'audit': cannot append to")
    assert not caught.value.retryable


# -- settings ----------------------------------------------------------------------------------

CHANNELS = TypeAdapter(dict[str, Channel])


def errors(data: dict) -> list[tuple[tuple, str]]:
    with pytest.raises(ValidationError) as caught:
        CHANNELS.validate_python(data)
    return [(e["loc"], e["msg"]) for e in caught.value.errors()]


def test_an_unknown_key_is_named():
    (loc, msg), = errors({"slack": {"kind": "webhook", "url": "https://h.test/x", "retry": 3}})
    assert loc[0] == "slack" and loc[-1] == "retry" and "Extra inputs" in msg


def test_a_bad_url_is_named_and_explained():
    (loc, msg), = errors({"slack": {"kind": "webhook", "url": "ftp://h.test/x"}})
    assert loc[-1] == "url" and "http:// or https://" in msg
    (loc, msg), = errors({"slack": {"kind": "webhook", "url": "https://u:pw@h.test/x"}})
    assert loc[-1] == "url" and "headers_env" in msg


def test_a_bad_kind_lists_the_kinds():
    (loc, msg), = errors({"pager": {"kind": "sms", "url": "https://h.test/x"}})
    assert loc == ("pager",) and all(k in msg for k in ("webhook", "email", "file"))


@pytest.mark.parametrize("settings, says", [
    ({"kind": "webhook"}, "give `url`"),
    ({"kind": "webhook", "url": "https://h.test", "url_env": "U"}, "give `url`"),
    ({"kind": "webhook", "url": "https://h.test", "secret_env": "not a name"}, "pattern"),
    ({"kind": "webhook", "url": "https://h.test", "headers": {"Idempotency-Key": "x"}},
     "set by healthscore"),
    ({"kind": "webhook", "url": "https://h.test", "timeout_s": 0}, "greater than 0"),
    ({"kind": "email", "host": "smtp.h.test", "sender": "not an address"}, "e-mail address"),
    ({"kind": "email", "host": "smtp.h.test", "sender": "a@h.test", "username": "a"},
     "together"),
    ({"kind": "email", "host": "smtp.h.test", "sender": "a@h.test", "username": "a",
      "password_env": "P", "security": "none"}, "unencrypted"),
    ({"kind": "file"}, "Field required"),
])
def test_settings_that_cannot_work_are_refused(settings, says):
    assert any(says in msg for _, msg in errors({"c": settings}))


def test_defaults():
    hook = parse_channel({"kind": "webhook", "url": "https://h.test/x"})
    assert (hook.timeout_s, hook.retries, hook.backoff_s, hook.format) == (10, 3, 1.0, "slack")
    mail = parse_channel({"kind": "email", "host": "smtp.h.test", "sender": "a@h.test"})
    assert (mail.port, mail.security, mail.to) == (587, "starttls", [])
    local = parse_channel({"kind": "email", "host": "localhost", "port": 25, "security": "none",
                           "sender": "a@h.test", "username": "a", "password_env": "P"})
    assert local.username == "a"  # login without TLS: only to this machine


@pytest.mark.parametrize("module", [channels, deliver, digest])
def test_docstring_examples_run(module):
    assert doctest.testmod(module).failed == 0
