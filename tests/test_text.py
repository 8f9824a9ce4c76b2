import numpy as np
import pytest

from movieclassifier import text

IMDB = "I didn't like it.<br /><br />It's NOT good :-( and the ending? Awful!"
ROTTEN_TOMATOES = "i did n't like it . it 's not good :( and the ending ? awful !"


def test_tokenize_drops_html_and_keeps_emoticons_negations_and_marks():
    tokens = text.tokenize(IMDB)
    assert "br" not in tokens and "<br" not in tokens
    assert tokens[:4] == ["i", "did", "not", "like"]
    assert ":(" in tokens
    assert "?" in tokens and "!" in tokens
    # NLTK's English stop words would drop these; sentiment needs them.
    assert {"not", "no"} <= set(text.tokenize("Not bad, no regrets"))


def test_rotten_tomatoes_tokenisation_reads_like_imdb():
    assert text.tokenize(ROTTEN_TOMATOES) == text.tokenize(IMDB)
    imdb, rotten = text.transform([IMDB, ROTTEN_TOMATOES])
    assert (imdb != rotten).nnz == 0


@pytest.mark.parametrize(
    "smiley, frown",
    [(":)", ":("), (":-)", ":-("), ("=)", "=(")],
)
def test_emoticons_of_each_spelling_are_the_same_token(smiley, frown):
    assert text.tokenize(f"fun {smiley}") == ["fun", ":)"]
    assert text.tokenize(f"dull {frown}") == ["dull", ":("]


def test_colon_before_a_word_is_not_an_emoticon():
    assert text.tokenize("note:do this") == ["note", "do", "this"]


def test_features_are_scikit_learns_hashing_of_the_analyzers_ngrams():
    from sklearn.utils import murmurhash3_32

    review = "A café in 2024 wasn't bad!! Really?"
    features = text.transform([review])
    grams = text.analyze(review)
    assert "wasn not" not in grams and "was not bad" in grams and "!" in grams
    expected = sorted({abs(murmurhash3_32(gram, seed=0)) % text.N_FEATURES for gram in grams})
    assert sorted(features.indices.tolist()) == expected


def test_rows_are_binary_and_of_unit_length():
    features = text.transform(["good good good movie", "bad"])
    assert features.shape == (2, text.N_FEATURES)
    norms = np.sqrt(features.multiply(features).sum(axis=1)).A1
    np.testing.assert_allclose(norms, [1.0, 1.0])
    # "good" three times counts once: every value in a row is the same.
    first = features[0].data
    assert np.allclose(first, first[0])
    # Unigrams good, movie; bigrams good good, good movie; trigrams good good good,
    # good good movie (n-grams up to NGRAM_RANGE[1] = 3).
    assert text.NGRAM_RANGE == (1, 3)
    assert features[0].nnz == 6


def test_a_batch_equals_each_review_alone_and_ngrams_never_cross_reviews():
    reviews = ["great fun", "utterly boring", "", "line\nbreak inside"]
    batch = text.transform(reviews)
    for row, review in enumerate(reviews):
        alone = text.transform([review])
        assert (batch[row] != alone).nnz == 0
    assert batch[2].nnz == 0


def test_a_large_batch_equals_its_parts():
    reviews = [f"review number {i} is {'good' if i % 2 else 'bad'}" for i in range(1007)]
    whole = text.transform(reviews)
    parts = [text.transform(reviews[i : i + 100]) for i in range(0, len(reviews), 100)]
    from scipy import sparse

    assert (whole != sparse.vstack(parts, format="csr")).nnz == 0


def test_feature_params_name_every_constant_and_mismatch_is_described():
    params = text.feature_params()
    assert params["tokenizer_version"] == text.TOKENIZER_VERSION
    assert params["n_features"] == text.N_FEATURES
    assert params["ngram_range"] == list(text.NGRAM_RANGE)
    older = {**params, "tokenizer_version": 1, "ngram_range": [1, 2]}
    message = text.describe_mismatch(older)
    assert "tokenizer_version=1 in the model" in message
    assert "ngram_range=[1, 2] in the model" in message


def test_split_sentences_breaks_after_end_marks_and_at_line_breaks():
    review = (
        "Rated 3.5 out of 10, sadly. What a waste of a great cast? "
        "The plot makes no sense at all!<BR>Skip it. Really."
    )
    assert text.split_sentences(review) == [
        "rated 3.5 out of 10, sadly.",
        "what a waste of a great cast?",
        "the plot makes no sense at all!",
    ]


def test_split_sentences_keeps_a_review_without_long_pieces_whole():
    # "Great." has one token, "Loved it!" three ("loved", "it", "!").
    assert text.split_sentences("Great. Loved it!") == ["great. loved it!"]
    assert text.split_sentences("one two three four", min_tokens=5) == ["one two three four"]


def test_sentence_features_label_each_sentence_with_its_review():
    reviews = ["Good acting all round. A story that moves you.", "Dreadful from start to end."]
    features, review = text.sentence_features(reviews)
    assert review.tolist() == [0, 0, 1]
    pieces = ["Good acting all round.", "A story that moves you.", "Dreadful from start to end."]
    assert (features != text.transform(pieces)).nnz == 0


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
@pytest.mark.skipif(text._hashing is None, reason="the C extension is not built")
def test_the_c_extension_gives_exactly_the_features_of_hashing_vectorizer():
    texts = _reviews_and_oddities()
    for mark_breaks in (False, True):
        data = "\n".join(t.replace("\n", " ") for t in texts).encode("utf-8")
        assert text._hashing.normalize(data, mark_breaks) == text._normalize_in_python(
            data, mark_breaks
        )
    _assert_same_features(text.transform(texts), text.make_hashing_vectorizer().transform(texts))


@pytest.mark.skipif(text._hashing is None, reason="the C extension is not built")
def test_the_c_extension_splits_sentences_exactly_like_the_python_reference():
    texts = _reviews_and_oddities()
    features, review = text.sentence_features(texts)
    pieces, expected_review = text._split_pieces(
        text.normalize(texts, mark_breaks=True), text.MIN_SENTENCE_TOKENS
    )
    vectorizer = text.make_hashing_vectorizer(text._analyze_normalized)
    np.testing.assert_array_equal(review, expected_review)
    _assert_same_features(features, vectorizer.transform([p.decode() for p in pieces]))
    assert features.shape[0] > len(texts)  # reviews did split into sentences


def test_without_the_extension_the_vectorizer_itself_gives_the_same_matrices(monkeypatch):
    # What a server without a C compiler runs: text.py's fallback, not a stand-in.
    texts = _reviews_and_oddities()[::10]
    fast, fast_review = text.transform(texts), text.sentence_features(texts)
    monkeypatch.setattr(text, "_hashing", None)
    slow, slow_review = text.transform(texts), text.sentence_features(texts)
    _assert_same_features(fast, slow)
    _assert_same_features(fast_review[0], slow_review[0])
    np.testing.assert_array_equal(fast_review[1], slow_review[1])


@pytest.mark.skipif(text._hashing is None, reason="the C extension is not built")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_feature_scores_are_each_rows_dot_product_with_the_weights(monkeypatch, dtype):
    texts = [*_reviews_and_oddities()[::5], ""]
    weights = np.random.default_rng(0).normal(size=text.N_FEATURES).astype(dtype)
    matrix = text.make_hashing_vectorizer().transform(texts).astype(np.float64)
    expected = matrix @ weights.astype(np.float64)
    scores = text.feature_scores(texts, weights)
    assert len(scores) == len(texts) and scores[-1] == 0.0
    # The matrix holds 1/sqrt(n) rounded to float32; the scores divide in float64.
    np.testing.assert_allclose(scores, expected, rtol=1e-6, atol=1e-9)
    monkeypatch.setattr(text, "_hashing", None)
    np.testing.assert_allclose(text.feature_scores(texts, weights), scores, rtol=1e-12)


@pytest.mark.skipif(text._hashing is None, reason="the C extension is not built")
def test_feature_scores_refuse_weights_of_another_type_or_length():
    with pytest.raises(TypeError, match="float32 or float64"):
        text.feature_scores(["a fine film"], np.zeros(text.N_FEATURES, np.int32))
    with pytest.raises(ValueError, match="n_features"):
        text.feature_scores(["a fine film"], np.zeros(text.N_FEATURES - 1, np.float32))
