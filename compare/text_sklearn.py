#!/usr/bin/env python3
"""scikit-learn baselines for `examples/text_classify.rs` on the same splits of the UCI sentences.

The Rust example, run on the embedded UCI sentiment sentences (runtime/data/sentiment.tsv.gz,
3000 reviews, 0 = negative, 1 = positive) with `--seeds 5 --out DIR`, writes each seed's
stratified 70/10/20 split as DIR/split-seed{0..4}.json: {"train": [...], "validation": [...],
"test": [...]} of sample indices. This script reads those splits and, for each seed, fits
four scikit-learn models on the training part, picks C by accuracy on the validation part
(the first of the grid on a tie) and reports the test accuracy at that C:

- linear SVM: `LinearSVC` on `TfidfVectorizer(ngram_range=(1, 2))` (word 1-2-grams),
  C in [0.1, 0.3, 1, 3, 10];
- char LR: `LogisticRegression` on `TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5))`,
  C in [1, 3, 10, 30, 100];
- word+char LR: `LogisticRegression` on both feature sets side by side (a `FeatureUnion` of
  the two vectorizers above), C in [1, 3, 10, 30, 100];
- NB word+char LR: `LogisticRegression` on NBSVM-style features (Wang and Manning 2012) built
  as the Rust example builds them for two classes (runtime/src/data/text.rs:
  `HashingVectorizer` with binary presence, negation marking, separate norms and
  `fit_naive_bayes` with alpha = 0.5), but from a vocabulary (`CountVectorizer(binary=True)`
  with a custom analyzer) instead of hashing, C in [1, 3, 10, 30, 100]. Texts are tokenized
  as the Rust `tokenize` does (lowercase; runs of alphanumerics and apostrophes are words,
  every other non-space character is a token of its own) and negation-marked as
  `mark_negation` does (after a word of NEGATION_TRIGGERS or a token ending in "n't", tokens
  get the prefix "NOT_" up to a token . , ! ? ; or :, which ends the scope unprefixed). Word
  features are the unigrams and bigrams of the marked tokens; character features the 2- to
  5-grams of each unmarked token padded with a space on each side. Each feature present in
  a text is 1, times its naive Bayes log-count ratio r = ln((p / |p|_1) / (q / |q|_1)), p
  being 0.5 + the number of class-1 training texts with the feature and q the same for
  class 0; the word block and the character block are each L2-normalized, then put side by
  side. Two differences from the Rust version: the norms |p|_1 and |q|_1 sum over the
  fitted vocabulary (word and character features together), where the Rust ones sum over
  all hash buckets (so add alpha for every bucket, seen or not), and a feature never seen in
  training is dropped here, where the Rust version gives its bucket (if no collision) the
  constant ratio ln(|q|_1 / |p|_1). Hash collisions and signs do not arise here.

The vectorizers are fitted on the training part only (the naive Bayes ratios on its labels
too). Everything else is scikit-learn's defaults (lower-casing, its token pattern, lbfgs for
the logistic regressions, with `max_iter` raised so that they converge).

Samples are numbered as the Rust loader (`read_labeled_text_from` in runtime/src/data/load.rs)
numbers them: sample i is the i-th non-empty data line after the header (a line is split at
'\\n', trailing '\\r's removed, fields split at tabs, the label trimmed). The script checks that
each split file is a partition of the samples and that every class is split in the stratified
proportions (a row order other than the Rust one would break them).

    cargo run --release --example text_classify -- --seeds 5 --out /tmp/tc-splits
    /work/venv/bin/python compare/text_sklearn.py /tmp/tc-splits

The table gives, per model, the test accuracy over the seeds (mean +- sample standard
deviation, in %), the chosen C of each seed and the mean validation accuracy at the chosen C;
per-seed figures follow it.

CI never runs this script: it needs scikit-learn (compare/requirements.txt, in a venv).
"""

import argparse
import gzip
import json
import os
import statistics
import sys
import time

import numpy as np
import scipy.sparse
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion
from sklearn.preprocessing import normalize
from sklearn.svm import LinearSVC

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "runtime", "data", "sentiment.tsv.gz")
SEEDS = range(5)
VALIDATION, TEST = 0.1, 0.2  # the example's stratified_split fractions


def read_labeled_text(path, label_column="label", text_column="text"):
    """(texts, labels as strings) in the Rust loader's order."""
    with gzip.open(path, "rb") as f:
        lines = f.read().decode("utf-8").split("\n")
    columns = lines[0].rstrip("\r").split("\t")
    label_at, text_at = columns.index(label_column), columns.index(text_column)
    texts, labels = [], []
    for number, line in enumerate(lines[1:], start=2):
        line = line.rstrip("\r")
        if not line:
            continue
        fields = line.split("\t")
        if len(fields) != len(columns):
            sys.exit(f"{path}:{number}: {len(fields)} fields, but the header has {len(columns)}")
        labels.append(fields[label_at].strip())
        texts.append(fields[text_at])
    return texts, labels


def read_split(directory, seed, labels):
    path = os.path.join(directory, f"split-seed{seed}.json")
    with open(path) as f:
        split = {k: np.asarray(v, dtype=np.int64) for k, v in json.load(f).items()}
    n = len(labels)
    every = np.concatenate([split["train"], split["validation"], split["test"]])
    if len(every) != n or not np.array_equal(np.sort(every), np.arange(n)):
        sys.exit(f"{path}: not a partition of the {n} samples of {DATA}")
    # stratified_split's counts per class: test = round(n_c * 0.2), validation = round(n_c * 0.1).
    labels = np.asarray(labels)
    for c in np.unique(labels):
        n_c = int(np.sum(labels == c))
        n_test = round(n_c * TEST)
        n_val = min(round(n_c * VALIDATION), n_c - n_test)
        got = [int(np.sum(labels[split[k]] == c)) for k in ("train", "validation", "test")]
        if got != [n_c - n_test - n_val, n_val, n_test]:
            sys.exit(f"{path}: class {c!r} split {got}, not stratified: another row order?")
    return split


def word_vectorizer():
    return TfidfVectorizer(ngram_range=(1, 2))


def char_vectorizer():
    return TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5))


# runtime/src/data/text.rs: NEGATION_TRIGGERS, and the tokens that end a negation's scope.
NEGATION_TRIGGERS = frozenset(
    "not no never nothing nowhere noone none nobody neither nor cannot dont didnt doesnt isnt wasnt "
    "arent werent wont wouldnt couldnt shouldnt hasnt havent hadnt aint".split()
)
NEGATION_ENDS = frozenset(".,!?;:")
NAIVE_BAYES_ALPHA = 0.5  # examples/text_classify.rs


def tokenize(text):
    """The Rust `tokenize`: lowercase runs of alphanumerics and apostrophes, and each other
    non-space character on its own."""
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


def mark_negation(tokens):
    """The Rust `mark_negation`: "NOT_" before each token in a negation's scope."""
    negated, marked = False, []
    for token in tokens:
        if token in NEGATION_ENDS:
            negated = False
            marked.append(token)
            continue
        marked.append("NOT_" + token if negated else token)
        if token.endswith("n't") or token in NEGATION_TRIGGERS:
            negated = True
    return marked


def nb_features(text, char_range=(2, 5)):
    """The features of the Rust `each_feature` (bigrams, negation, character n-grams) as
    strings: "w:" word, "b:" bigram of marked tokens, "c:" character n-gram of a token."""
    tokens = tokenize(text)
    words = mark_negation(tokens)
    out = []
    for i, (token, word) in enumerate(zip(tokens, words)):
        out.append("w:" + word)
        if i + 1 < len(words):
            out.append("b:" + word + " " + words[i + 1])
        padded = " " + token + " "
        for n in range(char_range[0], char_range[1] + 1):
            out.extend("c:" + padded[j : j + n] for j in range(len(padded) - n + 1))
    return out


class NaiveBayesVectorizer:
    """Binary word and character features scaled by their naive Bayes log-count ratios, each
    block L2-normalized (the Rust vectorizer of the two-class example, from a vocabulary)."""

    def __init__(self, alpha=NAIVE_BAYES_ALPHA):
        self.alpha = alpha

    def fit_transform(self, texts, y):
        self.counts = CountVectorizer(analyzer=nb_features, binary=True, dtype=np.float64)
        x = self.counts.fit_transform(texts).tocsr()
        classes = np.unique(y)
        if len(classes) != 2:
            sys.exit(f"naive Bayes features need two classes, not {len(classes)}")
        y = np.asarray(y)
        # Class 1 is the second label, as the Rust loader numbers "0" and "1".
        p = self.alpha + np.asarray(x[y == classes[1]].sum(axis=0)).ravel()
        q = self.alpha + np.asarray(x[y == classes[0]].sum(axis=0)).ravel()
        self.ratio = np.log((p / p.sum()) / (q / q.sum()))
        names = self.counts.get_feature_names_out()
        self.is_char = np.char.startswith(names.astype(str), "c:")
        return self._weigh(x)

    def transform(self, texts):
        return self._weigh(self.counts.transform(texts).tocsr())

    def _weigh(self, x):
        x = x @ scipy.sparse.diags(self.ratio)
        words = normalize(x[:, np.flatnonzero(~self.is_char)])
        chars = normalize(x[:, np.flatnonzero(self.is_char)])
        return scipy.sparse.hstack([words, chars], format="csr")


def logistic(c):
    return LogisticRegression(C=c, max_iter=10000)


MODELS = [
    # (name, vectorizer factory, classifier factory, C grid)
    ("linear SVM, word 1-2-grams", word_vectorizer, lambda c: LinearSVC(C=c, max_iter=100000), [0.1, 0.3, 1, 3, 10]),
    ("LR, char_wb 2-5-grams", char_vectorizer, logistic, [1, 3, 10, 30, 100]),
    (
        "LR, word 1-2 + char_wb 2-5",
        lambda: FeatureUnion([("word", word_vectorizer()), ("char", char_vectorizer())]),
        logistic,
        [1, 3, 10, 30, 100],
    ),
    ("NB word+char LR", NaiveBayesVectorizer, logistic, [1, 3, 10, 30, 100]),
]


def run(name, make_vectorizer, make_classifier, grid, texts, labels, split):
    """(chosen C, validation accuracy, test accuracy, features) for one seed."""
    part = {k: [texts[i] for i in v] for k, v in split.items()}
    y = {k: labels[v] for k, v in split.items()}
    vectorizer = make_vectorizer()
    x_train = vectorizer.fit_transform(part["train"], y["train"])
    x_val = vectorizer.transform(part["validation"])
    x_test = vectorizer.transform(part["test"])
    best = None
    for c in grid:
        model = make_classifier(c).fit(x_train, y["train"])
        val = float(np.mean(model.predict(x_val) == y["validation"]))
        if best is None or val > best[1]:
            best = (c, val, model)
    c, val, model = best
    test = float(np.mean(model.predict(x_test) == y["test"]))
    return c, val, test, x_train.shape[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("splits", help="directory of split-seed{0..4}.json (text_classify --out)")
    args = parser.parse_args()
    texts, raw = read_labeled_text(DATA)
    labels = np.asarray(raw)
    splits = [read_split(args.splits, seed, raw) for seed in SEEDS]
    counts = ", ".join(f"{c}: {int(np.sum(labels == c))}" for c in np.unique(labels))
    s = splits[0]
    print(f"{DATA}: {len(texts)} samples ({counts})")
    print(
        f"splits from {args.splits}, seeds {SEEDS.start}..{SEEDS.stop - 1}: "
        f"{len(s['train'])} train, {len(s['validation'])} validation, {len(s['test'])} test"
    )
    import sklearn

    print(f"scikit-learn {sklearn.__version__}; C chosen on validation accuracy, test at that C\n")

    results = []
    for name, make_vectorizer, make_classifier, grid in MODELS:
        start = time.perf_counter()
        per_seed = [run(name, make_vectorizer, make_classifier, grid, texts, labels, s) for s in splits]
        results.append((name, grid, per_seed, time.perf_counter() - start))

    width = max(len(r[0]) for r in results) + 2
    print(f"{'model':<{width}}{'test % (mean +- sd)':>21}  {'C per seed':<26}{'val % (mean)':>12}")
    for name, grid, per_seed, _ in results:
        tests = [100 * r[2] for r in per_seed]
        vals = [100 * r[1] for r in per_seed]
        cs = " ".join(f"{r[0]:g}" for r in per_seed)
        cell = f"{statistics.mean(tests):.2f} +- {statistics.stdev(tests):.2f}"
        print(f"{name:<{width}}{cell:>21}  {cs:<26}{statistics.mean(vals):>12.2f}")

    print("\nPer seed (test % / validation % at the chosen C; features of the training part):")
    for name, grid, per_seed, seconds in results:
        cells = "  ".join(f"{100 * r[2]:.2f}/{100 * r[1]:.2f}" for r in per_seed)
        features = "/".join(str(r[3]) for r in per_seed)
        print(f"  {name:<{width}}{cells}  ({features} features; C grid {grid}; {seconds:.1f} s)")


if __name__ == "__main__":
    main()
