"""What a label value in a data file means: positive, negative, or a row to skip; and the
words for the rows skipped (``datafiles``, ``train``, ``evaluate``)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

# The labels understood without --positive-label/--negative-label (any case).
POSITIVE = ("1", "positive", "pos", "true")
NEGATIVE = ("0", "negative", "neg", "false")
# Why a row was skipped (``ReviewFiles.skipped``).
EMPTY_TEXT = "empty_text"
IGNORED_LABEL = "ignored_label"
SKIP = -1


class LabelRuleError(ValueError):
    """The label options contradict each other (the message says how)."""


def _values(values: Iterable[str]) -> tuple[str, ...]:
    """Values as given on the command line, a comma list or one each: stripped, lower case."""
    split = (part.strip().lower() for value in values for part in value.split(","))
    return tuple(dict.fromkeys(part for part in split if part))


@dataclass(frozen=True)
class LabelRule:
    """Which label values are positive, negative, or rows to skip (compared in lower case).

    >>> rule = LabelRule.of(positive=["4,5"], negative=["1", "2"], ignore=["3"])
    >>> [rule.label(v) for v in ("5", " 1 ", "3")], rule.label("7") is None
    ([1, 0, -1], True)
    >>> LabelRule.of().label("POS"), LabelRule.of().label("False")
    (1, 0)
    """

    positive: tuple[str, ...] = POSITIVE
    negative: tuple[str, ...] = NEGATIVE
    ignore: tuple[str, ...] = ()
    mapping: dict[str, int] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self.mapping.update({value: SKIP for value in self.ignore})
        self.mapping.update({value: 0 for value in self.negative})
        self.mapping.update({value: 1 for value in self.positive})

    @classmethod
    def of(
        cls, positive: Iterable[str] = (), negative: Iterable[str] = (), ignore: Iterable[str] = ()
    ) -> LabelRule:
        """The rule for these options: the defaults, or the values given (both sides then).

        Raises:
            LabelRuleError: only one side is given, or a value is on two sides.
        """
        pos, neg, skip = _values(positive), _values(negative), _values(ignore)
        if bool(pos) != bool(neg):
            raise LabelRuleError(
                "give both --positive-label and --negative-label (they replace the default "
                "labels), or neither"
            )
        if not pos:
            pos, neg = POSITIVE, NEGATIVE
        for one, other, names in (
            (pos, neg, "--positive-label and --negative-label"),
            (pos, skip, "--positive-label and --ignore-label"),
            (neg, skip, "--negative-label and --ignore-label"),
        ):
            both = [value for value in one if value in other]
            if both:
                raise LabelRuleError(f"{names} both name {', '.join(map(repr, both))}")
        return cls(pos, neg, skip)

    def label(self, value: str) -> int | None:
        """1, 0, -1 (skip the row), or None when ``value`` is not accepted."""
        return self.mapping.get(value.strip().lower())

    def accepted(self) -> str:
        """The values accepted, for a message."""
        words = f"positive ({', '.join(self.positive)}) or negative ({', '.join(self.negative)})"
        if self.ignore:
            words += f", or ignored ({', '.join(self.ignore)})"
        return words + ", in any case"


def describe_skipped(skipped: Counter[str] | dict[str, int]) -> str:
    """The skipped rows in words, or "" when none were.

    >>> describe_skipped({"empty_text": 2, "ignored_label": 1})
    'skipped 3 rows: 2 with empty text, 1 with an ignored label'
    """
    total = sum(skipped.values())
    if not total:
        return ""
    reasons = {EMPTY_TEXT: "with empty text", IGNORED_LABEL: "with an ignored label"}
    parts = [f"{count} {reasons.get(why, why)}" for why, count in skipped.items() if count]
    return f"skipped {total} row{'s' if total != 1 else ''}: {', '.join(parts)}"


def skipped_dict(skipped: Counter[str] | dict[str, int]) -> dict[str, int]:
    """Every reason with its count (0 when none), for ``--json``."""
    return {EMPTY_TEXT: skipped.get(EMPTY_TEXT, 0), IGNORED_LABEL: skipped.get(IGNORED_LABEL, 0)}
