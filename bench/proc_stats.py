"""What the load benchmarks read from /proc: a process's CPU time, the whole machine's busy
and total CPU time, and the UDP datagrams dropped for want of socket buffer space."""

import os
from pathlib import Path


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all its threads, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_and_total() -> tuple[float, float]:
    """Busy and total CPU time of the whole machine (all cores), from /proc/stat, in ticks."""
    values = [int(value) for value in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    total = sum(values[:8])
    return total - idle, total


def udp_buffer_drops() -> int:
    """Datagrams this machine's UDP sockets dropped for want of buffer space (all processes)."""
    header, values = [
        line.split()[1:] for line in Path("/proc/net/snmp").read_text().splitlines() if line.startswith("Udp:")
    ]
    counters = dict(zip(header, values, strict=True))
    return int(counters["RcvbufErrors"]) + int(counters["SndbufErrors"])
