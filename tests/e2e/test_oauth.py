"""Many workspaces: Bolt's OAuth flow against the fake Slack, then each workspace's
events answered with its own token; token rotation; per-workspace admins; uninstall."""

from __future__ import annotations

import html
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from conftest import Bot, LogSink, Reply, event_callback, http, slash_command
from fake_slack import FakeSlack, Workspace

from bot.runtime import Runtime, open_runtime
from bot.server import BackgroundServer, build_asgi_app
from bot.settings import DEFAULT_SLACK_SCOPES, load_settings
from knowledge.service import KnowledgeBase

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
QUESTION = "What did Vincent Pang say about the talks?"
STATE_COOKIE = "slack-app-oauth-state"


class Installer:
    """The browser of someone installing the app: /slack/install, then Slack's redirect."""

    def __init__(self, bot: Bot | str, fake: FakeSlack | None = None) -> None:
        self.url = bot if isinstance(bot, str) else bot.url
        fake = fake or (bot.fake if isinstance(bot, Bot) else None)
        assert fake is not None
        self.fake = fake

    def start(self) -> tuple[str, str, Reply]:
        """The install page: (state in the "Add to Slack" link, state cookie, reply)."""
        page = http("GET", self.url + "/slack/install")
        assert page.status == 200, page
        link = re.search(r'<a href="([^"]+)"', page.body.decode())
        assert link is not None, page.body
        target = urlsplit(html.unescape(link.group(1)))
        assert (target.netloc, target.path) == ("slack.com", "/oauth/v2/authorize")
        query = parse_qs(target.query)
        assert query["client_id"] == [self.fake.client_id]
        assert query["scope"] == [",".join(DEFAULT_SLACK_SCOPES)]
        cookie = page.headers.get("set-cookie") or page.headers.get("Set-Cookie") or ""
        assert cookie.startswith(f"{STATE_COOKIE}="), cookie
        return query["state"][0], cookie.split(";", 1)[0], page

    def install(self, workspace: Workspace) -> Reply:
        state, cookie, _page = self.start()
        return self.redirect(workspace.code, state, cookie)

    def redirect(self, code: str, state: str, cookie: str | None) -> Reply:
        url = f"{self.url}/slack/oauth_redirect?" + urlencode({"code": code, "state": state})
        return http("GET", url, headers={"Cookie": cookie} if cookie else {})


def mention_for(
    workspace: Workspace, text: str = QUESTION, user: str = "U0ASKER01"
) -> dict[str, Any]:
    ts = f"{int(time.time())}.{time.monotonic_ns() % 1_000_000:06d}"
    envelope = event_callback(
        {
            "type": "app_mention",
            "user": user,
            "text": f"<@{workspace.bot_user_id}> {text}",
            "ts": ts,
            "channel": "C0SHARED1",
            "event_ts": ts,
            "team": workspace.team_id,
        }
    )
    envelope["team_id"] = workspace.team_id
    envelope["authorizations"][0].update(team_id=workspace.team_id, user_id=workspace.bot_user_id)
    return envelope


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


OAuthBotFactory = Callable[..., Bot]


@pytest.fixture
def make_oauth_bot(
    fake: FakeSlack, kb: KnowledgeBase, logs: LogSink, tmp_path: Path
) -> Iterator[OAuthBotFactory]:
    running: list[tuple[BackgroundServer, Runtime]] = []

    def factory(**overrides: Any) -> Bot:
        values: dict[str, Any] = {
            "slack_client_id": fake.client_id,
            "slack_client_secret": fake.client_secret,
            "slack_signing_secret": SIGNING_SECRET,
            "slack_api_url": fake.api_url,
            "data_dir": tmp_path / "var",
            "redis_url": None,
            "kb_poll_seconds": 0,
            **overrides,
        }
        settings = load_settings(**values)
        runtime = open_runtime(settings, kb, verify_token=True)
        server = BackgroundServer(build_asgi_app(runtime.app, runtime.readiness())).start()
        running.append((server, runtime))
        return Bot(
            url=server.url,
            fake=fake,
            logs=logs,
            audit_path=settings.resolved_audit_path,
            kb=kb,
            secret=SIGNING_SECRET,
        )

    yield factory
    for server, runtime in running:
        server.stop()
        runtime.close()


def posts_by_token(fake: FakeSlack) -> dict[str, list[str]]:
    by: dict[str, list[str]] = {}
    for call in fake.calls("chat.postMessage"):
        token = call.headers.get("authorization", "").removeprefix("Bearer ")
        by.setdefault(token, []).append(str(call.body.get("channel")))
    return by


def test_two_workspaces_install_and_each_is_answered_with_its_own_token(
    make_oauth_bot: OAuthBotFactory, fake: FakeSlack
) -> None:
    bot = make_oauth_bot()
    acme, globex = fake.add_workspace("T0ACME001"), fake.add_workspace("T0GLOBEX1")
    installer = Installer(bot)
    for workspace in (acme, globex):
        done = installer.install(workspace)
        assert done.status == 200, done.body
        assert b"Thank you!" in done.body
    exchanges = fake.calls("oauth.v2.access")
    assert [c.body.get("code") for c in exchanges] == [acme.code, globex.code]
    (acme_token,) = fake.tokens_of(acme.team_id)
    (globex_token,) = fake.tokens_of(globex.team_id)

    # One at a time: events are acknowledged before they are answered, and two first
    # answers for one workspace running together may both miss the token cache.
    for n, workspace in enumerate((acme, globex, acme), start=1):
        assert bot.send_envelope(mention_for(workspace)).status == 200
        fake.wait_for("chat.postMessage", n)
    fake.quiet()
    by_token = posts_by_token(fake)
    assert {t: len(c) for t, c in by_token.items()} == {acme_token: 2, globex_token: 1}
    # auth.test once per token and process (cached), plus once per install.
    tested = [c.headers.get("authorization") for c in fake.calls("auth.test")]
    assert tested.count(f"Bearer {acme_token}") <= 2

    served = bot.audit_records("answer.served")
    assert sorted(r["team"] for r in served) == sorted([acme.team_id, acme.team_id, globex.team_id])
    installed = bot.audit_records("app.installed")
    assert [(r["team"], r["user"]) for r in installed] == [
        (acme.team_id, acme.installer),
        (globex.team_id, globex.installer),
    ]
    assert all(not key.endswith("token") for r in installed for key in r)
    text = bot.audit_path.read_text() + bot.logs.text()
    assert acme_token not in text and globex_token not in text


def test_a_workspace_that_never_installed_is_not_answered(
    make_oauth_bot: OAuthBotFactory, fake: FakeSlack
) -> None:
    bot = make_oauth_bot()
    stranger = fake.add_workspace("T0STRANGE")  # its code is never exchanged
    reply = bot.send_envelope(mention_for(stranger))
    assert reply.status == 200
    fake.quiet()
    assert fake.calls("chat.postMessage") == []
    assert bot.audit_records("answer.served") == []


def test_a_forged_or_replayed_install_is_refused(
    make_oauth_bot: OAuthBotFactory, fake: FakeSlack
) -> None:
    bot = make_oauth_bot()
    acme = fake.add_workspace("T0ACME001")
    installer = Installer(bot)
    state, cookie, _ = installer.start()
    # No state cookie: not the browser that started the install.
    assert installer.redirect(acme.code, state, None).status == 400
    # A state the bot never issued.
    assert installer.redirect(acme.code, "not-a-state", f"{STATE_COOKIE}=not-a-state").status in (
        400,
        401,
    )
    assert fake.calls("oauth.v2.access") == []
    assert installer.redirect(acme.code, state, cookie).status == 200
    # The same state again (a replayed redirect) is spent.
    again = fake.add_workspace("T0ACME001")
    assert installer.redirect(again.code, state, cookie).status == 401
    assert len(fake.calls("oauth.v2.access")) == 1


def test_rotating_tokens_are_refreshed_before_they_expire(
    make_oauth_bot: OAuthBotFactory, fake: FakeSlack
) -> None:
    bot = make_oauth_bot()
    # Expiring within Bolt's two-hour window: the first request refreshes it.
    initech = fake.add_workspace("T0INITECH", rotating=True, expires_in=3600)
    assert Installer(bot).install(initech).status == 200
    (first,) = fake.tokens_of(initech.team_id)

    assert bot.send_envelope(mention_for(initech)).status == 200
    (post,) = fake.wait_for("chat.postMessage")
    refreshes = [c for c in fake.calls("oauth.v2.access") if c.body.get("grant_type")]
    assert len(refreshes) == 1 and refreshes[0].body["grant_type"] == "refresh_token"
    second = fake.tokens_of(initech.team_id)[-1]
    assert second != first
    assert post.headers["authorization"] == f"Bearer {second}"
    assert bot.audit_records("answer.served")[0]["team"] == initech.team_id


def test_kb_admins_are_per_workspace(make_oauth_bot: OAuthBotFactory, fake: FakeSlack) -> None:
    acme, globex = fake.add_workspace("T0ACME001"), fake.add_workspace("T0GLOBEX1")
    bot = make_oauth_bot(admins=f"{acme.team_id}:U0ADMIN01")
    installer = Installer(bot)
    for workspace in (acme, globex):
        assert installer.install(workspace).status == 200

    def kb_reload(team: str) -> str:
        form = slash_command(
            "reload", response_url=fake.response_url(team), command="/kb", user="U0ADMIN01"
        )
        form["team_id"] = team
        reply = bot.post(urlencode(form).encode(), "application/x-www-form-urlencoded")
        assert reply.status == 200
        return reply.body.decode()

    # The same user id in another workspace is somebody else.
    assert "only knowledge-base admins" in kb_reload(globex.team_id)
    assert "only knowledge-base admins" not in kb_reload(acme.team_id)
    fake.wait_for("response_url", 1)
    denied = bot.audit_records("admin.denied")
    assert [(r["team"], r["user"]) for r in denied] == [(globex.team_id, "U0ADMIN01")]


def test_a_bare_admin_id_is_refused_with_oauth(tmp_path: Path) -> None:
    from bot.settings import SettingsError

    with pytest.raises(SettingsError, match="WORKSPACE_ID:USER_ID"):
        load_settings(
            slack_client_id="1.2",
            slack_client_secret="s",
            admins="U0ADMIN01",
            data_dir=tmp_path,
        )


def test_uninstalling_forgets_the_workspace(
    make_oauth_bot: OAuthBotFactory, fake: FakeSlack
) -> None:
    bot = make_oauth_bot()
    acme = fake.add_workspace("T0ACME001")
    assert Installer(bot).install(acme).status == 200
    assert bot.send_envelope(mention_for(acme)).status == 200
    fake.wait_for("chat.postMessage")
    uninstalled = event_callback({"type": "app_uninstalled"})
    uninstalled["team_id"] = acme.team_id
    uninstalled["authorizations"][0].update(team_id=acme.team_id)
    assert bot.send_envelope(uninstalled).status == 200
    time.sleep(0.3)
    assert bot.send_envelope(mention_for(acme)).status == 200
    fake.quiet()
    assert len(fake.calls("chat.postMessage")) == 1  # the one before


def test_installations_survive_a_restart_and_are_shared(
    make_oauth_bot: OAuthBotFactory, fake: FakeSlack
) -> None:
    first = make_oauth_bot()
    acme = fake.add_workspace("T0ACME001")
    assert Installer(first).install(acme).status == 200
    # Another process on the same data directory (a worker, or after a restart).
    second = make_oauth_bot()
    assert second.send_envelope(mention_for(acme)).status == 200
    (post,) = fake.wait_for("chat.postMessage")
    assert post.headers["authorization"] == f"Bearer {fake.tokens_of(acme.team_id)[0]}"


@pytest.mark.needs_postgres
def test_installations_in_postgres_are_shared_by_replicas(
    make_oauth_bot: OAuthBotFactory, fake: FakeSlack, pg_schema_url: str, tmp_path: Path
) -> None:
    # Two replicas with data directories of their own: only the database is shared.
    first = make_oauth_bot(database_url=pg_schema_url, data_dir=tmp_path / "a")
    second = make_oauth_bot(database_url=pg_schema_url, data_dir=tmp_path / "b")
    acme, globex = fake.add_workspace("T0ACME001"), fake.add_workspace("T0GLOBEX1")
    assert Installer(first).install(acme).status == 200
    assert Installer(second).install(globex).status == 200
    assert not (tmp_path / "a" / "installations.sqlite3").exists()
    for bot in (second, first):
        for workspace in (acme, globex):
            assert bot.send_envelope(mention_for(workspace)).status == 200
    fake.wait_for("chat.postMessage", 4)
    by_token = posts_by_token(fake)
    assert {fake.team_of(t): len(c) for t, c in by_token.items()} == {
        acme.team_id: 2,
        globex.team_id: 2,
    }
