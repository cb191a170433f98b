"""The host's own executors, registered through the same hook (and found through the same entry-point
group, ``bench``) as a third-party executor.

The engines are optional dependencies: their modules are imported only when a run uses them.
"""

from __future__ import annotations

from bench import hookimpl
from bench.specs import ExecutorSpec


def _local(options):
    from bench.executors.local import LocalExecutor

    return LocalExecutor(options)


def _ray(options):
    from bench.executors.ray import RayExecutor

    return RayExecutor(options)


def _slurm(options):
    from bench.executors.slurm import SlurmExecutor

    return SlurmExecutor(options)


@hookimpl
def bench_register_executors(register):
    from bench.executors.local import OPTIONS as LOCAL
    from bench.executors.local import OPTIONS_HELP as LOCAL_HELP

    register(
        ExecutorSpec(
            name="local",
            make=_local,
            options=LOCAL,
            options_help=LOCAL_HELP,
            description="one run after another on this machine, each in a child process (the default)",
        )
    )
    from bench.executors.ray import OPTIONS as RAY
    from bench.executors.ray import OPTIONS_HELP as RAY_HELP
    from bench.executors.slurm import OPTIONS as SLURM
    from bench.executors.slurm import OPTIONS_HELP as SLURM_HELP

    register(
        ExecutorSpec(
            name="ray",
            make=_ray,
            options=RAY,
            options_help=RAY_HELP,
            requires=("ray",),
            install="pip install 'bench[ray]'",
            description="one Ray task per run (a GPU each where the cluster has GPUs); "
            "starts a local cluster or joins one by address",
        )
    )
    register(
        ExecutorSpec(
            name="slurm",
            make=_slurm,
            options=SLURM,
            options_help=SLURM_HELP,
            requires=("submitit",),
            install="pip install 'bench[slurm]'",
            description="one Slurm job array per suite through submitit (cluster=local: subprocesses)",
        )
    )
