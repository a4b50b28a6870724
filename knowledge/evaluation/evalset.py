"""Evaluation question sets: loading one and scoring a knowledge base's answers to it.

A question set holds answerable questions (with the articles that answer them and a
verbatim phrase a correct quote contains), questions that must be refused, and the page
furniture of the raw articles. Scoring takes a function from question to ``Answer``, so
nothing here loads or searches a knowledge base.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator

from knowledge.models import Answer, Frozen, Quote

DEFAULT_K = 3


class EvalSetError(Exception):
    """The question file cannot be read or does not describe a question set."""


def _norm(text: str) -> str:
    # Quotes are verbatim, but a phrase written on one line may span a line break.
    return " ".join(text.split())


class EvalQuestion(Frozen):
    text: str = Field(min_length=1)
    # Every article whose text answers the question; a quote from any of them counts.
    docs: tuple[str, ...] = Field(min_length=1)
    # Alternative wordings of the answer; a correct quote contains at least one verbatim.
    must_contain: tuple[str, ...] = Field(min_length=1)
    kind: str = "direct"

    @field_validator("must_contain", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return (value,) if isinstance(value, str) else value

    @field_validator("must_contain", "docs")
    @classmethod
    def _no_blank(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if any(not v.strip() for v in value):
            raise ValueError("must not contain empty strings")
        return value


class RefuseQuestion(Frozen):
    text: str = Field(min_length=1)
    why: str = ""


class FurnitureText(Frozen):
    """Verbatim page furniture of one raw article (credits, bios, headline lists, banners)."""

    doc: str = Field(min_length=1)
    text: str = Field(min_length=1)


class QuestionSet(Frozen):
    questions: tuple[EvalQuestion, ...] = ()
    refusals: tuple[RefuseQuestion, ...] = ()
    furniture: tuple[FurnitureText, ...] = ()
    source: str = "<memory>"


_SECTIONS = {"question": "questions", "refuse": "refusals", "furniture": "furniture"}


def parse_question_set(data: Mapping[str, Any], source: str = "<memory>") -> QuestionSet:
    """Build a question set from parsed TOML (question, refuse and furniture tables)."""
    unknown = sorted(set(data) - set(_SECTIONS))
    if unknown:
        raise EvalSetError(f"{source}: unknown section(s) {', '.join(unknown)}")
    fields: dict[str, list[Frozen]] = {}
    models: dict[str, type[Frozen]] = {
        "question": EvalQuestion,
        "refuse": RefuseQuestion,
        "furniture": FurnitureText,
    }
    for section, field in _SECTIONS.items():
        items = data.get(section, [])
        if not isinstance(items, list):
            raise EvalSetError(f"{source}: [[{section}]] must be an array of tables")
        parsed: list[Frozen] = []
        for n, item in enumerate(items, start=1):
            try:
                parsed.append(models[section].model_validate(item))
            except ValidationError as exc:
                err = exc.errors()[0]
                where = ".".join(str(p) for p in err["loc"]) or "item"
                raise EvalSetError(f"{source}: [[{section}]] #{n}: {where}: {err['msg']}") from None
        fields[field] = parsed
    qset = QuestionSet.model_validate({**fields, "source": source})
    if not qset.questions and not qset.refusals:
        raise EvalSetError(f"{source}: no [[question]] or [[refuse]] entries")
    return qset


def load_question_set(path: Path) -> QuestionSet:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise EvalSetError(f"{path}: cannot read: {exc.strerror}") from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise EvalSetError(f"{path}: {exc}") from None
    return parse_question_set(data, source=str(path))


def check_question_set(qset: QuestionSet, texts: Mapping[str, str]) -> list[str]:
    """Problems of a question set against a knowledge base's cleaned article texts.

    Catches typos (a phrase no expected article contains), incomplete ``docs`` (an
    unlisted article carries the phrase too), answers taken from page furniture, and
    furniture that survived cleaning (which would make furniture refusals meaningless).
    """
    problems: list[str] = []
    norm_texts = {doc: _norm(t) for doc, t in texts.items()}
    furniture_texts = [_norm(f.text) for f in qset.furniture]
    seen: set[str] = set()
    for text in [q.text for q in qset.questions] + [r.text for r in qset.refusals]:
        key = _norm(text).casefold()
        if key in seen:
            problems.append(f"duplicate question {text!r}")
        seen.add(key)
    for q in qset.questions:
        label = f"question {q.text!r}"
        phrases = [_norm(p) for p in q.must_contain]
        for doc in q.docs:
            if doc not in norm_texts:
                problems.append(f"{label}: unknown doc {doc!r}")
            elif not any(p in norm_texts[doc] for p in phrases):
                problems.append(f"{label}: doc {doc!r} contains none of the must_contain phrases")
        for phrase in phrases:
            if not any(phrase in norm_texts.get(doc, "") for doc in q.docs):
                problems.append(f"{label}: phrase {phrase!r} is in none of its docs")
            for doc, text in norm_texts.items():
                if doc not in q.docs and phrase in text:
                    problems.append(f"{label}: phrase {phrase!r} is also in unlisted doc {doc!r}")
            for furn in furniture_texts:
                if phrase in furn or furn in phrase:
                    problems.append(f"{label}: phrase {phrase!r} is page furniture ({furn!r})")
    for f in qset.furniture:
        if f.doc not in norm_texts:
            problems.append(f"furniture {f.text!r}: unknown doc {f.doc!r}")
        elif _norm(f.text) in norm_texts[f.doc]:
            problems.append(f"furniture {f.text!r} survived cleaning of {f.doc!r}")
    return problems


def _quote_docs(quote: Quote) -> set[str]:
    return {quote.doc_id, *(s.doc_id for s in quote.also_reported_by)}


def quote_hits(quote: Quote, question: EvalQuestion) -> bool:
    """A quote answers when it comes from (or is corroborated by) an expected article and
    contains one of the expected phrases."""
    if not _quote_docs(quote) & set(question.docs):
        return False
    text = _norm(quote.text)
    return any(_norm(p) in text for p in question.must_contain)


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
    def misses(self) -> tuple[QuestionResult, ...]:
        return tuple(r for r in self.questions if not r.hit_at(self.k))

    def by_kind(self) -> dict[str, tuple[int, int, int]]:
        """kind -> (questions, hits at 1, hits at k)."""
        out: dict[str, tuple[int, int, int]] = {}
        for r in self.questions:
            n, h1, hk = out.get(r.question.kind, (0, 0, 0))
            out[r.question.kind] = (n + 1, h1 + r.hit_at(1), hk + r.hit_at(self.k))
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
            "by_kind": {
                kind: {"questions": n, "hits_at_1": h1, f"hits_at_{self.k}": hk}
                for kind, (n, h1, hk) in self.by_kind().items()
            },
            "misses": [
                {
                    "question": r.question.text,
                    "kind": r.question.kind,
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


def format_report(report: EvalReport, *, header: Sequence[str] = ()) -> str:
    """Plain-text report: the figures, then every failure with the quotes actually given."""
    k = report.k
    n = len(report.questions)
    lines = list(header)
    lines.append(f"hit@1: {report.hit_rate(1):.3f} ({report.hits(1)}/{n})")
    lines.append(f"hit@{k}: {report.hit_rate(k):.3f} ({report.hits(k)}/{n})")
    lines.append(f"must-refuse answered: {len(report.false_answers)}/{len(report.refusals)}")
    for kind, (total, h1, hk) in report.by_kind().items():
        lines.append(f"  {kind:<11} {total:>3} questions  hit@1 {h1:>3}  hit@{k} {hk:>3}")
    if report.problems:
        lines.append(f"question-set problems ({len(report.problems)}):")
        lines.extend(f"  - {p}" for p in report.problems)
    if report.misses:
        lines.append(f"misses at {k} ({len(report.misses)}):")
        for r in report.misses:
            lines.append(f"  Q: {r.question.text}")
            lines.append(
                f"     expected {', '.join(r.question.docs)} containing "
                + " | ".join(repr(p) for p in r.question.must_contain)
            )
            lines.extend(_describe(r.answer, k))
    if report.false_answers:
        lines.append(f"answered but should be refused ({len(report.false_answers)}):")
        for rr in report.false_answers:
            lines.append(
                f"  Q: {rr.question.text}" + (f"  [{rr.question.why}]" if rr.question.why else "")
            )
            lines.extend(_describe(rr.answer, k))
    return "\n".join(lines)


def _describe(answer: Answer, k: int) -> list[str]:
    if not answer.answered:
        return [f"     refused: {answer.reason}"]
    out = []
    for rank, q in enumerate(answer.quotes[:k], start=1):
        also = (
            f" (+{', '.join(s.doc_id for s in q.also_reported_by)})" if q.also_reported_by else ""
        )
        out.append(f"     {rank}. [{q.passage_id}]{also} {_norm(q.text)}")
    return out
