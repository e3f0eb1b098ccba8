"""The command line of a load benchmark that measures at a few ascending N (rooms, viewers):
which N, how long to settle and to measure at each, how much load one child process carries,
whether to keep the services' logs, and `--quick`."""

import argparse
from dataclasses import dataclass


@dataclass(frozen=True)
class QuickRun:
    """What `--quick` measures instead (whatever else the command line says), and its help."""

    steps: str
    window: float
    settle: float
    help: str


def parse_load_steps(
    description: str, *, load: str, default: str, quick: QuickRun, per_process: int, per_process_help: str
) -> argparse.Namespace:
    """`--<load>` (comma-separated N) becomes `steps`, the N in ascending order."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    steps_help = "the N to measure, ascending (comma-separated)"
    parser.add_argument(f"--{load}", dest="steps", metavar=load.upper(), default=default, help=steps_help)
    parser.add_argument("--quick", action="store_true", help=quick.help)
    parser.add_argument("--window", type=float, default=10.0, help="seconds measured at each N")
    parser.add_argument("--settle", type=float, default=3.0, help="seconds waited before measuring each N")
    parser.add_argument("--per-process", type=int, default=per_process, help=per_process_help)
    parser.add_argument("--keep-logs", action="store_true", help="keep the services' logs (printed path)")
    args = parser.parse_args()
    if args.quick:
        args.steps, args.window, args.settle = quick.steps, quick.window, quick.settle
    args.steps = sorted(int(n) for n in args.steps.split(","))
    return args
