"""Follow-ups in a conversation: which question a reply in a thread actually asks.

The rule, for a reply ``F`` in a thread whose last answered question is ``E`` (itself
possibly built from earlier turns):

1. **Nothing to answer.** ``F`` has no words, or only words of acknowledgement
   ("thanks", "ok", "great, got it"): it is not a question, and nothing is answered.
2. **More.** ``F`` asks for more ("more", "show more", "next", "what else", "go on"):
   the next quotes of ``E``'s answer are shown — ``E`` is answered again from the same
   knowledge base and the quotes already shown are skipped.
3. **Self-contained.** ``F`` has at least three content terms (words the index keeps:
   no stopwords, no question words), or at least two and no back-reference — no
   pronoun (it, that, they, he, she, there, then …) and no opener ("and …",
   "what about …", "how about …", "also …"). It is answered as written.
4. **Combined.** Otherwise ``F`` is answered as ``"F — E"``: the follow-up's content
   terms plus the earlier question's. Pronouns carry no terms of their own; they stand
   for ``E``'s subject, whose words come along with ``E``. ``E``'s names (capitalised
   words, which a passage must mention) stay names — unless ``F`` names someone or
   something of its own ("and Nokia?"): then ``F``'s names take the subject's place and
   ``E`` is carried in lower case, as context words a passage need not all contain.

The question answered is what the reply shows ("Answering: …") and what the audit
trail records, so ``audit replay`` re-asks exactly it. A combined question longer
than ``MAX_COMBINED_CHARS`` drops the oldest follow-ups between ``F`` and the thread's
first self-contained question.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from enum import StrEnum

from knowledge.models import Frozen
from knowledge.retrieval.tokenizer import Analyzer, Token

# "F — E": the separator is no word, so it adds no term.
SEPARATOR = " — "
MAX_COMBINED_CHARS = 600
# At most this many quotes per answer (the engine's own cap); "more" stops there.
MAX_QUOTES = 10
SELF_CONTAINED_TERMS = 3
# Turns a conversation remembers: follow-ups build on the last one, a long chain on its
# first self-contained question, so older turns are not needed.
MAX_TURNS = 10

_WORD_RE = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")

_PRONOUNS = frozenset(
    """
    it its itself that this these those they them their theirs themselves he him his
    himself she her hers herself there then one ones
    """.split()
)
_OPENERS = ("and what about", "what about", "how about", "and", "but", "also", "so", "plus")
_MORE = frozenset(
    {
        "more",
        "more please",
        "please more",
        "some more",
        "show more",
        "show me more",
        "tell me more",
        "give me more",
        "any more",
        "anymore",
        "more quotes",
        "more sources",
        "next",
        "next quotes",
        "what else",
        "anything else",
        "go on",
        "continue",
        "keep going",
    }
)
_ACKNOWLEDGEMENTS = frozenset(
    """
    thanks thank thankyou you thx ty cheers ok okay k kk cool great nice perfect awesome
    got it sure yes yep yeah fine good lol understood noted brilliant excellent wow much
    very so lot a appreciated helpful
    """.split()
)


class FollowupKind(StrEnum):
    NOTHING = "nothing"  # an acknowledgement or no words: no answer
    MORE = "more"  # the next quotes of the previous answer
    STANDALONE = "standalone"  # answered as written
    COMBINED = "combined"  # combined with the previous question


class Turn(Frozen):
    """One answered question of a conversation, as the conversation remembers it."""

    request_id: str
    question: str  # the question answered (after combination)
    kind: FollowupKind = FollowupKind.STANDALONE
    answered: bool = True
    top: int = 3  # quotes asked of the engine
    skip: int = 0  # quotes of the engine's answer not shown (pages already seen)
    shown: int = 0  # quotes shown
    # Request ids of the earlier turns this one was built on, oldest first.
    builds_on: tuple[str, ...] = ()


class Conversation(Frozen):
    """A thread the bot answered in: who asked, and the turns so far (oldest first)."""

    asker: str
    channel: str
    thread_ts: str
    turns: tuple[Turn, ...] = ()

    def with_turn(self, turn: Turn) -> Conversation:
        """This conversation with ``turn`` added, keeping the last ``MAX_TURNS``."""
        return self.model_copy(update={"turns": (*self.turns, turn)[-MAX_TURNS:]})


class Followup(Frozen):
    """What a message in a conversation asks: the question actually answered."""

    kind: FollowupKind
    asked: str  # as written (whitespace collapsed)
    question: str  # what is answered; "" for NOTHING
    builds_on: tuple[str, ...] = ()
    # MORE: quotes of the answer to ``question`` already shown.
    skip: int = 0

    @property
    def rewritten(self) -> bool:
        """True when the question answered is not the message as written."""
        return self.kind in (FollowupKind.MORE, FollowupKind.COMBINED)


def _normal(text: str) -> str:
    return " ".join(w.casefold() for w in _WORD_RE.findall(text))


def _strip_opener(words: str) -> tuple[str, bool]:
    for opener in _OPENERS:
        if words == opener or words.startswith(opener + " "):
            return words[len(opener) :].strip(), True
    return words, False


def _chain(turn: Turn) -> tuple[str, ...]:
    return (*turn.builds_on, turn.request_id)


def resolve_followup(asked: str, earlier: Sequence[Turn], analyzer: Analyzer) -> Followup:
    """The question ``asked`` puts, given the conversation's earlier turns (oldest first)."""
    text = " ".join(asked.split())
    words = _normal(text)
    if not words or all(w in _ACKNOWLEDGEMENTS for w in words.split()):
        return Followup(kind=FollowupKind.NOTHING, asked=text, question="")
    last = earlier[-1] if earlier else None
    if last is None:
        return Followup(kind=FollowupKind.STANDALONE, asked=text, question=text)
    if words in _MORE:
        return Followup(
            kind=FollowupKind.MORE,
            asked=text,
            question=last.question,
            builds_on=_chain(last),
            skip=last.skip + last.shown if last.answered else MAX_QUOTES,
        )
    tokens = analyzer.analyze(text)
    rest, opened = _strip_opener(words)
    refers_back = opened or any(w in _PRONOUNS for w in rest.split())
    n_terms = len({t.term for t in tokens})
    if n_terms >= SELF_CONTAINED_TERMS or (n_terms >= 2 and not refers_back):
        return Followup(kind=FollowupKind.STANDALONE, asked=text, question=text)
    return Followup(
        kind=FollowupKind.COMBINED,
        asked=text,
        question=_combine(text, earlier, replace_names=_names(text, tokens)),
        builds_on=_chain(last),
    )


def _names(text: str, tokens: Sequence[Token]) -> bool:
    """Whether ``text`` names something: a capitalised content word, as the answer engine
    reads names (in a shouted text capitals mark nothing)."""
    if text.upper() == text:
        return False
    return any(t.surface[:1].isupper() for t in tokens)


def _combine(followup: str, earlier: Sequence[Turn], *, replace_names: bool) -> str:
    """``followup — context``; the context is the last question, or when that is too long
    its first self-contained question, in lower case when ``replace_names``."""
    context = earlier[-1].question
    if len(followup) + len(SEPARATOR) + len(context) > MAX_COMBINED_CHARS:
        context = next(
            (t.question for t in reversed(earlier) if t.kind is FollowupKind.STANDALONE),
            context,
        )
    if replace_names:
        context = context.lower()
    return (followup + SEPARATOR + context)[:MAX_COMBINED_CHARS]
