"""The drill's report: one result per step (verdict, time, figures, notes), printed as it goes
and written as JSON (``--json PATH``)."""

from __future__ import annotations

import datetime
import json
import os
import platform
from dataclasses import asdict, dataclass, field
from typing import TextIO

PASS, FAIL = "PASS", "FAIL"


@dataclass
class StepResult:
    number: int
    name: str
    title: str
    verdict: str = PASS
    seconds: float = 0.0
    figures: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def fail(self, why: str) -> None:
        self.verdict = FAIL
        self.notes.append(f"VIOLATION: {why}")

    def note(self, text: str) -> None:
        self.notes.append(text)

    def check(self, condition: bool, why: str) -> bool:
        if not condition:
            self.fail(why)
        return condition


def _format_value(value) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


class Report:
    def __init__(self, seed: int, quick: bool, directory: str, out: TextIO,
                 replay_flags: str = "") -> None:
        self.seed = seed
        self.replay_flags = replay_flags
        self.quick = quick
        self.directory = directory
        self.out = out
        self.steps: list[StepResult] = []
        self.started = datetime.datetime.now(datetime.timezone.utc)
        self.summary: dict = {}
        self.seconds = 0.0
        self.injected_fault: str | None = None     # test-only (drill/_drill.py)

    def header(self) -> None:
        self.print(f"aurora-lite drill: seed {self.seed}{' (quick)' if self.quick else ''}, "
                   f"cluster in {self.directory}")
        self.print(f"replay with: aurora-lite drill --seed {self.seed}"
                   f"{' --quick' if self.quick else ''}{self.replay_flags}")
        self.print("")

    def print(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def add(self, step: StepResult) -> None:
        self.steps.append(step)
        self.print(f"{step.number:>2}. {step.title:<58} {step.verdict}  {step.seconds:7.2f} s")
        if step.figures:
            text = ", ".join(f"{key} {_format_value(value)}" for key, value in
                             step.figures.items())
            self.print(f"    {text}")
        for note in step.notes:
            self.print(f"    {note}")

    @property
    def verdict(self) -> str:
        return PASS if self.steps and all(s.verdict == PASS for s in self.steps) else FAIL

    def footer(self) -> None:
        failed = [s for s in self.steps if s.verdict != PASS]
        summary = self.summary
        self.print("")
        if summary:
            self.print(f"workload: {summary.get('transfers', 0)} transfers "
                       f"({summary.get('acknowledged', 0)} acknowledged, "
                       f"{summary.get('in_doubt', 0)} in doubt, {summary.get('failed', 0)} "
                       f"failed before COMMIT), consistent reads "
                       + ", ".join(f"{k} {v}" for k, v in sorted(
                           summary.get('reads', {}).items()))
                       + f"; invariant violations {summary.get('violations', 0)}")
        self.print(f"drill {self.verdict}: {len(self.steps) - len(failed)} of {len(self.steps)} "
                   f"steps passed in {self.seconds:.1f} s (seed {self.seed})"
                   + (f"; failed: {', '.join(s.name for s in failed)}" if failed else ""))

    def document(self) -> dict:
        return {"tool": "failover_drill", "seed": self.seed, "quick": self.quick,
                "timestamp": self.started.isoformat(timespec="seconds"),
                "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                            "platform": platform.platform()},
                "directory": self.directory, "seconds": round(self.seconds, 3),
                "verdict": self.verdict, "injected_fault": self.injected_fault,
                "summary": self.summary,
                "steps": [asdict(step) for step in self.steps]}

    def write_json(self, path: str) -> None:
        directory = os.path.dirname(os.path.abspath(path))
        os.makedirs(directory, exist_ok=True)
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(self.document(), handle, indent=2, default=str)
            handle.write("\n")
