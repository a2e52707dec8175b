"""The batch runner: one task that works through the batches with work left, one line at a
time, and exists only while there is such work.

``kick`` starts the task when a batch is created (and when the gateway starts, for the
batches a restart interrupted); it takes the oldest active batch, runs it to its end, then
the next, and returns when none is left: no timer polls an idle gateway. A batch moves
validating (its input file counted; unusable as a whole: failed) → in_progress (each line
checked, ``lines.check``, and sent, ``Sender.send``) → finalizing (the partial output and
error files become Files) → completed; cancelling → cancelled and expired keep the lines
done so far. After each line the batch is saved with its place in the input and in its
partial files, so a restart resumes at the next line and drops anything written past the
saved sizes: each line is answered exactly once in the results.

**Fairness.** Lines run one after another, never several at once, and the runner sleeps
``[emulator] batch_line_delay_s`` after each (0: it still yields to the loop), so a batch
takes at most one request's share of the gateway while interactive requests are served
in between. How a line is served is the ``Sender``'s business (``server/routes/batches.py``
sends it through the gateway's own pipeline).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from behest_local.batches import lines
from behest_local.batches.batch import CANCELLABLE, MAX_REQUESTS, Batch
from behest_local.batches.store import BatchStore
from behest_local.errors import GatewayError
from behest_local.files.objects import BATCH_OUTPUT
from behest_local.files.store import FileStore
from behest_local.offload import off_loop

log = logging.getLogger("behest_local.batches")


class Sender(Protocol):
    async def send(self, batch: Batch, data: bytes) -> tuple[int, str | None, bytes]:
        """Serve one line's body (``data``, JSON) at ``batch.endpoint`` as the batch's
        caller: the reply's status, request id and body."""

    def done(self, batch: Batch) -> None:
        """The batch has no more lines to send."""


class BatchRunner:
    """Runs ``store``'s active batches through ``sender``; ``pace()`` gives the current
    ``(validate delay, line delay)`` in seconds (read at each step: a reload applies)."""

    def __init__(self, store: BatchStore, files: FileStore, sender: Sender,
                 pace: Callable[[], tuple[float, float]]) -> None:
        self.store, self.files, self.sender, self.pace = store, files, sender, pace
        self.current: Batch | None = None
        self._task: asyncio.Task | None = None
        self._wanted = False
        self._cancel: set[str] = set()

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def kick(self) -> None:
        """Make sure the task runs (it looks for work once more if it is about to end)."""
        self._wanted = True
        if not self.running:
            self._task = asyncio.create_task(self._run(), name="behest-local batches")

    async def cancel(self, batch: Batch) -> Batch:
        """Move ``batch`` (one of ``CANCELLABLE``) to cancelling; the runner ends it."""
        self._cancel.add(batch.id)
        if self.current is not None and self.current.id == batch.id:
            batch = self.current
        batch.move("cancelling")
        await self.store.save(batch)
        self.kick()
        return batch

    async def stop(self) -> None:
        """Stop between (or in the middle of) lines: an unrecorded line runs again later."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        while True:
            self._wanted = False
            batch = await self.store.next_active()
            if batch is None:
                if self._wanted:  # a batch arrived while we looked
                    continue
                return
            self.current = batch
            try:
                await self._advance(batch)
            except asyncio.CancelledError:
                raise
            except Exception:  # never leave a batch spinning: it fails, and says why
                log.exception("batch %s failed", batch.id)
                batch.errors.append({"code": "server_error", "message": "The gateway failed "
                                     "while running this batch; its log has the details.",
                                     "param": None, "line": batch.line_no or None})
                batch.move("failed")
                await self.store.save(batch)
            finally:
                self.current = None
                self.sender.done(batch)
                self._cancel.discard(batch.id)

    async def _advance(self, batch: Batch) -> None:
        if batch.id in self._cancel and batch.status in CANCELLABLE:
            batch.move("cancelling")
        if batch.status == "validating":
            await self._validate(batch)
        if batch.status == "in_progress":
            await self._lines(batch)
        if batch.status in ("finalizing", "cancelling"):
            await self._finish(batch)

    async def _validate(self, batch: Batch) -> None:
        delay = self.pace()[0]
        if delay:
            await asyncio.sleep(delay)
        path = self.files.blob(batch.input_file_id)
        try:
            total = await asyncio.to_thread(lines.count_lines, path)
        except FileNotFoundError:
            return await self._fail(batch, "file_not_found", f"The input file "
                                    f"{batch.input_file_id} was deleted.", "input_file_id")
        if total == 0:
            return await self._fail(batch, "empty_file", "The input file has no requests.",
                                    "input_file_id")
        if total > MAX_REQUESTS:
            return await self._fail(batch, "too_many_requests", f"The input file has {total} "
                                    f"requests; a batch may hold {MAX_REQUESTS}.",
                                    "input_file_id")
        batch.total = total
        if batch.id in self._cancel:
            batch.move("cancelling")
        else:
            batch.move("in_progress")
        await self.store.save(batch)

    async def _fail(self, batch: Batch, code: str, message: str, param: str | None) -> None:
        batch.errors.append({"code": code, "message": message, "param": param, "line": None})
        batch.move("failed")
        await self.store.save(batch)

    async def _lines(self, batch: Batch) -> None:
        path = self.files.blob(batch.input_file_id)
        try:
            seen = await asyncio.to_thread(lines.seen_ids, path, batch.in_offset)
        except FileNotFoundError:
            return await self._fail(batch, "file_not_found", f"The input file "
                                    f"{batch.input_file_id} was deleted.", "input_file_id")
        reader = lines.LineReader(path, batch.in_offset, batch.line_no)
        while True:
            try:
                item = await reader.next()
            except FileNotFoundError:  # deleted meanwhile: the lines done are kept
                batch.errors.append({"code": "file_not_found", "message": "The input file "
                                     f"{batch.input_file_id} was deleted while the batch ran.",
                                     "param": "input_file_id", "line": batch.line_no + 1})
                batch.move("finalizing")
                break
            if item is None:
                break
            if batch.id in self._cancel:
                batch.move("cancelling")
                break
            line_no, raw, offset = item
            if time.time() >= batch.expires_at:
                await self._record(batch, line_no, offset, None, lines.error_line(
                    _custom_id(raw), "batch_expired", "This request could not be executed "
                    "before the completion window expired."))
                continue
            line = lines.check(raw, line_no, batch.endpoint, seen) \
                if len(raw) <= lines.LARGE_BYTES else \
                await off_loop(lines.check, raw, line_no, batch.endpoint, seen)
            out, err = await self._serve(batch, line)
            await self._record(batch, line_no, offset, out, err)
            await asyncio.sleep(self.pace()[1])  # 0 still lets interactive requests in
        if batch.status == "in_progress":
            batch.move("finalizing")
            await self.store.save(batch)

    async def _serve(self, batch: Batch, line: lines.Request | lines.Malformed
                     ) -> tuple[bytes | None, bytes | None]:
        """One line's output line or error line."""
        if isinstance(line, lines.Malformed):
            return None, lines.error_line(line.custom_id, line.code, line.message)
        if batch.model is None:
            batch.model = line.model
        try:
            status, request_id, raw = await self.sender.send(batch, line.data)
        except GatewayError as error:
            return None, lines.error_line(line.custom_id, error.code or "server_error",
                                          error.message)
        encoded, usage = lines.output_line(line.custom_id, status, request_id, raw) \
            if len(raw) <= lines.LARGE_BYTES else \
            await off_loop(lines.output_line, line.custom_id, status, request_id, raw)
        if status == 200:
            if usage is not None:
                batch.add_usage(usage)
            return encoded, None
        return None, encoded

    async def _record(self, batch: Batch, line_no: int, offset: int, out: bytes | None,
                      err: bytes | None) -> None:
        if out is not None:
            batch.out_bytes = await asyncio.to_thread(
                lines.append, self.store.partial(batch.id, "output"), out, batch.out_bytes)
            batch.completed += 1
        if err is not None:
            batch.err_bytes = await asyncio.to_thread(
                lines.append, self.store.partial(batch.id, "error"), err, batch.err_bytes)
            batch.failed += 1
        batch.line_no, batch.in_offset = line_no, offset
        await self.store.save(batch)

    async def _finish(self, batch: Batch) -> None:
        """The partial files become the batch's output and error files; its final status."""
        self.sender.done(batch)
        for kind, size, attr in (("output", batch.out_bytes, "output_file_id"),
                                 ("error", batch.err_bytes, "error_file_id")):
            path = self.store.partial(batch.id, kind)
            if size and getattr(batch, attr) is None:
                await asyncio.to_thread(_cut, path, size)
                # The file's id follows from the batch's, so a restart between the move
                # and this save finds the same file instead of losing the results.
                file = await self.files.adopt(batch.project, f"{batch.id}_{kind}.jsonl",
                                              BATCH_OUTPUT, path,
                                              file_id=_result_id(batch.id, kind),
                                              expires_after_s=batch.output_expires_after_s)
                setattr(batch, attr, file["id"])
                await self.store.save(batch)
        # A batch that ran past its window ends expired (its late lines say batch_expired);
        # one whose input went away ends failed, with the results it had.
        batch.move("cancelled" if batch.status == "cancelling" else
                   "failed" if batch.errors else
                   "expired" if time.time() >= batch.expires_at else "completed")
        await self.store.save(batch)


def _cut(path: Path, size: int) -> None:
    """Drop what a crash wrote past the recorded lines (nothing to do once adopted)."""
    if path.exists():
        with open(path, "r+b") as partial:
            partial.truncate(size)


def _result_id(batch_id: str, kind: str) -> str:
    return "file-" + hashlib.sha256(f"{batch_id}/{kind}".encode()).hexdigest()[:24]


def _custom_id(raw: bytes) -> str | None:
    line = lines.check(raw, 0, "", set())
    return line.custom_id
