"""The CUDA branches, on the CPU: what each would do on a GPU, with the device faked where torch
lets it be (capability, device count, events, sync debug mode). None of these has run on a GPU."""

import warnings

import pytest
import torch

from bench import accel
from bench.accel import Switches
from bench.records import Record, make_record
from bench.suite import RunSpec
from runs import run_suite

SUITE = (
    "seeds: [0, 1]\n{switch}runs: [{{datasets: toy, methods: toy-linear, protocol: classify, budget: {{epochs: 1}}}}]\n"
)


def spec(device="auto", **switches) -> RunSpec:
    return RunSpec("s", "toy", "toy-linear", "classify", {}, {}, {"epochs": 1}, 1.0, 0, device, Switches(**switches))


def record(device="cpu", precision="fp32", channels_last=False, compile=False) -> Record:
    """A record that ran so; ``device=None``: one that says nothing of how it ran (an old one)."""
    if device is None:
        return make_record(spec(), "ok", {})
    return make_record(
        spec(),
        "ok",
        {
            "environment": {"device": {"type": device, "name": device}},
            "accel": {"precision": precision, "channels_last": channels_last, "compile": compile, "tf32": False},
        },
    )


@pytest.fixture
def gpu(monkeypatch):
    """A CUDA device of the capability the test sets (``gpu(7, 0)``), as torch reports it."""

    def fake(major: int, minor: int, count: int = 1):
        monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
        monkeypatch.setattr(torch.cuda, "device_count", lambda: count)
        monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (major, minor))

    return fake


# -- item 7: bf16 only where the GPU computes it natively ----------------------------------------------


@pytest.mark.parametrize(
    "capability, expected", [((7, 0), "fp32"), ((7, 5), "fp32"), ((8, 0), "bf16"), ((9, 0), "bf16")]
)
def test_auto_precision_is_bf16_only_from_compute_capability_8(gpu, capability, expected):
    gpu(*capability)
    assert accel.default_precision(torch.device("cuda")) == expected
    assert accel.default_precision(torch.device("cpu")) == "fp32"
    assert Switches().resolve(torch.device("cuda")) == Switches(expected, True, False)  # auto: channels-last on CUDA


@pytest.fixture
def backend_flags():
    """torch's process-wide flags, as they were before the test (cuBLAS's are not attributes)."""
    saved = (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.benchmark)
    yield
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.benchmark = saved


def test_tf32_is_off_on_cuda_convolutions_included(backend_flags):
    torch.backends.cudnn.allow_tf32 = True  # PyTorch's default for cuDNN
    torch.backends.cuda.matmul.allow_tf32 = True
    switches = accel.configure(torch.device("cuda"))
    assert not torch.backends.cudnn.allow_tf32 and not torch.backends.cuda.matmul.allow_tf32
    assert switches["tf32"] is False and switches["cudnn_benchmark"] is True


# -- item 2: a record is reused only when it ran as the run asks -----------------------------------------


def test_a_record_made_on_another_device_or_with_other_switches_is_not_the_runs(gpu):
    assert accel.mismatch(spec(), record()) is None  # auto on this CPU: fp32, no channels-last
    assert accel.mismatch(spec(device="cpu", precision="bf16"), record()) == "made with precision fp32 (asked: bf16)"
    assert "compile false (asked: true)" in accel.mismatch(spec(compile=True), record())
    assert accel.mismatch(spec(channels_last=True), record(channels_last=True)) is None
    assert accel.mismatch(spec(), record(None)) is None  # a record that says nothing of how it ran: as before
    gpu(8, 0)  # now "auto" means this A100-like GPU: the CPU's record is not its run
    assert accel.mismatch(spec(), record()) == (
        "made with device cpu (asked: cuda), precision fp32 (asked: bf16), channels_last false (asked: true)"
    )
    assert accel.mismatch(spec(), record("cuda", "bf16", True)) is None
    gpu(7, 0)
    assert accel.mismatch(spec(), record("cuda", "bf16", True)) == "made with precision bf16 (asked: fp32)"


def test_a_finished_run_with_other_switches_runs_again(tmp_path, reg):  # noqa: F811
    one_seed = SUITE.replace("seeds: [0, 1]", "seeds: [0]")
    suite, store, outcome = run_suite(tmp_path, reg, one_seed.format(switch=""))
    assert len(outcome.ran) == 1
    suite, store, outcome = run_suite(tmp_path, reg, one_seed.format(switch="precision: bf16\n"))
    assert len(outcome.ran) == 1 and not outcome.skipped  # same key, other precision: measured again
    assert store.read(suite.runs[0]).precision == "bf16"
    suite, store, outcome = run_suite(tmp_path, reg, one_seed.format(switch="precision: bf16\n"))
    assert len(outcome.skipped) == 1  # as asked this time: reused


def test_seeds_run_on_two_kinds_of_device_are_two_rows(tmp_path, reg):  # noqa: F811
    from dataclasses import replace

    from bench.report import group_records, leaderboard

    suite, store, _ = run_suite(tmp_path, reg, SUITE.format(switch=""))
    cpu, gpu_run = (store.read(s) for s in suite.runs)
    gpu_run = replace(
        gpu_run,
        environment={**gpu_run.environment, "device": {"type": "cuda", "name": "NVIDIA H100"}},
        accel={**gpu_run.accel, "precision": "bf16", "channels_last": True},
    )
    rows = leaderboard(group_records([cpu, gpu_run]))
    assert sorted((r.label, r.seeds) for r in rows) == [
        ("toy-linear [cpu fp32]", (0,)),
        ("toy-linear [cuda bf16 channels-last]", (1,)),
    ]
    assert [r.label for r in leaderboard(group_records([cpu]))] == ["toy-linear"]  # one kind: no note


# -- items 5 and 6: the executors' GPU requests, as they reach the engine ------------------------------


class FakeRay:
    """What RayExecutor asks of Ray: the cluster's resources, and each task's options."""

    def __init__(self, nodes: list[dict]):
        self._nodes = [{"Alive": True, "Resources": n} for n in nodes]
        self.options: list[dict] = []
        self.exceptions = type("exceptions", (), {"RayError": RuntimeError})

    def is_initialized(self):
        return True

    def cluster_resources(self):
        return {k: sum(n["Resources"].get(k, 0) for n in self._nodes) for k in ("CPU", "GPU")}

    def nodes(self):
        return self._nodes

    def remote(self, fn=None, **declared):
        """``ray.remote(f)`` or ``ray.remote(max_calls=1)(f)``; ``.options`` refuses ``max_calls``, as Ray's."""
        if fn is None:
            return lambda f: self.remote(f, **declared)
        ray = self

        class Task:
            def options(self, **options):
                if "max_calls" in options:
                    raise ValueError("Setting 'max_calls' is not supported in '.options()'.")
                ray.options.append({**declared, **options})
                return self

            def remote(self, *args):
                return object()

        return Task()


def ray_job(tmp_path, monkeypatch, reg, nodes, text=None, **options):  # noqa: F811
    from bench.executors import Job
    from bench.executors.ray import OPTIONS, RayExecutor
    from bench.progress import Progress
    from bench.records import ResultStore
    from bench.suite import load_suite

    fake = FakeRay(nodes)
    monkeypatch.setitem(__import__("sys").modules, "ray", fake)
    monkeypatch.setattr(RayExecutor, "_follow", lambda self, ray, job, board, streams: None)
    tmp_path.mkdir(exist_ok=True)
    path = tmp_path / "suite.yaml"
    path.write_text(text or SUITE.format(switch=""))
    suite = load_suite(path, reg)
    job = Job(suite.name, suite.runs, reg, ResultStore(tmp_path / "r"), tmp_path, True, Progress(quiet=True))
    defaults = {k: getattr(v, "default", v) for k, v in OPTIONS.items()}
    return fake, RayExecutor({**defaults, **options}), job


def test_ray_gpu_tasks_get_a_fresh_worker_each(tmp_path, monkeypatch, reg):  # noqa: F811
    real = pytest.importorskip("ray")  # imported before the fake replaces it, to check the options as Ray does
    fake, executor, job = ray_job(tmp_path, monkeypatch, reg, [{"CPU": 8, "GPU": 2}])
    executor.run(job)
    assert [(o["num_gpus"], o.get("max_calls")) for o in fake.options] == [(1.0, 1), (1.0, 1)]
    for options in fake.options:  # accepted by Ray itself (no cluster needed)
        declared = {"max_calls": options.pop("max_calls")} if "max_calls" in options else {}
        real.remote(**declared)(lambda: None).options(**options)
    fake, executor, job = ray_job(tmp_path, monkeypatch, reg, [{"CPU": 8}])
    executor.run(job)
    assert [(o["num_gpus"], o.get("max_calls")) for o in fake.options] == [(0, None), (0, None)]  # CPU workers reused


def test_ray_refuses_more_gpus_per_run_than_a_node_has(tmp_path, monkeypatch, reg):  # noqa: F811
    from bench.executors import ExecutorError

    fake, executor, job = ray_job(
        tmp_path, monkeypatch, reg, [{"CPU": 8, "GPU": 1}, {"CPU": 8, "GPU": 1}], gpus_per_run=2.0
    )
    with pytest.raises(ExecutorError, match=r"gpus_per_run 2 is more than the 1 GPUs of the cluster's largest node"):
        executor.run(job)
    assert not fake.options  # nothing was submitted
    cuda = SUITE.format(switch="device: cuda\n")
    fake, executor, job = ray_job(tmp_path / "b", monkeypatch, reg, [{"CPU": 8}], text=cuda)
    with pytest.raises(ExecutorError, match=r"runs ask for device cuda but the cluster has no GPUs"):
        executor.run(job)


@pytest.mark.parametrize(
    "driver, gpus_per_run, expected",
    [("0,1", 1, "0,1"), (None, 1, "unset"), ("GPU-5d1c", 1, "GPU-5d1c"), ("0,1", 0, "")],
)
def test_slurm_local_jobs_see_the_drivers_gpus(monkeypatch, tmp_path, driver, gpus_per_run, expected):
    """Through submitit's own local launcher: what CUDA_VISIBLE_DEVICES a job's shell ends with."""
    import subprocess

    local = pytest.importorskip("submitit.local.local")
    from bench.executors.slurm import local_gpu_setup

    if driver is None:
        monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    else:
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", driver)
    launched = {}
    with pytest.MonkeyPatch.context() as mp:  # submitit's launch, caught before it starts a process
        mp.setattr(local.subprocess, "Popen", lambda cmd, shell, env: launched.update(cmd=cmd, env=env))
        local.start_controller(tmp_path, "true", cuda_devices="", setup=local_gpu_setup(gpus_per_run))
    setup = launched["cmd"].rsplit(" && ", 1)[0]  # the job's setup lines, then submitit's own command
    shell = f'{setup} && printf %s "${{CUDA_VISIBLE_DEVICES-unset}}"'
    seen = subprocess.run(shell, shell=True, env=launched["env"], capture_output=True, text=True).stdout
    assert seen == expected


# -- cuda:N ------------------------------------------------------------------------------------------------


def test_cuda_n_is_checked_against_the_device_count_and_made_current(gpu, monkeypatch):
    from bench.context import pick_device

    gpu(8, 0, count=2)
    current = []
    monkeypatch.setattr(torch.cuda, "set_device", lambda device: current.append(str(device)))
    assert pick_device("cuda:1") == torch.device("cuda:1") and current == ["cuda:1"]
    with pytest.raises(
        RuntimeError, match=r"'cuda:2' was asked for but this machine shows 2 CUDA devices \(cuda:0 to cuda:1\)"
    ):
        pick_device("cuda:2")
    assert pick_device("cuda") == torch.device("cuda") and current == ["cuda:1"]  # the default stays


# -- a device-side assert: the record is written, the suite stops ---------------------------------------


def test_a_cleanup_that_raises_after_a_device_side_assert_still_writes_the_record(
    tmp_path,
    reg,  # noqa: F811
    monkeypatch,
    backend_flags,
):
    from bench import context, runner

    def broken():
        raise RuntimeError("CUDA error: device-side assert triggered\nCUDA kernel errors might be ...")

    monkeypatch.setattr(context, "pick_device", lambda requested="auto": torch.device("cuda"))
    monkeypatch.setattr(runner, "environment", lambda device: {"device": {"type": device.type, "name": "fake"}})
    monkeypatch.setattr(torch.cuda, "empty_cache", broken)
    suite, store, outcome = run_suite(tmp_path, reg, SUITE.format(switch="device: cpu\n"))
    first, second = (store.read(s) for s in suite.runs)
    assert first.status == "failed" and first.device_unusable == (
        "freeing device memory after the run raised RuntimeError: CUDA error: device-side assert triggered"
    )
    assert second is None and outcome.failed == [suite.runs[0].label]  # the suite stopped after it


# -- timing and the sync counter on CUDA -----------------------------------------------------------------


class FakeClock:
    """A GPU's timeline: work advances it; CUDA events read it where they were recorded."""

    def __init__(self):
        self.now = 0.0
        self.streams: list = []

    def event_class(self):
        clock = self

        class Event:
            def __init__(self, enable_timing=False):
                assert enable_timing, "an event made without enable_timing cannot be timed"
                self.at = None

            def record(self, stream=None):
                clock.streams.append(stream)
                self.at = clock.now

            def synchronize(self):
                pass

            def elapsed_time(self, end):  # milliseconds, as CUDA's
                return (end.at - self.at) * 1000

        return Event


def test_cuda_timing_reads_the_devices_clock_through_events_on_the_runs_stream(monkeypatch):
    from bench import timing

    clock = FakeClock()
    monkeypatch.setattr(torch.cuda, "Event", clock.event_class())
    monkeypatch.setattr(torch.cuda, "current_stream", lambda device=None: f"stream of {device}")
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: None)

    def work():  # the host returns at once; the device takes 0.25 s
        clock.now += 0.25

    figures = timing.measure(work, torch.device("cuda:1"), items=10, warmup=1, repeats=3)
    assert figures["samples_s"] == [0.25, 0.25, 0.25] and figures["items_per_s"] == 40
    assert set(clock.streams) == {"stream of cuda:1"}


def test_the_sync_counter_counts_what_cudas_sync_debug_mode_reports(monkeypatch):
    from bench.syncs import SyncCounter

    modes = []
    monkeypatch.setattr(torch.cuda, "get_sync_debug_mode", lambda: 0)
    monkeypatch.setattr(torch.cuda, "set_sync_debug_mode", modes.append)
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: None)
    with SyncCounter(torch.device("cuda")) as counter:
        assert modes == ["warn"]
        for _ in range(2):  # what the debug mode emits at each .item() on a CUDA tensor
            warnings.warn("called a synchronizing CUDA operation", UserWarning, stacklevel=1)
        with warnings.catch_warnings(record=True) as other:
            warnings.simplefilter("always")
            warnings.warn("something else", UserWarning, stacklevel=1)
        torch.cuda.synchronize()
    assert modes == ["warn", 0]  # the previous mode restored
    assert counter.counts["setup"] == {"cuda": 2, "synchronize": 1} and len(other) == 1


# -- item 4: the compiled pass, opt-in and honest ----------------------------------------------------------


def test_the_compiled_pass_is_opt_in_and_counts_graphs_breaks_and_compile_seconds(tmp_path, monkeypatch):
    from bench import devicecheck, runner
    from bench.cli import _parser

    assert _parser().parse_args(["gpu-check"]).compile is False  # eager unless asked
    seen = []

    def execute(spec, registry, store, cache, progress, label, note=""):
        seen.append(spec.switches.compile)
        if spec.switches.compile:  # a model with one graph break, compiled as a run would compile it

            def forward(x):
                x = x.sin()
                print(end="")  # a graph break
                return x.cos()

            torch.compile(forward, backend="eager")(torch.ones(3))
        return "ran", make_record(spec, "ok", {"timings": {"wall_seconds": 1.0}})

    monkeypatch.setattr(runner, "execute", execute)
    suites = tmp_path / "suites"
    suites.mkdir()
    (suites / "device-check-tiny.yaml").write_text(
        "name: device-check-tiny\nseeds: [0]\nruns: [{datasets: [check-images], methods: [bicubic], "
        "protocol: {name: restore, task: sr, scale: 2, images: [rgb-64]}}]\n"
    )
    monkeypatch.setattr(devicecheck, "CHECK_SUITES", suites)
    assert [r["compiling"] for r in devicecheck.check("cpu", tmp_path / "a", tiny=True, quiet=True)["runs"]] == [None]
    result = devicecheck.check("cpu", tmp_path / "b", tiny=True, quiet=True, compile=True)
    eager, compiled = result["runs"]
    assert seen == [False, False, True] and eager["compiling"] is None
    stats = compiled["compiling"]
    assert (stats["graphs"], stats["graph_breaks"]) == (2, 1) and stats["compile_seconds"] > 0
    assert "yes: 2 graphs, 1 breaks" in devicecheck.table(result)


def test_mae_draws_its_mask_outside_the_compiled_forward():
    from bench_plugins.methods import mae, vit

    encoder = vit.ViTEncoder((3, 8, 8), 4, 8, 1, 2)
    model = mae.MAE(encoder, 3, 8, 1, 2, 0.75, False)
    noise = torch.rand(2, 4, generator=torch.Generator().manual_seed(0))
    explained = torch._dynamo.explain(model)(torch.rand(2, 3, 8, 8), noise)
    assert explained.graph_break_count == 0 and explained.graph_count == 1


def test_airbench_compiles_when_the_suite_asks(tmp_path, monkeypatch):
    from bench import devicecheck, registry
    from bench.data.store import DataStore
    from bench.progress import Progress
    from bench.records import ResultStore
    from bench.runner import run_specs
    from bench.suite import load_suite

    def compile(model, **kw):  # the run stops where it would compile: no training needed
        raise RuntimeError(f"compiling {type(model).__name__}")

    monkeypatch.setattr(torch, "compile", compile)
    check_reg = registry.load(extra_plugins=[("device-check", devicecheck.CheckData(tmp_path))])
    path = tmp_path / "suite.yaml"
    path.write_text(
        "seeds: [0]\ncompile: true\nruns: [{datasets: check-cifar, methods: [{name: airbench94, params: "
        "{widths: [8, 8, 8], batch_size: 200, whiten_samples: 100, tta_level: 0}}], "
        "protocol: {name: classify, holdout: 0.95}, budget: {epochs: 1}}]\n"
    )
    suite = load_suite(path, check_reg)
    store = ResultStore(tmp_path / "r")
    run_specs(suite.runs, check_reg, store, DataStore(tmp_path / "d"), Progress(quiet=True))
    assert store.read(suite.runs[0]).error.message == "compiling AirbenchNet"  # the suite's switch reached it


@pytest.mark.parametrize("compile, warmup_side", [(False, 48), (True, 64)])
def test_a_compiled_restoration_warms_up_at_the_size_it_is_timed_at(tmp_path, compile, warmup_side):
    from bench import Restorer, devicecheck, hookimpl, registry
    from bench.data.store import DataStore
    from bench.progress import Progress
    from bench.records import ResultStore
    from bench.runner import run_specs
    from bench.suite import load_suite

    sides = []

    def restore(problem, ctx):
        sides.append(problem.observed.shape[-1])
        return problem.observed.clamp(0, 1)

    class Plugin:
        @hookimpl
        def bench_register_methods(self, register):
            register(Restorer("shapes", restore, ("denoise",)))

    shapes_reg = registry.load(extra_plugins=[("device-check", devicecheck.CheckData(tmp_path)), ("shapes", Plugin())])
    path = tmp_path / "suite.yaml"
    path.write_text(
        f"seeds: [0]\ncompile: {str(compile).lower()}\nruns: [{{datasets: check-images, methods: shapes, "
        "protocol: {name: restore, task: denoise, sigma: 25.0, images: [rgb-64]}}]\n"
    )
    suite = load_suite(path, shapes_reg)
    outcome = run_specs(
        suite.runs, shapes_reg, ResultStore(tmp_path / "r"), DataStore(tmp_path / "d"), Progress(quiet=True)
    )
    assert outcome.exit_code == 0 and sides == [warmup_side, 64]  # the warm-up, then the timed image


# -- process isolation (issue 29) meets CUDA: a CUDA context does not survive fork ---------------------


def test_a_run_that_may_use_cuda_is_not_forked(gpu, monkeypatch):
    from bench import isolation

    assert isolation.available(spec(device="cpu"))
    gpu(8, 0)
    assert not isolation.available(spec())  # device auto on a GPU machine: cuda
    assert not isolation.available(spec(device="cuda"))
    assert isolation.available(spec(device="cpu"))
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: True)
    assert not isolation.available(spec(device="cpu"))  # this process holds a CUDA context
