"""``nnlite.metrics`` against independent counts and formulas.

Claims checked: the confusion matrix equals a ``collections.Counter`` over (true, predicted)
pairs and scipy's sparse COO count; precision and recall equal the textbook ratios counted
straight from the label arrays, with NaN (and no warning) for a class never predicted or
never present; accuracy is the trace over the total; the worst confusions are the largest
off-diagonal cells; sigmoid outputs become two-class probabilities that agree with
``predict_classes``; the most confidently wrong samples are exactly the wrong ones, sorted by
the predicted class's probability, descending.
"""

from __future__ import annotations

import warnings
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.sparse import coo_matrix

from nnlite import metrics
from nnlite.errors import DataError


@st.composite
def label_pairs(draw):
    """(y_true, y_pred, k): k classes, some possibly never present or never predicted."""
    k = draw(st.integers(1, 7))
    n = draw(st.integers(0, 60))
    labels = st.lists(st.integers(0, k - 1), min_size=n, max_size=n)
    return np.array(draw(labels), np.int64), np.array(draw(labels), np.int64), k


def counter_matrix(t, p, k):
    """Reference: count pairs with a Counter, one cell at a time."""
    pairs = Counter(zip(t.tolist(), p.tolist()))
    return np.array([[pairs[(i, j)] for j in range(k)] for i in range(k)])


@settings(max_examples=200, deadline=None)
@given(label_pairs())
def test_confusion_matrix_equals_an_independent_count(case):
    t, p, k = case
    cm = metrics.confusion_matrix(t, p, n_classes=k)
    assert cm.shape == (k, k) and cm.dtype == np.int64
    np.testing.assert_array_equal(cm, counter_matrix(t, p, k))
    coo = coo_matrix((np.ones(len(t), np.int64), (t, p)), shape=(k, k)).toarray()
    np.testing.assert_array_equal(cm, coo)
    assert cm.sum() == len(t) and cm.trace() == np.sum(t == p)


def test_confusion_matrix_hand_worked():
    # true  0 0 1 1 1 2
    # pred  0 1 1 1 2 0   -> row 0: one right, one called 1; row 1: two right, one called 2;
    #                        row 2: called 0 once.
    cm = metrics.confusion_matrix([0, 0, 1, 1, 1, 2], [0, 1, 1, 1, 2, 0])
    np.testing.assert_array_equal(cm, [[1, 1, 0], [0, 2, 1], [1, 0, 0]])


def test_confusion_matrix_size_defaults_to_the_largest_class():
    assert metrics.confusion_matrix([0, 3], [1, 0]).shape == (4, 4)
    assert metrics.confusion_matrix([], [], n_classes=3).shape == (3, 3)


@pytest.mark.parametrize(
    "t, p, k, phrase",
    [
        ([0, 1], [0], None, "2 true labels but 1"),
        ([0, 5], [0, 1], 3, "class 5 is outside 0..2"),
        ([0, -1], [0, 1], None, ">= 0"),
        ([0.5, 1], [0, 1], None, "class numbers"),
        ([[0, 1]], [[0, 1]], None, "1-D"),
    ],
)
def test_confusion_matrix_rejects_bad_labels(t, p, k, phrase):
    with pytest.raises(DataError, match=phrase):
        metrics.confusion_matrix(t, p, n_classes=k)


@settings(max_examples=200, deadline=None)
@given(label_pairs())
def test_precision_recall_equal_the_textbook_ratios_without_warnings(case):
    t, p, k = case
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a 0/0 must not warn
        precision, recall, support = metrics.precision_recall(
            metrics.confusion_matrix(t, p, n_classes=k)
        )
    for c in range(k):
        tp = sum(1 for a, b in zip(t, p) if a == c and b == c)
        predicted_c = sum(1 for b in p if b == c)
        actual_c = sum(1 for a in t if a == c)
        assert support[c] == actual_c
        if predicted_c:
            assert precision[c] == pytest.approx(tp / predicted_c)
        else:
            assert np.isnan(precision[c])
        if actual_c:
            assert recall[c] == pytest.approx(tp / actual_c)
        else:
            assert np.isnan(recall[c])


def test_a_class_never_predicted_has_nan_precision_and_zero_recall():
    # Class 2 occurs twice but is never predicted: precision 0/0, recall 0/2.
    precision, recall, support = metrics.precision_recall(
        metrics.confusion_matrix([0, 1, 2, 2], [0, 1, 0, 1], n_classes=3)
    )
    assert np.isnan(precision[2]) and recall[2] == 0 and support[2] == 2
    assert precision[0] == 0.5 and recall[0] == 1.0


@settings(max_examples=100, deadline=None)
@given(label_pairs())
def test_accuracy_is_the_trace_over_the_total(case):
    t, p, k = case
    acc = metrics.accuracy(t, p)
    if len(t) == 0:
        assert np.isnan(acc)
    else:
        cm = metrics.confusion_matrix(t, p, n_classes=k)
        assert acc == pytest.approx(cm.trace() / cm.sum())


def test_worst_confusions_are_the_largest_off_diagonal_cells():
    cm = np.array([[50, 3, 7], [9, 40, 0], [7, 1, 60]])
    # Off the diagonal: 9 (1→0), then 7 twice (0→2 before 2→0: reading order), then 3.
    assert metrics.worst_confusions(cm, 3) == [(1, 0, 9), (0, 2, 7), (2, 0, 7)]
    assert metrics.worst_confusions(np.diag([5, 5]), 3) == []  # no mistakes: nothing
    assert len(metrics.worst_confusions(cm, 10)) == 5  # only the nonzero cells


def test_one_sigmoid_output_becomes_two_class_probabilities():
    P = np.array([[0.2], [0.9], [0.6]], np.float32)
    probs = metrics.class_probabilities(P)
    np.testing.assert_allclose(probs, [[0.8, 0.2], [0.1, 0.9], [0.4, 0.6]], rtol=1e-6)
    assert probs.argmax(axis=1).tolist() == (P[:, 0] >= 0.5).astype(int).tolist()
    softmax = np.array([[0.1, 0.7, 0.2]])
    np.testing.assert_array_equal(metrics.class_probabilities(softmax), softmax)


def test_top_k_orders_the_classes_by_probability():
    probs = np.array([[0.1, 0.6, 0.3], [0.5, 0.25, 0.25]])
    classes, values = metrics.top_k(probs, 3)
    assert classes.tolist() == [[1, 2, 0], [0, 1, 2]]  # tie 0.25/0.25: smaller class first
    np.testing.assert_array_equal(values, [[0.6, 0.3, 0.1], [0.5, 0.25, 0.25]])
    assert metrics.top_k(probs, 5)[0].shape == (2, 3)  # clipped to the number of classes


@settings(max_examples=150, deadline=None)
@given(
    st.integers(2, 5).flatmap(
        lambda c: st.tuples(
            st.just(c),
            st.lists(st.integers(0, c - 1), min_size=1, max_size=40),
            st.integers(0, 2**31 - 1),
        )
    )
)
def test_most_confident_wrong_is_every_mistake_by_descending_confidence(case):
    c, labels, seed = case
    y = np.array(labels)
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.ones(c), size=len(y))
    order = metrics.most_confident_wrong(y, probs)
    pred = probs.argmax(axis=1)
    # Reference: a plain sort of (−confidence, row) over the rows whose argmax is not the label.
    expected = sorted(
        (i for i in range(len(y)) if pred[i] != y[i]), key=lambda i: (-probs[i, pred[i]], i)
    )
    assert order.tolist() == expected
    assert metrics.most_confident_wrong(y, probs, k=2).tolist() == expected[:2]


def test_most_confident_wrong_hand_worked():
    y = np.array([0, 1, 1, 0, 2])
    probs = np.array(
        [
            [0.9, 0.1, 0.0],  # right
            [0.7, 0.3, 0.0],  # wrong, predicted 0 at 0.7
            [0.0, 0.2, 0.8],  # wrong, predicted 2 at 0.8
            [0.4, 0.6, 0.0],  # wrong, predicted 1 at 0.6
            [0.1, 0.1, 0.8],  # right
        ]
    )
    assert metrics.most_confident_wrong(y, probs).tolist() == [2, 1, 3]
    assert metrics.most_confident_wrong(y, probs, k=1).tolist() == [2]
    assert metrics.most_confident_wrong(y[[0, 4]], probs[[0, 4]]).tolist() == []
