"""Review text to features: a stateless HashingVectorizer with a tokenizer of our own.

Every constant that changes the features lives here and is recorded with each model
version (``feature_params()``); a model made with other values is refused on load.
"""

from __future__ import annotations

import re
from typing import Any

from sklearn.feature_extraction.text import HashingVectorizer

# Bump when tokenize() changes in a way that moves features; recorded with each version.
TOKENIZER_VERSION = 1
N_FEATURES = 2**20
NGRAM_RANGE = (1, 2)
ALTERNATE_SIGN = False
NORM = "l2"
BINARY = True

_HTML_TAG = re.compile(r"<[^>]*>")
# Both IMDb's "doesn't" and Rotten Tomatoes' pre-tokenised "does n't" become "does not",
# so a negation reads the same in either domain.
_NEGATION = re.compile(r"\s?n't\b")
_TOKEN = re.compile(r"[:;=]-?[()dDpP]|[a-z0-9]+(?:'[a-z]+)?|[!?]")


def tokenize(text: str) -> list[str]:
    """Split a review into lower-case tokens; HTML is dropped, emoticons and "!" kept.

    >>> tokenize("I didn't like it.<br /><br />Not at ALL :-(")
    ['i', 'did', 'not', 'like', 'it', 'not', 'at', 'all', ':-(']
    >>> tokenize("does n't work !")
    ['does', 'not', 'work', '!']
    """
    emoticons_kept = _HTML_TAG.sub(" ", text)
    lowered = _NEGATION.sub(" not", emoticons_kept.lower().replace("\u2019", "'"))
    return _TOKEN.findall(lowered)


def analyze(text: str) -> list[str]:
    """Tokens plus the word bigrams that ``NGRAM_RANGE`` asks for.

    >>> analyze("not good at all")
    ['not', 'good', 'at', 'all', 'not good', 'good at', 'at all']
    """
    tokens = tokenize(text)
    if NGRAM_RANGE[1] < 2:
        return tokens
    return tokens + [f"{a} {b}" for a, b in zip(tokens, tokens[1:], strict=False)]


def make_vectorizer() -> HashingVectorizer:
    """A fresh vectorizer; it holds no state, so every process can build its own."""
    return HashingVectorizer(
        analyzer=analyze,
        n_features=N_FEATURES,
        alternate_sign=ALTERNATE_SIGN,
        norm=NORM,
        binary=BINARY,
    )


def feature_params() -> dict[str, Any]:
    """What a model version must agree with to be loaded by this code."""
    return {
        "tokenizer_version": TOKENIZER_VERSION,
        "n_features": N_FEATURES,
        "ngram_range": list(NGRAM_RANGE),
        "alternate_sign": ALTERNATE_SIGN,
        "norm": NORM,
        "binary": BINARY,
    }


def describe_mismatch(recorded: dict[str, Any]) -> str | None:
    """Say which feature parameters differ between a stored model and this code, or None.

    >>> describe_mismatch(feature_params()) is None
    True
    >>> describe_mismatch({**feature_params(), "n_features": 2**18})
    'n_features=262144 in the model, 1048576 in this code'
    """
    current = feature_params()
    diffs = [
        f"{key}={recorded.get(key)!r} in the model, {value!r} in this code"
        for key, value in current.items()
        if recorded.get(key) != value
    ]
    return "; ".join(diffs) or None
