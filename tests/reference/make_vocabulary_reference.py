"""Reference values for retroprop's VocabularyVectorizer, computed with scikit-learn's
TfidfVectorizer.

Run from the repository root (scikit-learn in any environment, e.g. the venv of
compare/requirements.txt outside the repository):

    python3 tests/reference/make_vocabulary_reference.py

It writes tests/reference/vocabulary.json, which tests/vocabulary_reference.rs checks against.
CI does not need scikit-learn: the JSON is committed.

Tokens: scikit-learn is given the tokens of retroprop's `tokenize` (reimplemented below:
lowercase runs of alphanumerics and apostrophes, each other non-space character on its own),
through `tokenizer=` with `token_pattern=None, lowercase=False`, so that n-grams are built by
scikit-learn itself (space-joined tokens). The tokens of every text are written to the JSON
too, and the Rust test checks that `tokenize` gives exactly them. The corpus avoids
characters on which Python's `str.isalnum`/`str.isspace` and Rust's
`char::is_alphanumeric`/`char::is_whitespace` disagree (combining marks, ASCII separators).

Each case holds the TfidfVectorizer parameters, the vocabulary in index order (scikit-learn's
`get_feature_names_out`, the alphabetical order of the kept terms), the idf (`idf_`, or null
when `use_idf=False`), and the rows of `transform` on the probe texts as sorted indices and
values (float64).

max_features: scikit-learn keeps the `limit` most frequent terms with numpy's default
(unstable, and on x86 SIMD-dispatched, so CPU-dependent) argsort over the alphabetical
vocabulary; retroprop breaks ties alphabetically (a stable sort). The script checks that the
terms above the cut are the same. Where scikit-learn's choice among the tied terms differs,
the case records it as `sklearn_vocabulary` (otherwise null) and its `vocabulary`, idf and
rows come from TfidfVectorizer with the stable choice as a fixed `vocabulary=` (the idf of a
term depends only on its own document frequency).
"""

import json
import os

import numpy as np
import sklearn
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer


def tokenize(text):
    """retroprop_runtime::data::text::tokenize."""
    tokens, word = [], []
    for c in text:
        if c.isalnum() or c == "'":
            word.append(c.lower())
        else:
            if word:
                tokens.append("".join(word))
                word = []
            if not c.isspace():
                tokens.append(c.lower())
    if word:
        tokens.append("".join(word))
    return tokens


CORPUS = [
    "The food was great, the service was great!",
    "Terrible service; the food was cold.",
    "I didn't like the food, but the dessert was great.",
    "Great food, great prices, great staff!!!",
    "The staff was rude and the food was bland.",
    "Would not go back. Not worth it.",
    "Loved it: the pasta, the wine, the music.",
    "Worst pasta I've ever had... never again",
    "Das Essen war gut, aber der Service war langsam.",
    "Café crème et croissant: très bon!",
    "Ñandú asado, ¡qué rico!",
    "Ελληνικό φαγητό, πολύ καλό.",
    "寿司 と ラーメン 美味しい",
    "The wine list is long; the wine is cheap.",
    "cheap cheap cheap",
    "It's OK, it's not great, it's not bad.",
    "Bad food, bad service, bad music.",
    "Music too loud, food too salty",
    "5 stars! 10/10 would eat again",
    "2 hours wait for cold pasta",
    "The dessert was the best part",
    "Dessert: chocolate cake & ice cream",
    "Ice cream was melted, cake was dry",
    "Service with a smile :)",
    "No smile, no service, no tip.",
    "Prices are high but the food is worth it",
    "The staff didn't care",
    "I'll come back for the wine",
    "the THE The tHe",
    "Back again, again, and again",
]

PROBES = [
    "The food was great, the wine was cheap!",
    "Zebra quantum xylophone",  # no known word
    "",
    "again again again, great great food",
    "Café crème, très bon; 寿司 美味しい",
]

CASES = [
    ("unigrams", {}),
    ("bigrams_min_df2", {"ngram_range": (1, 2), "min_df": 2}),
    ("max_features20", {"max_features": 20}),
    ("max_features7_bigrams", {"ngram_range": (1, 2), "max_features": 7}),
    ("max_features3", {"max_features": 3}),
    ("max_features30_min_df2", {"max_features": 30, "min_df": 2}),
    ("tf_only", {"use_idf": False}),
    ("norm_none", {"norm": None}),
    ("sublinear_tf", {"sublinear_tf": True}),
    ("sublinear_tf_idf_norm_none_bigrams", {"sublinear_tf": True, "norm": None, "ngram_range": (1, 2)}),
    ("max_df_fraction", {"max_df": 0.2, "min_df": 2}),
    ("min_df_fraction", {"min_df": 0.1}),
    ("trigrams_only", {"ngram_range": (3, 3), "min_df": 2}),
]


def stable_limit(terms, counts, limit):
    """The terms retroprop keeps: stable sort by decreasing frequency, alphabetical order."""
    order = sorted(range(len(terms)), key=lambda i: -counts[i])  # sorted is stable
    return sorted(terms[i] for i in order[:limit])


def main():
    root = os.path.dirname(os.path.abspath(__file__))
    cases = []
    for name, params in CASES:
        vec = TfidfVectorizer(tokenizer=tokenize, token_pattern=None, lowercase=False, **params)
        vec.fit(CORPUS)
        vocabulary = [str(t) for t in vec.get_feature_names_out()]
        sklearn_vocabulary = None
        if "max_features" in params:
            # Corpus term frequencies of the terms that pass min_df/max_df, in alphabetical
            # order, as _limit_features sees them.
            cv = CountVectorizer(
                tokenizer=tokenize,
                token_pattern=None,
                lowercase=False,
                **{k: v for k, v in params.items() if k in ("ngram_range", "min_df", "max_df")},
            )
            tfs = np.asarray(cv.fit_transform(CORPUS).sum(axis=0)).ravel()
            terms = [str(t) for t in cv.get_feature_names_out()]
            limit = params["max_features"]
            expected = stable_limit(terms, tfs, limit)
            cut = sorted(tfs, reverse=True)[limit - 1]
            above = sorted(t for t, c in zip(terms, tfs) if c > cut)
            assert all(t in vocabulary for t in above), name
            ties = int((tfs == cut).sum())
            if vocabulary != expected:
                # numpy's default argsort is unstable (here SIMD-dispatched, so the choice
                # among tied terms depends on the CPU): keep scikit-learn's choice for the
                # record, and make the reference values with the stable choice, as a fixed
                # vocabulary (the idf of a term does not depend on the other terms).
                print(f"{name}: scikit-learn's choice among {ties} tied terms differs from a stable sort")
                sklearn_vocabulary = vocabulary
                fixed = {k: v for k, v in params.items() if k not in ("min_df", "max_df", "max_features")}
                vec = TfidfVectorizer(
                    tokenizer=tokenize, token_pattern=None, lowercase=False, vocabulary=expected, **fixed
                )
                vec.fit(CORPUS)
                vocabulary = [str(t) for t in vec.get_feature_names_out()]
                assert vocabulary == expected
            else:
                print(f"{name}: {ties} terms tied at the cut (count {cut}), same choice as a stable sort")
        rows = vec.transform(PROBES).tocsr()
        rows.sort_indices()
        out_rows = []
        for i in range(len(PROBES)):
            start, end = rows.indptr[i], rows.indptr[i + 1]
            out_rows.append(
                {
                    "indices": [int(j) for j in rows.indices[start:end]],
                    "values": [float(v) for v in rows.data[start:end]],
                }
            )
        train = vec.transform(CORPUS)
        cases.append(
            {
                "name": name,
                "ngram_range": list(params.get("ngram_range", (1, 1))),
                "min_df": params.get("min_df", 1),
                "max_df": params.get("max_df"),
                "max_features": params.get("max_features"),
                "use_idf": params.get("use_idf", True),
                "norm": params.get("norm", "l2"),
                "sublinear_tf": params.get("sublinear_tf", False),
                "vocabulary": vocabulary,
                "sklearn_vocabulary": sklearn_vocabulary,
                "idf": [float(v) for v in vec.idf_] if vec.use_idf else None,
                "rows": out_rows,
                "train_nnz": int(train.nnz),
            }
        )
        print(f"{name}: {len(vocabulary)} terms")
    data = {
        "generator": f"scikit-learn {sklearn.__version__}, numpy {np.__version__}",
        "corpus": CORPUS,
        "corpus_tokens": [tokenize(t) for t in CORPUS],
        "probes": PROBES,
        "probe_tokens": [tokenize(t) for t in PROBES],
        "cases": cases,
    }
    with open(os.path.join(root, "vocabulary.json"), "w", encoding="utf-8") as f:
        json.dump(data, f, ensure_ascii=False, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
