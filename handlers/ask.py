"""``/ask question``: a private answer with a "Post to channel" button.

The answer rides on the acknowledgement itself when it is ready within the ack
budget (the usual case: answering takes milliseconds). Otherwise the command is
acknowledged with a placeholder and the answer replaces it through ``response_url``.
An answer in the ack is recorded delivered only once the ack went out in time; if it
did not, that is recorded as failed and the answer sent through ``response_url``
(``handlers.commands``).
"""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from handlers.blocks.answer import answer_message
from handlers.blocks.kit import Message
from handlers.blocks.notices import usage_message
from handlers.commands import DeferredCommand, ack_with, is_help
from handlers.deps import Deps
from handlers.flow import AnswerFlow
from handlers.requests import AskRequest, slack_to_plain
from knowledge.models import Answer

COMMAND = "/ask"
_ANSWER_WORKERS = 8


class AskCommand(DeferredCommand[Answer]):
    surface = "ask"
    placeholder = "Looking that up…"
    deferred_event = "ask.deferred"
    what = "answer your question"

    def __init__(self, deps: Deps) -> None:
        super().__init__(AnswerFlow(deps), workers=_ANSWER_WORKERS, thread_name="ask-answer")
        self.top = deps.top_k

    def on_command(
        self, ack: Ack, command: dict[str, Any], context: BoltContext, client: WebClient
    ) -> None:
        question = slack_to_plain(str(command.get("text") or ""))
        if not question or is_help(question):
            ack_with(ack, usage_message())
            return
        self.respond(ack, command, context, client, question=question, serve=self.flow.prepare)

    def reply(self, req: AskRequest, value: Answer) -> Message:
        return answer_message(value, request_id=req.request_id, top=self.top, shareable=True)

    def finish(self, req: AskRequest, value: Answer, *, error: str | None, via: str) -> None:
        self.flow.finish(req, value, error=error, via=via)


def register(app: App, deps: Deps) -> None:
    app.command(COMMAND)(AskCommand(deps).on_command)
