/*
 * The features of reference.py in C: exactly what scikit-learn's HashingVectorizer computes
 * with the analyzer reference.analyze_normalized (tests/test_features.py compares the two),
 * fast enough that hashing no longer bounds training (bench/results/train.md).
 *
 * Input: reference.normalize_bytes's buffer (lower-cased UTF-8, one review per line). A
 * token is a run of word bytes (ASCII letters and digits, and every byte >= 0x80) or a
 * single "!" or "?". A feature is an n-gram of tokens joined by single spaces, as
 * scikit-learn joins them; its column is scikit-learn's:
 * abs(murmurhash3_32(feature, seed 0) as int32) % n_features.
 *
 * Output of hash_reviews: a CSR structure as int32 byte strings: the column indices (each
 * row's distinct columns, in the order first seen), the row pointers, and the review of each
 * row. A row is a review or, for training (min_sentence_tokens > 0), a piece of one: a piece
 * ends after ".", "!" or "?" followed by white space, and at SENTENCE_BREAK; pieces shorter
 * than min_sentence_tokens tokens are dropped, and a review without a long piece is one row.
 *
 * Output of score_texts: each review's dot product with a weight vector, computed from its
 * row without building the matrix or joining the reviews; the web service's way to score a
 * few reviews.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

/* murmur_block reads each 4-byte block with memcpy as a little-endian word, as
   sklearn.utils.murmurhash3_32 does on x86 and ARM. On a big-endian host the columns would
   differ from scikit-learn's, so refuse to build there: setup.py builds this extension as
   optional, and the Python features (movieclassifier.features.reference) take over. */
#if defined(__BYTE_ORDER__) && defined(__ORDER_BIG_ENDIAN__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#error "movieclassifier.features._hashing assumes a little-endian host; the Python features are used instead"
#endif

#define MAX_NGRAM 8
/* reference.normalize_bytes(..., mark_breaks=True) writes this byte for an HTML line break. */
#define SENTENCE_BREAK 0x01

enum { SPACE = 0, WORD = 1, SINGLE = 2 };
static unsigned char byte_class[256];

static inline uint32_t rotl32(uint32_t x, int r) { return (x << r) | (x >> (32 - r)); }

/* MurmurHash3_x86_32 (Austin Appleby, public domain), as sklearn.utils.murmurhash3_32,
   in two halves: the 4-byte blocks, then the tail and the final mix. The n-grams that start
   at one token share their first bytes, so their blocks are mixed once for all of them. */
static inline uint32_t murmur_block(uint32_t h, const unsigned char *block)
{
    uint32_t k;
    memcpy(&k, block, 4); /* little-endian, as on x86 and ARM */
    k *= 0xcc9e2d51;
    k = rotl32(k, 15);
    k *= 0x1b873593;
    h ^= k;
    h = rotl32(h, 13);
    return h * 5 + 0xe6546b64;
}

static inline uint32_t murmur_finish(uint32_t h, const unsigned char *tail, Py_ssize_t length)
{
    uint32_t k = 0;
    switch (length & 3) {
    case 3:
        k ^= (uint32_t)tail[2] << 16;
        /* fall through */
    case 2:
        k ^= (uint32_t)tail[1] << 8;
        /* fall through */
    case 1:
        k ^= tail[0];
        k *= 0xcc9e2d51;
        k = rotl32(k, 15);
        k *= 0x1b873593;
        h ^= k;
    }
    h ^= (uint32_t)length;
    h ^= h >> 16;
    h *= 0x85ebca6b;
    h ^= h >> 13;
    h *= 0xc2b2ae35;
    return h ^ (h >> 16);
}

/* The column scikit-learn's FeatureHasher gives a feature of this hash. */
static inline uint32_t column_of(uint32_t hash, uint64_t n_features, uint64_t mask)
{
    int32_t signed_hash = (int32_t)hash;
    if (signed_hash == INT32_MIN) /* abs() would overflow; scikit-learn defines it so */
        return (uint32_t)((2147483647ULL - (n_features - 1)) % n_features);
    uint64_t magnitude = signed_hash < 0 ? (uint64_t)(-(int64_t)signed_hash) : (uint64_t)signed_hash;
    /* A power of two (the usual case) needs no division. */
    return (uint32_t)(mask ? magnitude & mask : magnitude % n_features);
}

/* Drop repeated columns of a row, keeping the first of each, in place; returns the new
   count. An open-addressing set in `table` (room for 4 * count entries) is cheaper than
   sorting: scikit-learn's matrices need no order within a row. */
static Py_ssize_t unique(uint32_t *values, uint32_t *table, Py_ssize_t count)
{
    if (count < 2)
        return count;
    int bits = 4;
    while (((Py_ssize_t)1 << bits) < 2 * count)
        bits++;
    uint32_t mask = ((uint32_t)1 << bits) - 1;
    memset(table, 0, sizeof *table << bits);
    Py_ssize_t kept = 0;
    for (Py_ssize_t i = 0; i < count; i++) {
        uint32_t key = values[i] + 1; /* 0 marks an empty slot */
        uint32_t slot = (key * 0x9E3779B1u) >> (32 - bits);
        while (table[slot] && table[slot] != key)
            slot = (slot + 1) & mask;
        if (!table[slot]) {
            table[slot] = key;
            values[kept++] = values[i];
        }
    }
    return kept;
}

typedef struct {
    void *data;
    Py_ssize_t length, capacity;
} Vector;

/* Room for `more` items of `size` bytes; 0, or -1 when out of memory. Needs no GIL. */
static int reserve(Vector *vector, Py_ssize_t more, size_t size)
{
    if (vector->length + more <= vector->capacity)
        return 0;
    Py_ssize_t capacity = vector->capacity ? vector->capacity : 1024;
    while (capacity < vector->length + more)
        capacity *= 2;
    void *grown = PyMem_RawRealloc(vector->data, (size_t)capacity * size);
    if (!grown)
        return -1;
    vector->data = grown;
    vector->capacity = capacity;
    return 0;
}

typedef struct {
    int ngram_min, ngram_max;
    uint64_t n_features, mask; /* mask: n_features - 1 if a power of two, else 0 */
    int min_sentence_tokens; /* 0: one row per review; else one row per long-enough piece */
    Vector tokens, breaks, indices, indptr, row_review, scratch, gram;
} Hasher;

typedef struct {
    Py_ssize_t start, length; /* a token's bytes in the review's line */
} Span;

/* White space other than a newline (a newline ends a review). */
static inline int is_inline_space(unsigned char byte)
{
    return byte == ' ' || byte == '\t' || byte == '\r' || byte == '\v' || byte == '\f';
}

static PyObject *as_bytes(Vector *vector, size_t size)
{
    return PyBytes_FromStringAndSize(vector->data, vector->length * (Py_ssize_t)size);
}

/* One row: the distinct columns of the n-grams of tokens [first, last) of `text`. */
static int emit_row(Hasher *h, const unsigned char *text, Py_ssize_t first, Py_ssize_t last,
                    int32_t review)
{
    Py_ssize_t most = (last - first) * (h->ngram_max - h->ngram_min + 1);
    if (reserve(&h->indices, most, sizeof(uint32_t)) ||
        reserve(&h->scratch, 4 * most + 16, sizeof(uint32_t)) ||
        reserve(&h->indptr, 1, sizeof(int32_t)) || reserve(&h->row_review, 1, sizeof(int32_t)))
        return -1;
    const Span *tokens = h->tokens.data;
    uint32_t *row = (uint32_t *)h->indices.data + h->indices.length;
    Py_ssize_t count = 0;
    for (Py_ssize_t t = first; t < last; t++) {
        /* The n-grams starting at token t, "t", "t t+1", "t t+1 t+2", ..., are prefixes of
           the longest one. Where the text holds it (tokens one space apart) it is hashed in
           place; otherwise it is built in h->gram. */
        int longest = (int)(last - t < h->ngram_max ? last - t : h->ngram_max);
        const unsigned char *gram = text + tokens[t].start;
        for (int n = 1; n < longest; n++) {
            Py_ssize_t gap = tokens[t + n - 1].start + tokens[t + n - 1].length;
            if (tokens[t + n].start != gap + 1 || text[gap] != ' ') {
                h->gram.length = 0;
                for (int m = 0; m < longest; m++) {
                    const Span *token = &tokens[t + m];
                    if (reserve(&h->gram, token->length + 1, 1))
                        return -1;
                    unsigned char *built = h->gram.data;
                    if (m > 0)
                        built[h->gram.length++] = ' ';
                    memcpy(built + h->gram.length, text + token->start, (size_t)token->length);
                    h->gram.length += token->length;
                }
                gram = h->gram.data;
                break;
            }
        }
        uint32_t hash = 0; /* the seed */
        Py_ssize_t mixed = 0, length = 0;
        for (int n = 1; n <= longest; n++) {
            length += (n > 1) + tokens[t + n - 1].length;
            for (; mixed + 4 <= length; mixed += 4)
                hash = murmur_block(hash, gram + mixed);
            if (n >= h->ngram_min)
                row[count++] = column_of(murmur_finish(hash, gram + mixed, length),
                                         h->n_features, h->mask);
        }
    }
    h->indices.length += unique(row, h->scratch.data, count);
    ((int32_t *)h->indptr.data)[h->indptr.length++] = (int32_t)h->indices.length;
    ((int32_t *)h->row_review.data)[h->row_review.length++] = review;
    return 0;
}

/* One review (a line of the buffer): its row, or the rows of its long-enough pieces. */
static int hash_review(Hasher *h, const unsigned char *text, Py_ssize_t length, int32_t review)
{
    h->tokens.length = h->breaks.length = 0;
    if (reserve(&h->tokens, length + 1, sizeof(Span)) ||
        reserve(&h->breaks, length + 2, sizeof(Py_ssize_t)))
        return -1;
    Span *tokens = h->tokens.data;
    Py_ssize_t *breaks = h->breaks.data;
    Py_ssize_t n_tokens = 0, n_breaks = 0;
    for (Py_ssize_t i = 0; i < length;) {
        unsigned char byte = text[i];
        unsigned char kind = byte_class[byte];
        if (kind == WORD) {
            Py_ssize_t start = i;
            while (i < length && byte_class[text[i]] == WORD)
                i++;
            tokens[n_tokens++] = (Span){start, i - start};
            continue;
        }
        if (kind == SINGLE)
            tokens[n_tokens++] = (Span){i, 1};
        /* A piece ends after ".", "!" or "?" and white space, and at a marked line break. */
        if (byte == SENTENCE_BREAK || ((byte == '.' || kind == SINGLE) && i + 1 < length &&
                                       is_inline_space(text[i + 1])))
            breaks[n_breaks++] = n_tokens;
        i++;
    }
    int pieces = 0;
    if (h->min_sentence_tokens > 0) {
        breaks[n_breaks++] = n_tokens;
        Py_ssize_t first = 0;
        for (Py_ssize_t b = 0; b < n_breaks; first = breaks[b++]) {
            if (breaks[b] - first < h->min_sentence_tokens)
                continue;
            if (emit_row(h, text, first, breaks[b], review))
                return -1;
            pieces++;
        }
    }
    return pieces ? 0 : emit_row(h, text, 0, n_tokens, review);
}

/* ---- Normalization: reference.normalize_bytes's regular expressions, pass by pass, in order. ---- */

static int put(Vector *out, const void *bytes, Py_ssize_t count)
{
    if (reserve(out, count, 1))
        return -1;
    memcpy((char *)out->data + out->length, bytes, (size_t)count);
    out->length += count;
    return 0;
}

/* The first position >= from holding `byte`, or length. */
static inline Py_ssize_t next_byte(const unsigned char *in, Py_ssize_t from, Py_ssize_t length,
                                   unsigned char byte)
{
    if (from >= length)
        return length;
    const unsigned char *found = memchr(in + from, byte, (size_t)(length - from));
    return found ? found - in : length;
}

/* <br\s*\/?> (white space other than a newline) -> " \x01 ". */
static int mark_line_breaks(const unsigned char *in, Py_ssize_t length, Vector *out)
{
    static const unsigned char marker[3] = {' ', SENTENCE_BREAK, ' '};
    Py_ssize_t run = 0;
    for (Py_ssize_t i = next_byte(in, 0, length, '<'); i < length;
         i = next_byte(in, i + 1, length, '<')) {
        if (i + 2 < length && in[i + 1] == 'b' && in[i + 2] == 'r') {
            Py_ssize_t j = i + 3;
            while (j < length && is_inline_space(in[j]))
                j++;
            if (j < length && in[j] == '/')
                j++;
            if (j < length && in[j] == '>') {
                if (put(out, in + run, i - run) || put(out, marker, 3))
                    return -1;
                i = j;
                run = j + 1;
            }
        }
    }
    return put(out, in + run, length - run);
}

/* <[^>\n]*> -> " " */
static int drop_tags(const unsigned char *in, Py_ssize_t length, Vector *out)
{
    Py_ssize_t run = 0;
    for (Py_ssize_t i = next_byte(in, 0, length, '<'); i < length;
         i = next_byte(in, i + 1, length, '<')) {
        Py_ssize_t j = i + 1;
        while (j < length && in[j] != '>' && in[j] != '\n')
            j++;
        if (j < length && in[j] == '>') {
            if (put(out, in + run, i - run) || put(out, " ", 1))
                return -1;
            i = j;
            run = j + 1;
        }
    }
    return put(out, in + run, length - run);
}

/* Every `from` -> `to`, left to right, without overlaps (bytes.replace). Candidates are
   found by the byte at `from[anchor]` (the rarest one), and `from` cannot overlap itself. */
static int replace(const unsigned char *in, Py_ssize_t length, const char *from, int anchor,
                   const char *to, Vector *out)
{
    Py_ssize_t from_length = (Py_ssize_t)strlen(from), to_length = (Py_ssize_t)strlen(to);
    Py_ssize_t run = 0;
    unsigned char key = (unsigned char)from[anchor];
    for (Py_ssize_t i = next_byte(in, anchor, length, key); i < length;
         i = next_byte(in, i + 1, length, key)) {
        Py_ssize_t start = i - anchor;
        if (start >= run && start + from_length <= length &&
            memcmp(in + start, from, (size_t)from_length) == 0) {
            if (put(out, in + run, start - run) || put(out, to, to_length))
                return -1;
            run = start + from_length;
            i = run - 1;
        }
    }
    return put(out, in + run, length - run);
}

static inline int is_lower_alnum(unsigned char byte)
{
    return (byte >= 'a' && byte <= 'z') || (byte >= '0' && byte <= '9');
}

/* [:;=]-?(?:[()]|[dp](?![a-z0-9])) -> a marker word (reference._EMOTICON_WORDS). */
static int mark_emoticons(const unsigned char *in, Py_ssize_t length, Vector *out)
{
    Py_ssize_t run = 0;
    for (Py_ssize_t i = 0; i < length; i++) {
        unsigned char eyes = in[i];
        if (eyes == ':' || eyes == ';' || eyes == '=') {
            Py_ssize_t j = i + 1;
            if (j < length && in[j] == '-')
                j++;
            const char *word = NULL;
            if (j < length) {
                unsigned char mouth = in[j];
                int alone = j + 1 >= length || !is_lower_alnum(in[j + 1]);
                if (mouth == ')')
                    word = eyes == ';' ? " EMOWINK " : " EMOSMILE ";
                else if (mouth == '(')
                    word = " EMOFROWN ";
                else if (mouth == 'd' && alone)
                    word = " EMOGRIN ";
                else if (mouth == 'p' && alone)
                    word = " EMOTONGUE ";
            }
            if (word) {
                if (put(out, in + run, i - run) || put(out, word, (Py_ssize_t)strlen(word)))
                    return -1;
                i = j;
                run = j + 1;
            }
        }
    }
    return put(out, in + run, length - run);
}

/* reference.normalize_bytes's passes over `in` (one review or many, one per line), with every newline
   made a space when `newline_is_space` (a review's own line breaks, for one review); `a` and
   `b` are the two work vectors, and `*result` is set to the one holding the text. 0, or -1
   when out of memory. Needs no GIL. */
static int normalize_into(const unsigned char *in, Py_ssize_t length, int mark_breaks,
                          int newline_is_space, Vector *a, Vector *b, Vector **result)
{
    Vector *from = a, *to = b, *swap;
    a->length = b->length = 0;
    if (reserve(a, length + 1, 1) || reserve(b, length + 1, 1))
        return -1;
    unsigned char *lower = a->data;
    for (Py_ssize_t i = 0; i < length; i++) {
        unsigned char byte = in[i];
        lower[i] = byte >= 'A' && byte <= 'Z' ? byte + ('a' - 'A')
                   : byte == '\n' && newline_is_space ? ' '
                                                      : byte;
    }
    a->length = length;
    int failed = 0;
    /* Each pass reads one vector and writes the other; `from` holds the latest text. */
#define PASS(call)                                                                             \
    if (!failed) {                                                                             \
        to->length = 0;                                                                        \
        failed = call;                                                                         \
        swap = from, from = to, to = swap;                                                     \
    }
    if (mark_breaks)
        PASS(mark_line_breaks(from->data, from->length, to));
    PASS(drop_tags(from->data, from->length, to));
    PASS(replace(from->data, from->length, "\xe2\x80\x99", 0, "'", to));
    PASS(replace(from->data, from->length, "n't", 1, " not", to));
    PASS(mark_emoticons(from->data, from->length, to));
#undef PASS
    *result = from;
    return failed;
}

static PyObject *normalize(PyObject *Py_UNUSED(self), PyObject *args)
{
    Py_buffer buffer;
    int mark_breaks;
    if (!PyArg_ParseTuple(args, "y*p", &buffer, &mark_breaks))
        return NULL;
    Vector a = {0}, b = {0}, *normalized = NULL;
    int failed;
    Py_BEGIN_ALLOW_THREADS
    failed = normalize_into(buffer.buf, buffer.len, mark_breaks, 0, &a, &b, &normalized);
    Py_END_ALLOW_THREADS
    PyObject *result = failed ? PyErr_NoMemory() : as_bytes(normalized, 1);
    PyMem_RawFree(a.data), PyMem_RawFree(b.data), PyBuffer_Release(&buffer);
    return result;
}

/* Check the n-gram range, feature count and review count, and finish setting up `h`; 0, or
   -1 with an error set. */
static int hasher_setup(Hasher *h, Py_ssize_t n_reviews, unsigned long long n_features)
{
    if (h->ngram_min < 1 || h->ngram_max < h->ngram_min || h->ngram_max > MAX_NGRAM ||
        n_features < 1 || n_features > ((unsigned long long)1 << 31) || n_reviews < 0 ||
        h->min_sentence_tokens < 0) {
        PyErr_SetString(PyExc_ValueError, "bad n-gram range, feature count or review count");
        return -1;
    }
    h->n_features = n_features;
    h->mask = (n_features & (n_features - 1)) == 0 ? n_features - 1 : 0;
    return 0;
}

/* Empty h's rows, keeping their memory: the row pointers start at 0. 0, or 1 when out of
   memory. */
static int clear_rows(Hasher *h)
{
    h->indices.length = h->indptr.length = h->row_review.length = 0;
    if (reserve(&h->indptr, 1, sizeof(int32_t)))
        return 1;
    ((int32_t *)h->indptr.data)[h->indptr.length++] = 0;
    return 0;
}

/* The rows of every review of the buffer into h; 0, 1 when out of memory, 2 when the buffer
   holds more lines than reviews. Call without the GIL. */
static int hash_buffer(Hasher *h, const unsigned char *data, Py_ssize_t size, Py_ssize_t n_reviews)
{
    Py_ssize_t start = 0;
    int32_t review = 0;
    if (clear_rows(h))
        return 1;
    for (Py_ssize_t i = next_byte(data, 0, size, '\n'); start <= size;
         i = next_byte(data, i + 1, size, '\n')) {
        if (review == n_reviews)
            return 2;
        if (hash_review(h, data + start, i - start, review++))
            return 1;
        start = i + 1;
    }
    /* An empty buffer is one empty review; fewer lines than reviews would be more empties. */
    while (review < n_reviews)
        if (hash_review(h, data, 0, review++))
            return 1;
    return 0;
}

static PyObject *hash_failed(int failed)
{
    if (failed == 2)
        PyErr_SetString(PyExc_ValueError, "the buffer holds more lines than reviews");
    else
        PyErr_NoMemory();
    return NULL;
}

static void hasher_free(Hasher *h)
{
    PyMem_RawFree(h->tokens.data), PyMem_RawFree(h->breaks.data), PyMem_RawFree(h->indices.data);
    PyMem_RawFree(h->indptr.data), PyMem_RawFree(h->row_review.data);
    PyMem_RawFree(h->scratch.data), PyMem_RawFree(h->gram.data);
}

static PyObject *hash_reviews(PyObject *Py_UNUSED(self), PyObject *args)
{
    Py_buffer buffer;
    Py_ssize_t n_reviews;
    Hasher h = {0};
    unsigned long long n_features;
    if (!PyArg_ParseTuple(args, "y*niiKi", &buffer, &n_reviews, &h.ngram_min, &h.ngram_max,
                          &n_features, &h.min_sentence_tokens))
        return NULL;
    if (hasher_setup(&h, n_reviews, n_features)) {
        PyBuffer_Release(&buffer);
        return NULL;
    }
    int failed;
    Py_BEGIN_ALLOW_THREADS
    failed = hash_buffer(&h, buffer.buf, buffer.len, n_reviews);
    Py_END_ALLOW_THREADS
    PyObject *result = failed ? hash_failed(failed)
                              : Py_BuildValue("(NNN)", as_bytes(&h.indices, sizeof(uint32_t)),
                                              as_bytes(&h.indptr, sizeof(int32_t)),
                                              as_bytes(&h.row_review, sizeof(int32_t)));
    hasher_free(&h);
    PyBuffer_Release(&buffer);
    return result;
}

/* A review's score: the sum of its distinct columns' weights (in float64, in the order the
   columns were first seen) over the square root of their number, that is the dot product
   of the weights with its binary, unit-length row. 0 for a review without features. */
static double row_score(const uint32_t *columns, Py_ssize_t count, const void *weights,
                        int single)
{
    double sum = 0.0;
    if (single)
        for (Py_ssize_t i = 0; i < count; i++)
            sum += ((const float *)weights)[columns[i]];
    else
        for (Py_ssize_t i = 0; i < count; i++)
            sum += ((const double *)weights)[columns[i]];
    return count ? sum / sqrt((double)count) : 0.0;
}

/* The UTF-8 bytes of a str, as str.encode("utf-8", "replace"): a new reference to keep
   while `*bytes` is used (the str itself when it can give them without a copy), or NULL. */
static PyObject *utf8_of(PyObject *text, const char **bytes, Py_ssize_t *length)
{
    if (!PyUnicode_Check(text)) {
        PyErr_Format(PyExc_TypeError, "reviews must be str, not %.80s", Py_TYPE(text)->tp_name);
        return NULL;
    }
    *bytes = PyUnicode_AsUTF8AndSize(text, length);
    if (*bytes) {
        Py_INCREF(text);
        return text;
    }
    PyErr_Clear(); /* an unpaired surrogate: replaced by "?" */
    PyObject *encoded = PyUnicode_AsEncodedString(text, "utf-8", "replace");
    if (encoded) {
        *bytes = PyBytes_AS_STRING(encoded);
        *length = PyBytes_GET_SIZE(encoded);
    }
    return encoded;
}

static PyObject *score_texts(PyObject *Py_UNUSED(self), PyObject *args)
{
    PyObject *texts_object, *weights_object;
    Hasher h = {0};
    unsigned long long n_features;
    if (!PyArg_ParseTuple(args, "OiiKO", &texts_object, &h.ngram_min, &h.ngram_max, &n_features,
                          &weights_object))
        return NULL;
    PyObject *texts = PySequence_Fast(texts_object, "texts must be a sequence of str");
    if (!texts)
        return NULL;
    Py_buffer weights;
    if (PyObject_GetBuffer(weights_object, &weights, PyBUF_FORMAT | PyBUF_C_CONTIGUOUS)) {
        Py_DECREF(texts);
        return NULL;
    }
    Py_ssize_t n_texts = PySequence_Fast_GET_SIZE(texts);
    int single = weights.format && strcmp(weights.format, "f") == 0;
    int twice = weights.format && strcmp(weights.format, "d") == 0;
    PyObject *result = NULL;
    if (!single && !twice)
        PyErr_SetString(PyExc_TypeError, "weights must be a float32 or float64 buffer");
    else if ((unsigned long long)(weights.len / weights.itemsize) != n_features)
        PyErr_SetString(PyExc_ValueError, "weights must hold n_features values");
    else if (!hasher_setup(&h, n_texts, n_features))
        result = PyList_New(n_texts);
    Vector a = {0}, b = {0}, *normalized;
    for (Py_ssize_t i = 0; result && i < n_texts; i++) {
        const char *bytes;
        Py_ssize_t length;
        PyObject *keep = utf8_of(PySequence_Fast_GET_ITEM(texts, i), &bytes, &length);
        if (!keep) {
            Py_CLEAR(result);
            break;
        }
        /* One review at a time: its row is the only one in h. */
        int failed = normalize_into((const unsigned char *)bytes, length, 0, 1, &a, &b,
                                    &normalized) ||
                     clear_rows(&h) || hash_review(&h, normalized->data, normalized->length, 0);
        Py_DECREF(keep);
        PyObject *value = NULL;
        if (failed)
            PyErr_NoMemory();
        else
            value = PyFloat_FromDouble(row_score(h.indices.data, h.indices.length, weights.buf,
                                                 single));
        if (!value)
            Py_CLEAR(result);
        else
            PyList_SET_ITEM(result, i, value);
    }
    PyMem_RawFree(a.data), PyMem_RawFree(b.data);
    hasher_free(&h);
    PyBuffer_Release(&weights);
    Py_DECREF(texts);
    return result;
}

/* One normalized review's tokens and the column of every n-gram occurrence, in
   reference.analyze_normalized's order (all n-grams of each length in turn, repeats kept):
   what explaining needs to give each n-gram its share of the score. */
static PyObject *ngram_columns(PyObject *Py_UNUSED(self), PyObject *args)
{
    Py_buffer buffer;
    Hasher h = {0};
    unsigned long long n_features;
    if (!PyArg_ParseTuple(args, "y*iiK", &buffer, &h.ngram_min, &h.ngram_max, &n_features))
        return NULL;
    const unsigned char *text = buffer.buf;
    Py_ssize_t length = buffer.len, n_tokens = 0, count = 0;
    Vector apart = {0};
    int failed = hasher_setup(&h, 0, n_features);
    if (!failed && (reserve(&h.tokens, length + 1, sizeof(Span)) ||
                    reserve(&apart, length + 1, 1) ||
                    reserve(&h.indices, (length + 1) * (h.ngram_max - h.ngram_min + 1),
                            sizeof(uint32_t)) ||
                    reserve(&h.gram, length + 1, 1))) {
        PyErr_NoMemory();
        failed = -1;
    }
    if (failed) {
        hasher_free(&h), PyMem_RawFree(apart.data);
        PyBuffer_Release(&buffer);
        return NULL;
    }
    Span *tokens = h.tokens.data;
    for (Py_ssize_t i = 0; i < length;) {
        unsigned char kind = byte_class[text[i]];
        Py_ssize_t start = i;
        if (kind == WORD)
            while (i < length && byte_class[text[i]] == WORD)
                i++;
        else
            i++;
        if (kind != SPACE)
            tokens[n_tokens++] = (Span){start, i - start};
    }
    unsigned char *between = apart.data;
    for (Py_ssize_t t = 0; t + 1 < n_tokens; t++) {
        /* Anything but white space between two tokens (punctuation) keeps them apart. */
        between[t] = 0;
        for (Py_ssize_t b = tokens[t].start + tokens[t].length; b < tokens[t + 1].start; b++)
            if (!is_inline_space(text[b]) && text[b] != SENTENCE_BREAK)
                between[t] = 1;
    }
    uint32_t *columns = h.indices.data;
    unsigned char *gram = h.gram.data;
    for (int n = h.ngram_min; n <= h.ngram_max; n++)
        for (Py_ssize_t t = 0; t + n <= n_tokens; t++) {
            Py_ssize_t size = 0;
            for (int m = 0; m < n; m++) {
                if (m > 0)
                    gram[size++] = ' ';
                memcpy(gram + size, text + tokens[t + m].start, (size_t)tokens[t + m].length);
                size += tokens[t + m].length;
            }
            uint32_t hash = 0; /* the seed */
            Py_ssize_t mixed = 0;
            for (; mixed + 4 <= size; mixed += 4)
                hash = murmur_block(hash, gram + mixed);
            columns[count++] = column_of(murmur_finish(hash, gram + mixed, size), h.n_features,
                                         h.mask);
        }
    apart.length = n_tokens > 0 ? n_tokens - 1 : 0;
    h.indices.length = count;
    PyObject *words = PyList_New(n_tokens);
    for (Py_ssize_t t = 0; words && t < n_tokens; t++) {
        PyObject *word = PyUnicode_DecodeUTF8((const char *)text + tokens[t].start,
                                              tokens[t].length, "replace");
        if (!word)
            Py_CLEAR(words);
        else
            PyList_SET_ITEM(words, t, word);
    }
    PyObject *result = words ? Py_BuildValue("(NNN)", words, as_bytes(&apart, 1),
                                             as_bytes(&h.indices, sizeof(uint32_t)))
                             : NULL;
    hasher_free(&h), PyMem_RawFree(apart.data);
    PyBuffer_Release(&buffer);
    return result;
}

static PyMethodDef methods[] = {
    {"normalize", normalize, METH_VARARGS,
     "normalize(buffer, mark_breaks) -> bytes\n\nreference.normalize_bytes after encoding: ASCII "
     "lower-casing, line breaks marked (if asked), tags dropped, apostrophes and \"n't\" "
     "rewritten, emoticons as marker words."},
    {"hash_reviews", hash_reviews, METH_VARARGS,
     "hash_reviews(buffer, n_reviews, ngram_min, ngram_max, n_features, min_sentence_tokens)"
     " -> (indices, indptr, row_review)\n\nThe CSR column indices (each row's distinct "
     "columns, in the order first seen), row pointers and each row's review, as int32 bytes, of "
     "reference.normalize_bytes's buffer. With min_sentence_tokens > 0 a row is a piece of a review "
     "with at least that many tokens (the whole review if it has none)."},
    {"score_texts", score_texts, METH_VARARGS,
     "score_texts(texts, ngram_min, ngram_max, n_features, weights) -> list\n\n"
     "Each review's dot product of the weights (a float32 or float64 buffer of n_features "
     "values) with its row of binary, unit-length features: reference.normalize_bytes and hash_reviews "
     "review by review, from the str (no joined buffer), each row's distinct columns summed "
     "in float64 over the square root of their number (0.0 for a review without features)."},
    {"ngram_columns", ngram_columns, METH_VARARGS,
     "ngram_columns(buffer, ngram_min, ngram_max, n_features) -> (words, apart, columns)\n\n"
     "One normalized review (no newline): its tokens (a list of str), whether punctuation "
     "separates each token from the next (one byte each), and the column of every n-gram "
     "occurrence in reference.analyze_normalized's order (int32)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, .m_name = "_hashing", .m_doc = "The feature hashing of reference.py in C.",
    .m_size = -1, .m_methods = methods,
};

PyMODINIT_FUNC PyInit__hashing(void)
{
    for (int b = 0; b < 256; b++)
        byte_class[b] = b >= 0x80 ? WORD : SPACE;
    for (int b = '0'; b <= '9'; b++)
        byte_class[b] = WORD;
    for (int b = 'a'; b <= 'z'; b++)
        byte_class[b] = byte_class[b - 'a' + 'A'] = WORD;
    byte_class['!'] = byte_class['?'] = SINGLE;
    return PyModule_Create(&module);
}
