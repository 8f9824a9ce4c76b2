"""Review text to features: scikit-learn's ``HashingVectorizer`` with a tokenizer of our own.

The features are exactly those of ``make_hashing_vectorizer()``: a ``HashingVectorizer``
whose analyzer is ``analyze`` (word 1- to 3-grams of ``tokenize``'s tokens), binary, rows
of unit length. ``transform`` computes the same matrix in C (``_hashing.c``, built by
``make``), about ten times faster than the vectorizer's Python analyzer; the tests check
that the two agree, and without the extension ``transform`` uses the vectorizer itself.

Every constant that changes the features lives here and is recorded with each model
version (``feature_params()``); a model made with other values is refused on load.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from itertools import pairwise
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import sparse

if TYPE_CHECKING:
    from sklearn.feature_extraction.text import HashingVectorizer

_hashing: ModuleType | None
try:
    import movieclassifier._hashing as _hashing
except ImportError:  # not built (no C compiler): the vectorizer gives the same, slower
    _hashing = None

# Bump when tokenization or hashing changes in a way that moves features.
TOKENIZER_VERSION = 3
N_FEATURES = 2**22
NGRAM_RANGE = (1, 3)
NORM = "l2"
BINARY = True
# float32 halves the model file and the weights' memory traffic; accuracy is the same.
DTYPE = "float32"
HASHING = "sklearn-HashingVectorizer"

_HTML_TAG = re.compile(rb"<[^>\n]*>")
# White space other than a newline: a line break never spans two reviews.
_LINE_BREAK = re.compile(rb"<br[ \t\r\x0b\x0c]*/?>")
SENTENCE_BREAK = b"\x01"
# One pattern per first byte: a literal prefix is found much faster than a character class.
_EMOTICONS = [
    re.compile(re.escape(eyes) + rb"-?(?:[()]|[dp](?![a-z0-9]))") for eyes in (b":", b";", b"=")
]
# Emoticons become words that lower-cased text cannot contain; tokenize() shows them back.
_EMOTICON_WORDS = {
    b":)": b" EMOSMILE ",
    b"=)": b" EMOSMILE ",
    b":(": b" EMOFROWN ",
    b"=(": b" EMOFROWN ",
    b";)": b" EMOWINK ",
    b";(": b" EMOFROWN ",
    b":d": b" EMOGRIN ",
    b";d": b" EMOGRIN ",
    b"=d": b" EMOGRIN ",
    b":p": b" EMOTONGUE ",
    b";p": b" EMOTONGUE ",
    b"=p": b" EMOTONGUE ",
}
_SHOWN = {"EMOSMILE": ":)", "EMOFROWN": ":(", "EMOWINK": ";)", "EMOGRIN": ":D", "EMOTONGUE": ":P"}

# A token: a run of ASCII letters and digits and non-ASCII characters (the "é" of
# "café"), or "!" or "?" alone. _hashing.c's byte classes say the same.
_TOKEN = re.compile(r"[A-Za-z0-9\u0080-\U0010ffff]+|[!?]")


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
    data = joined.encode("utf-8", "replace")
    if _hashing is not None:
        return _hashing.normalize(data, mark_breaks)  # the same steps in C
    return _normalize_in_python(data, mark_breaks)


def _normalize_in_python(data: bytes, mark_breaks: bool) -> bytes:
    """``normalize`` after encoding, with regular expressions: the C extension's reference."""
    data = data.lower()
    if mark_breaks:
        data = _LINE_BREAK.sub(b" " + SENTENCE_BREAK + b" ", data)
    data = _HTML_TAG.sub(b" ", data)
    data = data.replace(b"\xe2\x80\x99", b"'").replace(b"n't", b" not")
    for emoticon in _EMOTICONS:
        data = emoticon.sub(_emoticon_word, data)
    return data


def _emoticon_word(match: re.Match[bytes]) -> bytes:
    return _EMOTICON_WORDS[match.group().replace(b"-", b"")]


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
    return [_SHOWN.get(token, token) for token in _tokens(normalize([text]).decode("utf-8"))]


def _tokens(normalized: str) -> list[str]:
    return _TOKEN.findall(normalized)


def analyze(text: str) -> list[str]:
    """The features of one review, as ``HashingVectorizer`` hashes them: n-grams of tokens.

    >>> analyze("Not good :)")
    ['not', 'good', 'EMOSMILE', 'not good', 'good EMOSMILE', 'not good EMOSMILE']
    """
    return _analyze_normalized(normalize([text]).decode("utf-8"))


def _analyze_normalized(normalized: str) -> list[str]:
    # scikit-learn's word n-grams: all n-grams of each length in turn, joined by a space.
    tokens = _tokens(normalized)
    low, high = NGRAM_RANGE
    return [
        " ".join(tokens[start : start + n])
        for n in range(low, high + 1)
        for start in range(len(tokens) - n + 1)
    ]


def make_hashing_vectorizer(analyzer: Any = analyze) -> HashingVectorizer:
    """The ``HashingVectorizer`` whose features ``transform`` computes (the reference)."""
    # Imported here: the hashing workers import this module and need no scikit-learn.
    from sklearn.feature_extraction.text import HashingVectorizer

    return HashingVectorizer(
        analyzer=analyzer,
        n_features=N_FEATURES,
        binary=BINARY,
        norm=NORM,
        alternate_sign=False,
        dtype=np.dtype(DTYPE).type,
    )


def transform(texts: Sequence[str]) -> sparse.csr_matrix:
    """Features of each review, one row each: hashed n-grams, binary, rows of unit length."""
    return _matrix(*feature_indices(texts), len(texts))


def _matrix(indices: np.ndarray, indptr: np.ndarray, n_rows: int) -> sparse.csr_matrix:
    matrix = sparse.csr_matrix(
        (np.empty(len(indices), DTYPE), indices, indptr), shape=(n_rows, N_FEATURES)
    )
    return weigh(matrix)


def feature_indices(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """CSR column indices (each row's distinct columns, in no particular order) and row
    pointers: ``HashingVectorizer``'s matrix without the values."""
    if not texts:
        return np.zeros(0, np.int32), np.zeros(1, np.int32)
    if _hashing is None:
        return _reference_indices(make_hashing_vectorizer(), texts)
    indices, indptr, _ = _hash(normalize(texts), len(texts), min_sentence_tokens=0)
    return indices, indptr


def feature_scores(texts: Sequence[str], weights: np.ndarray) -> list[float]:
    """Each review's dot product of ``weights`` (one per column) with its row of features.

    ``vectorize(texts) @ weights`` without the matrix: a row's values are equal (binary, unit
    length), so its product is the sum of its distinct columns' weights over the square root
    of their number, summed in float64. In C, one call normalizes, hashes and sums review
    by review, straight from the strings: the cheapest way to score the single reviews of
    the web service.
    """
    if _hashing is None:
        indices, indptr = feature_indices(texts)
        return [_row_score(weights, indices[start:end]) for start, end in pairwise(indptr)]
    return _hashing.score_texts(  # type: ignore[no-any-return]
        texts, NGRAM_RANGE[0], NGRAM_RANGE[1], N_FEATURES, weights
    )


def _row_score(weights: np.ndarray, columns: np.ndarray) -> float:
    return float(weights[columns].sum(dtype=np.float64)) / math.sqrt(len(columns) or 1)


def _hash(
    data: bytes, n_reviews: int, min_sentence_tokens: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``_hashing.hash_reviews`` of a normalized buffer: indices, row pointers, row reviews."""
    assert _hashing is not None
    raw = _hashing.hash_reviews(
        data, n_reviews, NGRAM_RANGE[0], NGRAM_RANGE[1], N_FEATURES, min_sentence_tokens
    )
    indices, indptr, review = (np.frombuffer(part, np.int32) for part in raw)
    return indices, indptr, review


def _reference_indices(
    vectorizer: HashingVectorizer, texts: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    matrix = vectorizer.transform(texts)
    matrix.sort_indices()
    return matrix.indices, matrix.indptr


def weigh(matrix: sparse.csr_matrix) -> sparse.csr_matrix:
    """Binary values scaled so that each row has unit length (in place; returns ``matrix``)."""
    counts = np.diff(matrix.indptr)
    scale = np.zeros(len(counts), DTYPE)
    np.divide(1.0, np.sqrt(counts, dtype=DTYPE), out=scale, where=counts > 0)
    matrix.data = np.repeat(scale, counts)
    return matrix


# Sentence augmentation, used by training only (``featurepool``): it changes which rows a
# model learns from, not the features of a text, so it is not a feature parameter.
MIN_SENTENCE_TOKENS = 4
_PIECE_END = re.compile(rb"(?<=[.!?])(?=[ \t\r\x0b\x0c])|" + re.escape(SENTENCE_BREAK))


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
    if _hashing is None:
        pieces, review = _split_pieces(data, min_tokens)
        vectorizer = make_hashing_vectorizer(_analyze_normalized)
        indices, indptr = _reference_indices(vectorizer, [p.decode("utf-8") for p in pieces])
    else:
        indices, indptr, review = _hash(data, len(texts), min_tokens)
    return _matrix(indices, indptr, len(review)), review


def split_sentences(review: str, min_tokens: int = MIN_SENTENCE_TOKENS) -> list[str]:
    """The normalized pieces that ``sentence_features`` learns from one review, as text.

    >>> split_sentences("Great fun. I loved every minute of it!<br /><br />See it with friends.")
    ['i loved every minute of it!', 'see it with friends.']
    >>> split_sentences("Awful. Just awful.")
    ['awful. just awful.']
    """
    pieces, _ = _split_pieces(normalize([review], mark_breaks=True), min_tokens)
    return [piece.strip().decode("utf-8", "replace") for piece in pieces]


def _split_pieces(data: bytes, min_tokens: int) -> tuple[list[bytes], np.ndarray]:
    """``sentence_features``' pieces of a normalized buffer (the C extension's reference)."""
    pieces: list[bytes] = []
    review: list[int] = []
    for number, line in enumerate(data.split(b"\n")):
        kept = [
            piece
            for piece in _PIECE_END.split(line)
            if len(_tokens(piece.decode("utf-8"))) >= min_tokens
        ]
        kept = kept or [line.replace(SENTENCE_BREAK, b" ")]
        pieces.extend(kept)
        review.extend([number] * len(kept))
    return pieces, np.asarray(review, np.int32)


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
