"""The ``ray`` executor: one Ray task per run, a GPU each where the cluster has GPUs.

``address`` empty starts a Ray instance on this machine for the suite (``num_cpus`` of its CPUs)
and stops it at the end; ``auto`` joins the cluster ``ray start --head`` made on this machine;
``ray://host:10001`` or ``host:6379`` joins a remote one (``RAY_ADDRESS`` works too). Each task
runs one spec through :func:`bench.executors.worker.run_spec`, which writes the record into the
results folder (a shared filesystem on a multi-node cluster) and returns it; the driver writes
what it cannot see there. A task whose worker dies is recorded as failed (``max_retries`` lets
Ray try it again first); the next ``bench run`` retries failed runs and skips finished ones.

Tasks are streaming generators: the first item says the run started (and where), the second is
the worker's answer, so the driver shows what is running, not only what is done.
"""

from __future__ import annotations

import logging
import os
import socket

from bench.executors import Executor, ExecutorError, Job
from bench.params import Param

OPTIONS = {
    "address": "",
    "num_cpus": Param(0, ge=0),
    "cpus_per_run": Param(1.0, gt=0),
    "gpus_per_run": Param(1.0, ge=0),
    "max_retries": Param(0, ge=0),
}
OPTIONS_HELP = {
    "address": "empty: start Ray on this machine; auto: the local `ray start` cluster; ray://host:10001",
    "num_cpus": "CPUs of a Ray started here (0: all)",
    "cpus_per_run": "CPUs each run reserves (Ray sets OMP_NUM_THREADS, so torch's threads, from it)",
    "gpus_per_run": "GPUs each run reserves when the cluster has GPUs (none otherwise)",
    "max_retries": "times Ray re-runs a run whose worker died before it is recorded failed",
}
#: Environment variables a worker needs to see what the driver sees (which plugins, tracing).
FORWARD_ENV = ("BENCH_PLUGINS", "BENCH_TRACE_HOOKS")


def _run_on_worker(spec: dict, results_dir: str, data_dir: str, offline: bool):
    """The Ray task: say where it runs, then run the spec and return the worker's answer."""
    from bench.executors.worker import run_spec

    yield {"event": "started", "where": f"{socket.gethostname()}:{os.getpid()}"}
    yield {"event": "finished", **run_spec(spec, results_dir, data_dir, offline)}


def _run_on_gpu_worker(spec: dict, results_dir: str, data_dir: str, offline: bool):
    """The Ray task of a run that holds a GPU: declared with ``max_calls=1`` (see ``_tasks``)."""
    yield from _run_on_worker(spec, results_dir, data_dir, offline)


class RayExecutor(Executor):
    def __init__(self, options: dict):
        self.options = options

    def run(self, job: Job):
        import ray

        from bench.executors import remote

        board, todo = remote.start(job, "ray")
        if not todo:
            return board.outcome
        started_here = self._connect(ray)
        try:
            resources = ray.cluster_resources()
            cpus, gpus = self._per_run(ray, resources, todo)
            job.progress.message(
                f"ray: {len(todo)} runs on {resources.get('CPU', 0):g} CPUs and {resources.get('GPU', 0):g} GPUs, "
                f"{cpus:g} CPUs and {gpus:g} GPUs per run"
                + (" (a Ray instance started for this suite)" if started_here else "")
            )
            tasks = _tasks(ray)
            common = {
                "num_cpus": cpus,
                "max_retries": self.options["max_retries"],
                "retry_exceptions": False,
                "name": f"bench:{job.suite}",
            }
            results_dir, data_dir = str(job.store.root.resolve()), str(job.data_dir)
            streams = {
                tasks[bool(g)].options(num_gpus=g, **common).remote(s.to_dict(), results_dir, data_dir, job.offline): s
                for s, g in ((s, 0 if s.device == "cpu" else gpus) for s in todo)
            }
            self._follow(ray, job, board, streams)
        finally:
            if started_here:
                ray.shutdown()
        return board.outcome

    def _per_run(self, ray, resources: dict, todo: list) -> tuple[float, float]:
        """The CPUs and GPUs each run reserves, checked against the largest node: a task asking
        for more than any node has would stay pending for ever."""
        cpus = self.options["cpus_per_run"]
        if cpus > _largest_node(ray, resources, "CPU"):
            raise ExecutorError(
                f"executor 'ray': cpus_per_run {cpus:g} is more than the cluster's "
                f"{_largest_node(ray, resources, 'CPU'):g} CPUs (on its largest node); lower it with -X cpus_per_run=N"
            )
        node_gpus = _largest_node(ray, resources, "GPU")
        gpus = self.options["gpus_per_run"] if resources.get("GPU", 0) >= 1 else 0
        if gpus > node_gpus:
            raise ExecutorError(
                f"executor 'ray': gpus_per_run {gpus:g} is more than the {node_gpus:g} GPUs of the cluster's "
                f"largest node; lower it with -X gpus_per_run=N"
            )
        cuda = sorted({s.device for s in todo if s.device.startswith("cuda")})
        if cuda and not gpus:
            raise ExecutorError(
                f"executor 'ray': runs ask for device {', '.join(cuda)} but "
                + ("the cluster has no GPUs" if not resources.get("GPU") else "gpus_per_run is 0")
            )
        return cpus, gpus

    def _connect(self, ray) -> bool:
        """Join or start a cluster unless this process already has one; whether it started one."""
        if ray.is_initialized():
            return False
        env = {k: os.environ[k] for k in FORWARD_ENV if k in os.environ}
        kwargs = {
            "log_to_driver": False,
            "logging_level": logging.WARNING,
            "runtime_env": {"env_vars": env} if env else None,
        }
        address = self.options["address"] or None
        if address is None and not os.environ.get("RAY_ADDRESS"):
            kwargs.update(include_dashboard=False, num_cpus=self.options["num_cpus"] or os.cpu_count())
        try:
            ray.init(address=address, **kwargs)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            target = address or os.environ.get("RAY_ADDRESS")
            where = f"the Ray cluster at {target}" if target else "a local Ray instance"
            raise ExecutorError(f"executor 'ray': could not start or join {where}: {exc}") from None
        return True

    def _follow(self, ray, job: Job, board, streams: dict) -> None:
        """Show each run as it starts and settle it as it ends, until every task is over."""
        from bench.executors import remote

        pending = list(streams)
        while pending:
            ready, pending = ray.wait(pending, num_returns=1, timeout=1.0)
            board.heartbeat()
            for stream in ready:
                spec = streams[stream]
                try:
                    event = ray.get(next(stream))
                except StopIteration:
                    continue
                except ray.exceptions.RayError as exc:  # the worker died, or the task raised
                    remote.lost(job, board, spec, _cause(exc), where="ray")
                    continue
                if event["event"] == "started":
                    board.started(spec, event["where"])
                    pending.append(stream)
                else:
                    remote.settle(job, board, spec, event)


def _cause(exc: BaseException) -> BaseException:
    """The user's exception inside a RayTaskError (the run's own error), else the Ray error."""
    cause = getattr(exc, "cause", None)
    return cause if isinstance(cause, BaseException) else exc


def _tasks(ray) -> dict:
    """The remote functions, by whether the run holds a GPU. A worker that held a GPU is not
    reused: Ray turns reuse off for GPU tasks only when ``num_gpus`` is in ``ray.remote``, not
    given through ``.options`` (ray #47767), and ``max_calls`` is refused in ``.options``; a
    reused process would keep its CUDA context, and any sticky CUDA error, for the next run while
    ``CUDA_VISIBLE_DEVICES`` changes under it."""
    return {False: ray.remote(_run_on_worker), True: ray.remote(max_calls=1)(_run_on_gpu_worker)}


def _largest_node(ray, resources: dict, name: str) -> float:
    """The most of a resource one live node has (the cluster's total when Ray lists no nodes)."""
    nodes = [n.get("Resources", {}).get(name, 0) for n in ray.nodes() if n.get("Alive", True)]
    return max(nodes) if nodes else resources.get(name, 0)
