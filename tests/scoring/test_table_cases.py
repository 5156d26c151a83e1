"""Every table's cases (tables/<id>.cases.toml) run against the engine."""

import pytest

from scoring.cases import load_cases
from scoring.tables import load_tables

CASES = load_cases()


def test_every_table_has_cases():
    with_cases = {case.table_id for case in CASES}
    assert set(load_tables()) <= with_cases


@pytest.mark.parametrize("case", CASES, ids=[f"{c.table_id}: {c.name}" for c in CASES])
def test_case(case):
    assert case.check(load_tables()[case.table_id]) == []
