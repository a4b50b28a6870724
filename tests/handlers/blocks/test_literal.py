"""Untrusted text rendered literally: escaped, formatting markers inert, bidi controls gone."""

from __future__ import annotations

import re

import pytest

from handlers.blocks.literal import MAX_EXPANSION, escape, fallback_text, literal, literal_label
from handlers.blocks.quotes import quote_mrkdwn

_INERT = re.compile(r"<!date\^0+\^\{_\}\|([^>]*)>")


def shown(mrkdwn: str) -> str:
    return _INERT.sub(lambda m: m.group(1), mrkdwn)


@pytest.mark.parametrize(
    "text",
    [
        "a *bold* claim",
        "_italic_ and ~struck~",
        "`code` and ```block```",
        "*",
        "ends with an asterisk*",
        "emoji :tada: here",
        "R&D <costs> & *more*",
    ],
)
def test_markers_are_inert_and_read_the_same(text: str) -> None:
    rendered = literal(text)
    # Outside the tokens no marker is left that could open or close formatting.
    assert not re.search(r"[*_~`]", _INERT.sub("", rendered))
    assert shown(rendered) == escape(text)


@pytest.mark.parametrize("text", ["snake_case_name", "doc_a", "5*3", "x~y"])
def test_a_marker_between_letters_or_digits_is_left_alone(text: str) -> None:
    assert literal(text) == escape(text)


def test_bidi_controls_go_and_direction_marks_go_from_labels_only() -> None:
    text = "a\u202ereversed\u202c b \u2066iso\u2069 \u200fmark"
    assert literal(text) == "areversed b iso \u200fmark"
    assert literal_label(text) == "areversed b iso mark"
    assert fallback_text(text + " *x*") == "areversed b iso mark *x*"


def test_max_expansion_bounds_any_character() -> None:
    for ch in "*_~`:&<>a":
        assert len(literal(f" {ch} ")) - 2 <= MAX_EXPANSION


def test_a_cut_quote_never_splits_a_token() -> None:
    text = "word *x* " * 400
    rendered, cut = quote_mrkdwn(text, limit=500)
    assert cut and len(rendered) <= 500
    assert "<" not in _INERT.sub("", rendered)  # every token whole
    assert shown(rendered).startswith("> word *x* word")
