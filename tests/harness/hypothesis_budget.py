"""How hard the property tests search: a quick look while developing, the full search in CI.

`HYPOTHESIS_PROFILE=ci` (set by .ci/run, or implied by a `CI` environment variable as CI
services set it) runs every property test with the example count it states; anything else
selects the `dev` profile, where each test runs a tenth of that (at least ten), so `make test`
on a laptop stays quick and the CI run still searches as hard as before."""
from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

_ON_CI = os.environ.get("CI", "").lower() not in ("", "0", "false", "no")
PROFILE = os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if _ON_CI else "dev")

# No deadline in either: the machine is shared and a slow example is not a failing one.
settings.register_profile("ci", deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", deadline=None, max_examples=10,
                          suppress_health_check=[HealthCheck.too_slow])


def examples(full: int) -> int:
    """The example count for a test whose full search is `full` examples."""
    return full if PROFILE == "ci" else max(10, full // 10)
