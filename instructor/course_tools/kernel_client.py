"""The grader's side of a kernel's messages: bounded, counted, and parsed so that nothing blows up.

Everything a learner's kernel sends is untrusted. Here it is:

  - bounded before it is parsed: zmq refuses a frame over MAX_FRAME bytes (MAXMSGSIZE), and
    each frame's JSON is parsed only once its size (<= MAX_FRAME) and nesting depth (checked
    in one linear pass) are known to be within bounds;
  - counted: every byte received, output, displays, errors and comm (widget) messages alike,
    is charged to the running cell's output budget; nothing of it is stored but each cell's
    first error and the probes' results;
  - read defensively: a message that is not what Jupyter's protocol says fails its cell
    with a reason, never the grader.
"""
from __future__ import annotations

import asyncio
import json
import re

import zmq
import zmq.asyncio
from jupyter_client.utils import ensure_async
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionComplete

from course_tools.limits import Limits
from course_lib.testing import MIME, WireError, check_depth

MAX_FRAME = 80 * 1024 * 1024   # bytes of one message frame (a probe's result fits, with room)
MAX_DEPTH = 64                 # nesting of a message's JSON
PROTOCOL_BYTES = 2048         # a status message up to this size is not output: it is not charged
MAX_ERROR = 10_000             # characters of an error message kept (grade.py cuts to 1000)
_ANSI = re.compile(r"\x1b\[[0-9;]{0,32}[A-Za-z]")
# Where ipykernel stores a cell's code differs from run to run: name it the same way each time.
# The bounded repeat keeps this linear in the message's length.
_CELL_FILE = re.compile(r"/[^\s:'\"/]{0,200}(?:/[^\s:'\"/]{0,200}){0,30}/ipykernel_\d{1,9}/\d{1,12}\.py")


class MalformedMessage(Exception):
    """A kernel message is over its limits or not what the protocol says."""


def bounded_context() -> zmq.asyncio.Context:
    """A zmq context whose sockets drop any frame larger than MAX_FRAME bytes before buffering it."""
    context = zmq.asyncio.Context()
    context.setsockopt(zmq.MAXMSGSIZE, MAX_FRAME)
    return context


def bound_session(session, received: list) -> None:
    """Makes `session` (the kernel manager's, shared by its client) parse frames only within
    bounds, and add each frame's size to received[0]."""
    def unpack(frame):
        size = len(frame)
        received[0] += size
        if size > MAX_FRAME:
            raise MalformedMessage(f"a message of {size} bytes")
        text = frame.decode("utf-8", "replace") if isinstance(frame, bytes) else str(frame)
        try:
            check_depth(text, MAX_DEPTH)
            return json.loads(text)
        except (WireError, ValueError, RecursionError) as error:
            raise MalformedMessage(str(error)[:200]) from None
    session.unpack = unpack


class GradingClient(NotebookClient):
    """An nbclient that keeps no outputs, counts every byte received against a budget, records
    each cell's failure and the limit it ran into, and collects probes' results.

    Output is counted against a budget of limits.output_kb: the cells of `own_budget` (cell
    indices) each have their own, all other cells share one.
    """

    def __init__(self, notebook, limits: Limits, own_budget: set[int] = frozenset(), **kwargs):
        super().__init__(notebook, timeout=limits.cell_seconds, allow_errors=True,
                         interrupt_on_timeout=False, record_timing=False, store_widget_state=False,
                         shutdown_kernel="immediate", on_cell_executed=self._on_executed, **kwargs)
        self._output_limit = limits.output_kb * 1024
        self._result_limit = limits.result_mb * 1024 * 1024
        self._own_budget = own_budget
        self._spent: dict[int | None, int] = {}  # budget (a cell index, or None: shared) -> bytes
        self._errors: dict[int, str] = {}
        self._limits: dict[int, str] = {}        # cell index -> a key of execute._LIMIT_NOTES
        self._results: dict[int, list] = {}      # cell index -> probes' results (wire text)
        self._pollers: set = set()
        self.received = [0]                      # bytes received from the kernel (bound_session)
        self._charged = 0                        # bytes of `received` charged to some budget
        self._exempt = 0                         # bytes of the last message not to charge
        self._running = None                     # the index of the cell running now

    def forget(self, index: int) -> None:
        """Clears what was recorded for cell `index` (before the next probe call in it)."""
        self._errors.pop(index, None)
        self._results.pop(index, None)

    def results(self, index: int) -> list:
        return self._results.get(index, [])

    async def _async_poll_output_msg(self, parent_msg_id, cell, cell_index):
        task = asyncio.current_task()
        self._pollers.add(task)
        echoed, self._running = False, cell_index
        try:
            while True:
                try:
                    msg = await ensure_async(self.kc.iopub_channel.get_msg(timeout=None))
                except MalformedMessage as error:
                    self._charge(cell_index)
                    self._errors.setdefault(cell_index, f"MalformedMessage: the kernel sent {error}")
                    continue
                parent = msg.get("parent_header") if isinstance(msg, dict) else None
                ours = isinstance(parent, dict) and parent.get("msg_id") == parent_msg_id
                if ours and msg.get("msg_type") == "execute_input" and not echoed:
                    echoed, self._charged = True, self.received[0]   # the grader's own code, echoed
                elif msg.get("msg_type") == "status" and self.received[0] - self._charged <= PROTOCOL_BYTES:
                    self._charged = self.received[0]                 # the protocol's own chatter
                try:
                    if ours:
                        self.process_message(msg, cell, cell_index)
                except CellExecutionComplete:
                    return
                finally:
                    self._charge(cell_index if ours else "foreign")
        finally:
            self._pollers.discard(task)

    async def _async_poll_kernel_alive(self):
        task = asyncio.current_task()
        self._pollers.add(task)
        try:
            return await super()._async_poll_kernel_alive()
        finally:
            self._pollers.discard(task)

    def stop_pollers(self) -> None:
        """Cancels the listeners a timed-out cell leaves behind (nbclient does not): else they
        would swallow the next cells' messages."""
        for task in list(self._pollers):
            task.cancel()

    def failure(self, index) -> str | None:
        """The cell's failure: its output limit, its error output, or its execute_reply's error."""
        if self._limits.get(index) == "output":
            return (f"OutputLimitError: the output went past its limit ({self._output_limit // 1024} KiB) "
                    "and the cell was stopped")
        return self._errors.get(index)

    def limit_hit(self, index) -> str | None:
        """The limit the cell ran into (a key of execute._LIMIT_NOTES), or None."""
        return self._limits.get(index)

    def _charge(self, cell_index) -> None:
        """Charges the bytes received since the last charge, less a probe's result (which has a limit
        of its own), to `cell_index`'s budget (or "foreign": a message of no running cell);
        interrupts the kernel once the budget is spent."""
        size, self._charged = self.received[0] - self._charged - self._exempt, self.received[0]
        self._exempt = 0
        budget = cell_index if cell_index in self._own_budget or cell_index == "foreign" else None
        self._spent[budget] = self._spent.get(budget, 0) + max(size, 0)
        # Messages of no running cell (left over from an interrupted one, or sent on purpose)
        # count in a budget of their own, 16 times larger; past it they fail the running cell.
        limit = self._output_limit * (16 if budget == "foreign" else 1)
        if budget == "foreign":
            cell_index = self._running
        if self._spent[budget] > limit and self._limits.get(cell_index) != "output":
            self._limits[cell_index] = "output"
            asyncio.ensure_future(self.km.interrupt_kernel())

    def process_message(self, msg, cell, cell_index):
        """Reads one message of the running cell; a malformed one fails the cell, with a reason."""
        msg_type, content = msg.get("msg_type"), msg.get("content")
        if not isinstance(msg_type, str) or not isinstance(content, dict):
            self._errors.setdefault(cell_index, "MalformedMessage: the kernel sent a message without type or content")
            return None
        if msg_type == "status":
            if content.get("execution_state") == "idle":
                raise CellExecutionComplete()
            return None
        if msg_type == "error":
            self._record_error(cell_index, content)
        elif msg_type == "display_data":
            data = content.get("data")
            if isinstance(data, dict) and MIME in data:
                self._result(cell_index, data[MIME])
        return None  # outputs are not kept, comm (widget) messages not handled: only counted

    def _result(self, cell_index, text) -> None:
        if not isinstance(text, str):
            self._errors.setdefault(cell_index, "MalformedMessage: a probe's result that is not text")
        elif len(text) > self._result_limit:
            self._errors.setdefault(cell_index, f"ResultLimitError: a result larger than the limit "
                                                f"({self._result_limit // (1024 * 1024)} MiB)")
        else:
            self._results.setdefault(cell_index, []).append(text)
            self._exempt = len(text)

    def _on_executed(self, cell, cell_index, execute_reply):
        content = (execute_reply or {}).get("content") if isinstance(execute_reply, dict) else None
        if not isinstance(content, dict):
            self._errors.setdefault(cell_index, "MalformedMessage: an execute_reply without content")
        elif content.get("status") == "error":  # even if the error output was suppressed
            self._record_error(cell_index, content)
        elif content.get("status") not in ("ok", None):
            self._errors.setdefault(cell_index, f"the cell ended with status {str(content.get('status'))[:40]!r}")

    def _record_error(self, cell_index, content) -> None:
        """Keeps the cell's first error, and the limit it shows the cell ran into."""
        if cell_index not in self._errors:
            self._errors[cell_index] = describe(content)
            if limit_of(content):
                self._limits.setdefault(cell_index, limit_of(content))


def limit_of(content) -> str | None:
    """The limit (a key of execute._LIMIT_NOTES) an error shows its cell ran into, or None.

    Read from the exception's type and errno, which the limits produce, not from anywhere in
    its message: a learner's ValueError('MemoryError') is no limit.
    """
    name, value = content.get("ename"), str(content.get("evalue", ""))[:100]
    if name == "MemoryError":
        return "memory"
    if (name == "RuntimeError" and value.startswith("can't start new thread")
            or name == "BlockingIOError" and value.startswith("[Errno 11]")):  # EAGAIN: RLIMIT_NPROC
        return "processes"
    if name == "OSError" and value.startswith("[Errno 27]"):                     # EFBIG: RLIMIT_FSIZE
        return "file"
    return None


def describe(content) -> str:
    """'ErrorName: message' for an error's content, without colours or run-dependent paths.
    The message is cut to MAX_ERROR characters before anything else reads it."""
    name = str(content.get("ename", "Error"))[:200]
    value = str(content.get("evalue", ""))[:MAX_ERROR]
    value = _CELL_FILE.sub("<cell>", _ANSI.sub("", value))
    if name == "NotImplementedError" and not value.strip():
        value = "not implemented yet (the answer cell still raises NotImplementedError)"
    if limit_of(content) == "processes":
        value += " (the notebook reached its limit of processes and threads)"
    return f"{name}: {value}".strip()
