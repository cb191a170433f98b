"""One run in a child process of its own, so that a method which ends the interpreter (``os._exit``,
a native crash, a CUDA error), leaves signals ignored or changes the working directory takes only
its own run down: the suite records the run as failed, with the exit code, and goes on.

The child is forked: it starts with everything the suite has loaded (modules, plugins, the
datasets already in memory), so a run costs about what it costs in the process itself plus the
fork. The datasets a child loads are loaded once more by the parent afterwards, so the next
children find them in memory. Where ``fork`` is not available, and for runs that may use CUDA
(see :func:`available`), the run stays in the process.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time

from bench.interrupt import Interrupted

#: How long a child that was asked to stop (SIGTERM) has before it is killed.
STOP_GRACE_S = 5.0


def available(spec=None) -> bool:
    """Whether ``spec`` can run in a forked child here. Not on a GPU: a CUDA context does not
    survive ``fork`` ("Cannot re-initialize CUDA in forked subprocess"), so a run that may use
    CUDA, or any run once this process has initialised CUDA, stays in the process."""
    if "fork" not in multiprocessing.get_all_start_methods():
        return False
    import torch

    if torch.cuda.is_initialized():
        return False
    return spec is None or spec.device == "cpu" or not torch.cuda.is_available()


def execute_isolated(
    execute, spec, registry, store, cache, progress, label: str, note: str = ""
) -> tuple[str, dict | None]:
    """``execute`` (:func:`bench.runner.execute`) in a forked child; the same answer. A child that ends without
    answering gets a failed record naming its exit code (unless another process finished the run)."""
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)

    def child() -> None:
        receive.close()
        # A forked child cannot use the parent's OpenMP pool (GNU OpenMP is not fork-safe: its
        # first parallel region hangs once the parent has run one), so it computes on one thread,
        # as torch's DataLoader workers do.
        import torch

        torch.set_num_threads(1)
        try:
            answer = execute(spec, registry, store, cache, progress, label, note)
        except Interrupted as stop:  # the suite is being stopped: no record, as in the process
            os._exit(stop.exit_code)
        send.send((*answer, sorted(cache.loaded())))
        send.close()

    process = context.Process(target=child, name=f"bench run {spec.key}", daemon=True)
    started = time.perf_counter()
    process.start()
    send.close()
    try:
        try:
            state, record, loaded = receive.recv()
        except EOFError:  # the child ended without an answer
            process.join()
            exitcode = process.exitcode
            assert exitcode is not None, "a joined process has its exit code"
            if exitcode in (128 + signal.SIGINT, 128 + signal.SIGTERM):
                raise Interrupted(exitcode - 128) from None
            return _died(spec, store, registry, exitcode, time.perf_counter() - started)
        process.join()
    finally:
        _stop(process)
        receive.close()
    for dataset, split in loaded:  # so that the next children start with them
        try:
            cache.load(registry.dataset(dataset), split)
        except Exception:  # noqa: BLE001 - the child loaded it; the next child will try again itself
            break
    return state, record


def _stop(process) -> None:
    """End a child still running (the suite was interrupted): SIGTERM, then SIGKILL for one that
    ignores it."""
    if process.is_alive():
        process.terminate()
        process.join(STOP_GRACE_S)
    if process.is_alive():
        process.kill()
        process.join()


def _died(spec, store, registry, exitcode: int, seconds: float) -> tuple:
    """Record a run whose process ended without writing its record, unless another process holds
    or finished the spec meanwhile."""
    from bench.records import failure_record

    how = f"was killed by {signal.Signals(-exitcode).name}" if exitcode < 0 else f"ended with exit code {exitcode}"
    message = (
        f"the run's process {how} before it wrote a record (os._exit, a native crash or a CUDA "
        "error in the method); the suite went on"
    )
    record = failure_record(
        spec, "ProcessDied", message, message, {"exit_code": exitcode, "timings": {"wall_seconds": round(seconds, 3)}}
    )
    lock = store.claim(spec)
    if lock is None:
        return "busy", None
    try:
        done = store.finished(spec)
        if done is not None:
            return "skipped", done
        store.write(spec, record)
        registry.call_run_finished(record.to_dict())
    finally:
        lock.release()
    return "ran", record
