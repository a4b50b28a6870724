"""Example questions built from the knowledge base itself, for greetings and help.

Two sources, interleaved, each question kept only if the answer engine answers it
(so a suggestion never leads to a refusal):

- *Latest events*: the timeline's most recent events dated to a month or better,
  newest first; each is asked about by its most specific name (the one fewest passages
  contain): "Tell me about Commerce Department", titled with the event's date.
- *Main names*: runs of capitalised words ("Vincent Pang", "Ericsson"), titles such as
  "President" left out, by how many passages name them, most first — a name inside a
  longer one counts for the longer one — leaving out the knowledge base's subject (a
  name in most passages) and months or days: "Tell me about Ericsson".

The question carries no word but the name, so the name alone decides what is quoted.
"""

from __future__ import annotations

import calendar
from collections import Counter, defaultdict
from collections.abc import Iterator

from knowledge.answering.answer import compose_answer
from knowledge.answering.dates import Precision
from knowledge.answering.names import is_topic, name_runs, surface, without_titles
from knowledge.answering.timeline import Timeline, TimelineEvent
from knowledge.models import Frozen
from knowledge.store.loaded import Snapshot

MAX_PROMPTS = 4
# Slack shows a prompt's title on a button; keep it short.
MAX_TITLE_CHARS = 40

# A name's index terms, in order.
Name = tuple[str, ...]

_CALENDAR_WORDS = frozenset(
    w.casefold()
    for w in (*calendar.month_name[1:], *calendar.month_abbr[1:], *calendar.day_name, "Sept")
)


class Prompt(Frozen):
    title: str
    message: str  # the question sent when the prompt is chosen


def _clip(text: str) -> str:
    return text if len(text) <= MAX_TITLE_CHARS else text[: MAX_TITLE_CHARS - 1] + "…"


def _usable(snap: Snapshot, run: list[str], terms: tuple[str, ...]) -> bool:
    words = [w.casefold() for w in run]
    return (
        not any(is_topic(snap, t) for t in terms)
        and not any(w in _CALENDAR_WORDS for w in words)
        and not all(w.isdigit() for w in words)
    )


def _runs(snap: Snapshot, text: str) -> Iterator[tuple[tuple[str, ...], str]]:
    """(terms, as written) of the usable names in ``text``, titles left out."""
    for raw in name_runs(snap.analyzer.analyze(text), text):
        run = without_titles(raw)
        terms = tuple(t.term for t in run)
        if run and _usable(snap, [t.surface for t in run], terms):
            yield terms, surface(run)


def main_names(snap: Snapshot, limit: int = 8) -> list[str]:
    """The names most passages give, as most often written; a name inside a longer one
    ("Ren" in "Ren Zhengfei") counts for the longer one."""
    passages: Counter[Name] = Counter()
    written: dict[Name, Counter[str]] = {}
    for p in snap.passages:
        seen: set[Name] = set()
        for terms, text in _runs(snap, p.text):
            written.setdefault(terms, Counter())[text] += 1
            if terms not in seen:
                seen.add(terms)
                passages[terms] += 1
    fold_into_longer(passages)
    ranked = sorted(passages, key=lambda k: (-passages[k], -len(k), k))
    return [written[k].most_common(1)[0][0] for k in ranked[:limit]]


def fold_into_longer(passages: Counter[Name]) -> None:
    """Move each name's count to the longer name containing its terms that most passages
    give, shortest names first.

    Only the names sharing the short name's rarest term can contain it: comparing with
    those, not with every name, keeps this near linear in the number of names (every
    name against every other was quadratic: minutes at 20,000 articles)."""
    by_term: dict[str, list[Name]] = defaultdict(list)
    for name in passages:
        for term in set(name):
            by_term[term].append(name)
    for short in sorted(passages, key=len):
        terms = set(short)
        rarest = min(terms, key=lambda t: len(by_term[t]))
        # A longer name is folded only after this one (shortest first): all still counted.
        longer = [k for k in by_term[rarest] if len(k) > len(short) and contains(k, terms)]
        if longer:
            target = max(longer, key=lambda k: (passages[k], k))
            passages[target] += passages.pop(short)


def contains(name: Name, terms: set[str]) -> bool:
    """Whether ``name`` has every one of ``terms``."""
    return terms <= set(name)


def _name_prompts(snap: Snapshot) -> Iterator[Prompt]:
    for name in main_names(snap):
        yield Prompt(title=_clip(name), message=f"Tell me about {name}")


def _event_name(snap: Snapshot, event: TimelineEvent) -> str | None:
    """The event's most specific name: the one the fewest passages contain."""
    best: tuple[int, str] | None = None
    for terms, text in _runs(snap, event.text):
        df = min(snap.index.doc_freq(t) for t in terms)
        if best is None or df < best[0]:
            best = (df, text)
    return best[1] if best is not None else None


def _event_prompts(snap: Snapshot, timeline: Timeline) -> Iterator[Prompt]:
    # A year is no date to call latest: "this year" spans all of it.
    dated = [
        e for e in timeline.events if e.date is not None and e.date.precision is not Precision.YEAR
    ]
    dated.sort(
        key=lambda e: (e.date.start, e.date.end) if e.date is not None else (0, 0), reverse=True
    )
    for event in dated:
        name = _event_name(snap, event)
        if name is not None:
            yield Prompt(
                title=_clip(f"{event.date_label}: {name}"), message=f"Tell me about {name}"
            )


def example_prompts(
    snap: Snapshot, timeline: Timeline, limit: int = MAX_PROMPTS
) -> tuple[Prompt, ...]:
    """Up to ``limit`` prompts, latest events and main names alternating, each answered."""
    sources = [_event_prompts(snap, timeline), _name_prompts(snap)]
    chosen: list[Prompt] = []
    asked: set[str] = set()
    while len(chosen) < limit and sources:
        for source in list(sources):
            prompt = next(source, None)
            if prompt is None:
                sources.remove(source)
                continue
            if prompt.message.casefold() in asked:
                continue
            if compose_answer(snap, prompt.message, 1).answered:
                chosen.append(prompt)
                asked.add(prompt.message.casefold())
            if len(chosen) >= limit:
                break
    return tuple(chosen)
