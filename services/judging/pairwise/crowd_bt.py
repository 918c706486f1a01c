"""CrowdBT: online Bayesian Bradley-Terry ranking from pairwise votes of judges of unequal
reliability (Chen, Bennett, Collins-Thompson and Horvitz, "Pairwise ranking aggregation in a
crowdsourced setting", WSDM 2013), as hackathon judging systems use it.

Each entry's quality is a Gaussian belief N(mu, sigma_sq); each judge's reliability a Beta(alpha,
beta) belief of the probability that they vote as the qualities say. A vote moves both beliefs
by moment matching (the paper's online updates); the next pair for a judge is the one whose
vote is expected to teach the most (expected KL divergence of the beliefs, the judge's weighted
by GAMMA).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: The paper's experimental choices.
GAMMA = 0.1  # weight of what a vote teaches about the judge against the entries
KAPPA = 1e-4  # floor that keeps variances positive
MU_PRIOR = 0.0
SIGMA_SQ_PRIOR = 1.0
ALPHA_PRIOR = 10.0  # a judge is presumed reliable (mean 10/11) until shown otherwise
BETA_PRIOR = 1.0


@dataclass(frozen=True)
class Belief:
    """What we believe of an entry's quality."""

    mu: float = MU_PRIOR
    sigma_sq: float = SIGMA_SQ_PRIOR


@dataclass(frozen=True)
class Reliability:
    """What we believe of a judge's reliability."""

    alpha: float = ALPHA_PRIOR
    beta: float = BETA_PRIOR


@dataclass(frozen=True)
class Outcome:
    judge: Reliability
    winner: Belief
    loser: Belief
    #: The probability the model gave this vote before it was made.
    probability: float


def _bt(winner: Belief, loser: Belief) -> float:
    """P(winner beats loser) under Bradley-Terry, with the second-order correction for the
    uncertainty of both qualities."""
    ew, el = math.exp(winner.mu), math.exp(loser.mu)
    spread = 0.5 * (winner.sigma_sq + loser.sigma_sq)
    return ew / (ew + el) + spread * ew * el * (el - ew) / (ew + el) ** 3


def vote_probability(judge: Reliability, winner: Belief, loser: Belief) -> float:
    """P(this judge says `winner` beats `loser`): right with P alpha / (alpha + beta)."""
    p = _bt(winner, loser)
    return (judge.alpha * p + judge.beta * (1 - p)) / (judge.alpha + judge.beta)


def _judge_after(judge: Reliability, winner: Belief, loser: Belief) -> tuple[Reliability, float]:
    """Moment-matched Beta posterior of the judge's reliability after the vote."""
    a, b = judge.alpha, judge.beta
    p = _bt(winner, loser)
    c = vote_probability(judge, winner, loser)
    first = (p * (a + 1) * a + (1 - p) * a * b) / (c * (a + b + 1) * (a + b))
    second = (p * (a + 2) * (a + 1) * a + (1 - p) * (a + 1) * a * b) / (
        c * (a + b + 2) * (a + b + 1) * (a + b)
    )
    variance = second - first**2
    scale = (first - second) / variance
    return Reliability(alpha=scale * first, beta=scale * (1 - first)), c


def _qualities_after(judge: Reliability, winner: Belief, loser: Belief) -> tuple[Belief, Belief]:
    a, b = judge.alpha, judge.beta
    ew, el = math.exp(winner.mu), math.exp(loser.mu)
    # How much more the vote says than the model expected, in the mean and in the variance.
    shift = a * ew / (a * ew + b * el) - ew / (ew + el)
    shrink = a * ew * b * el / (a * ew + b * el) ** 2 - ew * el / (ew + el) ** 2
    return (
        Belief(
            mu=winner.mu + winner.sigma_sq * shift,
            sigma_sq=winner.sigma_sq * max(1 + winner.sigma_sq * shrink, KAPPA),
        ),
        Belief(
            mu=loser.mu - loser.sigma_sq * shift,
            sigma_sq=loser.sigma_sq * max(1 + loser.sigma_sq * shrink, KAPPA),
        ),
    )


def update(judge: Reliability, winner: Belief, loser: Belief) -> Outcome:
    """The beliefs after `judge` voted `winner` over `loser` (all from the beliefs before)."""
    judge_after, probability = _judge_after(judge, winner, loser)
    winner_after, loser_after = _qualities_after(judge, winner, loser)
    return Outcome(judge_after, winner_after, loser_after, probability)


def _kl_gaussian(after: Belief, before: Belief) -> float:
    ratio = after.sigma_sq / before.sigma_sq
    return (after.mu - before.mu) ** 2 / (2 * before.sigma_sq) + (ratio - 1 - math.log(ratio)) / 2


def _digamma(x: float) -> float:
    """psi(x) for x > 0: recurrence up to 6, then the asymptotic series."""
    result = 0.0
    while x < 6:
        result -= 1 / x
        x += 1
    f = 1 / (x * x)
    return (
        result
        + math.log(x)
        - 0.5 / x
        - f * (1 / 12 - f * (1 / 120 - f * (1 / 252 - f * (1 / 240 - f / 132))))
    )


def _log_beta(a: float, b: float) -> float:
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)


def _kl_beta(after: Reliability, before: Reliability) -> float:
    a1, b1, a2, b2 = after.alpha, after.beta, before.alpha, before.beta
    return (
        _log_beta(a2, b2)
        - _log_beta(a1, b1)
        + (a1 - a2) * _digamma(a1)
        + (b1 - b2) * _digamma(b1)
        + (a2 - a1 + b2 - b1) * _digamma(a1 + b1)
    )


def information_gain(judge: Reliability, a: Belief, b: Belief) -> float:
    """The expected gain of asking this judge to compare a and b, over both answers."""
    total = 0.0
    for first, second in ((a, b), (b, a)):
        outcome = update(judge, first, second)
        total += outcome.probability * (
            _kl_gaussian(outcome.winner, first)
            + _kl_gaussian(outcome.loser, second)
            + GAMMA * _kl_beta(outcome.judge, judge)
        )
    return total
