"""The features, defined in plain Python: the specification that the C extension matches.

Every constant that changes the features lives here and is recorded with each model
version (``features.feature_params()``); a model made with other values is refused on
load. ``_hashing.c`` computes exactly what these functions and scikit-learn's
``HashingVectorizer`` compute (tests/test_features.py compares the two), and it is used
when it is built; this module is what runs without it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from sklearn.feature_extraction.text import HashingVectorizer

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
SHOWN = {"EMOSMILE": ":)", "EMOFROWN": ":(", "EMOWINK": ";)", "EMOGRIN": ":D", "EMOTONGUE": ":P"}

# A token: a run of ASCII letters and digits and non-ASCII characters (the "é" of
# "café"), or "!" or "?" alone. _hashing.c's byte classes say the same.
TOKEN = re.compile(r"[A-Za-z0-9\u0080-\U0010ffff]+|[!?]")
PIECE_END = re.compile(rb"(?<=[.!?])(?=[ \t\r\x0b\x0c])|" + re.escape(SENTENCE_BREAK))


def normalize_bytes(data: bytes, mark_breaks: bool) -> bytes:
    """``normalize`` after encoding, by regular expressions (what ``_hashing.normalize`` does)."""
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


def tokens(normalized: str) -> list[str]:
    """The tokens of normalized text: runs of letters and digits, "!" and "?"."""
    return TOKEN.findall(normalized)


def analyze_normalized(normalized: str) -> list[str]:
    # scikit-learn's word n-grams: all n-grams of each length in turn, joined by a space.
    words = tokens(normalized)
    low, high = NGRAM_RANGE
    return [
        " ".join(words[start : start + n])
        for n in range(low, high + 1)
        for start in range(len(words) - n + 1)
    ]


def make_hashing_vectorizer(analyzer: Any) -> HashingVectorizer:
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


def hashed_indices(
    vectorizer: HashingVectorizer, texts: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    matrix = vectorizer.transform(texts)
    matrix.sort_indices()
    return matrix.indices, matrix.indptr


def split_pieces(data: bytes, min_tokens: int) -> tuple[list[bytes], np.ndarray]:
    """``sentence_features``' pieces of a normalized buffer (what the C splitting does)."""
    pieces: list[bytes] = []
    review: list[int] = []
    for number, line in enumerate(data.split(b"\n")):
        kept = [
            piece
            for piece in PIECE_END.split(line)
            if len(tokens(piece.decode("utf-8"))) >= min_tokens
        ]
        kept = kept or [line.replace(SENTENCE_BREAK, b" ")]
        pieces.extend(kept)
        review.extend([number] * len(kept))
    return pieces, np.asarray(review, np.int32)
