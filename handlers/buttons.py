"""What the button listeners share: acking a click at once and doing its work in the
delivery pool, the request a click makes, decoding its value, telling the one who
clicked privately, and posting publicly."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import structlog
from slack_bolt import Ack, BoltContext
from slack_sdk import WebClient

from handlers.blocks.kit import Message
from handlers.blocks.notices import notice_message
from handlers.deps import Deps
from handlers.replies import (
    Delivered,
    in_background,
    post_message,
    private_payload,
    report_crash,
    send_response,
    tell_privately,
)
from handlers.requests import AskRequest, request_id, request_in, response_url_of

log = structlog.get_logger("licensebot.slack")

# chat.postMessage cannot reach a conversation the bot is not in; response_url can.
_NOT_A_MEMBER = frozenset({"not_in_channel", "channel_not_found"})

Ref = TypeVar("Ref")


@dataclass(frozen=True)
class Click:
    """One click on a button: the request it makes, and how to answer the one who clicked."""

    req: AskRequest
    response_url: str | None
    client: WebClient
    body: dict[str, Any]


def click(
    body: dict[str, Any], context: BoltContext, surface: str, question: str = ""
) -> tuple[AskRequest, str | None]:
    """The request a button click makes, and the ``response_url`` to reply through."""
    container = body.get("container") or {}
    channel = (body.get("channel") or {}).get("id") or container.get("channel_id") or ""
    req = request_in(
        context,
        surface=surface,
        question=question,
        user=str((body.get("user") or {}).get("id") or ""),
        channel=str(channel),
        thread_ts=container.get("thread_ts"),
    )
    return req, response_url_of(body)


def _no_question(_ref: object) -> str:
    return ""


@dataclass(frozen=True)
class Button(Generic[Ref]):
    """One kind of button: how its value decodes and what a click on it asks."""

    name: str  # as logged
    surface: str
    decode: Callable[[str], Ref]
    stale: str  # what the user is told when the value does not decode
    question: Callable[[Ref], str] = _no_question

    def read(
        self,
        body: dict[str, Any],
        action: dict[str, Any],
        context: BoltContext,
        client: WebClient,
    ) -> tuple[Ref, AskRequest, str | None] | None:
        """The decoded value with the click's request and ``response_url``.

        A value that does not decode (a button from an older version, or forged) is
        logged and the user told ``stale``; then None.
        """
        try:
            ref = self.decode(str(action.get("value")))
        except ValueError:
            req, response_url = click(body, context, self.surface)
            log.warning("action.bad_value", request_id=req.request_id, action=self.name)
            tell(client, req, response_url, notice_message(self.stale))
            return None
        req, response_url = click(body, context, self.surface, self.question(ref))
        return ref, req, response_url

    def listener(self, deps: Deps, on_click: Callable[[Ref, Click], None]) -> Callable[..., None]:
        """The Bolt listener for this button: ack the click at once, then in the delivery
        pool (off the threads that ack) decode the value, telling the user when it does
        not, and ``on_click(value, click)``."""

        def listen(
            ack: Ack,
            body: dict[str, Any],
            action: dict[str, Any],
            context: BoltContext,
            client: WebClient,
        ) -> None:
            ack()
            ref = request_id(context)

            def run() -> None:
                try:
                    clicked = self.read(body, action, context, client)
                    if clicked is not None:
                        value, req, response_url = clicked
                        on_click(value, Click(req, response_url, client, body))
                except Exception as exc:
                    # Off Bolt's threads its error handler is not called: do what it does.
                    report_crash(client, body, ref, exc)

            in_background(deps, run, request_id=ref, surface=self.surface)

        listen.__name__ = listen.__qualname__ = getattr(on_click, "__name__", self.name)
        return listen


def tell(
    client: WebClient,
    req: AskRequest,
    response_url: str | None,
    message: Message,
    *,
    replace_original: bool = False,
) -> None:
    """A private message to the one who clicked; a failure is logged."""
    sent = tell_privately(
        client,
        message,
        channel=req.channel,
        user=req.user,
        response_url=response_url,
        thread_ts=req.thread_ts,
        replace_original=replace_original,
    )
    if not sent.ok:
        log.error(
            "delivery.failed",
            request_id=req.request_id,
            surface=req.surface,
            channel=req.channel,
            error=sent.error,
            via="notice",
        )


def post_publicly(
    client: WebClient, message: Message, req: AskRequest, response_url: str | None
) -> tuple[Delivered, str]:
    """chat.postMessage, or ``response_url`` in_channel where the bot is not a member."""
    sent = post_message(client, message, channel=req.channel, thread_ts=req.thread_ts)
    if sent.ok or sent.error not in _NOT_A_MEMBER or response_url is None:
        return sent, "chat.postMessage"
    public = {"response_type": "in_channel", "replace_original": False, **message.as_payload()}
    retry = send_response(client, response_url, public)
    if retry.ok:
        return retry, "response_url"
    return Delivered(ok=False, error=f"{sent.error}; {retry.error}"), "response_url"


def confirm_posted(client: WebClient, response_url: str | None) -> None:
    """Replace the private message whose button posted to the channel with a short note."""
    if response_url is not None:
        send_response(
            client,
            response_url,
            private_payload(notice_message("Posted to the channel."), replace_original=True),
        )
