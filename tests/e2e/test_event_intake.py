"""Events are acknowledged by the HTTP server before Bolt dispatches them
(``bot.delivery.intake``): with no room left for their answers an event is refused with
503 before it is claimed, so Slack's retry is still its first delivery and is answered."""

from __future__ import annotations

import time

from conftest import BotFactory, app_mention, event_callback
from fake_slack import BOT_USER_ID

from bot.delivery.intake import DELIVERY_RESERVE
from bot.delivery.pool import DeliveryPool

QUESTION = "When was Huawei added to the Entity List?"


def wait_room(pool: DeliveryPool, room: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while pool.room() != room:
        assert time.monotonic() < deadline, f"delivery pool room {pool.room()}, wanted {room}"
        time.sleep(0.01)


def test_an_event_without_room_for_its_answer_is_refused_unclaimed_then_answered(
    make_bot: BotFactory,
) -> None:
    # Room for exactly one answer beyond what is kept for commands and clicks.
    pool = DeliveryPool(workers=1, max_waiting=DELIVERY_RESERVE)
    bot = make_bot(background=pool)
    bot.fake.slow("chat.postMessage", 30)
    first = event_callback(app_mention(f"<@{BOT_USER_ID}> {QUESTION}"))
    second = event_callback(app_mention(f"<@{BOT_USER_ID}> {QUESTION}"))
    try:
        assert bot.send_envelope(first).status == 200
        bot.fake.wait_for("chat.postMessage", 1)  # its answer is being posted, slowly
        wait_room(pool, DELIVERY_RESERVE)

        refused = bot.send_envelope(second)
        assert refused.status == 503
        assert {k.lower(): v for k, v in refused.headers.items()}["retry-after"] == "1"
        (busy,) = bot.logs.wait_for("event.busy")
        assert busy["event_id"] == second["event_id"]
    finally:
        bot.fake.release()
    wait_room(pool, DELIVERY_RESERVE + 1)

    # Slack's retry of the refused event: not a duplicate, answered once.
    assert bot.send_envelope(second, retry_num=1).status == 200
    posts = bot.fake.wait_for("chat.postMessage", 2)
    bot.fake.quiet(0.3)
    assert len(bot.fake.calls("chat.postMessage")) == 2
    asked = sorted(e["event"]["ts"] for e in (first, second))
    assert sorted(p.body["thread_ts"] for p in posts) == asked
    assert not bot.logs.records("event.duplicate")
    assert len(bot.wait_audit("answer.delivered", 2)) == 2
    pool.close(5)
