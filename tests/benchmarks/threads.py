"""How torch's intra-op threads and OpenMP's wait policy behave on a shared CPU (issue: the quick
suite took 10x longer with two threads per process on a loaded machine).

    python tests/benchmarks/threads.py [--steps 60] [--load 1]

Runs one short training job (the small CNN on 28x28 batches of 128, ``--steps`` steps) in a
fresh process per setting (OMP_WAIT_POLICY must be set before OpenMP starts), first as the
machine is, then with ``--load`` extra processes spinning on a core each; prints the median
seconds per step and the process's CPU seconds per wall second.
"""

import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import time

JOB = r"""
import json, os, statistics, sys, time, torch
sys.path.insert(0, os.getcwd() + "/plugins")
torch.set_num_threads(int(sys.argv[1]))
from bench_plugins.methods.supervised import small_cnn
model = small_cnn(1, 10, 16, (28, 28))
opt = torch.optim.AdamW(model.parameters(), 1e-3)
g = torch.Generator().manual_seed(0)
x, y = torch.randn(128, 1, 28, 28, generator=g), torch.randint(0, 10, (128,), generator=g)
times = []
cpu0, wall0 = time.process_time(), time.perf_counter()
for _ in range(int(sys.argv[2])):
    t = time.perf_counter()
    loss = torch.nn.functional.cross_entropy(model(x), y)
    opt.zero_grad(); loss.backward(); opt.step()
    times.append(time.perf_counter() - t)
print(json.dumps({"step_ms": 1000 * statistics.median(times[5:]),
                  "cpu_per_wall": (time.process_time() - cpu0) / (time.perf_counter() - wall0)}))
"""


def spin():
    while True:
        pass


def measure(threads: int, policy: str, steps: int) -> dict:
    env = {**os.environ, "OMP_WAIT_POLICY": policy}
    env.pop("OMP_NUM_THREADS", None)
    if policy == "unset":  # libgomp's own default: spin a while, then sleep
        env.pop("OMP_WAIT_POLICY")
    out = subprocess.run(
        [sys.executable, "-c", JOB, str(threads), str(steps)], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--load", type=int, default=1, help="busy processes added for the loaded case")
    args = parser.parse_args()
    settings = [(t, p) for t in (1, 2) for p in ("unset", "passive", "active")]
    for state in ("as is", f"+{args.load} busy"):
        spinners = [
            multiprocessing.Process(target=spin, daemon=True) for _ in range(args.load if state != "as is" else 0)
        ]
        for s in spinners:
            s.start()
        time.sleep(0.5)
        for threads, policy in settings:
            r = measure(threads, policy, args.steps)
            print(
                f"{state:8s} threads {threads} OMP_WAIT_POLICY={policy:7s}  {r['step_ms']:7.1f} ms/step  "
                f"cpu/wall {r['cpu_per_wall']:.2f}",
                flush=True,
            )
        for s in spinners:
            s.terminate()
            s.join()


if __name__ == "__main__":
    main()
