"""bench.stats: the leaderboards' intervals and tests, checked against scipy and published values."""

import math
import statistics

import pytest
from scipy import stats as scipy_stats

from bench import stats

SAMPLES = [
    [98.95, 98.91, 98.99],
    [90.30, 90.01, 90.55, 90.12, 90.52],
    [0.5, 0.7],
    [33.68, 33.70, 33.61, 33.75, 33.66, 33.69, 33.72],
]


@pytest.mark.parametrize("values", SAMPLES)
def test_the_t_interval_is_scipys(values):
    mean, sem = statistics.fmean(values), scipy_stats.sem(values)
    expected = scipy_stats.t.interval(0.95, len(values) - 1, loc=mean, scale=sem)
    assert stats.t_interval(values) == pytest.approx(expected, rel=1e-12)
    assert stats.t_interval(values, 0.99) == pytest.approx(
        scipy_stats.t.interval(0.99, len(values) - 1, loc=mean, scale=sem), rel=1e-12
    )


def test_one_value_has_no_interval():
    assert stats.t_interval([98.9]) is None and stats.t_interval([]) is None


def test_holm_multiplies_the_smallest_p_by_m_and_stays_monotone():
    # p sorted: 0.01 (x3 = 0.03), 0.02 (x2 = 0.04), 0.04 (x1 = 0.04)
    assert stats.holm([0.04, 0.01, 0.02]) == pytest.approx([0.04, 0.03, 0.04])
    assert stats.holm([0.5, 0.6]) == pytest.approx([1.0, 1.0])  # capped at 1, then monotone
    assert stats.holm([]) == []


def test_seeds_that_pair_are_compared_paired_others_by_welch():
    best = {0: 90.0, 1: 91.0, 2: 92.0}
    other = {0: 89.5, 1: 90.6, 2: 91.4}  # always ~0.5 below: the pairing sees it
    paired = stats.versus_best(best, other)
    assert paired.name == stats.PAIRED_T
    assert paired.p == pytest.approx(scipy_stats.ttest_rel(list(best.values()), list(other.values())).pvalue)
    assert paired.p < 0.05
    unpaired = stats.versus_best(best, {3: 89.5, 4: 90.6, 5: 91.4})
    assert unpaired.name == stats.WELCH and unpaired.p > 0.05  # the same numbers, unpaired: within the spread
    assert unpaired.p == pytest.approx(
        scipy_stats.ttest_ind(list(best.values()), [89.5, 90.6, 91.4], equal_var=False).pvalue
    )
    assert stats.versus_best(best, {0: 80.0}).p is None


def test_rank_labels_write_ties_with_the_best_as_competition_ranking_does():
    assert stats.rank_labels([None, True, False, False]) == ["1", "1=", "3", "4"]
    assert stats.rank_labels([None, None]) == ["1", "2"]


def test_paired_images_counts_wins_ties_losses_and_tests_with_wilcoxon():
    reference = [30.00, 28.00, 25.00, 31.00, 27.00, 29.00]
    method = [30.50, 27.00, 25.002, 31.80, 27.40, 29.30]  # 4 wins, 1 tie (0.002 < 0.005), 1 loss
    paired = stats.paired_images(reference, method, tie_margin=0.005)
    assert (paired.wins, paired.ties, paired.losses, paired.n) == (4, 1, 1, 6)
    assert paired.p == pytest.approx(scipy_stats.wilcoxon(method, reference).pvalue)
    assert paired.median_difference == pytest.approx(statistics.median(m - r for m, r in zip(method, reference)))
    lower = stats.paired_images(reference, method, tie_margin=0.005, higher_is_better=False)
    assert (lower.wins, lower.losses) == (1, 4)


def test_with_five_images_the_wilcoxon_test_cannot_reach_five_percent():
    paired = stats.paired_images([1, 2, 3, 4, 5], [2, 3, 4, 5, 6], tie_margin=0)
    assert paired.wins == 5 and paired.smallest_p == pytest.approx(0.0625) and paired.p >= 0.0625


def test_average_ranks_share_ties():
    scores = [[30.0, 29.0, 28.0], [27.0, 27.0, 26.0], [20.0, 21.0, 19.0]]
    assert stats.average_ranks(scores) == pytest.approx([(1 + 1.5 + 2) / 3, (2 + 1.5 + 1) / 3, 3.0])
    assert stats.average_ranks([[1.0, 2.0]], higher_is_better=False) == [1.0, 2.0]


@pytest.mark.parametrize("k, q", [(2, 1.960), (3, 2.343), (4, 2.569), (5, 2.728), (10, 3.164)])
def test_the_critical_difference_uses_demsars_q_values(k, q):
    """Demšar (2006), table 5(a): q_0.05 of the Nemenyi test."""
    n = 14
    assert stats.critical_difference(k, n) == pytest.approx(q * math.sqrt(k * (k + 1) / (6 * n)), abs=2e-3)


def test_friedman_needs_three_methods():
    assert stats.friedman_p([[1.0, 2.0], [1.0, 2.0]]) is None
    scores = [[3.0, 2.0, 1.0], [3.0, 2.0, 1.0], [3.0, 1.0, 2.0], [3.0, 2.0, 1.0]]
    assert stats.friedman_p(scores) == pytest.approx(scipy_stats.friedmanchisquare(*zip(*scores)).pvalue)
