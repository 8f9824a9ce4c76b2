"""Review text to features: a stateless hashing vectorizer with a tokenizer of our own.

Every constant that changes the features lives here and is recorded with each model
version (``feature_params()``); a model made with other values is refused on load.

The hashing is vectorized with numpy over a whole batch (one bytes buffer, no Python
object per token), which makes it several times faster than scikit-learn's
``HashingVectorizer`` with a Python analyzer; ``tokenize`` gives the same tokens one by
one, for reading and for tests.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import sparse

# Bump when tokenization or hashing changes in a way that moves features.
TOKENIZER_VERSION = 2
N_FEATURES = 2**22
NGRAM_RANGE = (1, 3)
NORM = "l2"
BINARY = True
# float32 halves the model file and the weights' memory traffic; accuracy is the same.
DTYPE = "float32"
HASHING = "poly64-fmix64"
# Reviews hashed together in one numpy pass (not a feature parameter: results are equal).
CHUNK = 500

_HTML_TAG = re.compile(rb"<[^>\n]*>")
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


def normalize(texts: Sequence[str]) -> bytes:
    """The reviews as one lower-cased UTF-8 buffer, one review per line, ready to split.

    HTML tags are dropped; "n't" becomes " not" (IMDb's "doesn't" and Rotten Tomatoes'
    pre-tokenised "does n't" read the same); emoticons become marker words.

    >>> normalize(["Didn't LIKE it :-( <br />", "does n't"])
    b'did not like it  EMOFROWN   \\ndoes  not'
    """
    joined = "\n".join(texts)
    if joined.count("\n") != len(texts) - 1:
        joined = "\n".join(text.replace("\n", " ") for text in texts)
    data = joined.encode("utf-8", "replace").lower()
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
    data = normalize(texts)
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
    if len(texts) > CHUNK:
        # Small chunks keep the work arrays in the CPU cache: faster than one big pass.
        chunks = [_transform(texts[i : i + CHUNK]) for i in range(0, len(texts), CHUNK)]
        return sparse.vstack(chunks, format="csr")
    return _transform(texts)


def _transform(texts: Sequence[str]) -> sparse.csr_matrix:
    hashes, review = token_hashes(texts)
    columns, rows = _ngram_columns(hashes, review)
    matrix = sparse.csr_matrix(
        (np.ones(len(columns), DTYPE), (rows, columns)), shape=(len(texts), N_FEATURES)
    )
    matrix.sum_duplicates()
    return weigh(matrix)


def distinct_features(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Row and column of each distinct feature of ``texts``, sorted by row, then column.

    What ``transform`` would put in its matrix, without building one: all of a row's
    values are equal (binary, then unit length), so rows and columns say everything.

    >>> rows, columns = distinct_features(["good good film", "bad"])
    >>> rows.tolist()  # "good", "film", "good good", "good film", "good good film"; "bad"
    [0, 0, 0, 0, 0, 1]
    """
    hashes, review = token_hashes(texts)
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
_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+|<br\s*/?>", re.IGNORECASE)
MIN_SENTENCE_WORDS = 4


def split_sentences(review: str, min_words: int = MIN_SENTENCE_WORDS) -> list[str]:
    """The pieces of ``review`` with at least ``min_words`` words, or ``[review]`` if none.

    A piece ends after ".", "!" or "?" followed by white space, or at an HTML line break.
    Short pieces ("Wow.", "10/10") carry little on their own and are dropped; a review
    without any long piece is kept whole, so no review is lost.

    >>> split_sentences("Great fun. I loved every minute of it!<br /><br />See it with friends.")
    ['I loved every minute of it!', 'See it with friends.']
    >>> split_sentences("Awful. Just awful.")
    ['Awful. Just awful.']
    """
    pieces = [
        piece.strip()
        for piece in _SENTENCE_BREAK.split(review)
        if len(piece.split(None, min_words - 1)) >= min_words
    ]
    return pieces or [review]


def split_reviews(texts: Sequence[str], labels: Sequence[int]) -> tuple[list[str], list[int]]:
    """Every review's sentences (``split_sentences``), each with its review's label.

    >>> split_reviews(["One two three four. Five six seven eight!", "Bad."], [1, 0])
    (['One two three four.', 'Five six seven eight!', 'Bad.'], [1, 1, 0])
    """
    sentences: list[str] = []
    sentence_labels: list[int] = []
    for review, label in zip(texts, labels, strict=True):
        pieces = split_sentences(review)
        sentences.extend(pieces)
        sentence_labels.extend([label] * len(pieces))
    return sentences, sentence_labels


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
