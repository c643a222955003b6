"""Sandbox overhead per call against a bare ``subprocess.run`` of the same code, and the attack table.

    python benchmarks/bench_sandbox.py [--repeats 15]

Workloads span what the verifier runs: an empty program, a generated exercise with its tests, an
import-heavy program (json, re, collections, dataclasses, fractions), and ~50 ms of arithmetic.
Peers, in the same run and interleaved: ``subprocess.run([python, -c, code])`` (no isolation at
all) and ``unshare --net --pid --fork --mount-proc python -c code`` (namespaces only, no chroot,
limits or verdict). The attack table runs every attack of ``gristmill.synth.attacks`` in each
isolation mode this machine offers.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, write_fragment  # noqa: E402

WORKLOADS = {
    "empty program": ("pass", None),
    "exercise + 6 asserts": ("def fizz(n):\n    return ['FizzBuzz' if i % 15 == 0 else 'Fizz' if i % 3 == 0 else 'Buzz' if i % 5 == 0"
                             " else str(i) for i in range(1, n + 1)]\n",
                             "assert fizz(1) == ['1']\nassert fizz(3)[-1] == 'Fizz'\nassert fizz(5)[-1] == 'Buzz'\n"
                             "assert fizz(15)[-1] == 'FizzBuzz'\nassert len(fizz(100)) == 100\nassert fizz(0) == []\n"),
    "stdlib imports": ("import json, re, collections, dataclasses, fractions, decimal, itertools, functools\n"
                       "print(json.dumps({'a': fractions.Fraction(1, 3).denominator}))\n", None),
    "50 ms of arithmetic": ("s = 0\nfor i in range(1_500_000):\n    s += i * i % 7\nprint(s)\n", None),
}


def bare(code, tests):
    src = code + ("\n" + tests if tests else "")
    subprocess.run([sys.executable, "-I", "-c", src], capture_output=True, check=True)


def unshare_only(code, tests):
    src = code + ("\n" + tests if tests else "")
    subprocess.run(["unshare", "--net", "--pid", "--fork", "--mount-proc", sys.executable, "-I", "-c", src],
                   capture_output=True, check=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=15)
    args = ap.parse_args()
    from gristmill.synth import sandbox
    from gristmill.synth.attacks import ATTACKS, attack_context, run_attack

    mode = sandbox.isolation_mode()

    def gm(code, tests):
        r = sandbox.run_python(code, tests=tests)
        assert r.status == "passed", (r.status, r.detail, r.stderr)

    peers = {"subprocess.run (no isolation)": bare, f"gristmill run_python ({mode})": gm}
    if os.geteuid() == 0 and shutil.which("unshare"):
        peers["unshare -n -p (namespaces only)"] = unshare_only
    rows = []
    for wname, (code, tests) in WORKLOADS.items():
        times = {p: [] for p in peers}
        for fn in peers.values():
            fn(code, tests)  # warm the page cache
        for _ in range(args.repeats):
            for pname, fn in peers.items():  # interleaved: load spikes hit every peer alike
                t0 = time.perf_counter()
                fn(code, tests)
                times[pname].append(time.perf_counter() - t0)
        base = statistics.median(times["subprocess.run (no isolation)"])
        for pname, ts in times.items():
            med = statistics.median(ts)
            rows.append(f"| {wname} | {pname} | {med * 1000:.1f} | {(med - base) * 1000:+.1f} | {med / base:.2f}x |")

    lines = ["## Sandbox (`gristmill.synth.sandbox.run_python`)", "",
             f"Machine: {machine()}; shared and noisy (other engineers' jobs on the same 2 cores). Script: "
             f"`python benchmarks/bench_sandbox.py --repeats {args.repeats}`. Median wall time per call of {args.repeats} "
             "interleaved runs; overhead and ratio are against a bare `subprocess.run` of the same code in the same run.", "",
             "| workload | runner | median ms/call | overhead ms | vs subprocess.run |", "|---|---|---|---|---|", *rows, "",
             f"Load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores. What `run_python` pays for beyond "
             "`unshare`: a second and third process (the PID namespace's init and the untrusted child), ~10 bind mounts "
             "and two tmpfs, the memory cgroup, rlimits, the uid drop and the audit hook, and `ctypes` in the runner "
             "(for `mount`/`unshare`/`prctl`). The runner avoids `json`, `signal` and `traceback` (they import `re` and "
             "`enum`): that cut the overhead from 120-180 ms to 45-85 ms per call in two runs the same afternoon. For the "
             "loop this is small next to a model's reply (seconds); `gristmill synth generate --workers N` verifies code "
             "items in N sandboxes at once.", ""]

    # the kernel boundaries this user can build (issue 19 removed the audit-hook "fallback" as a mode)
    modes = [mode] + (["userns"] if mode != "userns" else [])
    table = {}
    with attack_context() as ctx:
        for m in modes:
            for a in ATTACKS:
                r, leak, ok = run_attack(a, ctx, mode=m)
                verdict = "contained" if leak is None and ok else f"NOT CONTAINED: {leak or 'status ' + r.status}"
                detail = r.detail.replace("|", "/").replace("\n", " ")
                table.setdefault(a.name, {})[m] = f"{r.status}: {detail[:90]} ({verdict})"
    lines += ["Attack table (`gristmill synth sandbox-check` prints the same for any machine). Each attack is real code run "
              "against real targets: a TCP server and an abstract Unix socket on the host, a secret file and a secret "
              "environment variable of the parent, the parent's PID. \"contained\" means the test's checks found no "
              "connection, no write, no secret in the output, no surviving process, and a status that names what happened.", "",
              "| attack | " + " | ".join(modes) + " |", "|---|" + "---|" * len(modes)]
    for name, per in table.items():
        lines.append(f"| {name} | " + " | ".join(per.get(m, "") for m in modes) + " |")
    lines += ["", "Where the status is `failed` rather than `blocked`, the kernel refused the operation (read-only mounts, "
              "an empty network namespace, a uid with no rights, a chroot in which `unshare(CLONE_NEWUSER)` is refused) "
              "and the code saw the error; the audit hook only reports what it sees in the sandboxed interpreter, and a "
              "child process (`subprocess`, `/bin/sh`) has no hook, which the \"from a child process\" and \"from a "
              "shell\" rows show is still contained. The orphan and double-fork rows are `passed` because the code "
              "itself ran to the end; the check is that their children (`sleep 60` with a marker in argv) were gone "
              "when `run_python` returned."]
    write_fragment("sandbox", "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
