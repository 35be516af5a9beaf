from collections.abc import Sequence
from typing import Any

def match_docs(docs: Sequence[Any], state: tuple[Any, ...]) -> list[tuple[Any, ...]]: ...
