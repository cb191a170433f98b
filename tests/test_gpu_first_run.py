"""tools/gpu_first_run.py on the CPU: each step writes first-run.json as it ends; a step that fails
is recorded and the next one runs; the controls hold on the CPU's simulated device."""

import importlib.util
import json
from pathlib import Path

import pytest

TREE = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("gpu_first_run", TREE / "tools" / "gpu_first_run.py")
first_run = importlib.util.module_from_spec(spec)
spec.loader.exec_module(first_run)


def test_the_controls_pass_and_a_failing_step_is_recorded_while_the_next_runs(tmp_path, monkeypatch):
    def broken(device, args):
        written = json.loads((tmp_path / "first-run.json").read_text())
        assert list(written["steps"]) == ["environment", "sync_control"]  # written as each step ended
        raise RuntimeError("CUDA error: misaligned address")

    monkeypatch.setitem(first_run.STEPS, "dip_512", broken)
    code = first_run.main(
        ["--out", str(tmp_path), "--device", "cpu", "--steps", "environment,sync_control,dip_512,timing"]
    )
    report = json.loads((tmp_path / "first-run.json").read_text())
    assert code == 1 and report["complete"] is True
    steps = report["steps"]
    assert steps["environment"]["auto_precision"] == "fp32" and steps["environment"]["switches"]["tf32"] is False
    assert steps["sync_control"]["positive_control_ok"] is True
    assert steps["sync_control"]["with_item"] == {"setup": {"readback": 10}} and steps["sync_control"]["without"] == {}
    assert steps["dip_512"]["status"] == "error" and "misaligned address" in steps["dip_512"]["error"]
    assert steps["timing"]["status"] == "ok" and steps["timing"]["float32"]["event_median_s"] > 0


@pytest.mark.slow
def test_dip_runs_in_its_four_variants_and_the_check_follows(tmp_path):
    args = ["--out", str(tmp_path), "--device", "cpu", "--dip-image", "rgb-64", "--dip-iterations", "2"]
    assert first_run.main([*args, "--tiny", "--only", "bicubic", "--steps", "dip_512,device_check"]) == 0
    steps = json.loads((tmp_path / "first-run.json").read_text())["steps"]
    variants = {k: v for k, v in steps["dip_512"].items() if isinstance(v, dict)}
    assert sorted(variants) == ["bf16-channels-last", "bf16-nchw", "fp32-channels-last", "fp32-nchw"]
    assert {(v["ran_as"]["precision"], v["ran_as"]["channels_last"]) for v in variants.values()} == set(
        first_run.DIP_VARIANTS
    )
    assert all(v["status"] == "ok" and v["iterations_per_s"] > 0 for v in variants.values())
    assert steps["device_check"]["statuses"] == {"check-images [rgb-64] / bicubic / restore / seed 0": "ok"}
