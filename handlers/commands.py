"""What the slash commands share: help words, the request a command makes, answering
within Slack's acknowledgement budget and knowing whether the ack got there.

``/ask`` and ``/timeline`` reply privately in the acknowledgement itself when the
reply is ready within ``ACK_BUDGET_S`` (the usual case: it takes milliseconds);
otherwise they acknowledge with a placeholder and replace it through ``response_url``
(``DeferredCommand``), from the delivery pool. A reply in the ack is recorded delivered
only once the ack went out in time; if it did not, that is recorded as failed and the
reply sent through ``response_url`` (``answer_in_ack``).
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, Generic, TypeVar

import structlog
from slack_bolt import Ack, BoltContext
from slack_sdk import WebClient

from handlers.blocks.kit import Message
from handlers.blocks.notices import notice_message
from handlers.deps import ACK_RECEIPT, Deps
from handlers.flow import AnswerFlow
from handlers.replies import QUEUE_FULL, apologize, in_background, private_payload, send_response
from handlers.requests import AskRequest, request_in, response_url_of

log = structlog.get_logger("licensebot.slack")

# Slack gives a command 3 s; what is left after this goes to the HTTP round trip.
ACK_BUDGET_S = 2.0
# However little of Slack's budget is left, the work still gets this long.
_MIN_WAIT_S = 0.05
# How long a listener waits to learn whether its ack went out: Slack's 3 s, and a margin.
_ACK_RECEIPT_WAIT_S = 5.0
# What asks a command for its usage instead (compared lower-cased).
HELP_WORDS = frozenset({"help", "-h", "--help", "?", "usage"})

T = TypeVar("T")


def is_help(word: str) -> bool:
    return word.lower() in HELP_WORDS


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


def command_request(
    command: dict[str, Any], context: BoltContext, *, surface: str, question: str
) -> AskRequest:
    """The request a slash command makes: its reference, who asked where, and when."""
    return request_in(
        context,
        surface=surface,
        question=question,
        user=str(command.get("user_id") or ""),
        channel=str(command.get("channel_id") or ""),
    )


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


class DeferredCommand(ABC, Generic[T]):
    """A command whose private reply (an answer, a timeline page) is computed on a pool,
    so the listener can stop waiting at the ack budget. Subclasses say what the reply
    is (``reply``) and how its delivery is recorded (``finish``)."""

    surface: str
    placeholder: str  # the acknowledgement while the reply is still being made
    deferred_event: str  # logged when the reply missed the ack budget
    what: str  # "Sorry — I couldn't {what}" when the reply does not get through

    def __init__(self, flow: AnswerFlow, *, workers: int, thread_name: str) -> None:
        self.flow = flow
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=thread_name)

    @abstractmethod
    def reply(self, req: AskRequest, value: T) -> Message:
        """The private message showing ``value``."""

    @abstractmethod
    def finish(self, req: AskRequest, value: T, *, error: str | None, via: str) -> None:
        """Record and log how delivering ``value`` went."""

    def respond(
        self,
        ack: Ack,
        command: dict[str, Any],
        context: BoltContext,
        client: WebClient,
        *,
        question: str,
        serve: Callable[[AskRequest], T],
    ) -> None:
        """``serve`` (which audits what it returns) off the listener thread, then reply."""
        req = command_request(command, context, surface=self.surface, question=question)
        response_url = response_url_of(command)
        future = self.pool.submit(serve, req)
        value = ack_in_time(
            ack,
            self.flow,
            req,
            future,
            budget_s=ACK_BUDGET_S,
            placeholder=notice_message(self.placeholder),
            deferred_event=self.deferred_event,
            finish_later=lambda: self.finish_later(req, future, response_url, client),
            shed=lambda value: self.finish(req, value, error=QUEUE_FULL, via="response_url"),
        )
        if value is None:
            return
        answer_in_ack(
            ack,
            context,
            client,
            req,
            self.reply(req, value),
            deps=self.flow.deps,
            response_url=response_url,
            finish=lambda error, via: self.finish(req, value, error=error, via=via),
            what=self.what,
        )

    def finish_later(
        self, req: AskRequest, future: Future[T], response_url: str | None, client: WebClient
    ) -> None:
        """Replace the placeholder with the reply (or with why there is none)."""
        try:
            value = future.result()
        except Exception as exc:
            self.failed_later(client, req, response_url, exc)
            return
        message = self.reply(req, value)
        if response_url is None:
            self.finish(req, value, error="no_response_url", via="response_url")
            apologize(client, req, what=self.what)
            return
        sent = send_response(client, response_url, private_payload(message, replace_original=True))
        self.finish(req, value, error=sent.error, via="response_url")
        if not sent.ok:
            apologize(client, req, what=self.what)

    def failed_later(
        self, client: WebClient, req: AskRequest, response_url: str | None, exc: Exception
    ) -> None:
        """The placeholder replaced by the referenced refusal or failure message."""
        message = self.flow.failed(req, exc)
        if response_url is not None:
            send_response(client, response_url, private_payload(message, replace_original=True))
