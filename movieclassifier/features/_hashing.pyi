# Types of the C extension built from _hashing.c (see features/__init__.py and reference.py).

from collections.abc import Sequence

from typing_extensions import Buffer

def normalize(buffer: bytes, mark_breaks: bool, /) -> bytes: ...
def hash_reviews(
    buffer: bytes,
    n_reviews: int,
    ngram_min: int,
    ngram_max: int,
    n_features: int,
    min_sentence_tokens: int,
    /,
) -> tuple[bytes, bytes, bytes]: ...
def score_texts(
    texts: Sequence[str],
    ngram_min: int,
    ngram_max: int,
    n_features: int,
    weights: Buffer,
    /,
) -> list[float]: ...
def ngram_columns(
    buffer: bytes,
    ngram_min: int,
    ngram_max: int,
    n_features: int,
    /,
) -> tuple[list[str], bytes, bytes]: ...
