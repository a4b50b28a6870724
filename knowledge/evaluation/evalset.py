"""Evaluation question sets: loading one and scoring a knowledge base's answers to it.

A question set holds answerable questions (with the articles that answer them and a
verbatim phrase a correct quote contains), questions that must be refused, and the page
furniture of the raw articles. Every question belongs to a split: ``dev`` (tuned on) or
``test`` (held out, written before the engine changes it measures). Scoring takes a
function from question to ``Answer``, so nothing here loads or searches a knowledge base.

Two file formats are read: the project's TOML (``[[question]]``, ``[[refuse]]``,
``[[furniture]]`` tables, and ``include = [...]`` to merge other files), and the field
sample's JSON lines (``question``, ``answered``, ``docs``, ``quote_contains_any``).
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import AfterValidator, BeforeValidator, Field, ValidationError, model_validator

from knowledge.models import Answer, Frozen, Quote

DEFAULT_K = 3
# Reporting order; a question without a split is development data (anything not
# declared held out may have been tuned on).
SPLITS: tuple[str, ...] = ("dev", "test")
Split = Literal["dev", "test"]
# Kinds given to questions read from a field-sample (JSON lines) file.
FIELD_KIND = "field"
FIELD_REFUSE_KIND = "refuse_field"


class EvalSetError(Exception):
    """The question file cannot be read or does not describe a question set."""


def norm_space(text: str) -> str:
    # Quotes are verbatim, but a phrase written on one line may span a line break.
    return " ".join(text.split())


def _fold(text: str) -> str:
    return norm_space(text).casefold()


def _has_word(text: str, term: str) -> bool:
    """``term`` occurs in ``text`` as whole words, ignoring case and line breaks."""
    pattern = r"(?<!\w)" + r"\s+".join(map(re.escape, term.split())) + r"(?!\w)"
    return re.search(pattern, text, re.IGNORECASE) is not None


def _one_or_many(value: object) -> object:
    return (value,) if isinstance(value, str) else value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


_Text = Annotated[str, AfterValidator(_not_blank)]
# A list of strings, or one string for a list of one.
_Texts = Annotated[tuple[_Text, ...], BeforeValidator(_one_or_many)]


class EvalQuestion(Frozen):
    text: str = Field(min_length=1)
    # Every article whose text answers the question; a quote from any of them counts.
    docs: tuple[_Text, ...] = Field(min_length=1)
    # Alternative wordings of the answer; a correct quote contains at least one.
    must_contain: _Texts = Field(min_length=1)
    kind: str = Field(default="direct", min_length=1)
    split: Split = "dev"


class RefuseQuestion(Frozen):
    text: str = Field(min_length=1)
    why: str = ""
    kind: str = Field(default="refuse", min_length=1)
    split: Split = "dev"
    # A multi-word name the articles never write, although each of its words occurs.
    name: str | None = Field(default=None, min_length=1)
    # A named entity the articles mention, and words no paragraph naming it contains
    # (what the question asks about it).
    entity: str | None = Field(default=None, min_length=1)
    absent: _Texts = ()

    @model_validator(mode="after")
    def _entity_with_absent(self) -> RefuseQuestion:
        if (self.entity is None) != (not self.absent):
            raise ValueError("entity and absent go together")
        return self


class FurnitureText(Frozen):
    """Verbatim page furniture of one raw article (credits, bios, headline lists, banners)."""

    doc: str = Field(min_length=1)
    text: str = Field(min_length=1)


class QuestionSet(Frozen):
    questions: tuple[EvalQuestion, ...] = ()
    refusals: tuple[RefuseQuestion, ...] = ()
    furniture: tuple[FurnitureText, ...] = ()
    source: str = "<memory>"
    # Every file the set was read from, the named one first (then its includes).
    files: tuple[str, ...] = ()

    def splits(self) -> tuple[str, ...]:
        return _in_order({q.split for q in self.questions} | {r.split for r in self.refusals})

    def select(self, split: str) -> QuestionSet:
        """The questions of one split (furniture is shared by all)."""
        return self.model_copy(
            update={
                "questions": tuple(q for q in self.questions if q.split == split),
                "refusals": tuple(r for r in self.refusals if r.split == split),
            }
        )


def _in_order(splits: set[str]) -> tuple[str, ...]:
    return tuple(s for s in SPLITS if s in splits)


_SECTIONS: dict[str, tuple[str, type[Frozen]]] = {
    "question": ("questions", EvalQuestion),
    "refuse": ("refusals", RefuseQuestion),
    "furniture": ("furniture", FurnitureText),
}


_M = TypeVar("_M", bound=Frozen)


def _validate(model: type[_M], item: object, where: str) -> _M:
    try:
        return model.model_validate(item)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"]) or "item"
        raise EvalSetError(f"{where}: {loc}: {err['msg']}") from None


def _parse_sections(data: Mapping[str, Any], source: str) -> QuestionSet:
    unknown = sorted(set(data) - set(_SECTIONS))
    if unknown:
        raise EvalSetError(f"{source}: unknown section(s) {', '.join(unknown)}")
    fields: dict[str, list[Frozen]] = {}
    for section, (field, model) in _SECTIONS.items():
        items = data.get(section, [])
        if not isinstance(items, list):
            raise EvalSetError(f"{source}: [[{section}]] must be an array of tables")
        fields[field] = [
            _validate(model, item, f"{source}: [[{section}]] #{n}")
            for n, item in enumerate(items, start=1)
        ]
    return QuestionSet.model_validate({**fields, "source": source, "files": (source,)})


def _require_entries(qset: QuestionSet) -> QuestionSet:
    if not qset.questions and not qset.refusals:
        raise EvalSetError(
            f"{qset.source}: no [[question]] or [[refuse]] entries (nor field-sample lines)"
        )
    return qset


def parse_question_set(data: Mapping[str, Any], source: str = "<memory>") -> QuestionSet:
    """Build a question set from parsed TOML (question, refuse and furniture tables)."""
    return _require_entries(_parse_sections(data, source))


class FieldRecord(Frozen):
    """One line of a field-sample file (see the sample's README)."""

    question: str = Field(min_length=1)
    answered: bool
    docs: tuple[_Text, ...] = ()
    quote_contains_any: _Texts = ()

    @model_validator(mode="after")
    def _key_matches_verdict(self) -> FieldRecord:
        if self.answered and not (self.docs and self.quote_contains_any):
            raise ValueError("an answered question needs docs and quote_contains_any")
        if not self.answered and (self.docs or self.quote_contains_any):
            raise ValueError("a question that must be refused has no docs or phrases")
        return self


def parse_field_sample(text: str, source: str = "<memory>") -> QuestionSet:
    """Build a question set from field-sample JSON lines; all of it is ``dev`` data."""
    questions: list[EvalQuestion] = []
    refusals: list[RefuseQuestion] = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{source}: line {n}"
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise EvalSetError(f"{where}: not JSON: {exc.msg}") from None
        record = _validate(FieldRecord, item, where)
        if record.answered:
            questions.append(
                EvalQuestion(
                    text=record.question,
                    docs=record.docs,
                    must_contain=record.quote_contains_any,
                    kind=FIELD_KIND,
                )
            )
        else:
            refusals.append(
                RefuseQuestion(text=record.question, why="field sample", kind=FIELD_REFUSE_KIND)
            )
    return _require_entries(
        QuestionSet(
            questions=tuple(questions), refusals=tuple(refusals), source=source, files=(source,)
        )
    )


def looks_like_field_sample(text: str) -> bool:
    # A TOML document cannot start with "{"; a JSON-lines file of objects does.
    return text.lstrip().startswith("{")


def load_question_set(path: Path) -> QuestionSet:
    """Read a TOML question set (following its includes) or a field-sample JSONL file."""
    return _require_entries(_load(path, ()))


def _load(path: Path, chain: tuple[Path, ...]) -> QuestionSet:
    resolved = path.resolve()
    if resolved in chain:
        raise EvalSetError(f"{path}: included twice in one chain ({' -> '.join(map(str, chain))})")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise EvalSetError(f"{path}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise EvalSetError(f"{path}: {exc}") from None
    if looks_like_field_sample(text):
        return parse_field_sample(text, source=str(path))
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise EvalSetError(f"{path}: {exc}") from None
    includes = data.pop("include", [])
    if not isinstance(includes, list) or not all(
        isinstance(i, str) and i.strip() for i in includes
    ):
        raise EvalSetError(f"{path}: include must be a list of file names")
    parts = [_parse_sections(data, str(path))]
    parts += [_load(path.parent / name, (*chain, resolved)) for name in includes]
    return QuestionSet(
        questions=tuple(q for p in parts for q in p.questions),
        refusals=tuple(r for p in parts for r in p.refusals),
        furniture=tuple(f for p in parts for f in p.furniture),
        source=str(path),
        files=tuple(f for p in parts for f in p.files),
    )


def _paragraphs(text: str) -> list[str]:
    return [p for p in re.split(r"\n\s*\n", text) if p.strip()]


def check_question_set(qset: QuestionSet, texts: Mapping[str, str]) -> list[str]:
    """Problems of a question set against a knowledge base's cleaned article texts.

    Catches typos (a phrase no expected article contains verbatim), incomplete ``docs``
    (an unlisted article carries the phrase too, in any case, as scoring ignores case),
    answers taken from page furniture, furniture that survived cleaning (which would make
    furniture refusals meaningless), the same question twice (also across splits), and
    refusal keys the text contradicts (a ``name`` that does occur, an ``absent`` word in a
    paragraph naming the ``entity``).
    """
    problems: list[str] = []
    norm_texts = {doc: norm_space(t) for doc, t in texts.items()}
    folded = {doc: t.casefold() for doc, t in norm_texts.items()}
    furniture_texts = [norm_space(f.text) for f in qset.furniture]
    seen: set[str] = set()
    for text in [q.text for q in qset.questions] + [r.text for r in qset.refusals]:
        key = _fold(text)
        if key in seen:
            problems.append(f"duplicate question {text!r}")
        seen.add(key)
    for q in qset.questions:
        label = f"question {q.text!r}"
        phrases = [norm_space(p) for p in q.must_contain]
        for doc in q.docs:
            if doc not in norm_texts:
                problems.append(f"{label}: unknown doc {doc!r}")
            elif not any(p in norm_texts[doc] for p in phrases):
                problems.append(f"{label}: doc {doc!r} contains none of the must_contain phrases")
        for phrase in phrases:
            if not any(phrase in norm_texts.get(doc, "") for doc in q.docs):
                problems.append(f"{label}: phrase {phrase!r} is in none of its docs")
            for doc, text in folded.items():
                if doc not in q.docs and phrase.casefold() in text:
                    problems.append(f"{label}: phrase {phrase!r} is also in unlisted doc {doc!r}")
            for furn in furniture_texts:
                if phrase in furn or furn in phrase:
                    problems.append(f"{label}: phrase {phrase!r} is page furniture ({furn!r})")
    problems += _refusal_key_problems(qset.refusals, texts)
    for f in qset.furniture:
        if f.doc not in norm_texts:
            problems.append(f"furniture {f.text!r}: unknown doc {f.doc!r}")
        elif norm_space(f.text) in norm_texts[f.doc]:
            problems.append(f"furniture {f.text!r} survived cleaning of {f.doc!r}")
    return problems


def _refusal_key_problems(
    refusals: Iterable[RefuseQuestion], texts: Mapping[str, str]
) -> list[str]:
    problems: list[str] = []
    paragraphs = [p for t in texts.values() for p in _paragraphs(t)]
    for r in refusals:
        label = f"refusal {r.text!r}"
        if r.name is not None:
            if any(_has_word(p, r.name) for p in paragraphs):
                problems.append(f"{label}: the articles do contain the name {r.name!r}")
            for word in r.name.split():
                if not any(_has_word(p, word) for p in paragraphs):
                    problems.append(f"{label}: no article contains {word!r} of {r.name!r}")
        if r.entity is not None:
            naming = [p for p in paragraphs if _has_word(p, r.entity)]
            if not naming:
                problems.append(f"{label}: no article names {r.entity!r}")
            for term in r.absent:
                if any(_has_word(p, term) for p in naming):
                    problems.append(f"{label}: a paragraph naming {r.entity!r} contains {term!r}")
    return problems


# --- scoring ----------------------------------------------------------------------------


def _quote_docs(quote: Quote) -> set[str]:
    return {quote.doc_id, *(s.doc_id for s in quote.also_reported_by)}


def quote_hits(quote: Quote, question: EvalQuestion) -> bool:
    """A quote answers when it comes from (or is corroborated by) an expected article and
    contains one of the expected phrases, ignoring case (as the field sample is scored)."""
    if not _quote_docs(quote) & set(question.docs):
        return False
    text = _fold(quote.text)
    return any(_fold(p) in text for p in question.must_contain)


def hit_rank(answer: Answer, question: EvalQuestion, k: int = DEFAULT_K) -> int | None:
    """1-based rank of the first hitting quote among the top ``k``, or None."""
    if not answer.answered:
        return None
    for rank, quote in enumerate(answer.quotes[:k], start=1):
        if quote_hits(quote, question):
            return rank
    return None


class QuestionResult(Frozen):
    question: EvalQuestion
    answer: Answer
    rank: int | None

    def hit_at(self, k: int) -> bool:
        return self.rank is not None and self.rank <= k

    @property
    def refused(self) -> bool:
        return not self.answer.answered


class RefusalResult(Frozen):
    question: RefuseQuestion
    answer: Answer

    @property
    def refused(self) -> bool:
        return not self.answer.answered


def _rate(hits: int, total: int) -> float:
    return hits / total if total else 0.0


class EvalReport(Frozen):
    k: int
    questions: tuple[QuestionResult, ...]
    refusals: tuple[RefusalResult, ...]
    # Problems of the question set against the knowledge base (see check_question_set).
    problems: tuple[str, ...] = ()

    def hits(self, k: int) -> int:
        return sum(1 for r in self.questions if r.hit_at(k))

    def hit_rate(self, k: int) -> float:
        return _rate(self.hits(k), len(self.questions))

    @property
    def false_answers(self) -> tuple[RefusalResult, ...]:
        """Must-refuse questions that were answered anyway."""
        return tuple(r for r in self.refusals if not r.refused)

    @property
    def refused_answerable(self) -> tuple[QuestionResult, ...]:
        """Answerable questions that got "not in the knowledge base"."""
        return tuple(r for r in self.questions if r.refused)

    @property
    def misses(self) -> tuple[QuestionResult, ...]:
        return tuple(r for r in self.questions if not r.hit_at(self.k))

    def splits(self) -> tuple[str, ...]:
        return _in_order(
            {r.question.split for r in self.questions} | {r.question.split for r in self.refusals}
        )

    def select(self, split: str) -> EvalReport:
        """The results of one split; question-set problems stay with the whole report."""
        return EvalReport(
            k=self.k,
            questions=tuple(r for r in self.questions if r.question.split == split),
            refusals=tuple(r for r in self.refusals if r.question.split == split),
        )

    def by_kind(self) -> dict[str, tuple[int, int, int]]:
        """kind -> (questions, hits at 1, hits at k)."""
        out: dict[str, tuple[int, int, int]] = {}
        for r in self.questions:
            n, h1, hk = out.get(r.question.kind, (0, 0, 0))
            out[r.question.kind] = (n + 1, h1 + r.hit_at(1), hk + r.hit_at(self.k))
        return dict(sorted(out.items()))

    def refusals_by_kind(self) -> dict[str, tuple[int, int]]:
        """kind -> (must-refuse questions, refused)."""
        out: dict[str, tuple[int, int]] = {}
        for r in self.refusals:
            n, refused = out.get(r.question.kind, (0, 0))
            out[r.question.kind] = (n + 1, refused + r.refused)
        return dict(sorted(out.items()))

    def to_json_dict(self) -> dict[str, object]:
        return {
            "k": self.k,
            "questions": len(self.questions),
            "hit_at_1": round(self.hit_rate(1), 4),
            f"hit_at_{self.k}": round(self.hit_rate(self.k), 4),
            "hits_at_1": self.hits(1),
            f"hits_at_{self.k}": self.hits(self.k),
            "must_refuse": len(self.refusals),
            "false_answers": len(self.false_answers),
            "must_refuse_refused": len(self.refusals) - len(self.false_answers),
            "answerable_refused": len(self.refused_answerable),
            "by_kind": {
                kind: {"questions": n, "hits_at_1": h1, f"hits_at_{self.k}": hk}
                for kind, (n, h1, hk) in self.by_kind().items()
            },
            "refusals_by_kind": {
                kind: {"questions": n, "refused": refused}
                for kind, (n, refused) in self.refusals_by_kind().items()
            },
            "misses": [
                {
                    "question": r.question.text,
                    "kind": r.question.kind,
                    "split": r.question.split,
                    "docs": list(r.question.docs),
                    "must_contain": list(r.question.must_contain),
                    **_answer_summary(r.answer, self.k),
                }
                for r in self.misses
            ],
            "false_answer_details": [
                {
                    "question": r.question.text,
                    "why": r.question.why,
                    "kind": r.question.kind,
                    "split": r.question.split,
                    **_answer_summary(r.answer, self.k),
                }
                for r in self.false_answers
            ],
            "rank_above_1": [
                {"question": r.question.text, "rank": r.rank}
                for r in self.questions
                if r.rank is not None and r.rank > 1
            ],
            "problems": list(self.problems),
        }


def _answer_summary(answer: Answer, k: int) -> dict[str, object]:
    return {
        "answered": answer.answered,
        "reason": answer.reason,
        "quotes": [
            {
                "doc_id": q.doc_id,
                "passage_id": q.passage_id,
                "also_reported_by": [s.doc_id for s in q.also_reported_by],
                "text": q.text,
            }
            for q in answer.quotes[:k]
        ],
    }


def evaluate(
    qset: QuestionSet,
    ask: Callable[[str], Answer],
    *,
    k: int = DEFAULT_K,
    problems: Iterable[str] = (),
) -> EvalReport:
    """Ask every question once and score the answers at ranks 1 and ``k``."""
    if k < 1:
        raise ValueError("k must be at least 1")
    questions = tuple(
        QuestionResult(question=q, answer=(a := ask(q.text)), rank=hit_rank(a, q, k))
        for q in qset.questions
    )
    refusals = tuple(RefusalResult(question=r, answer=ask(r.text)) for r in qset.refusals)
    return EvalReport(k=k, questions=questions, refusals=refusals, problems=tuple(problems))
