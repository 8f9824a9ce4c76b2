"""Review text to features: scikit-learn's ``HashingVectorizer`` with a tokenizer of our own.

The features are exactly those of ``make_hashing_vectorizer()``: a ``HashingVectorizer``
whose analyzer is ``analyze`` (word 1- to 3-grams of ``tokenize``'s tokens), binary, rows
of unit length. ``reference`` defines them in Python; ``_hashing.c`` (built when the
package is installed) computes the same in C, several times faster
(bench/results/train.md), and the tests check that the two agree.

The backend is chosen once, at import: ``BACKEND`` is ``C_BACKEND`` when the extension is
built, else ``PYTHON_BACKEND`` (``warn_if_slow`` says so in the log). Nothing else of the
package is imported here: the hashing worker processes import this and ``pool`` only.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from itertools import pairwise
from typing import Any, NamedTuple

import numpy as np
from scipy import sparse

from movieclassifier.features import reference
from movieclassifier.features.reference import (
    BINARY,
    DTYPE,
    HASHING,
    N_FEATURES,
    NGRAM_RANGE,
    NORM,
    SENTENCE_BREAK,
    SHOWN,
    TOKEN,
    TOKENIZER_VERSION,
    analyze_normalized,
    hashed_indices,
    normalize_bytes,
    split_pieces,
    tokens,
)

__all__ = [
    "BACKEND",
    "N_FEATURES",
    "SENTENCE_BREAK",
    "TOKENIZER_VERSION",
    "analyze",
    "describe_mismatch",
    "feature_indices",
    "feature_params",
    "feature_scores",
    "make_hashing_vectorizer",
    "make_vectorizer",
    "review_ngrams",
    "normalize",
    "sentence_features",
    "split_sentences",
    "tokenize",
    "transform",
    "unit_rows",
]

log = logging.getLogger(__name__)

Indices = tuple[np.ndarray, np.ndarray]
SLOW_WARNING = (
    "the C feature extension is not built (no C compiler when the package was installed): "
    "using the Python features, the same but several times slower; "
    'rebuild with "make build"'
)
# Sentence augmentation, used by training only (``pool``): it changes which rows a model
# learns from, not the features of a text, so it is not a feature parameter.
MIN_SENTENCE_TOKENS = 4


class Backend(NamedTuple):
    """What differs between the C and the Python features: four functions, same results."""

    name: str
    normalize: Callable[[bytes, bool], bytes]
    indices: Callable[[Sequence[str]], Indices]
    scores: Callable[[Sequence[str], np.ndarray], list[float]]
    # (normalized buffer with breaks, reviews, min tokens) -> indices, indptr, row reviews
    sentence_indices: Callable[[bytes, int, int], tuple[np.ndarray, np.ndarray, np.ndarray]]
    # (one normalized review) -> its words, where punctuation parts them, n-gram columns
    review_ngrams: Callable[[bytes], tuple[list[str], np.ndarray, np.ndarray]]


def make_hashing_vectorizer(analyzer: Callable[[str], list[str]] | None = None) -> Any:
    """The ``HashingVectorizer`` whose features ``transform`` computes (the reference)."""
    return reference.make_hashing_vectorizer(analyzer or analyze)


def _python_indices(texts: Sequence[str]) -> Indices:
    return hashed_indices(make_hashing_vectorizer(analyze), texts)


def _python_scores(texts: Sequence[str], weights: np.ndarray) -> list[float]:
    indices, indptr = feature_indices(texts)
    return [_row_score(weights, indices[start:end]) for start, end in pairwise(indptr)]


def _row_score(weights: np.ndarray, columns: np.ndarray) -> float:
    return float(weights[columns].sum(dtype=np.float64)) / math.sqrt(len(columns) or 1)


def _python_sentence_indices(
    data: bytes, _n_reviews: int, min_tokens: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    pieces, review = split_pieces(data, min_tokens)
    vectorizer = make_hashing_vectorizer(analyze_normalized)
    indices, indptr = hashed_indices(vectorizer, [p.decode("utf-8") for p in pieces])
    return indices, indptr, review


def _python_review_ngrams(data: bytes) -> tuple[list[str], np.ndarray, np.ndarray]:
    text = data.decode("utf-8")
    found = list(TOKEN.finditer(text))
    words = [match.group() for match in found]
    apart = np.array([bool(text[a.end() : b.start()].strip()) for a, b in pairwise(found)], bool)
    grams = analyze_normalized(text)
    if not grams:
        return words, apart, np.zeros(0, np.int32)
    # Each n-gram is its own document of one feature.
    indices, _ = hashed_indices(make_hashing_vectorizer(_alone), grams)
    return words, apart, indices


def _alone(gram: str) -> list[str]:
    return [gram]


PYTHON_BACKEND = Backend(
    "python",
    normalize_bytes,
    _python_indices,
    _python_scores,
    _python_sentence_indices,
    _python_review_ngrams,
)


def _c_backend() -> Backend | None:
    try:
        from movieclassifier.features import _hashing
    except ImportError:
        return None
    low, high = NGRAM_RANGE

    def hash_buffer(data: bytes, n_reviews: int, min_tokens: int) -> Any:
        raw = _hashing.hash_reviews(data, n_reviews, low, high, N_FEATURES, min_tokens)
        return tuple(np.frombuffer(part, np.int32) for part in raw)

    def indices(texts: Sequence[str]) -> Indices:
        found, indptr, _ = hash_buffer(normalize(texts), len(texts), 0)
        return found, indptr

    def scores(texts: Sequence[str], weights: np.ndarray) -> list[float]:
        return _hashing.score_texts(texts, low, high, N_FEATURES, weights)  # type: ignore[arg-type]

    def review_ngrams(data: bytes) -> tuple[list[str], np.ndarray, np.ndarray]:
        words, apart, columns = _hashing.ngram_columns(data, low, high, N_FEATURES)
        return words, np.frombuffer(apart, np.bool_), np.frombuffer(columns, np.int32)

    return Backend("c", _hashing.normalize, indices, scores, hash_buffer, review_ngrams)


C_BACKEND = _c_backend()
BACKEND = C_BACKEND or PYTHON_BACKEND


def warn_if_slow() -> None:
    """Log a warning when the features run in Python (the extension is not built)."""
    if BACKEND.name != "c":
        log.warning(SLOW_WARNING)


def normalize(texts: Sequence[str], mark_breaks: bool = False) -> bytes:
    """The reviews as one lower-cased UTF-8 buffer, one review per line, ready to split.

    HTML tags are dropped; "n't" becomes " not" (IMDb's "doesn't" and Rotten Tomatoes'
    pre-tokenised "does n't" read the same); emoticons become marker words. With
    ``mark_breaks``, an HTML line break becomes ``SENTENCE_BREAK`` (it ends a sentence; the
    features are the same, as that byte separates tokens like a space).

    >>> normalize(["Didn't LIKE it :-( <br />", "does n't"])
    b'did not like it  EMOFROWN   \\ndoes  not'
    """
    joined = "\n".join(texts)
    if joined.count("\n") != len(texts) - 1:
        joined = "\n".join(text.replace("\n", " ") for text in texts)
    return BACKEND.normalize(joined.encode("utf-8", "replace"), mark_breaks)


def tokenize(text: str) -> list[str]:
    """Split a review into lower-case tokens; HTML is dropped, emoticons, "!" and "?" kept.

    An apostrophe separates tokens, so IMDb's "it's" and Rotten Tomatoes' "it 's" agree.

    >>> tokenize("I didn't like it.<br /><br />Not at ALL :-(")
    ['i', 'did', 'not', 'like', 'it', 'not', 'at', 'all', ':(']
    >>> rotten_tomatoes = tokenize("it 's great , does n't disappoint !")
    >>> rotten_tomatoes == tokenize("It's great, doesn't disappoint!")
    True
    >>> rotten_tomatoes
    ['it', 's', 'great', 'does', 'not', 'disappoint', '!']
    >>> tokenize("Wow!! 10/10 :D")
    ['wow', '!', '!', '10', '10', ':D']
    """
    return [SHOWN.get(token, token) for token in tokens(normalize([text]).decode("utf-8"))]


def analyze(text: str) -> list[str]:
    """The features of one review, as ``HashingVectorizer`` hashes them: n-grams of tokens.

    >>> analyze("Not good :)")
    ['not', 'good', 'EMOSMILE', 'not good', 'good EMOSMILE', 'not good EMOSMILE']
    """
    return analyze_normalized(normalize([text]).decode("utf-8"))


def transform(texts: Sequence[str]) -> sparse.csr_matrix:
    """Features of each review, one row each: hashed n-grams, binary, rows of unit length."""
    return _matrix(*feature_indices(texts), len(texts))


def _matrix(indices: np.ndarray, indptr: np.ndarray, n_rows: int) -> sparse.csr_matrix:
    matrix = sparse.csr_matrix(
        (np.empty(len(indices), DTYPE), indices, indptr), shape=(n_rows, N_FEATURES)
    )
    return unit_rows(matrix)


def feature_indices(texts: Sequence[str]) -> Indices:
    """CSR column indices (each row's distinct columns, in no particular order) and row
    pointers: ``HashingVectorizer``'s matrix without the values."""
    if not texts:
        return np.zeros(0, np.int32), np.zeros(1, np.int32)
    return BACKEND.indices(texts)


def feature_scores(texts: Sequence[str], weights: np.ndarray) -> list[float]:
    """Each review's dot product of ``weights`` (one per column) with its row of features.

    ``transform(texts) @ weights`` without the matrix: a row's values are equal (binary, unit
    length), so its product is the sum of its distinct columns' weights over the square root
    of their number, summed in float64. In C, one call normalizes, hashes and sums review
    by review, straight from the strings: the cheapest way to score the single reviews of
    the web service.
    """
    return BACKEND.scores(texts, weights)


class ReviewNgrams(NamedTuple):
    """A review's words as the features read them, and every n-gram occurrence of them.

    The occurrences are in ``analyze``'s order (all n-grams of each length in turn; a
    repeated n-gram appears each time): occurrence i is words ``starts[i]`` to
    ``starts[i] + lengths[i]``, hashed to column ``columns[i]``, so the distinct columns are
    those of ``feature_indices``. ``apart[i]``: punctuation separates word i from i + 1.
    """

    words: list[str]
    apart: np.ndarray
    starts: np.ndarray
    lengths: np.ndarray
    columns: np.ndarray


def review_ngrams(review: str) -> ReviewNgrams:
    """What ``explaining`` needs to give each n-gram of ``review`` its share of the score.

    >>> found = review_ngrams("Not good, :)")
    >>> found.words, found.apart.tolist(), found.starts.tolist(), found.lengths.tolist()
    (['not', 'good', 'EMOSMILE'], [False, True], [0, 1, 2, 0, 1, 0], [1, 1, 1, 2, 2, 3])
    >>> set(found.columns.tolist()) == set(feature_indices(["Not good, :)"])[0].tolist())
    True
    """
    words, apart, columns = BACKEND.review_ngrams(normalize([review]))
    low, high = NGRAM_RANGE
    sizes = range(low, min(high, len(words)) + 1)
    starts = [np.arange(len(words) - n + 1) for n in sizes]
    lengths = [np.full(len(words) - n + 1, n) for n in sizes]
    if not starts:
        empty = np.zeros(0, np.int64)
        return ReviewNgrams(words, apart, empty, empty, np.zeros(0, np.int32))
    return ReviewNgrams(words, apart, np.concatenate(starts), np.concatenate(lengths), columns)


def unit_rows(matrix: sparse.csr_matrix) -> sparse.csr_matrix:
    """Binary values scaled so that each row has unit length (in place; returns ``matrix``)."""
    counts = np.diff(matrix.indptr)
    scale = np.zeros(len(counts), DTYPE)
    np.divide(1.0, np.sqrt(counts, dtype=DTYPE), out=scale, where=counts > 0)
    matrix.data = np.repeat(scale, counts)
    return matrix


def sentence_features(
    texts: Sequence[str], min_tokens: int = MIN_SENTENCE_TOKENS
) -> tuple[sparse.csr_matrix, np.ndarray]:
    """Features of each review's sentences, one row each, and the review of every row.

    A piece of a review ends after ".", "!" or "?" followed by white space, and at an HTML
    line break; pieces of at least ``min_tokens`` tokens are kept ("Wow.", "10/10" carry
    little on their own), and a review without such a piece is kept whole, so no review is
    lost.

    >>> features, review = sentence_features(["Great fun. I loved every minute!", "Awful."])
    >>> features.shape[0], review.tolist()
    (2, [0, 1])
    """
    if not texts:
        return transform([]), np.zeros(0, np.int32)
    data = normalize(texts, mark_breaks=True)
    indices, indptr, review = BACKEND.sentence_indices(data, len(texts), min_tokens)
    return _matrix(indices, indptr, len(review)), review


def split_sentences(review: str, min_tokens: int = MIN_SENTENCE_TOKENS) -> list[str]:
    """The normalized pieces that ``sentence_features`` learns from one review, as text.

    >>> split_sentences("Great fun. I loved every minute of it!<br /><br />See it with friends.")
    ['i loved every minute of it!', 'see it with friends.']
    >>> split_sentences("Awful. Just awful.")
    ['awful. just awful.']
    """
    pieces, _ = split_pieces(normalize([review], mark_breaks=True), min_tokens)
    return [piece.strip().decode("utf-8", "replace") for piece in pieces]


class Vectorizer:
    """The features as an object with scikit-learn's ``transform``; holds no state."""

    def transform(self, texts: Sequence[str]) -> sparse.csr_matrix:
        return transform(texts)


def make_vectorizer() -> Vectorizer:
    """A vectorizer; it holds no state, so every process can build its own."""
    return Vectorizer()


def feature_params() -> dict[str, Any]:
    """What a model version must agree with to be loaded by this code."""
    return {
        "tokenizer_version": TOKENIZER_VERSION,
        "hashing": HASHING,
        "n_features": N_FEATURES,
        "ngram_range": list(NGRAM_RANGE),
        "norm": NORM,
        "binary": BINARY,
        "dtype": DTYPE,
    }


def describe_mismatch(recorded: dict[str, Any]) -> str | None:
    """Say which feature parameters differ between a stored model and this code, or None.

    >>> describe_mismatch(feature_params()) is None
    True
    >>> describe_mismatch({**feature_params(), "n_features": 2**18})
    'n_features=262144 in the model, 4194304 in this code'
    """
    current = feature_params()
    diffs = [
        f"{key}={recorded.get(key)!r} in the model, {value!r} in this code"
        for key, value in current.items()
        if recorded.get(key) != value
    ]
    return "; ".join(diffs) or None
