import logging

import numpy as np
import pytest

from movieclassifier import features
from movieclassifier.features import reference

IMDB = "I didn't like it.<br /><br />It's NOT good :-( and the ending? Awful!"
ROTTEN_TOMATOES = "i did n't like it . it 's not good :( and the ending ? awful !"


def test_tokenize_drops_html_and_keeps_emoticons_negations_and_marks():
    tokens = features.tokenize(IMDB)
    assert "br" not in tokens and "<br" not in tokens
    assert tokens[:4] == ["i", "did", "not", "like"]
    assert ":(" in tokens
    assert "?" in tokens and "!" in tokens
    # NLTK's English stop words would drop these; sentiment needs them.
    assert {"not", "no"} <= set(features.tokenize("Not bad, no regrets"))


def test_rotten_tomatoes_tokenisation_reads_like_imdb():
    assert features.tokenize(ROTTEN_TOMATOES) == features.tokenize(IMDB)
    imdb, rotten = features.transform([IMDB, ROTTEN_TOMATOES])
    assert (imdb != rotten).nnz == 0


@pytest.mark.parametrize(
    "smiley, frown",
    [(":)", ":("), (":-)", ":-("), ("=)", "=(")],
)
def test_emoticons_of_each_spelling_are_the_same_token(smiley, frown):
    assert features.tokenize(f"fun {smiley}") == ["fun", ":)"]
    assert features.tokenize(f"dull {frown}") == ["dull", ":("]


def test_colon_before_a_word_is_not_an_emoticon():
    assert features.tokenize("note:do this") == ["note", "do", "this"]


def test_features_are_scikit_learns_hashing_of_the_analyzers_ngrams():
    from sklearn.utils import murmurhash3_32

    review = "A café in 2024 wasn't bad!! Really?"
    matrix = features.transform([review])
    grams = features.analyze(review)
    assert "wasn not" not in grams and "was not bad" in grams and "!" in grams
    expected = sorted({abs(murmurhash3_32(gram, seed=0)) % features.N_FEATURES for gram in grams})
    assert sorted(matrix.indices.tolist()) == expected


def test_rows_are_binary_and_of_unit_length():
    matrix = features.transform(["good good good movie", "bad"])
    assert matrix.shape == (2, features.N_FEATURES)
    norms = np.sqrt(matrix.multiply(matrix).sum(axis=1)).A1
    np.testing.assert_allclose(norms, [1.0, 1.0])
    # "good" three times counts once: every value in a row is the same.
    first = matrix[0].data
    assert np.allclose(first, first[0])
    # Unigrams good, movie; bigrams good good, good movie; trigrams good good good,
    # good good movie (n-grams up to NGRAM_RANGE[1] = 3).
    assert features.NGRAM_RANGE == (1, 3)
    assert matrix[0].nnz == 6


def test_a_batch_equals_each_review_alone_and_ngrams_never_cross_reviews():
    reviews = ["great fun", "utterly boring", "", "line\nbreak inside"]
    batch = features.transform(reviews)
    for row, review in enumerate(reviews):
        alone = features.transform([review])
        assert (batch[row] != alone).nnz == 0
    assert batch[2].nnz == 0


def test_a_large_batch_equals_its_parts():
    reviews = [f"review number {i} is {'good' if i % 2 else 'bad'}" for i in range(1007)]
    whole = features.transform(reviews)
    parts = [features.transform(reviews[i : i + 100]) for i in range(0, len(reviews), 100)]
    from scipy import sparse

    assert (whole != sparse.vstack(parts, format="csr")).nnz == 0


def test_feature_params_name_every_constant_and_mismatch_is_described():
    params = features.feature_params()
    assert params["tokenizer_version"] == features.TOKENIZER_VERSION
    assert params["n_features"] == features.N_FEATURES
    assert params["ngram_range"] == list(features.NGRAM_RANGE)
    older = {**params, "tokenizer_version": 1, "ngram_range": [1, 2]}
    message = features.describe_mismatch(older)
    assert "tokenizer_version=1 in the model" in message
    assert "ngram_range=[1, 2] in the model" in message


def test_split_sentences_breaks_after_end_marks_and_at_line_breaks():
    review = (
        "Rated 3.5 out of 10, sadly. What a waste of a great cast? "
        "The plot makes no sense at all!<BR>Skip it. Really."
    )
    assert features.split_sentences(review) == [
        "rated 3.5 out of 10, sadly.",
        "what a waste of a great cast?",
        "the plot makes no sense at all!",
    ]


def test_split_sentences_keeps_a_review_without_long_pieces_whole():
    # "Great." has one token, "Loved it!" three ("loved", "it", "!").
    assert features.split_sentences("Great. Loved it!") == ["great. loved it!"]
    assert features.split_sentences("one two three four", min_tokens=5) == ["one two three four"]


def test_sentence_features_label_each_sentence_with_its_review():
    reviews = ["Good acting all round. A story that moves you.", "Dreadful from start to end."]
    matrix, review = features.sentence_features(reviews)
    assert review.tolist() == [0, 0, 1]
    pieces = ["Good acting all round.", "A story that moves you.", "Dreadful from start to end."]
    assert (matrix != features.transform(pieces)).nnz == 0


def _reviews_and_oddities() -> list[str]:
    """IMDb and Rotten Tomatoes rows, plus random strings made of the characters that matter."""
    import csv
    import gzip
    import itertools
    import random
    from pathlib import Path

    data_dir = Path(__file__).resolve().parent.parent / "data"
    texts = []
    for name in ("movie_data.csv.gz", "rt_polarity.csv.gz"):
        with gzip.open(data_dir / name, "rt", encoding="utf-8", newline="") as handle:
            texts += [row["review"] for row in itertools.islice(csv.DictReader(handle), 1500)]
    rng = random.Random(0)
    pieces = list("ab:;=-()dDpP<>/ \t\n.!?'0é") + ["<br />", "<BR/>", "n't", "\u2019", "<i>"]
    texts += ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 30))) for _ in range(3000)]
    return texts + ["", "!", "x\ny"]


def _assert_same_features(ours, reference):
    ours, reference = ours.sorted_indices(), reference.sorted_indices()
    np.testing.assert_array_equal(ours.indptr, reference.indptr)
    np.testing.assert_array_equal(ours.indices, reference.indices)
    np.testing.assert_allclose(ours.data, reference.data, rtol=1e-6)


# Without the extension these compare the reference with itself, so they skip; a skip
# fails CI (REQUIRE_ALL_BACKENDS=1).
@pytest.mark.skipif(features.C_BACKEND is None, reason="the C extension is not built")
def test_the_c_extension_gives_exactly_the_features_of_hashing_vectorizer():
    texts = _reviews_and_oddities()
    for mark_breaks in (False, True):
        data = "\n".join(t.replace("\n", " ") for t in texts).encode("utf-8")
        assert features.C_BACKEND.normalize(data, mark_breaks) == reference.normalize_bytes(
            data, mark_breaks
        )
    _assert_same_features(
        features.transform(texts), features.make_hashing_vectorizer().transform(texts)
    )


@pytest.mark.skipif(features.C_BACKEND is None, reason="the C extension is not built")
def test_the_c_extension_splits_sentences_exactly_like_the_python_reference():
    texts = _reviews_and_oddities()
    matrix, review = features.sentence_features(texts)
    pieces, expected_review = reference.split_pieces(
        features.normalize(texts, mark_breaks=True), features.MIN_SENTENCE_TOKENS
    )
    vectorizer = features.make_hashing_vectorizer(reference.analyze_normalized)
    np.testing.assert_array_equal(review, expected_review)
    _assert_same_features(matrix, vectorizer.transform([p.decode() for p in pieces]))
    assert matrix.shape[0] > len(texts)  # reviews did split into sentences


def test_without_the_extension_the_vectorizer_itself_gives_the_same_matrices(monkeypatch):
    # What a server without a C compiler runs: the Python backend, not a stand-in.
    texts = _reviews_and_oddities()[::10]
    fast, fast_review = features.transform(texts), features.sentence_features(texts)
    monkeypatch.setattr(features, "BACKEND", features.PYTHON_BACKEND)
    slow, slow_review = features.transform(texts), features.sentence_features(texts)
    _assert_same_features(fast, slow)
    _assert_same_features(fast_review[0], slow_review[0])
    np.testing.assert_array_equal(fast_review[1], slow_review[1])


@pytest.mark.skipif(features.C_BACKEND is None, reason="the C extension is not built")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_feature_scores_are_each_rows_dot_product_with_the_weights(monkeypatch, dtype):
    texts = [*_reviews_and_oddities()[::5], ""]
    weights = np.random.default_rng(0).normal(size=features.N_FEATURES).astype(dtype)
    matrix = features.make_hashing_vectorizer().transform(texts).astype(np.float64)
    expected = matrix @ weights.astype(np.float64)
    scores = features.feature_scores(texts, weights)
    assert len(scores) == len(texts) and scores[-1] == 0.0
    # The matrix holds 1/sqrt(n) rounded to float32; the scores divide in float64.
    np.testing.assert_allclose(scores, expected, rtol=1e-6, atol=1e-9)
    monkeypatch.setattr(features, "BACKEND", features.PYTHON_BACKEND)
    np.testing.assert_allclose(features.feature_scores(texts, weights), scores, rtol=1e-12)


@pytest.mark.skipif(features.C_BACKEND is None, reason="the C extension is not built")
def test_feature_scores_refuse_weights_of_another_type_or_length():
    with pytest.raises(TypeError, match="float32 or float64"):
        features.feature_scores(["a fine film"], np.zeros(features.N_FEATURES, np.int32))
    with pytest.raises(ValueError, match="n_features"):
        features.feature_scores(["a fine film"], np.zeros(features.N_FEATURES - 1, np.float32))


def test_warn_if_slow_warns_only_when_the_python_features_serve(monkeypatch, caplog):
    with caplog.at_level(logging.WARNING, logger="movieclassifier.features"):
        monkeypatch.setattr(features, "BACKEND", features.PYTHON_BACKEND)
        features.warn_if_slow()
        assert caplog.messages == [features.SLOW_WARNING]
        caplog.clear()
        if features.C_BACKEND is not None:
            monkeypatch.setattr(features, "BACKEND", features.C_BACKEND)
            features.warn_if_slow()
            assert caplog.messages == []
