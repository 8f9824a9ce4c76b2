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


def _poly_hash(token: str) -> int:
    value = 0
    for byte in token.encode("utf-8"):
        value = (value * 0x100000001B3 + byte) % 2**64
    return value


def test_vectorized_hashes_equal_a_plain_hash_of_each_token():
    review = "A café in 2024 wasn't bad!! Really?"
    hashes, rows = text.token_hashes([review])
    expected = [_poly_hash(token) for token in text.tokenize(review)]
    assert hashes.tolist() == expected
    assert rows.tolist() == [0] * len(expected)


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


def test_large_batches_are_hashed_in_chunks_with_equal_results():
    reviews = [
        f"review number {i} is {'good' if i % 2 else 'bad'}" for i in range(2 * text.CHUNK + 7)
    ]
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
        "Rated 3.5 out of 10, sadly.",
        "What a waste of a great cast?",
        "The plot makes no sense at all!",
    ]


def test_split_sentences_keeps_a_review_without_long_pieces_whole():
    assert text.split_sentences("Great. Loved it!") == ["Great. Loved it!"]
    assert text.split_sentences("one two three four", min_words=5) == ["one two three four"]


def test_split_reviews_labels_each_sentence_with_its_review():
    sentences, labels = text.split_reviews(
        ["Good acting all round. A story that moves you.", "Dreadful from start to end."], [1, 0]
    )
    assert sentences == [
        "Good acting all round.",
        "A story that moves you.",
        "Dreadful from start to end.",
    ]
    assert labels == [1, 1, 0]
