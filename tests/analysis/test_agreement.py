"""analysis.agreement against hand-computed values, the krippendorff package and cleanlab."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from audiosoup_widgets.analysis.agreement import (
    agreement,
    krippendorff_alpha,
    majority_label,
    multiannotator_consensus,
    per_class_agreement,
    vote_distribution,
)

# Four clips: (a, a), (a, b), (b, b), (a, a, b) by reviewers r1, r2, r3.
VOTES = [
    (1, "r1", "a"),
    (1, "r2", "a"),
    (2, "r1", "a"),
    (2, "r2", "b"),
    (3, "r1", "b"),
    (3, "r3", "b"),
    (4, "r1", "a"),
    (4, "r2", "a"),
    (4, "r3", "b"),
]


def test_alpha_matches_the_hand_computed_coincidence_matrix():
    # Coincidences (each ordered pair of one clip's votes weighs 1 / (m - 1)):
    # o_aa = 2 + 1 = 3, o_ab = o_ba = 1 + 1 = 2, o_bb = 2; n = 9, n_a = 5, n_b = 4.
    # D_o = 4 / 9, D_e = 2 * 5 * 4 / (9 * 8) = 5 / 9, alpha = 1 - 4 / 5 = 0.2.
    assert krippendorff_alpha(VOTES) == pytest.approx(0.2)


def test_alpha_matches_the_krippendorff_package_on_random_votes():
    import krippendorff

    rng = np.random.default_rng(4)
    data = rng.integers(0, 3, size=(4, 30)).astype(float)
    data[rng.random(data.shape) < 0.3] = np.nan
    votes = [
        (u, f"r{r}", "xyz"[int(data[r, u])]) for r in range(4) for u in range(30) if data[r, u] == data[r, u]
    ]
    want = krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")
    assert krippendorff_alpha(votes) == pytest.approx(want)


def test_alpha_is_undefined_without_pairs_or_without_two_labels():
    assert krippendorff_alpha([]) is None
    assert krippendorff_alpha([(1, "r1", "a"), (2, "r1", "b")]) is None  # no clip with two votes
    assert krippendorff_alpha([(1, "r1", "a"), (1, "r2", "a")]) is None  # one label: nothing expected
    # one clip, a against b: D_o = 2 / 2 = 1 and D_e = 2 * 1 * 1 / (2 * 1) = 1, so alpha = 0
    assert krippendorff_alpha([(1, "r1", "a"), (1, "r2", "b")]) == pytest.approx(0.0)


def test_per_class_agreement_by_hand():
    # Pairs touching "a": clip 1: 1 (both a), clip 2: 1 (not both), clip 4: 3 (one both a) -> 2 / 5.
    # Pairs touching "b": clip 2: 1, clip 3: 1 (both b), clip 4: 2 (a-b, a-b) -> 1 / 4.
    assert per_class_agreement(VOTES) == {"a": pytest.approx(0.4), "b": pytest.approx(0.25)}
    # a class whose only vote sits alone on its clip touches no pair
    assert per_class_agreement([(1, "r1", "a"), (1, "r2", "a"), (2, "r1", "c")]) == {"a": 1.0, "c": None}


def test_distribution_majority_and_the_summary():
    assert vote_distribution(["b", "a", "b", "c", "a", "b"]) == {"b": 3, "a": 2, "c": 1}
    assert majority_label(["a", "b", "a"]) == "a"
    assert majority_label(["a", "b"]) is None and majority_label([]) is None
    a = agreement(VOTES)
    assert a.alpha == pytest.approx(0.2) and a.observed == pytest.approx(3 / 6)
    assert (a.n_items, a.n_votes, a.n_reviewers, a.n_multi, a.n_disputed) == (4, 9, 3, 4, 2)
    assert a.consensus == {1: "a", 2: None, 3: "b", 4: "a"}
    assert a.distribution[4] == {"a": 2, "b": 1}
    # a reviewer's later vote on one clip replaces the earlier one
    assert agreement([(1, "r1", "a"), (1, "r1", "b")]).distribution == {1: {"b": 1}}


def test_consensus_is_cleanlabs_own():
    from cleanlab.multiannotator import get_label_quality_multiannotator

    rng = np.random.default_rng(7)
    classes = ["a", "b", "c"]
    truth = rng.integers(0, 3, 40)
    probs = rng.dirichlet(np.ones(3), 40) * 0.5
    probs[np.arange(40), truth] += 0.5
    votes = []
    labels = np.full((40, 3), np.nan)
    for i in range(40):
        for r in range(3):
            if r == 2 and i % 2:
                continue  # the third reviewer saw half the clips
            lab = truth[i] if rng.random() < 0.8 else (truth[i] + 1) % 3
            labels[i, r] = lab
            votes.append((100 + i, f"r{r}", classes[lab]))
    votes.append((999, "r0", "a"))  # a clip the model did not judge
    votes.append((100, "r9", "zzz"))  # a label the model does not know: left out
    want = get_label_quality_multiannotator(
        pd.DataFrame(labels, columns=["r0", "r1", "r2"]), probs, verbose=False
    )["label_quality"]
    got = multiannotator_consensus(votes, {100 + i: probs[i] for i in range(40)}, classes)
    assert got is not None and got.n_left_out == 1
    assert [got.label[100 + i] for i in range(40)] == [classes[c] for c in want["consensus_label"]]
    assert [got.quality[100 + i] for i in range(40)] == pytest.approx(
        want["consensus_quality_score"].tolist()
    )
    assert [got.agreement[100 + i] for i in range(40)] == pytest.approx(want["annotator_agreement"].tolist())
    assert multiannotator_consensus(votes, {}, classes) is None
