"""Use cases: plain async functions `(session, actor, input) -> models`. No Strawberry here."""
