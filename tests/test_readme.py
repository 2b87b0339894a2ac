"""The README's quick-start code runs as written (the remote example against a local server)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Dict, List

import pytest

from pyqueue_client import PyQueue
from pyqueue_client.server import QueueServer, ServerConfig

README = Path(__file__).resolve().parent.parent / "README.md"


def _quick_start_blocks() -> List[str]:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Quick start") : text.index("## API reference")]
    return re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)


def test_quick_start_blocks_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    blocks = _quick_start_blocks()
    assert len(blocks) >= 5
    namespace: Dict[str, object] = {}
    config = ServerConfig(port=0, data_dir=str(tmp_path / "server"), durable=False)
    with QueueServer(config) as server:
        assert server.generated_key is not None
        for block in blocks:
            # the remote example names a public server; point it at this one instead
            local = block.replace("https://api.pyqueue.com", server.url)
            local = local.replace("your-api-key-here", server.generated_key)
            exec(compile(local, str(README), "exec"), namespace)
        remote = namespace["queue"]
        assert isinstance(remote, PyQueue)
        assert remote.get_queue_info()["message_count"] == 1
        for value in namespace.values():
            if isinstance(value, PyQueue):
                value.close()  # the examples leave their queues open, as scripts may
    assert (tmp_path / "queue.json").exists()
    assert (tmp_path / "queue.db").exists()
