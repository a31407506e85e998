"""``blocksnap rebuild``: drop every read model and project the log again.

Read models are snapshot records, checkpoints and manifests. The events are
untouched; because sealing decisions are events too, replaying them rebuilds
byte-identical manifests and records.
"""

from __future__ import annotations

from pathlib import Path

from tqdm import tqdm

from .. import wiring


def rebuild(data_dir: Path, progress: bool = True) -> int:
    if not (data_dir / "events.sqlite3").exists():
        print(f"blocksnap rebuild: no event table in {data_dir}")
        return 1
    runtime = wiring.embedded(data_dir)
    runtime.records.clear()
    runtime.blocks.delete_prefix("manifests/")
    runtime.manifests.drop_cache()
    projector = runtime.projector
    with tqdm(desc="events", unit="ev", disable=not progress) as bar:
        while count := projector.run_once():
            bar.update(count)
    print(f"rebuilt {len(runtime.records.all_snapshots())} snapshot records in {data_dir}")
    return 0
