"""Turning Slack-formatted text into the question that is looked up."""

from __future__ import annotations

import pytest

from handlers.requests import slack_to_plain, valid_user_id


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<@UBOT> does Huawei license 5G?", "does Huawei license 5G?"),
        ("<@UBOT|licensebot>   what   about\n<@UBOT> Nokia?", "what about Nokia?"),
        ("ask <@U123|ann> about AT&amp;T &lt;5G&gt;", "ask @ann about AT&T <5G>"),
        ("see <#C123|general> and <!here>", "see #general and @here"),
        ("<!subteam^S1|@eng> and <!channel>", "@eng and @channel"),
        (
            "read <https://example.com/a|the story> or <https://example.com/b>",
            "read the story or https://example.com/b",
        ),
        ("<@UBOT>", ""),
    ],
)
def test_slack_to_plain(text: str, expected: str) -> None:
    assert slack_to_plain(text, bot_user_id="UBOT") == expected


def test_valid_user_id() -> None:
    assert valid_user_id("U0ASKER1") == "U0ASKER1"
    assert valid_user_id("W0ENTERP") == "W0ENTERP"
    for bad in ("", "u123", "U1> <!channel", None, 42):
        assert valid_user_id(bad) is None
