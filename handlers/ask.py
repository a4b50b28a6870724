"""``/ask question``: a private answer with a "Post to channel" button.

The answer rides on the acknowledgement itself when it is ready within the ack
budget (the usual case: answering takes milliseconds). Otherwise the command is
acknowledged with a placeholder and the answer replaces it through ``response_url``.
"""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

import structlog
from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from handlers.blocks import (
    Message,
    answer_message,
    failure_message,
    notice_message,
    unavailable_message,
    usage_message,
)
from handlers.common import (
    AnswerFlow,
    AskRequest,
    apologize,
    context_team,
    private_payload,
    received_at,
    request_id,
    send_response,
    slack_to_plain,
)
from handlers.deps import AuditUnavailable, Deps
from knowledge.models import Answer

COMMAND = "/ask"
# Slack gives a command 3 s; what is left after this goes to the HTTP round trip.
ACK_BUDGET_S = 2.0
_HELP_WORDS = frozenset({"help", "-h", "--help", "?", "usage"})
_ANSWER_WORKERS = 8

log = structlog.get_logger("licensebot.slack")


def _ack_with(ack: Ack, message: Message) -> None:
    ack(text=message.text, blocks=message.blocks, response_type="ephemeral")


def register(app: App, deps: Deps) -> None:
    flow = AnswerFlow(deps)
    # Answers are computed here so the listener can stop waiting at the ack budget.
    pool = ThreadPoolExecutor(max_workers=_ANSWER_WORKERS, thread_name_prefix="ask-answer")

    def finish_later(
        req: AskRequest, future: Future[Answer], response_url: str | None, client: WebClient
    ) -> None:
        try:
            answer = future.result()
        except AuditUnavailable as exc:
            flow.refused(req, exc)
            message: Message = unavailable_message(req.request_id)
        except Exception as exc:
            flow.report_error(req, exc)
            message = failure_message(req.request_id)
        else:
            message = answer_message(
                answer, request_id=req.request_id, top=deps.top_k, shareable=True
            )
            if response_url is None:
                flow.finish(req, answer, error="no_response_url", via="response_url")
                apologize(client, req)
                return
            sent = send_response(
                client, response_url, private_payload(message, replace_original=True)
            )
            flow.finish(req, answer, error=sent.error, via="response_url")
            if not sent.ok:
                apologize(client, req)
            return
        if response_url is not None:
            send_response(client, response_url, private_payload(message, replace_original=True))

    def on_ask(ack: Ack, command: dict[str, Any], context: BoltContext, client: WebClient) -> None:
        question = slack_to_plain(str(command.get("text") or ""))
        if not question or question.lower() in _HELP_WORDS:
            _ack_with(ack, usage_message())
            return
        req = AskRequest(
            request_id=request_id(context),
            surface="ask",
            question=question,
            user=str(command.get("user_id") or ""),
            channel=str(command.get("channel_id") or ""),
            team=context_team(context),
            started=received_at(context),
        )
        response_url = command.get("response_url")
        response_url = response_url if isinstance(response_url, str) else None
        future = pool.submit(flow.prepare, req)
        budget = max(0.05, ACK_BUDGET_S - (time.monotonic() - req.started))
        try:
            answer = future.result(timeout=budget)
        except FutureTimeout:
            _ack_with(ack, notice_message("Looking that up…"))
            log.info("ask.deferred", request_id=req.request_id, budget_s=round(budget, 3))
            finish_later(req, future, response_url, client)
            return
        except AuditUnavailable as exc:
            flow.refused(req, exc)
            _ack_with(ack, unavailable_message(req.request_id))
            return
        except Exception as exc:
            flow.report_error(req, exc)
            _ack_with(ack, failure_message(req.request_id))
            return
        _ack_with(
            ack, answer_message(answer, request_id=req.request_id, top=deps.top_k, shareable=True)
        )
        flow.finish(req, answer, via="ack")

    app.command(COMMAND)(on_ask)
