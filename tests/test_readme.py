"""The README's quick-start code runs as written."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Dict, List

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"


def _quick_start_blocks() -> List[str]:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Quick start") : text.index("## API reference")]
    return re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)


def test_quick_start_blocks_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    blocks = _quick_start_blocks()
    assert len(blocks) >= 3
    namespace: Dict[str, object] = {}
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)
    assert (tmp_path / "queue.json").exists()
