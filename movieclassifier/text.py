"""Review text to features: a stateless hashing vectorizer with a tokenizer of our own.

Every constant that changes the features lives here and is recorded with each model
version (``feature_params()``); a model made with other values is refused on load.

The hashing runs in C (``_hashing.c``, built by ``make``) over one bytes buffer per batch,
about 30 times faster than scikit-learn's ``HashingVectorizer`` with a Python analyzer.
The same features are also computed in numpy (``_numpy_features``): the reference that the
C code is tested against, and the fallback where the extension was not built.
``tokenize`` gives the same tokens one by one, for reading and for tests.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from types import ModuleType
from typing import Any

import numpy as np
from scipy import sparse

_hashing: ModuleType | None
try:
    import movieclassifier._hashing as _hashing
except ImportError:  # not built (no C compiler): the numpy path gives the same features
    _hashing = None

# Bump when tokenization or hashing changes in a way that moves features.
TOKENIZER_VERSION = 2
N_FEATURES = 2**22
NGRAM_RANGE = (1, 3)
NORM = "l2"
BINARY = True
# float32 halves the model file and the weights' memory traffic; accuracy is the same.
DTYPE = "float32"
HASHING = "poly64-fmix64"
# Reviews hashed together in one numpy pass, without the C extension (not a feature
# parameter: results are equal).
CHUNK = 500

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

# Byte classes: 0 separates tokens, 1 is part of a word, 2 is a token of its own (! and ?),
# 3 ends a review. Bytes >= 0x80 are UTF-8 letters such as the "é" of "café".
_SPACE, _WORD, _SINGLE, _END = 0, 1, 2, 3
_CLASS = np.zeros(256, dtype=np.int8)
for _byte in b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789":
    _CLASS[_byte] = _WORD
_CLASS[0x80:] = _WORD
_CLASS[ord("!")] = _CLASS[ord("?")] = _SINGLE
_CLASS[ord("\n")] = _END

# A token's hash is a polynomial in its bytes mod 2**64, computed for all tokens at once
# from prefix sums (P is odd, so it has an inverse mod 2**64); fmix64 then spreads the bits.
_P = np.uint64(0x100000001B3)
_P_INVERSE = np.uint64(pow(0x100000001B3, -1, 2**64))
_NGRAM_MIX = np.uint64(0x9E3779B97F4A7C15)
_FMIX1 = np.uint64(0xFF51AFD7ED558CCD)
_FMIX2 = np.uint64(0xC4CEB9FE1A85EC53)
_SHIFT = np.uint64(33)
_powers: list[np.ndarray] = [np.ones(1, np.uint64), np.ones(1, np.uint64)]


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
    data = normalize([text])
    classes = _CLASS[np.frombuffer(data, np.uint8)] if data else np.zeros(0, np.int8)
    starts, ends = _token_bounds(classes)
    words = [data[s:e].decode("utf-8", "replace") for s, e in zip(starts, ends, strict=True)]
    return [_SHOWN.get(word, word) for word in words]


def _token_bounds(classes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end offsets of every token: runs of word bytes, and each single byte."""
    word = classes == _WORD
    single = classes == _SINGLE
    previous_word = np.concatenate(([False], word[:-1]))
    next_word = np.concatenate((word[1:], [False]))
    starts = np.flatnonzero(single | (word & ~previous_word))
    ends = np.flatnonzero(single | (word & ~next_word)) + 1
    return starts, ends


def token_hashes(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """The 64-bit hash of every token of ``texts`` in order, and the review each belongs to."""
    return _buffer_token_hashes(normalize(texts))


def _buffer_token_hashes(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    codes = np.frombuffer(data, np.uint8)
    starts, ends = _token_bounds(_CLASS[codes])
    up, down = _power_tables(len(codes))
    prefix = np.zeros(len(codes) + 1, np.uint64)
    np.cumsum(codes * down[: len(codes)], out=prefix[1:])
    hashes = (prefix[ends] - prefix[starts]) * up[ends - 1]
    review = np.searchsorted(np.flatnonzero(codes == ord("\n")), starts)
    return hashes, review


def _power_tables(size: int) -> tuple[np.ndarray, np.ndarray]:
    """P**i and P**-i mod 2**64 for i < size; kept and grown, as they never change."""
    if len(_powers[0]) < max(size, 1):
        length = max(size, 2 * len(_powers[0]), 1 << 16)
        for index, base in enumerate((_P, _P_INVERSE)):
            steps = np.full(length, base, np.uint64)
            steps[0] = 1
            _powers[index] = np.cumprod(steps)
    return _powers[0], _powers[1]


def _fmix(values: np.ndarray) -> np.ndarray:
    values = values ^ (values >> _SHIFT)
    values = values * _FMIX1
    values = values ^ (values >> _SHIFT)
    values = values * _FMIX2
    return values ^ (values >> _SHIFT)


def _ngram_columns(hashes: np.ndarray, review: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column and row of every n-gram in ``NGRAM_RANGE`` (never across two reviews)."""
    columns: list[np.ndarray] = []
    rows: list[np.ndarray] = []
    gram = _fmix(hashes)
    same_review = np.ones(len(hashes), bool)
    for n in range(1, NGRAM_RANGE[1] + 1):
        if n > 1:
            same_review = same_review[:-1] & (review[: len(gram) - 1] == review[n - 1 :])
            gram = _fmix(gram[:-1] * _NGRAM_MIX + hashes[n - 1 :])
        if n >= NGRAM_RANGE[0]:
            columns.append(gram[same_review])
            rows.append(review[: len(gram)][same_review])
    column = np.concatenate(columns) % np.uint64(N_FEATURES)
    return column.astype(np.int32), np.concatenate(rows)


def transform(texts: Sequence[str]) -> sparse.csr_matrix:
    """Features of each review, one row each: hashed n-grams, binary, rows of unit length."""
    if _hashing is None and len(texts) > CHUNK:
        # Small chunks keep numpy's work arrays in the CPU cache: faster than one big pass.
        chunks = [_transform(texts[i : i + CHUNK]) for i in range(0, len(texts), CHUNK)]
        return sparse.vstack(chunks, format="csr")
    return _transform(texts)


def _transform(texts: Sequence[str]) -> sparse.csr_matrix:
    return _matrix(*feature_indices(texts), len(texts))


def _matrix(indices: np.ndarray, indptr: np.ndarray, n_rows: int) -> sparse.csr_matrix:
    matrix = sparse.csr_matrix(
        (np.empty(len(indices), DTYPE), indices, indptr), shape=(n_rows, N_FEATURES)
    )
    return weigh(matrix)


def feature_indices(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """CSR column indices (each row's distinct columns, ascending) and row pointers."""
    if _hashing is None or not texts:
        return _numpy_features(normalize(texts), len(texts))
    indices, indptr, _ = _hashing.hash_reviews(
        normalize(texts), len(texts), NGRAM_RANGE[0], NGRAM_RANGE[1], N_FEATURES, 0
    )
    return np.frombuffer(indices, np.int32), np.frombuffer(indptr, np.int32)


def _numpy_features(data: bytes, n_rows: int) -> tuple[np.ndarray, np.ndarray]:
    """``feature_indices`` of a normalized buffer, in numpy: the C extension's reference."""
    rows, columns = _numpy_distinct_features(data)
    indptr = np.zeros(n_rows + 1, np.int32)
    np.cumsum(np.bincount(rows, minlength=n_rows), out=indptr[1:])
    return columns.astype(np.int32), indptr


def _numpy_distinct_features(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Row and column of each distinct feature of a normalized buffer, by row, then column.

    >>> rows, columns = _numpy_distinct_features(normalize(["good good film", "bad"]))
    >>> rows.tolist()  # "good", "film", "good good", "good film", "good good film"; "bad"
    [0, 0, 0, 0, 0, 1]
    """
    hashes, review = _buffer_token_hashes(data)
    columns, rows = _ngram_columns(hashes, review)
    keys = rows.astype(np.int64) * N_FEATURES + columns
    keys.sort()
    distinct = np.empty(len(keys), bool)
    distinct[:1] = True
    np.not_equal(keys[1:], keys[:-1], out=distinct[1:])
    keys = keys[distinct]
    rows = keys // N_FEATURES
    return rows, keys - rows * N_FEATURES


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
_TOKEN = re.compile(rb"[A-Za-z0-9\x80-\xff]+|[!?]")


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
    data = normalize(texts, mark_breaks=True)
    if not texts:
        return _matrix(np.zeros(0, np.int32), np.zeros(1, np.int32), 0), np.zeros(0, np.int32)
    if _hashing is None:
        pieces, review = _split_pieces(data, min_tokens)
        indices, indptr = _numpy_features(b"\n".join(pieces), len(pieces))
    else:
        raw_indices, raw_indptr, raw_review = _hashing.hash_reviews(
            data, len(texts), NGRAM_RANGE[0], NGRAM_RANGE[1], N_FEATURES, min_tokens
        )
        indices = np.frombuffer(raw_indices, np.int32)
        indptr = np.frombuffer(raw_indptr, np.int32)
        review = np.frombuffer(raw_review, np.int32)
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
    """``sentence_features``' pieces of a normalized buffer, in Python (the C reference)."""
    pieces: list[bytes] = []
    review: list[int] = []
    for number, line in enumerate(data.split(b"\n")):
        kept = [
            piece for piece in _PIECE_END.split(line) if len(_TOKEN.findall(piece)) >= min_tokens
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
