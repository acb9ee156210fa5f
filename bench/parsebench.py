"""Time the ARF readers on one file, interleaved, in one process.

    python bench/parsebench.py FILE [RUNS]

Prints JSON: for each reader the wall and CPU seconds of every run and the
peak RSS growth (each reader once more in a fresh child process).

bare      the issue's yardstick: a stdlib iterparse pass, every element
          cleared at its end, nothing kept
whole     cemscan's previous reader (arf._parse: iterparse, start and end
          events, over the whole file up to the TestResult's end)
regions   cemscan.arf.parse_arf: byte search, then only the Benchmark and
          TestResult parsed (falls back to ``whole`` when unsure)
"""

import json
import os
import subprocess
import sys
import time
from xml.etree.ElementTree import iterparse

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from cemscan import arf  # noqa: E402


def bare(path: str) -> None:
    for _, elem in iterparse(path):
        elem.clear()


READERS = {"bare": bare, "whole": lambda path: arf._parse(path, {}), "regions": arf.parse_arf}


def peak_growth_kb(reader: str, path: str) -> int:
    """VmHWM growth of a fresh process running the reader once."""
    code = ("import sys; sys.path.insert(0, %r); import parsebench\n"
            "def hwm():\n"
            "    return int([l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1])\n"
            "before = hwm(); parsebench.READERS[%r](%r); print(hwm() - before)"
            % (os.path.dirname(os.path.abspath(__file__)), reader, path))
    return int(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout)


def main() -> int:
    path = sys.argv[1]
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    first = arf._parse(path, {})
    second = arf.parse_arf(path)
    out = {"file": path, "size": os.path.getsize(path), "rules": len(first.rules),
           "same_answer": first == second, "readers": {}}
    for name in READERS:
        out["readers"][name] = {"wall": [], "cpu": []}
    for _ in range(runs):
        for name, reader in READERS.items():
            wall, cpu = time.perf_counter(), time.process_time()
            reader(path)
            out["readers"][name]["wall"].append(time.perf_counter() - wall)
            out["readers"][name]["cpu"].append(time.process_time() - cpu)
    for name in READERS:
        out["readers"][name]["peak_growth_kb"] = peak_growth_kb(name, path)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
