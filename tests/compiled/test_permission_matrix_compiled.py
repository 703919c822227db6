"""The permission matrix's read rows on both paths: for every row and identity the compiled
answer equals the reference answer. (tests/security runs the matrix and the leak hunt with the
app's defaults, which on PostgreSQL is the compiled path; this proves the reference path would
have answered the same.)"""

from __future__ import annotations

import pytest

from tests.compiled.conftest import Differential
from tests.security.test_permission_matrix import READ_ROWS, Row
from tests.security.world import IDENTITIES

ROWS = [row for row in READ_ROWS if row.arrange is None and not row.is_mutation]


@pytest.mark.parametrize("identity", IDENTITIES)
@pytest.mark.parametrize("row", ROWS, ids=repr)
async def test_matrix_row_on_both_paths(
    differential: Differential, row: Row, identity: str
) -> None:
    world = differential.world
    variables = row.variables(world, world.person(identity))
    await differential.compare(identity, row.document, variables)
