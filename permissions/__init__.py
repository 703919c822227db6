"""Who may do what: the Actor, row-level policies (query builders) and field permission classes.

Policies are plain functions so that resolvers, DataLoaders and subscription filters share them.
"""

from permissions.actor import Actor, ActorKind

__all__ = ["Actor", "ActorKind"]
