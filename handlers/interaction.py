"""What the command and button listeners share: acknowledging a command within Slack's
budget and knowing whether the ack got there, handing slow work to the delivery pool,
reading a button click, telling the clicker privately and posting publicly."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import structlog
from slack_bolt import Ack, BoltContext
from slack_sdk import WebClient

from handlers.blocks import Message, notice_message
from handlers.common import (
    AnswerFlow,
    AskRequest,
    Delivered,
    apologize,
    context_team,
    post_message,
    private_payload,
    received_at,
    report_crash,
    request_id,
    send_response,
    tell_privately,
)
from handlers.deps import ACK_RECEIPT, Deps

log = structlog.get_logger("licensebot.slack")

# chat.postMessage cannot reach a conversation the bot is not in; response_url can.
_NOT_A_MEMBER = frozenset({"not_in_channel", "channel_not_found"})
# However little of Slack's budget is left, the work still gets this long.
_MIN_WAIT_S = 0.05
# How long a listener waits to learn whether its ack went out: Slack's 3 s, and a margin.
_ACK_RECEIPT_WAIT_S = 5.0
# answer.delivered's error when the delivery pool had no room for the delivery.
QUEUE_FULL = "delivery_queue_full"

T = TypeVar("T")
Ref = TypeVar("Ref")


def ack_with(ack: Ack, message: Message) -> None:
    """Acknowledge a command with a private message as the response body."""
    ack(text=message.text, blocks=message.blocks, response_type="ephemeral")


def ack_outcome(context: BoltContext) -> str | None:
    """After ``ack()``: None once the acknowledgement went out within Slack's time, else
    why not (``ack_timeout``: Bolt had given up waiting, or it was sent too late)."""
    receipt = context.get(ACK_RECEIPT)
    if receipt is None:
        return "no_ack_receipt"
    outcome: str | None = receipt.wait(_ACK_RECEIPT_WAIT_S)
    return outcome


def in_background(
    deps: Deps,
    work: Callable[[], None],
    *,
    request_id: str,
    surface: str,
    on_shed: Callable[[], None] | None = None,
) -> None:
    """Run ``work`` in the delivery pool; when that is full it is dropped, logged, and
    ``on_shed`` runs here instead (it must not call Slack)."""
    if deps.background.submit(work):
        return
    log.error("delivery.shed", request_id=request_id, surface=surface, reason=QUEUE_FULL)
    if on_shed is not None:
        on_shed()


def ack_in_time(
    ack: Ack,
    flow: AnswerFlow,
    req: AskRequest,
    future: Future[T],
    *,
    budget_s: float,
    placeholder: Message,
    deferred_event: str,
    finish_later: Callable[[], None],
    shed: Callable[[T], None],
) -> T | None:
    """``future``'s result if it is ready within the ack budget; the caller acks with it.

    Otherwise (None) the command is already acknowledged: with ``placeholder`` while
    ``finish_later`` (in the delivery pool) replaces it, or with the referenced refusal
    or failure message. Should the pool have no room, ``shed(result)`` records that the
    result was never delivered.
    """
    budget = max(_MIN_WAIT_S, budget_s - (time.monotonic() - req.started))
    try:
        return future.result(timeout=budget)
    except FutureTimeout:
        ack_with(ack, placeholder)
        log.info(deferred_event, request_id=req.request_id, budget_s=round(budget, 3))

        def undelivered(done: Future[T]) -> None:
            try:
                result = done.result()
            except Exception as exc:
                flow.failed(req, exc)
                return
            shed(result)

        in_background(
            flow.deps,
            finish_later,
            request_id=req.request_id,
            surface=req.surface,
            on_shed=lambda: future.add_done_callback(undelivered),
        )
        return None
    except Exception as exc:
        ack_with(ack, flow.failed(req, exc))
        return None


def answer_in_ack(
    ack: Ack,
    context: BoltContext,
    client: WebClient,
    req: AskRequest,
    message: Message,
    *,
    deps: Deps,
    response_url: str | None,
    finish: Callable[[str | None, str], None],
    what: str,
) -> None:
    """Acknowledge with the answer ``message``; ``finish(error, via)`` records whether the
    ack got to Slack in time. If it did not (the user saw "operation_timeout"), the
    answer goes again through ``response_url``, good for 30 minutes, and ``finish``
    records that delivery too."""
    ack_with(ack, message)
    error = ack_outcome(context)
    finish(error, "ack")
    if error is None or response_url is None:
        return
    url = response_url

    def resend() -> None:
        sent = send_response(client, url, private_payload(message))
        finish(sent.error, "response_url")
        if not sent.ok:
            apologize(client, req, what=what)

    in_background(
        deps,
        resend,
        request_id=req.request_id,
        surface=req.surface,
        on_shed=lambda: finish(QUEUE_FULL, "response_url"),
    )


ButtonWork = Callable[[dict[str, Any], dict[str, Any], BoltContext, WebClient], None]


def acked_then(deps: Deps, surface: str, work: ButtonWork) -> Callable[..., None]:
    """A button listener: ack the click at once, then ``work(body, action, context,
    client)`` in the delivery pool, off the threads that ack."""

    def listener(
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
                work(body, action, context, client)
            except Exception as exc:
                # Off Bolt's threads its error handler is not called: do what it does.
                report_crash(client, body, ref, exc)

        in_background(deps, run, request_id=ref, surface=surface)

    listener.__name__ = listener.__qualname__ = getattr(work, "__name__", "button")
    return listener


def click(
    body: dict[str, Any], context: BoltContext, surface: str, question: str = ""
) -> tuple[AskRequest, str | None]:
    """The request a button click makes, and the ``response_url`` to reply through."""
    container = body.get("container") or {}
    channel = (body.get("channel") or {}).get("id") or container.get("channel_id") or ""
    thread_ts = container.get("thread_ts")
    response_url = body.get("response_url")
    req = AskRequest(
        request_id=request_id(context),
        surface=surface,
        question=question,
        user=str((body.get("user") or {}).get("id") or ""),
        channel=str(channel),
        team=context_team(context),
        thread_ts=thread_ts if isinstance(thread_ts, str) else None,
        started=received_at(context),
    )
    return req, response_url if isinstance(response_url, str) else None


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
