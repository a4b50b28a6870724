"""The thread registry over a key-value store: round trip, a store that is down, junk."""

from __future__ import annotations

from handlers.deps import StoreUnavailable
from handlers.requests import AskRequest
from handlers.threads import ThreadRegistry, thread_key
from knowledge.answering.followup import Conversation, Turn


class DictStore:
    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self.down = False

    def remember(self, key: str, value: str, ttl_seconds: float | None = None) -> None:
        if self.down:
            raise StoreUnavailable("down")
        self.values[key] = value

    def recall(self, key: str) -> str | None:
        if self.down:
            raise StoreUnavailable("down")
        return self.values.get(key)


ASKER = AskRequest(
    request_id="r", surface="mention", question="q", user="U1", channel="C1", team="T1"
)


def test_a_turn_starts_a_conversation_and_more_turns_extend_it() -> None:
    store = DictStore()
    threads = ThreadRegistry(store)
    assert threads.get("T1", "C1", "1.1") is None
    threads.record(ASKER, "1.1", Turn(request_id="r1", question="q1"))
    first = threads.get("T1", "C1", "1.1")
    assert first is not None
    assert first == Conversation(asker="U1", channel="C1", thread_ts="1.1", turns=first.turns)
    other = AskRequest(
        request_id="r", surface="mention", question="q", user="U2", channel="C1", team="T1"
    )
    threads.record(other, "1.1", Turn(request_id="r2", question="q2"))  # someone else, later
    again = threads.get("T1", "C1", "1.1")
    assert again is not None and again.asker == "U1"
    assert [t.request_id for t in again.turns] == ["r1", "r2"]
    assert threads.get("T2", "C1", "1.1") is None  # another workspace
    assert thread_key(None, "C1", "1.1") == "thread:-:C1:1.1"


def test_a_store_that_is_down_or_holds_junk_loses_follow_ups_not_answers() -> None:
    store = DictStore()
    threads = ThreadRegistry(store)
    store.values[thread_key("T1", "C1", "1.1")] = "{not json"
    assert threads.get("T1", "C1", "1.1") is None
    store.down = True
    assert threads.get("T1", "C1", "1.1") is None
    threads.record(ASKER, "1.1", Turn(request_id="r1", question="q"))  # no raise
    assert ThreadRegistry(None).get("T1", "C1", "1.1") is None
