"""Adding an article: an admin sends the bot a ``.txt``, ``.md`` or ``.html`` file in a DM.

The file is looked up with ``files.info`` (``files:read``) and downloaded from its
``url_private_download`` with the bot token in an ``Authorization`` header, which is
only ever sent to Slack's file host (or the configured Web API host, for a fake
Slack in tests) and never across a redirect. Metadata comes from the message text
(``title=… publisher=… date=YYYY-MM-DD author=… url=…``); what is left out is
derived from the text. ``knowledge.store.admin.add_article`` validates, writes and reloads,
all or nothing; progress is one message, posted and then updated.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import structlog
from slack_bolt import App, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from handlers.blocks.kb import kb_add_refused_message, kb_added_message, kb_denied_message
from handlers.blocks.kit import Message
from handlers.blocks.notices import notice_message
from handlers.deps import Deps
from handlers.kb.admin import (
    KbRequest,
    ProgressMessage,
    audit,
    denied,
    is_admin,
)
from handlers.kb.records import problem_fields, reload_fields
from handlers.replies import Delivered, in_background, post_message
from handlers.requests import context_team, request_id, slack_to_plain
from knowledge.ingest.loader import MAX_ARTICLE_BYTES
from knowledge.models import Problem
from knowledge.store.admin import AddRefused, ArticleFields, add_article, doc_id_for, parse_fields

DOWNLOAD_TIMEOUT_S = 30.0
_SLACK_FILE_DOMAIN = ".slack.com"

log = structlog.get_logger("licensebot.kb")


class DownloadError(Exception):
    """The file could not be fetched from Slack; the message says why, for the admin."""


@dataclass(frozen=True)
class SlackFile:
    file_id: str
    name: str
    size: int | None
    url: str | None


def is_file_share_dm(event: dict[str, Any], context: BoltContext) -> bool:
    """A person's direct message to the bot carrying files (``file_share`` or plain)."""
    if event.get("channel_type") != "im" or event.get("subtype") not in (None, "file_share"):
        return False
    if event.get("bot_id") or "edited" in event:
        return False
    user = event.get("user")
    files = event.get("files")
    return (
        isinstance(user, str)
        and bool(user)
        and user != context.bot_user_id
        and isinstance(files, list)
        and bool(files)
    )


# --------------------------------------------------------------------------- downloading


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # urllib would resend the Authorization header to wherever a redirect points.
    def redirect_request(self, *_args: Any, **_kwargs: Any) -> None:
        return None


def token_may_go_to(url: str, api_base_url: str) -> bool:
    """The bot token goes only to Slack's file host over HTTPS, or to the Web API host."""
    target, api = urlsplit(url), urlsplit(api_base_url)
    if target.scheme == api.scheme and target.netloc == api.netloc and target.netloc:
        return True
    host = (target.hostname or "").casefold()
    return target.scheme == "https" and (
        host == _SLACK_FILE_DOMAIN[1:] or host.endswith(_SLACK_FILE_DOMAIN)
    )


def file_info(client: WebClient, file_id: str) -> SlackFile:
    try:
        response = client.files_info(file=file_id)
    except SlackApiError as exc:
        error = exc.response.get("error") if isinstance(exc.response.data, dict) else None
        raise DownloadError(f"Slack would not describe the file ({error or 'error'})") from exc
    except (SlackClientError, OSError) as exc:
        raise DownloadError(f"Slack could not be reached ({type(exc).__name__})") from exc
    info = response.get("file")
    if not isinstance(info, dict):
        raise DownloadError("Slack returned no file details")
    size = info.get("size")
    url = info.get("url_private_download") or info.get("url_private")
    return SlackFile(
        file_id=file_id,
        name=str(info.get("name") or info.get("title") or file_id),
        size=size if isinstance(size, int) else None,
        url=url if isinstance(url, str) else None,
    )


def download(client: WebClient, file: SlackFile, *, max_bytes: int = MAX_ARTICLE_BYTES) -> bytes:
    """The file's bytes, at most ``max_bytes``; raises ``DownloadError``."""
    if file.url is None:
        raise DownloadError("Slack offers no download for this file")
    if file.size is not None and file.size > max_bytes:
        raise DownloadError(f"the file is {file.size:,} bytes; the limit is {max_bytes:,}")
    if not token_may_go_to(file.url, client.base_url):
        raise DownloadError("the file's download address is not on Slack")
    token = client.token or ""
    request = urllib.request.Request(  # noqa: S310 - scheme and host checked just above
        file.url, headers={"Authorization": f"Bearer {token}"}
    )
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=DOWNLOAD_TIMEOUT_S) as response:
            data: bytes = response.read(max_bytes + 1)
    except urllib.error.HTTPError as exc:
        if 300 <= exc.code < 400:
            raise DownloadError(
                "Slack redirected the download (does the bot have the files:read scope?)"
            ) from exc
        raise DownloadError(f"the download failed with HTTP {exc.code}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise DownloadError(f"the download failed ({type(exc).__name__})") from exc
    if len(data) > max_bytes:
        raise DownloadError(f"the file is larger than the limit of {max_bytes:,} bytes")
    return data


# --------------------------------------------------------------------------- the flow


class _DmProgress:
    """chat.postMessage once, then chat.update on the same message."""

    def __init__(self, client: WebClient, channel: str) -> None:
        self.client = client
        self.channel = channel
        self.ts: str | None = None

    def send(self, message: Message) -> Delivered:
        if self.ts is None:
            sent = post_message(self.client, message, channel=self.channel)
            self.ts = sent.ts
            return sent
        try:
            self.client.chat_update(channel=self.channel, ts=self.ts, **message.as_payload())
        except (SlackApiError, SlackClientError, OSError) as exc:
            return Delivered(ok=False, error=type(exc).__name__)
        return Delivered(ok=True, ts=self.ts)

    def send_final(self, message: Message) -> Delivered:
        sent = self.send(message)
        if not sent.ok and self.ts is not None:
            # The update failed: a fresh message still gets the outcome across.
            sent = post_message(self.client, message, channel=self.channel)
        return sent


def add_one(
    deps: Deps, client: WebClient, req: KbRequest, file_id: str, fields: ArticleFields
) -> None:
    kb = deps.kb
    dm = _DmProgress(client, req.channel)
    name = file_id
    reporter = ProgressMessage("Adding the file…", dm.send, dm.send_final)
    reporter.start()
    problems: tuple[Problem, ...] = ()
    try:
        info = file_info(client, file_id)
        name = info.name
        reporter.title = f"Adding {name}…"
        doc_id_for(name)  # refuse an unsupported type before downloading it
        data = download(client, info)
        result = add_article(kb, name, data, fields, by=req.user, progress=reporter.on_stage)
    except (DownloadError, AddRefused) as exc:
        reason = exc.reason if isinstance(exc, AddRefused) else str(exc)
        problems = exc.problems if isinstance(exc, AddRefused) else ()
        log.warning(
            "kb.add_refused",
            file=name,
            reason=reason,
            problems=[str(p) for p in problems],
            **req.fields(),
        )
        audit(
            deps,
            "kb.add_refused",
            file=name,
            file_id=file_id,
            reason=reason,
            problems=problem_fields(problems),
            serving=kb.kb_version,
            **req.fields(),
        )
        reporter.finish(kb_add_refused_message(name, reason, problems, serving=kb.kb_version))
        return
    passages = len(kb.snapshot.passages_of(result.doc_id))
    log.info("kb.article_added", doc_id=result.doc_id, file=result.file_name, **req.fields())
    audit(
        deps,
        "kb.article_added",
        doc_id=result.doc_id,
        file=result.file_name,
        file_id=file_id,
        content_hash=result.article.content_hash,
        bytes=len(data),
        derived=sorted(result.article.meta.derived),
        **req.fields(),
    )
    audit(deps, "kb.reloaded", **reload_fields(result.reload), **req.fields())
    reporter.finish(kb_added_message(result, passages=passages))


class KbUpload:
    """A file sent to the bot in a DM: an article to add, for admins."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def on_file_share(self, event: dict[str, Any], context: BoltContext, client: WebClient) -> None:
        # Downloads, validation and the reload take a while: off the threads that ack.
        in_background(
            self.deps,
            lambda: self.add_shared_files(event, context, client),
            request_id=request_id(context),
            surface="kb_upload",
        )

    def add_shared_files(
        self, event: dict[str, Any], context: BoltContext, client: WebClient
    ) -> None:
        req = KbRequest(
            request_id=request_id(context),
            surface="kb_upload",
            user=str(event["user"]),
            channel=str(event.get("channel") or ""),
            team=context_team(context),
        )
        if not is_admin(self.deps, req.user):
            denied(self.deps, req, "kb add (file upload)")
            post_message(client, kb_denied_message("add articles"), channel=req.channel)
            return
        file_ids = [f["id"] for f in event["files"] if isinstance(f, dict) and f.get("id")]
        text = slack_to_plain(str(event.get("text") or ""), bot_user_id=context.bot_user_id)
        fields, errors = parse_fields(text)
        if not errors and len(file_ids) > 1 and fields != ArticleFields():
            errors.append("send one file per message when you give its metadata")
        if errors:
            notice = "Nothing was added: " + "; ".join(errors) + "."
            log.info("kb.add_refused", reason="metadata", errors=errors, **req.fields())
            audit(
                self.deps,
                "kb.add_refused",
                reason="metadata",
                errors=errors,
                problems=[],
                serving=self.deps.kb.kb_version,
                **req.fields(),
            )
            post_message(client, notice_message(notice), channel=req.channel)
            return
        for file_id in file_ids:
            add_one(self.deps, client, req, str(file_id), fields)


def register(app: App, deps: Deps) -> None:
    app.event("message", matchers=[is_file_share_dm])(KbUpload(deps).on_file_share)
