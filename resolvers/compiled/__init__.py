"""The compiled read path: a query's whole `data` object rendered by one SQL statement.

`plan` holds what a document asks for (no GraphQL types), `sql` renders it from the
readable-statement builders of `permissions/`, `run` executes it on PostgreSQL in one round
trip. schema/compiled.py turns documents into plans and decides when to fall back.
"""
