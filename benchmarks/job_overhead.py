"""Fixed costs a pipeline job pays once per process, before any work: imports and optimiser construction.

Each figure is the median over ``--repeats`` fresh Python processes (one BLAS thread), side by side:
- ``import torch``; then the first ``torch.optim.Adam`` (it imports ``torch._dynamo``) against the first
  ``mmcrl.optim.Adam`` — what a training job pays;
- the imports of the recovery and the evaluation stages (scikit-learn, SciPy, causal-learn) — what each recover /
  evaluate process pays, once per (experiment, dataset, method) since those stages score all seeds in one process.

    python benchmarks/job_overhead.py --repeats 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys

TIMED = "import time; start = time.perf_counter(); {code}; print(time.perf_counter() - start)"
PARAMETER = "import torch; p = [torch.nn.Parameter(torch.zeros(3))]"
CASES = {
    "import torch": ("", "import torch"),
    "first torch.optim.Adam": (PARAMETER, "torch.optim.Adam(p, lr=1e-3)"),
    "first mmcrl.optim.Adam": (PARAMETER, "from mmcrl.optim import Adam; Adam(p, lr=1e-3)"),
    "import the recover stage": ("", "import mmcrl.recover, mmcrl.encodings"),
    "import the evaluate stage": ("", "import mmcrl.evaluate, mmcrl.encodings, mmcrl.data.synthetic"),
}


def seconds(setup: str, code: str) -> float:
    """Seconds ``code`` takes in a fresh interpreter after ``setup``."""
    script = f"{setup}\n{TIMED.format(code=code)}"
    env = os.environ | {"OMP_NUM_THREADS": "1"}
    output = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, env=env)
    return float(output.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"{'fixed cost (fresh process)':<30} {'median s':>9}")
    for name, (setup, code) in CASES.items():
        median = statistics.median(seconds(setup, code) for _ in range(args.repeats))
        print(f"{name:<30} {median:>9.2f}")


if __name__ == "__main__":
    main()
