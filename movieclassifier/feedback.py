"""Stored predictions and the feedback on them: the repository functions.

Functions take a ``Session`` and never commit; the view or job owns the transaction.
The confirmed label always comes from the server's own stored prediction, and only whoever
got a prediction may answer it (``answer``).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, Update, case, func, select, update
from sqlalchemy.orm import Session

from movieclassifier.model import LABEL_IDS, Labelled, Prediction
from movieclassifier.schema import (
    APPROVED,
    DISCARDED,
    HELD_OUT,
    LEARNED,
    LEARNING,
    PENDING,
    QUARANTINE_REASON_CHARS,
    QUARANTINED,
    REFERENCE_MAX_CHARS,
    RETRACTED,
    SOURCE_CHARS,
    Feedback,
    ModelVersion,
    StoredPrediction,
)

STATUSES = (PENDING, LEARNING, LEARNED, HELD_OUT, QUARANTINED, APPROVED, DISCARDED, RETRACTED)
# The channels a prediction is stored for: the pages and the JSON API.
WEB = "web"
API = "api"
# What a reference may look like (``schema.new_reference`` makes 22 of these characters);
# anything else names no prediction, without a query.
REFERENCE_PATTERN = re.compile(rf"[A-Za-z0-9_-]{{16,{REFERENCE_MAX_CHARS}}}")


class UnknownPrediction(LookupError):
    """Feedback names a prediction that was never stored, or that this sender cannot answer."""


class AlreadyLearned(Exception):
    """The feedback was already taken by a retrain; it can no longer change."""


def source_hash(secret_key: str, identity: str) -> str:
    """A keyed hash (HMAC-SHA256, first 32 hex digits) of who asked or answered.

    ``identity`` is a client address or a page session's id, prefixed by its kind; only
    this hash is stored, never the identity itself.

    >>> source_hash("key", "api:192.0.2.1")
    '05dbb8acbbcf71a7438c1e0979612e91'
    """
    digest = hmac.new(secret_key.encode(), identity.encode(), hashlib.sha256).hexdigest()
    return digest[:SOURCE_CHARS]


def store_predictions(
    session: Session,
    reviews: Sequence[str],
    predictions: Sequence[Prediction],
    channel: str,
    source: str | None = None,
) -> list[StoredPrediction]:
    """Keep the predictions that were shown, each under a fresh reference, from ``source``."""
    rows = [
        StoredPrediction(
            review=review,
            label=prediction.label,
            probability=prediction.probability,
            model_version=prediction.model_version,
            channel=channel,
            source=source,
        )
        for review, prediction in zip(reviews, predictions, strict=True)
    ]
    session.add_all(rows)
    session.flush()
    return rows


def get_prediction(
    session: Session, prediction_id: int, for_update: bool = False
) -> StoredPrediction:
    """The stored prediction ``prediction_id`` (row-locked until commit with ``for_update``).

    Raises:
        UnknownPrediction: there is none with that id.
    """
    row = session.get(StoredPrediction, prediction_id, with_for_update=for_update)
    if row is None:
        raise UnknownPrediction(f"there is no stored prediction with id {prediction_id}")
    return row


def find_prediction(session: Session, reference: str, for_update: bool = False) -> StoredPrediction:
    """The stored prediction named ``reference`` (row-locked until commit with ``for_update``).

    Raises:
        UnknownPrediction: no stored prediction has that reference.
    """
    row = None
    if REFERENCE_PATTERN.fullmatch(reference):
        query = select(StoredPrediction).where(StoredPrediction.reference == reference)
        row = session.scalar(query.with_for_update() if for_update else query)
    if row is None:
        raise UnknownPrediction("there is no stored prediction with that reference")
    return row


def may_answer(prediction: StoredPrediction, channel: str, source: str | None) -> bool:
    """Whether a sender on ``channel`` with ``source`` may answer ``prediction``.

    A page's prediction may be answered only from the page session that got it (its
    source). The API's reference is the client's proof: it was only ever sent to the client
    that asked, so any API caller holding it may answer, but never a page's prediction.

    >>> page = StoredPrediction(channel="web", source="ab")
    >>> may_answer(page, "web", "ab"), may_answer(page, "web", "cd"), may_answer(page, "api", "ab")
    (True, False, False)
    """
    if prediction.channel != channel:
        return False
    if channel == WEB:
        return source is not None and prediction.source == source
    return True


def answer(
    session: Session, reference: str, correct: bool, channel: str, source: str | None
) -> tuple[StoredPrediction, Feedback]:
    """Record an answer to the prediction named ``reference``, from a sender allowed to.

    The same rules as ``add`` once the prediction is found.

    Raises:
        UnknownPrediction: no stored prediction has that reference, or this sender may not
            answer it (the same error, so a reference's existence is not revealed).
        AlreadyLearned: a retrain has taken the earlier answer; it can no longer change.
    """
    prediction = find_prediction(session, reference, for_update=True)
    if not may_answer(prediction, channel, source):
        raise UnknownPrediction("there is no stored prediction with that reference")
    return prediction, add(session, prediction.id, correct, source)


def answer_of(session: Session, prediction_id: int) -> Feedback | None:
    """The answer to the stored prediction ``prediction_id``, if any."""
    return session.scalar(select(Feedback).where(Feedback.prediction_id == prediction_id))


def confirmed_label(prediction: StoredPrediction, correct: bool) -> int:
    """The label a person confirmed: the predicted one if correct, the other one if not.

    >>> confirmed_label(StoredPrediction(label="positive"), correct=False)
    0
    """
    predicted = LABEL_IDS[prediction.label]
    return predicted if correct else 1 - predicted


def add(session: Session, prediction_id: int, correct: bool, source: str | None = None) -> Feedback:
    """Record an answer from ``source``; a second answer replaces the first while pending.

    ``prediction_id`` is the internal id; requests go through ``answer``.

    Raises:
        UnknownPrediction: no stored prediction has that id.
        AlreadyLearned: a retrain has taken the earlier answer; it can no longer change.
    """
    # Locking the prediction serializes two answers to it (a double click): the second
    # waits, then finds the first's row and replaces it instead of inserting a duplicate.
    prediction = get_prediction(session, prediction_id, for_update=True)
    label = confirmed_label(prediction, correct)
    # Lock the row, so a retrain claiming it and this replacement cannot interleave.
    existing = session.scalar(
        select(Feedback).where(Feedback.prediction_id == prediction_id).with_for_update()
    )
    if existing is None:
        row = Feedback(
            prediction_id=prediction_id,
            correct=correct,
            label=label,
            status=PENDING,
            source=source,
        )
        session.add(row)
        session.flush()
        return row
    if existing.status != PENDING:
        raise AlreadyLearned(
            f"the answer to prediction {prediction.reference} is already {existing.status}; "
            "it can no longer change"
        )
    existing.correct = correct
    existing.label = label
    existing.source = source
    existing.updated_at = datetime.now(UTC)
    session.flush()
    return existing


# --- The retrain side: claim, mark, hand back; the operator side: quarantine. ---


@dataclass(frozen=True)
class Claimed:
    """A feedback row taken by a retrain: the text and label it learns."""

    id: int
    review: str
    label: int
    approved: bool
    source: str | None = None


def counts(session: Session) -> dict[str, int]:
    """Feedback rows per status (every status present, zero when none)."""
    query = select(Feedback.status, func.count()).group_by(Feedback.status)
    found = {status: number for status, number in session.execute(query)}
    return {status: int(found.get(status, 0)) for status in STATUSES}


def hand_back(session: Session) -> int:
    """Return rows left in "learning" by a dead retrain to where they came from.

    Only call it while holding the retrain lock: then no live run owns such rows. A row
    with a ``quarantined_version`` was approved by an operator; the others were pending.
    """
    approved = _updated(
        session,
        update(Feedback)
        .where(Feedback.status == LEARNING, Feedback.quarantined_version.is_not(None))
        .values(status=APPROVED),
    )
    pending = _updated(
        session,
        update(Feedback)
        .where(Feedback.status == LEARNING, Feedback.quarantined_version.is_(None))
        .values(status=PENDING),
    )
    return approved + pending


def _updated(session: Session, statement: Update) -> int:
    """Run an UPDATE; how many rows it changed."""
    result = cast(CursorResult[Any], session.execute(statement))
    return int(result.rowcount or 0)


def claim(session: Session, limit: int) -> list[Claimed]:
    """Take up to ``limit`` rows for learning (status "learning"), oldest first.

    Approved rows go first and alone, so the gate can be bypassed for exactly them.
    Labels are read after the rows are taken: from then on ``add`` refuses to change them.
    """
    for status in (APPROVED, PENDING):
        ids = list(
            session.scalars(
                select(Feedback.id)
                .where(Feedback.status == status)
                .order_by(Feedback.id)
                .limit(limit)
                .with_for_update()
            )
        )
        if ids:
            session.execute(
                update(Feedback)
                .where(Feedback.id.in_(ids), Feedback.status == status)
                .values(status=LEARNING)
            )
            return _claimed(session, ids, approved=status == APPROVED)
    return []


def _claimed(session: Session, ids: list[int], approved: bool) -> list[Claimed]:
    rows = session.execute(
        select(Feedback.id, StoredPrediction.review, Feedback.label, Feedback.source)
        .join(StoredPrediction, StoredPrediction.id == Feedback.prediction_id)
        .where(Feedback.id.in_(ids), Feedback.status == LEARNING)
        .order_by(Feedback.id)
    )
    return [
        Claimed(row_id, review, label, approved, source) for row_id, review, label, source in rows
    ]


def mark(session: Session, ids: Sequence[int], version: int, status: str) -> int:
    """Mark claimed rows learned, held out (the domain slice) or quarantined by
    ``version``; returns how many changed."""
    if status == LEARNED:
        values: dict[str, Any] = {"status": LEARNED, "learned_version": version}
    elif status == HELD_OUT:
        values = {"status": HELD_OUT, "slice_version": version}
    elif status == QUARANTINED:
        values = {"status": QUARANTINED, "quarantined_version": version}
    else:
        raise ValueError(
            f'status must be "{LEARNED}", "{HELD_OUT}" or "{QUARANTINED}", got "{status}"'
        )
    changed = 0
    for chunk in chunks(ids):
        changed += _updated(
            session,
            update(Feedback)
            .where(Feedback.id.in_(chunk), Feedback.status == LEARNING)
            .values(**values),
        )
    return changed


def suspects(session: Session, verdicts: dict[int, tuple[float, str]]) -> None:
    """Record why each of these claimed rows is quarantined alone: ``{id: (score, reason)}``."""
    if not verdicts:
        return
    # One bulk UPDATE by primary key, not one statement per row.
    session.execute(
        update(Feedback),
        [
            {
                "id": row_id,
                "quarantine_score": score,
                "quarantine_reason": reason[:QUARANTINE_REASON_CHARS],
            }
            for row_id, (score, reason) in verdicts.items()
        ],
    )


# The newest held-out answers the gate scores: the slice grows with the history (a tenth
# of it, 16,764 answers after 200,000 labels: bench/results/loop_scale.md), a run's cost must not.
DOMAIN_SLICE_ROWS = 5_000


def domain_slice(session: Session, limit: int = DOMAIN_SLICE_ROWS) -> Labelled:
    """The newest ``limit`` trusted answers held out of learning, oldest first: the gate's
    second evaluation set."""
    rows = list(
        session.execute(
            select(StoredPrediction.review, Feedback.label)
            .join(StoredPrediction, StoredPrediction.id == Feedback.prediction_id)
            .where(Feedback.status == HELD_OUT)
            .order_by(Feedback.id.desc())
            .limit(limit)
        )
    )
    rows.reverse()
    return Labelled.of(rows)


class NotQuarantined(LookupError):
    """An operator named feedback that is not (or no longer) quarantined."""


class BadSource(ValueError):
    """An operator's source prefix is too short, not hex digits, or names several sources."""


# The fewest hex digits of a source hash an operator may name it by.
SOURCE_PREFIX_MIN_CHARS = 6
SOURCE_PREFIX_PATTERN = re.compile(rf"[0-9a-f]{{{SOURCE_PREFIX_MIN_CHARS},{SOURCE_CHARS}}}")


@dataclass(frozen=True)
class Suspect:
    """A quarantined answer with what triage needs: the prediction, the reason, the source."""

    id: int
    review: str
    correct: bool
    label: int  # the label the answer makes
    predicted: str  # the label the model gave
    probability: float  # the model's probability of ``predicted``, as stored
    version: int | None  # the rejected version that quarantined it
    holdout_before: float | None
    holdout_after: float | None
    source: str | None  # None for answers from before sources were stored
    answered_at: datetime
    # Set when the screen quarantined this answer alone (``screening``), else None.
    screen_score: float | None = None
    reason: str | None = None

    @property
    def score(self) -> float:
        """The screen's score, or how sure the model was of the label this answer rejects
        (``_SCORE`` in SQL).

        >>> Suspect(1, "", False, 0, "positive", 0.9, 2, None, None, None, datetime.now()).score
        0.9
        """
        if self.screen_score is not None:
            return self.screen_score
        return 1.0 - self.probability if self.correct else self.probability


@dataclass(frozen=True)
class Triage:
    """The most suspect quarantined answers, and how many match in all."""

    rows: list[Suspect]
    total: int


# The screen's score when it quarantined the answer alone; else how sure the model was of
# the label the answer rejects: an "incorrect" answer rejects the label the model gave, a
# "correct" one the other.
_SCORE = func.coalesce(
    Feedback.quarantine_score,
    case(
        (Feedback.correct.is_(True), 1.0 - StoredPrediction.probability),
        else_=StoredPrediction.probability,
    ),
)


def source_prefix(prefix: str) -> str:
    """``prefix`` as a source-hash prefix: 6 to 32 hex digits, lower case.

    >>> source_prefix("05DBB8")
    '05dbb8'

    Raises:
        BadSource: it is shorter, longer, or not hex digits.
    """
    cleaned = prefix.strip().lower()
    if not SOURCE_PREFIX_PATTERN.fullmatch(cleaned):
        raise BadSource(
            f"a source is {SOURCE_PREFIX_MIN_CHARS} to {SOURCE_CHARS} hex digits of its hash, "
            f'got "{prefix}"'
        )
    return cleaned


def triage(
    session: Session, version: int | None = None, source: str | None = None, limit: int = 50
) -> Triage:
    """Quarantined answers (of ``version``, from sources starting ``source``), most suspect
    first: by ``Suspect.score``, so a confident prediction answered "incorrect" leads; ties
    oldest first.

    Raises:
        BadSource: ``source`` is not a valid prefix (``source_prefix``).
    """
    filters = _quarantine_filters(version, None if source is None else source_prefix(source))
    rows = session.execute(
        select(Feedback, StoredPrediction, ModelVersion)
        .join(StoredPrediction, StoredPrediction.id == Feedback.prediction_id)
        .outerjoin(ModelVersion, ModelVersion.version == Feedback.quarantined_version)
        .where(*filters)
        .order_by(_SCORE.desc(), Feedback.id)
        .limit(limit)
    )
    total = session.scalar(select(func.count()).select_from(Feedback).where(*filters))
    return Triage([_suspect(*row) for row in rows], int(total or 0))


def _quarantine_filters(version: int | None, prefix: str | None) -> list[ColumnElement[bool]]:
    filters = [Feedback.status == QUARANTINED]
    if version is not None:
        filters.append(Feedback.quarantined_version == version)
    if prefix is not None:
        filters.append(Feedback.source.startswith(prefix, autoescape=True))
    return filters


def _suspect(row: Feedback, prediction: StoredPrediction, model: ModelVersion | None) -> Suspect:
    details = (model.details if model is not None else None) or {}
    return Suspect(
        id=row.id,
        review=prediction.review,
        correct=row.correct,
        label=row.label,
        predicted=prediction.label,
        probability=prediction.probability,
        version=row.quarantined_version,
        holdout_before=details.get("holdout_accuracy_before"),
        holdout_after=model.holdout_accuracy if model is not None else None,
        source=row.source,
        answered_at=row.updated_at,
        screen_score=row.quarantine_score,
        reason=row.quarantine_reason,
    )


def matching_source(session: Session, prefix: str) -> str:
    """The one source hash of quarantined feedback that starts with ``prefix``.

    Raises:
        BadSource: ``prefix`` is not a valid prefix, or more than one source starts with it.
        NotQuarantined: no quarantined feedback is from such a source.
    """
    cleaned = source_prefix(prefix)
    found = list(
        session.scalars(
            select(Feedback.source)
            .where(*_quarantine_filters(None, cleaned))
            .distinct()
            .order_by(Feedback.source)
            .limit(2)
        )
    )
    if not found:
        raise NotQuarantined(f"there is no quarantined feedback from source {cleaned}")
    if len(found) > 1:
        raise BadSource(f"source {cleaned} names more than one source; give more of its digits")
    return str(found[0])


def approve(
    session: Session,
    ids: Sequence[int] = (),
    version: int | None = None,
    source: str | None = None,
) -> int:
    """Let quarantined rows be learned by the next retrain, past the gate once.

    ``source`` is a prefix of one source's hash (``matching_source``).

    Raises:
        NotQuarantined: one of ``ids`` is not a quarantined row, or nothing matched.
        BadSource: ``source`` is too short, not hex, or names more than one source.
    """
    return _settle(session, ids, version, source, APPROVED)


def discard(
    session: Session,
    ids: Sequence[int] = (),
    version: int | None = None,
    source: str | None = None,
) -> int:
    """Drop quarantined rows for good: no version will learn them.

    ``source`` is a prefix of one source's hash (``matching_source``).

    Raises:
        NotQuarantined: one of ``ids`` is not a quarantined row, or nothing matched.
        BadSource: ``source`` is too short, not hex, or names more than one source.
    """
    return _settle(session, ids, version, source, DISCARDED)


def _settle(
    session: Session, ids: Sequence[int], version: int | None, source: str | None, status: str
) -> int:
    query = select(Feedback).where(*_quarantine_filters(version, None))
    where = f" by version {version}" if version is not None else ""
    if source is not None:
        full = matching_source(session, source)
        query = query.where(Feedback.source == full)
        where += f" from source {full[:8]}"
    if ids:
        query = query.where(Feedback.id.in_(list(ids)))
    rows = list(session.scalars(query.order_by(Feedback.id).with_for_update()))
    missing = sorted(set(ids) - {row.id for row in rows})
    if missing:
        raise NotQuarantined(f"feedback {_listed(missing)} is not quarantined{where}")
    if not rows:
        raise NotQuarantined(f"there is no quarantined feedback{where}")
    for row in rows:
        row.status = status
        row.updated_at = datetime.now(UTC)
    session.flush()
    return len(rows)


def _listed(ids: Sequence[int]) -> str:
    """
    >>> _listed([3, 4])
    '3, 4'
    """
    return ", ".join(str(i) for i in ids)


def chunks(ids: Sequence[int], size: int = 500) -> list[Sequence[int]]:
    """``ids`` in pieces small enough for one ``IN (...)`` each."""
    return [ids[start : start + size] for start in range(0, len(ids), size)]
