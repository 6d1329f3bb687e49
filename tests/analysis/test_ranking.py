"""Feature ranking arithmetic against scikit-learn: F, mutual information, intervals, edge cases."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.feature_selection import f_classif, mutual_info_classif

from audiosoup_widgets.analysis.ranking import (
    RANK_COLUMNS,
    anova_f,
    mutual_info,
    rank_columns,
    score_columns,
)
from audiosoup_widgets.errors import ValidationError

LABELS = np.array(["a", "b", "c", "d"])


def planted(n: int = 600, d: int = 8, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Noise, but column 2 moves with label a and column 5 with label b."""
    rng = np.random.default_rng(seed)
    y = LABELS[rng.integers(0, 4, n)]
    x = rng.standard_normal((n, d))
    x[:, 2] += 2.0 * (y == "a")
    x[:, 5] += 1.0 * (y == "b")
    return x, y


def test_f_is_scikit_learns_overall_and_one_against_the_rest():
    x, y = planted()
    f_all, f_ovr, labels = anova_f(x, y)
    np.testing.assert_allclose(f_all, f_classif(x, y)[0], rtol=1e-10)
    assert labels == ["a", "b", "c", "d"]
    for i, lab in enumerate(labels):
        np.testing.assert_allclose(f_ovr[i], f_classif(x, y == lab)[0], rtol=1e-9)


def test_f_skips_missing_values_column_by_column():
    x, y = planted()
    x[::7, 1] = np.nan
    f_all, _, _ = anova_f(x, y)
    keep = np.isfinite(x[:, 1])
    np.testing.assert_allclose(f_all[1], f_classif(x[keep][:, [1]], y[keep])[0][0], rtol=1e-10)
    np.testing.assert_allclose(f_all[3], f_classif(x[:, [3]], y)[0][0], rtol=1e-10)


def test_mutual_information_is_scikit_learns():
    x, y = planted()
    np.testing.assert_allclose(
        mutual_info(x, y, seed=3), mutual_info_classif(x, y, random_state=3), atol=1e-12
    )
    np.testing.assert_allclose(
        mutual_info(x, y == "a", seed=0), mutual_info_classif(x, y == "a", random_state=0), atol=1e-12
    )


def test_scores_match_and_intervals_hold_the_estimates():
    x, y = planted()
    s = score_columns(x, y, mi_rows=10_000)
    np.testing.assert_allclose(s.f[0], f_classif(x, y)[0], rtol=1e-10)
    np.testing.assert_allclose(s.f[2], f_classif(x, y == "b")[0], rtol=1e-9)
    np.testing.assert_allclose(s.mi[0], mutual_info_classif(x, y, random_state=0), atol=1e-12)
    cols = [f"feat{j // 4}_mean_{j % 4}" for j in range(8)]
    table = rank_columns(
        s, cols, {c: c.split("_")[0] for c in cols}, {"feat0": "spectral", "feat1": "deltas"}
    )
    assert list(table.columns) == list(RANK_COLUMNS)
    assert (table["f_low"] <= table["f"]).all() and (table["f"] <= table["f_high"]).all()
    mi = table[table["scope"] == "all"]
    assert (mi["mi_low"] <= mi["mi"]).all() and (mi["mi"] <= mi["mi_high"]).all()


def test_the_planted_column_ranks_first_and_reruns_agree():
    x, y = planted()
    cols = [f"feat{j}_mean_0" for j in range(8)]
    feats = {c: c.split("_")[0] for c in cols}
    fams = {f: "spectral" for f in feats.values()}
    first = rank_columns(score_columns(x, y), cols, feats, fams, by="mi")
    again = rank_columns(score_columns(x, y), cols, feats, fams, by="mi")
    assert first.equals(again)
    top = first[(first["level"] == "feature") & (first["rank"] == 1)].set_index("scope")["name"]
    assert top["all"] == "feat2" and top["a"] == "feat2" and top["b"] == "feat5"
    overall = first[first["scope"] == "all"]
    family = overall[overall["level"] == "family"]
    assert family["f"].iloc[0] == overall[overall["level"] == "column"]["f"].max()


def test_constant_and_missing_columns_do_not_crash():
    x, y = planted()
    x[:, 0] = 4.0
    x[:, 7] = np.nan
    s = score_columns(x, y)
    assert (s.f[:, 0] == 0).all() and (s.mi[:, 0] == 0).all()
    assert np.isnan(s.f[:, 7]).all() and np.isnan(s.mi[:, 7]).all()
    assert np.isfinite(s.f[:, 1:7]).all()


def test_a_single_label_is_refused_and_a_tiny_label_is_scored():
    x, y = planted()
    with pytest.raises(ValidationError, match="at least two labels"):
        score_columns(x, np.full(len(x), "a"))
    y = y.astype(object)
    y[0] = "tiny"
    s = score_columns(x, y, n_boot=20, n_half=4)
    assert s.labels[-1] == "tiny" and s.label_sizes[-1] == 1
    assert np.isfinite(s.f[-1]).all()
