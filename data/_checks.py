"""Checks of generator options shared by the physics datasets: one wording everywhere."""

from mlphys.errors import UserError


def check_sizes(n_train, n_test):
    """At least two training samples and one test sample."""
    if n_train < 2 or n_test < 1:
        raise UserError(f"n_train={n_train}, n_test={n_test}: give n_train >= 2 and n_test >= 1")


def check_noise(noise):
    """A noise level is a standard deviation: >= 0 (NaN refused too)."""
    if not noise >= 0:
        raise UserError(f"--option noise={noise}: the noise level must be >= 0")
