"""Running the real `dig` (BIND) and `kdig` (Knot) binaries and parsing their
text output."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from typing import Dict, List, Optional

TOOL_TIMEOUT = 20


@dataclass
class ToolResult:
    cmd: List[str]
    returncode: int
    text: str
    status: Optional[str] = None
    flags: set = field(default_factory=set)
    counts: Dict[str, int] = field(default_factory=dict)
    sections: Dict[str, List[List[str]]] = field(default_factory=dict)
    edns: Optional[str] = None
    responses: int = 0

    def records(self, section: str = "ANSWER", rtype: Optional[str] = None) -> List[List[str]]:
        recs = self.sections.get(section, [])
        return [r for r in recs if rtype is None or (len(r) > 3 and r[3] == rtype)]

    def __repr__(self):
        return f"<{' '.join(self.cmd)} -> rc={self.returncode}\n{self.text}>"


_HEADER = re.compile(r"->>HEADER<<-\s+opcode:\s*(\w+)[,;]\s*status:\s*(\w+)[,;]\s*id:\s*(\d+)")
_FLAGS = re.compile(r"^;; flags:([a-z ]*);\s*(.*)$", re.IGNORECASE)
_COUNT = re.compile(r"(QUERY|ANSWER|AUTHORITY|ADDITIONAL):\s*(\d+)")
_SECTION = re.compile(r"^;; (QUESTION|ANSWER|AUTHORITY|ADDITIONAL) SECTION:\s*$")


def parse_output(cmd: List[str], rc: int, text: str) -> ToolResult:
    """Parses the *last* response printed (dig prints two when it retries over
    TCP after a truncated UDP answer)."""
    res = ToolResult(cmd, rc, text)
    lines = text.splitlines()
    starts = [i for i, l in enumerate(lines) if _HEADER.search(l)]
    res.responses = len(starts)
    if not starts:
        return res
    block = lines[starts[-1]:]
    m = _HEADER.search(block[0])
    res.status = m.group(2)
    section = None
    for line in block[1:]:
        fm = _FLAGS.match(line)
        if fm:
            res.flags = set(fm.group(1).split())
            res.counts = {k: int(v) for k, v in _COUNT.findall(fm.group(2))}
            continue
        if "EDNS" in line and ("version" in line.lower()):
            res.edns = line
        if line.startswith(";; Version:"):  # kdig's EDNS pseudosection body
            res.edns = line
        sm = _SECTION.match(line)
        if sm:
            section = sm.group(1)
            res.sections.setdefault(section, [])
            continue
        if not line.strip():
            section = None
            continue
        if section and section != "QUESTION" and not line.startswith(";"):
            res.sections[section].append(line.split(None, 4))
    return res


def available(tool: str) -> Optional[str]:
    return shutil.which(tool) or (f"/usr/bin/{tool}" if os.path.exists(f"/usr/bin/{tool}") else None)


def run(tool: str, server: str, port: int, args: List[str]) -> ToolResult:
    path = available(tool)
    assert path, f"{tool} not installed (dnsutils / knot-dnsutils)"
    if tool == "dig":
        base = [path, f"@{server}", "-p", str(port), "+time=2", "+tries=1"]
    else:
        base = [path, f"@{server}", "-p", str(port), "+timeout=2", "+retry=0"]
    cmd = base + args
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=TOOL_TIMEOUT)
    return parse_output(cmd, p.returncode, p.stdout)
