"""The ``slurm`` executor: one Slurm job array per suite, through submitit.

Each array element runs one spec through :func:`bench.executors.worker.run_spec` on a compute
node and writes the record into the results folder itself (Slurm clusters share a filesystem), so
records survive the driver: with ``wait: false`` the driver submits and returns, and the next
``bench run`` skips what finished. Resources come from the suite's ``executor:`` mapping or from
``--executor-option KEY=VALUE``. ``cluster: local`` runs the array as local subprocesses
(submitit's local executor), which is how it is tested without a cluster.

Jobs run ``sys.executable`` of the driver: the environment (a virtualenv on the shared
filesystem) must exist on the nodes; ``setup`` lines run first (``module load cuda``).
"""

from __future__ import annotations

import os
import shlex
import shutil
import time
from pathlib import Path

from bench.executors import Executor, ExecutorError, Job
from bench.params import Param

OPTIONS = {
    "cluster": Param("slurm", choices=("slurm", "local")),
    "partition": "",
    "account": "",
    "qos": "",
    "constraint": "",
    "timeout_min": Param(720, ge=1),
    "gpus_per_run": Param(1, ge=0),
    "cpus_per_run": Param(4, ge=1),
    "mem_gb": Param(32.0, gt=0),
    "array_parallelism": Param(64, ge=1),
    "setup": Param([], item=str),
    "folder": "",
    "wait": True,
}
OPTIONS_HELP = {
    "cluster": "slurm, or local (subprocesses on this machine, for trying a suite out)",
    "partition": "Slurm partition (empty: the cluster's default)",
    "account": "Slurm account to charge (empty: your default)",
    "qos": "Slurm quality of service (empty: default)",
    "constraint": "Slurm node constraint, e.g. a100",
    "timeout_min": "time limit of each run's job, minutes",
    "gpus_per_run": "GPUs of each run's job",
    "cpus_per_run": "CPUs of each run's job (and torch's CPU threads in it)",
    "mem_gb": "memory of each run's job, GiB",
    "array_parallelism": "at most this many runs of the array at once",
    "setup": "shell lines each job runs first, e.g. [module load cuda]",
    "folder": "submitit's logs and pickles (empty: <results>/.submitit)",
    "wait": "follow the jobs until they end (false: submit and return)",
}
#: Seconds between polls of the jobs' states (sacct is not to be hammered on a real cluster).
POLL_S = {"slurm": 15.0, "local": 0.5}


class SlurmExecutor(Executor):
    def __init__(self, options: dict):
        # options were checked against OPTIONS (cluster's choices are POLL_S's keys) by resolve
        self.options = options

    def run(self, job: Job):
        import submitit

        from bench.executors import remote

        o = self.options
        if o["cluster"] == "slurm" and shutil.which("sbatch") is None:
            raise ExecutorError(
                "executor 'slurm': sbatch not found; run on a Slurm login node, "
                "or try the suite here with -X cluster=local"
            )
        board, todo = remote.start(job, "slurm")
        if not todo:
            return board.outcome
        folder = Path(o["folder"] or job.store.root / ".submitit").resolve()
        executor = submitit.AutoExecutor(folder=folder / "%j", cluster=o["cluster"])
        params = {
            "name": f"bench-{job.suite}",
            "timeout_min": o["timeout_min"],
            "gpus_per_node": o["gpus_per_run"],
            "cpus_per_task": o["cpus_per_run"],
            "mem_gb": o["mem_gb"],
            "tasks_per_node": 1,
            "nodes": 1,
            "slurm_array_parallelism": o["array_parallelism"],
            "slurm_setup": list(o["setup"]),
            "local_setup": list(o["setup"]),
        }
        for key in ("partition", "account", "qos", "constraint"):
            if o[key]:
                params[f"slurm_{key}"] = o[key]
        if o["cluster"] == "local":
            params["local_setup"] = local_gpu_setup(o["gpus_per_run"]) + params["local_setup"]
        executor.update_parameters(**params)
        n = len(todo)
        results_dir, data_dir = str(job.store.root.resolve()), str(job.data_dir)
        jobs = executor.map_array(
            run_in_job,
            [s.to_dict() for s in todo],
            [results_dir] * n,
            [data_dir] * n,
            [job.offline] * n,
            [o["cpus_per_run"]] * n,
        )
        array = jobs[0].job_id.split("_")[0]
        job.progress.message(f"slurm: submitted {n} runs as job array {array} ({o['cluster']}); logs in {folder}")
        if not o["wait"]:
            job.progress.message(
                "slurm: not waiting (wait: false); run the same command again to see what "
                "finished (finished runs are skipped, running ones are left alone)"
            )
            board.outcome.busy.extend(s.label for s in todo)
            return board.outcome
        self._follow(job, board, dict(zip(jobs, todo)))
        return board.outcome

    def _follow(self, job: Job, board, jobs: dict) -> None:
        from bench.executors import remote

        pending = dict(jobs)
        while pending:
            for handle, spec in list(pending.items()):
                if handle.done():
                    del pending[handle]
                    try:
                        result = handle.result()
                    except Exception as exc:  # the job died (killed, timed out, out of memory)
                        remote.lost(
                            job, board, spec, exc, where=f"slurm job {handle.job_id}, log {handle.paths.stderr}"
                        )
                        continue
                    remote.settle(job, board, spec, result)
                elif handle.state.upper() in ("RUNNING", "COMPLETING"):
                    board.started(spec, f"job {handle.job_id}")
            board.heartbeat()
            if pending:
                time.sleep(POLL_S[self.options["cluster"]])


def local_gpu_setup(gpus_per_run: int) -> list[str]:
    """Shell lines that give a local job the GPUs this process sees. Submitit's local executor sets
    ``CUDA_VISIBLE_DEVICES`` to its ``gpus_per_node`` first GPUs, so "" for none: ``device: auto``
    would run on the CPU without a word and ``device: cuda`` would fail. ``gpus_per_run: 0`` hides
    them, as on a cluster."""
    if gpus_per_run == 0:
        return ["export CUDA_VISIBLE_DEVICES=''"]
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    return ["unset CUDA_VISIBLE_DEVICES" if visible is None else f"export CUDA_VISIBLE_DEVICES={shlex.quote(visible)}"]


def run_in_job(spec: dict, results_dir: str, data_dir: str, offline: bool, threads: int) -> dict:
    """One array element: run the spec with its progress in the job's log, on as many CPU threads as
    the job has CPUs (torch would take every core of the node, oversubscribing a shared one)."""
    import torch

    from bench.executors.worker import run_spec

    torch.set_num_threads(max(1, threads))
    return run_spec(spec, results_dir, data_dir, offline, log=True)
