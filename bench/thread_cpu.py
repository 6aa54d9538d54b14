#!/usr/bin/env python3
"""CPU used by each thread of a running process over a window of time, grouped by thread name.

    python3 bench/thread_cpu.py PID [--wait SECS] [--secs SECS]

Waits --wait seconds, reads utime+stime of every thread from /proc/PID/task/*/stat, waits
--secs seconds, reads again, and prints CPU seconds and the share of one core per group of
threads (names with trailing digits merged: `trainer-A-pool-0` and `-1` count as one group;
the main thread is the process's own name). Used by bench/window_rate.sh to see how much of
the machine the window's own thread takes while two runs train.
"""
import argparse
import os
import re
import time

TICKS = os.sysconf("SC_CLK_TCK")


def sample(pid):
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        out[tid] = (name, (int(fields[11]) + int(fields[12])) / TICKS)
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("pid", type=int)
    p.add_argument("--wait", type=float, default=10.0)
    p.add_argument("--secs", type=float, default=15.0)
    a = p.parse_args()
    time.sleep(a.wait)
    t0, before = time.time(), sample(a.pid)
    time.sleep(a.secs)
    t1, after = time.time(), sample(a.pid)
    main_name = None
    with open(f"/proc/{a.pid}/stat") as f:
        s = f.read()
        main_name = s[s.index("(") + 1 : s.rindex(")")]
    groups = {}
    for tid, (name, cpu) in after.items():
        used = cpu - before.get(tid, (name, 0.0))[1]
        key = "main (window)" if tid == str(a.pid) else re.sub(r"[-:]?\d+$", "*", name)
        groups[key] = groups.get(key, 0.0) + used
    wall = t1 - t0
    total = sum(groups.values())
    print(f"CPU over {wall:.1f} s (process {main_name}, {len(after)} threads): {total:.1f} s = {100 * total / wall:.0f}% of one core")
    for key, used in sorted(groups.items(), key=lambda kv: -kv[1]):
        if used >= 0.01:
            print(f"  {key:<28} {used:6.2f} s  {100 * used / wall:5.1f}% of one core")
    print(f"RESULT ui_thread_share={groups.get('main (window)', 0.0) / wall:.3f}")


if __name__ == "__main__":
    main()
