"""Hypothesis settings for the property tests, without touching the global default profile.

Default: small example counts, so tests/property stays around a minute for SQLite and PostgreSQL
together. `HELPDESK_FUZZ=long` raises every test to `HELPDESK_FUZZ_EXAMPLES` examples (1,000
unless set) for a longer hunt. Profiles are registered but never loaded: other test files keep
Hypothesis' own defaults, and each property test picks its settings with `budget(n)`.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, Phase, settings

LONG = os.environ.get("HELPDESK_FUZZ", "").strip().lower() == "long"
LONG_EXAMPLES = int(os.environ.get("HELPDESK_FUZZ_EXAMPLES", "1000"))

settings.register_profile(
    "helpdesk-property",
    deadline=None,  # requests go through the real app and database; timings vary by backend
    print_blob=True,
    # Shrinking, yes; the "explain" phase re-runs a failure dozens of times for little insight.
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
    # Deliberate: the function-scoped `db` (and `app`) fixtures are shared by the examples of a
    # test. The sequence test reseeds the database at the start of every example
    # (harness.fresh_world); the fuzz tests share one seeded world per test, since they check
    # answers, not state.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.register_profile(
    "helpdesk-property-long",
    parent=settings.get_profile("helpdesk-property"),
    max_examples=LONG_EXAMPLES,
)

PROFILE = "helpdesk-property-long" if LONG else "helpdesk-property"


def budget(max_examples: int) -> settings:
    """Settings for one property test: `max_examples` by default, the long count when asked."""
    profile = settings.get_profile(PROFILE)
    if LONG:
        return profile
    return settings(profile, max_examples=max_examples)
