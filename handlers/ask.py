"""``/ask question``: a private answer with a "Post to channel" button.

The answer rides on the acknowledgement itself when it is ready within the ack
budget (the usual case: answering takes milliseconds). Otherwise the command is
acknowledged with a placeholder and the answer replaces it through ``response_url``.
An answer in the ack is recorded delivered only once the ack went out in time; if it
did not, that is recorded as failed and the answer sent through ``response_url``.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from handlers.blocks import (
    answer_message,
    notice_message,
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
from handlers.deps import Deps
from handlers.interaction import QUEUE_FULL, ack_in_time, ack_with, answer_in_ack
from knowledge.models import Answer

COMMAND = "/ask"
# Slack gives a command 3 s; what is left after this goes to the HTTP round trip.
ACK_BUDGET_S = 2.0
_HELP_WORDS = frozenset({"help", "-h", "--help", "?", "usage"})
_ANSWER_WORKERS = 8


def register(app: App, deps: Deps) -> None:
    flow = AnswerFlow(deps)
    # Answers are computed here so the listener can stop waiting at the ack budget.
    pool = ThreadPoolExecutor(max_workers=_ANSWER_WORKERS, thread_name_prefix="ask-answer")

    def finish_later(
        req: AskRequest, future: Future[Answer], response_url: str | None, client: WebClient
    ) -> None:
        try:
            answer = future.result()
        except Exception as exc:
            message = flow.failed(req, exc)
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
            ack_with(ack, usage_message())
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
        answer = ack_in_time(
            ack,
            flow,
            req,
            future,
            budget_s=ACK_BUDGET_S,
            placeholder=notice_message("Looking that up…"),
            deferred_event="ask.deferred",
            finish_later=lambda: finish_later(req, future, response_url, client),
            shed=lambda answer: flow.finish(req, answer, error=QUEUE_FULL, via="response_url"),
        )
        if answer is None:
            return
        answer_in_ack(
            ack,
            context,
            client,
            req,
            answer_message(answer, request_id=req.request_id, top=deps.top_k, shareable=True),
            deps=deps,
            response_url=response_url,
            finish=lambda error, via: flow.finish(req, answer, error=error, via=via),
            what="answer your question",
        )

    app.command(COMMAND)(on_ask)
