"""The test suite itself: module names pytest can collect side by side."""

from collections import Counter
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def test_no_two_test_modules_share_a_file_name() -> None:
    """Test folders have no ``__init__.py``, so pytest imports each module by its
    base name; two ``test_x.py`` in different folders stop collection with
    "import file mismatch"."""
    names = Counter(path.name for path in TESTS.rglob("test_*.py"))
    assert [name for name, count in names.items() if count > 1] == []
