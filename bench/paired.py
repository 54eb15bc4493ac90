#!/usr/bin/env python3
"""Times a command against its limits in the same run, interleaved, several rounds.

    bench/paired.py --rounds 3 --limit read='CMD' --limit write='CMD' --subject export='CMD'

Each round runs every limit and the subject once (the order alternates between rounds so that
none always runs on a warmer cache), each after `sync`, checking that the machine was idle in
the second before it and the second after it (CPU time from /proc/stat). Per round: the subject's time divided by
the largest limit of that round. Reported: every round's figures, the median ratio with its
spread (min-max), the load average, the subject's peak RSS, and a BUSY flag on any round where
something else used the CPU in the second before or the second after a command: such a figure is
not to be quoted. (The load average it prints includes the benchmark's own previous commands.)
Commands run under `bash -c`; their output goes to the log given by --log (default /dev/null).
With --cold, the page cache is dropped (after `sync`, untimed) before every timed command: each
one reads its input from the disk, whatever ran before it (a warm cache otherwise favours the
command that follows one reading the same data). It needs root (/proc/sys/vm/drop_caches).
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

IDLE_REQUIRED = 0.90  # share of both cores idle in the second before a timed command


def cpu_idle_share(seconds=1.0):
    def read():
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
        idle = fields[3] + fields[4]  # idle + iowait
        return idle, sum(fields)

    i0, t0 = read()
    time.sleep(seconds)
    i1, t1 = read()
    return (i1 - i0) / max(1, t1 - t0)


def loadavg():
    with open("/proc/loadavg") as f:
        return f.read().split()[0]


def drop_caches():
    subprocess.run(["sync"], check=True)
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
    except OSError as e:
        sys.exit(f"paired.py: --cold needs root to drop the page cache ({e}); run without --cold")


def timed(cmd, log, cold=False):
    subprocess.run(["sync"], check=True)
    if cold:
        drop_caches()
    idle = cpu_idle_share()
    start = time.monotonic()
    proc = subprocess.Popen(["bash", "-c", cmd], stdout=log, stderr=log)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - start
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.exit(f"paired.py: `{cmd}` exited with {code}")
    # Something that started during the command (a build) is most likely still running.
    idle = min(idle, cpu_idle_share())
    return {
        "wall": wall,
        "user": usage.ru_utime,
        "sys": usage.ru_stime,
        "rss_mib": usage.ru_maxrss / 1024,
        "idle": idle,
    }


def named(values):
    out = []
    for v in values:
        name, sep, cmd = v.partition("=")
        if not sep:
            sys.exit(f"paired.py: expected NAME=COMMAND, got `{v}`")
        out.append((name, cmd))
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--limit", action="append", required=True)
    p.add_argument("--subject", required=True)
    p.add_argument("--log", default="/dev/null")
    p.add_argument("--cold", action="store_true", help="drop the page cache before each command")
    p.add_argument(
        "--prepare",
        help="an untimed command run before each timed run of the subject (e.g. copy its input)",
    )
    args = p.parse_args()
    limits = named(args.limit)
    subject = named([args.subject])[0]
    ratios, busy_rounds, rss = [], [], []
    with open(args.log, "ab") as log:
        for r in range(1, args.rounds + 1):
            order = limits + [subject] if r % 2 else [subject] + limits
            load = loadavg()
            got = {}
            for name, cmd in order:
                if args.prepare and name == subject[0]:
                    subprocess.run(args.prepare, shell=True, check=True, stdout=log, stderr=log)
                got[name] = timed(cmd, log, args.cold)
            limit = max(got[name]["wall"] for name, _ in limits)
            ratio = got[subject[0]]["wall"] / limit
            busy = [n for n, g in got.items() if g["idle"] < IDLE_REQUIRED]
            ratios.append(ratio)
            rss.append(got[subject[0]]["rss_mib"])
            if busy:
                busy_rounds.append(r)
            figures = ", ".join(
                f"{n} {g['wall']:.2f} s (cpu {g['user']:.1f}u+{g['sys']:.1f}s, idle around {g['idle']:.0%})"
                for n, g in got.items()
            )
            flag = f"  BUSY around {', '.join(busy)}" if busy else ""
            print(f"round {r}: load {load}; {figures}; ratio {ratio:.2f}{flag}", flush=True)
    median = statistics.median(ratios)
    verdict = "BUSY: do not quote" if busy_rounds else "quiet"
    print(
        f"{subject[0]} / max({', '.join(n for n, _ in limits)}): median {median:.2f} "
        f"(min {min(ratios):.2f}, max {max(ratios):.2f}, {len(ratios)} rounds); "
        f"peak RSS {max(rss):.0f} MiB; machine {verdict}"
        + (f" (rounds {busy_rounds})" if busy_rounds else "")
    )


if __name__ == "__main__":
    main()
