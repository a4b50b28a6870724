"""Thread follow-ups through the real app: signed message.channels events, the fake Web API."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from conftest import CHANNEL, DM_CHANNEL, USER, Bot, BotFactory, app_mention, dm_message
from conversation_payloads import OTHER_USER, channel_message, thread_reply
from fake_slack import BOT_USER_ID

from bot.audit.replay import replay_record
from knowledge.service import bundled_kb_dir
from knowledge.store.saved import SavedVersions

QUESTION = "When was Huawei added to the Entity List?"  # three quotes in all
LICENSING = "Which US companies is Huawei talking to about licensing its 5G technology?"


def ask_in_channel(bot: Bot, question: str = QUESTION) -> tuple[str, dict[str, Any]]:
    """@mention at the top of the channel; (the mention's ts = the thread, its answer)."""
    event = app_mention(f"<@{BOT_USER_ID}> {question}")
    assert bot.event(event).status == 200
    before = len(bot.logs.records("answer.served"))
    (call,) = bot.fake.wait_for("chat.postMessage")
    bot.logs.wait_for("answer.served", before + 1)
    assert call.body["thread_ts"] == event["ts"]
    return event["ts"], bot.audit_records("answer.served")[-1]


def posted(bot: Bot, count: int) -> list[Any]:
    """The first ``count`` messages posted, once the last one's delivery is recorded."""
    calls = bot.fake.wait_for("chat.postMessage", count)
    bot.logs.wait_for("answer.served", count)
    return calls


def test_the_asker_follows_up_without_a_mention(bot: Bot) -> None:
    thread, first = ask_in_channel(bot)
    assert bot.event(thread_reply("and Nokia?", thread_ts=thread)).status == 200
    reply = posted(bot, 2)[1]
    assert reply.body["channel"] == CHANNEL and reply.body["thread_ts"] == thread
    text = reply.all_text()
    assert "and Nokia?" in text
    assert "Answering: and Nokia? — when was huawei added to the entity list?" in text
    record = bot.audit_records("answer.served")[-1]
    assert record["surface"] == "thread"
    assert record["thread_ts"] == thread
    assert record["asked"] == "and Nokia?"
    assert record["question"] == "and Nokia? — when was huawei added to the entity list?"
    assert record["followup"] == "combined"
    assert record["builds_on"] == [first["request_id"]]
    delivered = bot.audit_records("answer.delivered")[-1]
    assert delivered["request_id"] == record["request_id"]
    assert delivered["outcome"] == "delivered"


def test_more_gives_the_next_quotes_and_replays(bot: Bot, tmp_path: Path) -> None:
    thread, first = ask_in_channel(bot, LICENSING)
    bot.event(thread_reply("more", thread_ts=thread))
    reply = posted(bot, 2)[1]
    more = bot.audit_records("answer.served")[-1]
    assert more["followup"] == "more" and more["skip"] == len(first["quotes"]) == 3
    assert more["question"] == LICENSING and more["top"] == 6
    shown = {q["passage_id"] for q in first["quotes"]}
    assert len(more["quotes"]) == 3 and not shown & {q["passage_id"] for q in more["quotes"]}
    assert f"Answering: {LICENSING}" in reply.all_text()
    # audit replay re-asks it on the recorded version and gets the same page.
    SavedVersions(tmp_path).save(bundled_kb_dir(), more["kb_version"])
    result = replay_record(more, SavedVersions(tmp_path))
    assert result.same, result.differences
    combined_thread, _ = ask_in_channel_again(bot)
    bot.event(thread_reply("who said it?", thread_ts=combined_thread))
    posted(bot, 4)
    follow = bot.audit_records("answer.served")[-1]
    assert follow["followup"] == "combined"
    again = replay_record(follow, SavedVersions(tmp_path))
    assert again.same, (again.differences, again.notes, follow)


def ask_in_channel_again(bot: Bot, question: str = QUESTION) -> tuple[str, dict[str, Any]]:
    event = app_mention(f"<@{BOT_USER_ID}> {question}")
    before = len(bot.fake.calls("chat.postMessage"))
    bot.event(event)
    posted(bot, before + 1)
    return event["ts"], bot.audit_records("answer.served")[-1]


def test_more_pages_through_every_quote_then_says_so(bot: Bot) -> None:
    # The engine gives at most ten quotes: "more" shows them three at a time, each once.
    for question in (QUESTION, LICENSING):
        before = len(bot.fake.calls("chat.postMessage"))
        thread, first = ask_in_channel_again(bot, question)
        shown = [q["passage_id"] for q in first["quotes"]]
        for n in range(1, 5):
            served = len(bot.logs.records("answer.served"))
            bot.event(thread_reply("more", thread_ts=thread))
            last = bot.fake.wait_for("chat.postMessage", before + 1 + n)[-1]
            if "That's every quote I have" in last.all_text():
                break
            bot.logs.wait_for("answer.served", served + 1)
            shown += [q["passage_id"] for q in bot.audit_records("answer.served")[-1]["quotes"]]
        assert "That's every quote I have for “" in last.all_text()
        every = [q.passage_id for q in bot.kb.answer(question, 10).quotes]
        assert shown == every and len(set(shown)) == len(shown)


def test_others_must_mention_and_untagged_messages_are_ignored(bot: Bot) -> None:
    thread, _ = ask_in_channel(bot)
    # Someone else in the thread, no mention: nothing.
    bot.event(thread_reply("and Nokia?", thread_ts=thread, user=OTHER_USER))
    # A top-level message in the channel, no mention: nothing.
    bot.event(channel_message("When did Huawei offer to license 5G?"))
    # A reply in a thread the bot never answered in: nothing.
    bot.event(thread_reply("and Nokia?", thread_ts="1600000000.000001"))
    # The asker's acknowledgement: nothing.
    bot.event(thread_reply("thanks!", thread_ts=thread))
    calls = bot.fake.quiet(0.5)
    assert [c.method for c in calls].count("chat.postMessage") == 1
    assert bot.logs.wait_for("followup.not_asker")
    assert bot.logs.wait_for("followup.ignored")
    # Someone else who mentions the bot in the thread is answered, once.
    text = f"<@{BOT_USER_ID}> and Ericsson?"
    mention = app_mention(text, user=OTHER_USER, thread_ts=thread)
    bot.event(mention)
    # Slack also sends the same message as message.channels: not answered twice.
    bot.event(thread_reply(text, thread_ts=thread, user=OTHER_USER))
    calls = posted(bot, 2)
    time.sleep(0.5)
    assert len(bot.fake.calls("chat.postMessage")) == 2
    record = bot.audit_records("answer.served")[-1]
    assert record["surface"] == "mention" and record["user"] == OTHER_USER
    assert record["followup"] == "combined"
    assert calls[1].body["thread_ts"] == thread


def test_a_self_contained_question_in_the_thread_is_answered_as_written(bot: Bot) -> None:
    thread, _ = ask_in_channel(bot)
    question = "What did Ren say about security requirements?"
    bot.event(thread_reply(question, thread_ts=thread))
    reply = posted(bot, 2)[1]
    record = bot.audit_records("answer.served")[-1]
    assert record["question"] == question and "followup" not in record
    assert "Answering:" not in reply.all_text()


def test_retries_of_a_follow_up_are_answered_once(bot: Bot) -> None:
    thread, _ = ask_in_channel(bot)
    event = thread_reply("when was that?", thread_ts=thread)
    assert bot.event(event, event_id="EvFOLLOW01").status == 200
    assert bot.event(event, event_id="EvFOLLOW01", retry_num=1).status == 200
    assert bot.event(event, event_id="EvFOLLOW01", retry_num=2).status == 200
    posted(bot, 2)
    time.sleep(0.5)
    assert len(bot.fake.calls("chat.postMessage")) == 2
    assert len(bot.logs.records("event.duplicate")) == 2


def test_untrusted_follow_up_text_is_escaped(bot: Bot) -> None:
    thread, _ = ask_in_channel(bot)
    # As Slack sends it: a typed "<b>" arrives escaped, a link and @here as entities.
    text = "and <https://evil.example|Nokia> &amp; &lt;b&gt; <!here>?"
    bot.event(thread_reply(text, thread_ts=thread))
    reply = posted(bot, 2)[1]
    shown = reply.all_text()  # every text object (button values are data, not shown)
    assert "<!here>" not in shown and "<https://" not in shown and "<b>" not in shown
    answering = [b for b in reply.blocks() if b.get("block_id") == "answering"]
    assert "Nokia &amp; &lt;b&gt; @here?" in answering[0]["elements"][0]["text"]
    assert len(reply.blocks()) <= 50


def test_threads_survive_a_restart_and_are_shared_by_processes(make_bot: BotFactory) -> None:
    first = make_bot()
    thread, _ = ask_in_channel(first)
    first.stop()
    # A new process on the same data directory (a restart, or another worker).
    second = make_bot()
    third = make_bot()
    second.event(thread_reply("and Nokia?", thread_ts=thread))
    posted(second, 2)
    third.event(thread_reply("more", thread_ts=thread))
    posted(third, 3)
    records = third.audit_records("answer.served")
    assert [r.get("followup") for r in records] == [None, "combined", "more"]
    assert records[2]["builds_on"] == [records[0]["request_id"], records[1]["request_id"]]


def test_dm_threads_follow_up_too(bot: Bot) -> None:
    bot.event(dm_message(QUESTION))
    (answer,) = posted(bot, 1)
    assert answer.body.get("thread_ts") in (None, "")  # a DM is answered where it was asked
    answer_ts = bot.audit_records("answer.delivered")[-1]["message_ts"]
    bot.event(
        thread_reply("and Nokia?", thread_ts=answer_ts, channel=DM_CHANNEL, channel_type="im")
    )
    reply = posted(bot, 2)[1]
    assert reply.body["thread_ts"] == answer_ts
    record = bot.audit_records("answer.served")[-1]
    assert record["surface"] == "dm" and record["followup"] == "combined"
    assert record["user"] == USER


def test_an_answer_posted_to_the_channel_can_be_followed_up(bot: Bot) -> None:
    from conftest import find_button

    reply = bot.command(LICENSING).json()
    share = find_button(reply["blocks"], "post_to_channel")
    assert bot.click(share, response_key="share").status == 200
    (public,) = bot.fake.wait_for("chat.postMessage")
    bot.logs.wait_for("answer.served", 2)  # the /ask's and the posted one's
    answer_ts = bot.audit_records("answer.delivered")[-1]["message_ts"]
    assert answer_ts and not public.body.get("thread_ts")
    bot.event(thread_reply("more", thread_ts=answer_ts))
    more = bot.fake.wait_for("chat.postMessage", 2)[1]
    bot.logs.wait_for("answer.served", 3)
    assert more.body["thread_ts"] == answer_ts
    record = bot.audit_records("answer.served")[-1]
    assert record["followup"] == "more" and record["skip"] == 3
