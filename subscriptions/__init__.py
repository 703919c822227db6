"""Events: the envelope, publish-after-commit, the broadcast wiring and subscription streams."""
