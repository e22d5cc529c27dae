"""The progress displays on stderr: one line for `charter run`, a block of stage bars for `charter generate`."""

from __future__ import annotations

import io
import time
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from ..providers.batch import BatchStatus
    from ..run.runner import Progress
    from ..synth.pipeline import StageProgress


class ProgressLine:
    """One stderr line redrawn in place: cases done and failed, rate, time left. Silent off a TTY."""

    WIDTH = 24

    def __init__(self, stream: TextIO, enabled: bool) -> None:
        self.stream = stream
        self.enabled = enabled
        self.started = time.monotonic()
        self.drawn = 0.0
        self.shown = False

    def __call__(self, progress: Progress) -> None:
        now = time.monotonic()
        if not self.enabled or (now - self.drawn < 0.1 and progress.done < progress.total):
            return
        self.drawn = now
        fraction = progress.done / progress.total if progress.total else 1.0
        filled = int(fraction * self.WIDTH)
        fresh = progress.done - progress.skipped
        elapsed = max(now - self.started, 1e-9)
        rate = fresh / elapsed
        left = (progress.total - progress.done) / rate if rate > 0 else None
        eta = "--:--" if left is None else f"{int(left // 60):02d}:{int(left % 60):02d}"
        line = (f"[{'#' * filled}{'.' * (self.WIDTH - filled)}] {progress.done}/{progress.total} cases, "
                f"{progress.failed} failed, {rate:.1f}/s, {eta} left, {progress.calls} calls"
                f"{f', {progress.cached} cached' if progress.cached else ''}"
                f"{f', {progress.retries} retries' if progress.retries else ''}")
        self.stream.write("\r\x1b[2K" + line)
        self.stream.flush()
        self.shown = True

    def finish(self) -> None:
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()


class StageLines:
    """A progress bar per stage, drawn with ProgressLine and redrawn as one block on stderr."""

    def __init__(self, stream: TextIO, enabled: bool, stages: tuple[str, ...], unit: dict[str, str]) -> None:
        self.stream = stream
        self.enabled = enabled
        self.stages = stages
        self.unit = unit
        self.buffers = {stage: io.StringIO() for stage in stages}
        self.lines = {stage: ProgressLine(self.buffers[stage], enabled=True) for stage in stages}
        self.drawn = 0.0
        self.height = 0
        self.batch_note = ""

    def __call__(self, progress: StageProgress) -> None:
        now = time.monotonic()
        if not self.enabled or now - self.drawn < 0.1:
            return
        self.drawn = now
        self.draw(progress)

    def draw(self, progress: StageProgress) -> None:
        rows = []
        for stage in self.stages:
            state = progress[stage]
            if not state.total:
                continue
            line = self.lines[stage]
            line.drawn = 0.0  # the block throttles itself; always let the stage line render
            buffer = self.buffers[stage]
            buffer.seek(0)
            buffer.truncate()
            line(state)
            text = buffer.getvalue().rsplit("\x1b[2K", 1)[-1].replace(" cases,", f" {self.unit.get(stage, 'items')},")
            rows.append(f"{stage:>9} {text}")
        if self.batch_note:
            rows.append(f"{'batch':>9} {self.batch_note}")
        if not rows:
            return
        up = f"\x1b[{self.height}F" if self.height else "\r"
        self.stream.write(up + "".join(f"\x1b[2K{row}\n" for row in rows))
        self.stream.flush()
        self.height = len(rows)

    def batch(self, status: BatchStatus) -> None:
        self.batch_note = (f"{status.batch_id}: {status.state}, {status.succeeded + status.errored}/{status.total} "
                           "answered")

    def finish(self, progress: StageProgress) -> None:
        if self.enabled:
            self.draw(progress)
