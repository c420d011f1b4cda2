"""The failover drill: a scripted game day on a local cluster (docs/operations.md).

Steps (each a method below, in this order; each ends with a verdict, its time and figures):

 1. start      six nodes (archiving every second), a writer, two replicas; schema; workload
 2. kill-1     kill -9 one storage node: commits go on (Invariant 4)
 3. kill-2     kill -9 a second: commits go on
 4. kill-3     kill -9 a third: commits stall and none is acknowledged, reads go on
 5. revive     restart the three: commits resume, each node's SCL reaches the others'
 6. corrupt    flip a bit in a record of a live node's hot log: scrub finds it, the range is
               cut out and refetched from peers (SCL back), a later scrub pass is clean
 7. failover   kill -9 the writer; ``aurora-lite failover DIR --replica R1``; time from the
               kill to the first acknowledged transfer, against issue 6's target of 5 s, and
               where it went (the command's start, promotion, clients finding the new
               writer); every acknowledged transfer present; the other replica follows it
 8. restore    ``aurora-lite restore --to-time T`` (T taken before the writer was killed);
               the restored volume holds exactly the transfers committed by T
 9. verify     stop the workload; the whole state on the writer and the replicas: every
               acknowledged transfer, no transfer that failed before COMMIT, balances agree
               with the ledger

Readers check S1-S3 (``_checker``) continuously on the writer and both replicas; a violation
anywhere fails the step it happened in. Random choices (victim nodes, the damaged record,
amounts) come from ``--seed``.

Test-only fault injection (``Settings.fault``; on the command line only through the environment
variable ``AURORA_LITE_DRILL_TEST_FAULT``, which exists for tests/drill and nothing else): with
``split-transfer``, once every target has been read, one transfer is committed as two
transactions a second apart (the debit, then the credit and the ledger row), so every reader
sees a partial transfer; the start step must then fail naming the violation, and the drill
stop with exit status 1. The report's first lines say that a fault was injected.
"""

from __future__ import annotations

import datetime
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Callable, TextIO

from aurora_lite.drill._bank import (
    Workload, close_quietly, connect, create_schema, read_state,
)
from aurora_lite.drill._checker import Checker
from aurora_lite.drill._load import CpuWindow, load_average
from aurora_lite.drill._processes import Deployment
from aurora_lite.drill._report import FAIL, Report, StepResult
from aurora_lite.errors import Error
from aurora_lite.redo import RECORD_HEADER, RecordType
from aurora_lite.replica import alive, read_writer

LOG_HEADER_SIZE = 32          # docs/formats/segment.md: the hot log file header
FAILOVER_TARGET_S = 5.0       # issue 6: the writer's death -> the first accepted write
QUICK_LOADED_BOUND_S = 10.0   # --quick only, and only when other work loads the machine
FAULTS = ("split-transfer",)  # test-only fault injection (module docstring)
FAULT_ENV = "AURORA_LITE_DRILL_TEST_FAULT"


@dataclass(frozen=True)
class Settings:
    seed: int
    quick: bool = False
    directory: str | None = None
    keep: bool = False
    fsync: bool = True
    clients: int = 4
    accounts: int = 50
    initial: int = 1000
    warmup: float = 5.0          # seconds of workload before the first fault
    window: float = 6.0          # seconds each step watches commits / reads
    stall_grace: float = 1.0     # after the third kill, commits already at 4 nodes may finish
    catch_up_timeout: float = 90.0
    repair_timeout: float = 60.0
    failover_bound: float = FAILOVER_TARGET_S   # kill -9 of the writer -> first ack'd transfer
    # --quick: the bound when other work kept at least half of the cores busy during the
    # failover (a shared CI or developer machine); None: never relaxed.
    failover_loaded_bound: float | None = None
    restore_timeout: float = 120.0
    scrub_interval: float = 0.5   # on the node whose log the drill damages
    fault: str | None = None      # test-only fault injection (FAULTS; module docstring)

    @classmethod
    def for_mode(cls, seed: int, quick: bool, **overrides) -> "Settings":
        base = dict(seed=seed, quick=quick)
        if quick:
            base.update(clients=3, accounts=20, warmup=1.5, window=2.5, stall_grace=1.0,
                        catch_up_timeout=45.0, repair_timeout=30.0, restore_timeout=60.0,
                        failover_loaded_bound=QUICK_LOADED_BOUND_S)
        if overrides.get("failover_bound") is not None:
            base["failover_loaded_bound"] = None     # a bound given is the bound
        base.update({key: value for key, value in overrides.items() if value is not None})
        if base.get("fault") is not None and base["fault"] not in FAULTS:
            raise ValueError(f"unknown test fault {base['fault']!r} (known: "
                             f"{', '.join(FAULTS)})")
        return cls(**base)


class Drill:
    def __init__(self, settings: Settings, out: TextIO = sys.stdout) -> None:
        self.settings = settings
        self.rng = random.Random(settings.seed)
        self._temporary = settings.directory is None
        directory = settings.directory or tempfile.mkdtemp(prefix="aurora-drill-")
        self.directory = os.path.abspath(directory)
        self.cluster_dir = os.path.join(self.directory, "cluster")
        self.deployment = Deployment(self.cluster_dir, fsync=settings.fsync)
        self.checker = Checker(settings.accounts, settings.initial)
        self.report = Report(settings.seed, settings.quick, self.directory, out,
                             replay_flags="" if settings.fsync else " --no-fsync")
        self.workload: Workload | None = None
        self.victims: list[int] = []
        self.restore_time: float | None = None      # wall time T of the restore target
        self._failed_start = False

    # -- running -------------------------------------------------------------------------------
    def run(self) -> Report:
        report = self.report
        report.header()
        if self.settings.fault is not None:
            report.injected_fault = self.settings.fault
            report.print(f"TEST FAULT INJECTED ({FAULT_ENV}={self.settings.fault}): this run "
                         f"breaks an invariant on purpose and must fail")
            report.print("")
        started = time.monotonic()
        steps: list[tuple[str, str, Callable[[StepResult], None]]] = [
            ("start", "start six nodes, a writer, two replicas and the workload", self.start),
            ("kill-1", "kill -9 one storage node: commits go on", self.kill_one),
            ("kill-2", "kill -9 a second storage node: commits go on", self.kill_two),
            ("kill-3", "kill -9 a third: commits stall, none acknowledged, reads go on",
             self.kill_three),
            ("revive", "restart the three nodes: commits resume, SCLs catch up", self.revive),
            ("corrupt", "damage a record of a live node's log: found and repaired",
             self.corrupt),
            ("failover", "kill -9 the writer, promote replica 1 (aurora-lite failover)",
             self.failover),
            ("restore", "restore the archive to a time before the kill, check it",
             self.restore),
            ("verify", "stop the workload; check every acknowledged transfer everywhere",
             self.verify),
        ]
        try:
            for number, (name, title, method) in enumerate(steps, 1):
                step = StepResult(number, name, title)
                begin = time.monotonic()
                try:
                    method(step)
                except Exception as error:          # a step that cannot go on fails
                    step.fail(f"{type(error).__name__}: {error}")
                end = time.monotonic()
                step.seconds = end - begin
                for violation in self.checker.violations_since(begin):
                    if violation.at < end:
                        step.fail(f"{violation.kind} on {violation.where}: {violation.detail}")
                self._dedupe(step)
                report.add(step)
                if name == "start" and step.verdict == FAIL:
                    break                            # nothing to drill without a cluster
        finally:
            self._shutdown()
            report.summary = self.checker.summary()
            report.seconds = time.monotonic() - started
            report.footer()
        return report

    @staticmethod
    def _dedupe(step: StepResult) -> None:
        seen, notes = set(), []
        for note in step.notes:
            if note not in seen:
                seen.add(note)
                notes.append(note)
        if len(notes) > 12:
            notes = notes[:12] + [f"... {len(notes) - 12} more"]
        step.notes = notes

    def _shutdown(self) -> None:
        if self.workload is not None:
            stuck = self.workload.stop(timeout=20)
            if stuck:
                self.report.print(f"(threads still in a network call at exit: "
                                  f"{', '.join(stuck)})")
        try:
            self.deployment.close()
        finally:
            if self._temporary and not self.settings.keep:
                import shutil
                shutil.rmtree(self.directory, ignore_errors=True)

    # -- helpers -------------------------------------------------------------------------------
    def _writer_address(self) -> str | None:
        """Where clients find the writer: DIR/writer.json, as any tool would (a writer whose
        process is gone is not offered)."""
        record = read_writer(self.cluster_dir)
        if not record or not alive(record.get("pid")):
            return None
        return record.get("sql")

    def _watch(self, step: StepResult, seconds: float) -> tuple[int, float]:
        """Let the workload run ``seconds``; (acks in that time, acks per second)."""
        begin = time.monotonic()
        time.sleep(seconds)
        acks = self.checker.acks_between(begin)
        return acks, acks / seconds

    def _wait(self, predicate: Callable[[], object], timeout: float, interval: float = 0.1):
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                return None
            time.sleep(interval)

    def _reads_resumed(self, start: float, targets: list[str], timeout: float) -> list[str]:
        """The targets without a consistent read since ``start`` after waiting ``timeout``."""
        self._wait(lambda: all(self.checker.reads_between(t, start) for t in targets), timeout)
        return [t for t in targets if not self.checker.reads_between(t, start)]

    # -- 1. start ------------------------------------------------------------------------------
    def start(self, step: StepResult) -> None:
        settings = self.settings
        deployment = self.deployment
        begin = time.monotonic()
        deployment.start_cluster()
        step.figures["nodes_s"] = round(time.monotonic() - begin, 2)
        writer = deployment.start_writer()
        create_schema(writer, settings.accounts, settings.initial)
        step.figures["writer_s"] = round(time.monotonic() - begin, 2)
        for _ in range(2):
            deployment.start_replica()
        step.figures["replicas_s"] = round(time.monotonic() - begin, 2)
        self.workload = Workload(
            self.checker, seed=settings.seed, clients=settings.clients,
            accounts=settings.accounts, writer_address=self._writer_address,
            readers={"writer": self._writer_address,
                     "replica-1": lambda: deployment.replica_sql[0],
                     "replica-2": lambda: deployment.replica_sql[1]},
            split_gap=1.0 if settings.fault == "split-transfer" else None).start()
        victims = deployment.node_ids()
        self.rng.shuffle(victims)
        self.victims = victims[:3]
        step.note(f"writer {writer} (pid {deployment.writer.pid}), replicas "
                  f"{', '.join(deployment.replica_sql)}; victims in order: nodes "
                  f"{', '.join(map(str, self.victims))}")
        acks, rate = self._watch(step, settings.warmup)
        step.figures.update(clients=settings.clients, accounts=settings.accounts,
                            transfers_per_s=round(rate, 1))
        step.check(acks > 0, "no transfer was acknowledged during the warm-up")
        missing = self._reads_resumed(begin, ["writer", "replica-1", "replica-2"], 30)
        step.check(not missing, f"no consistent read from {', '.join(missing)} "
                                f"({self._last_errors(missing)})")
        if settings.fault == "split-transfer":
            self.workload.split_one_transfer()
            done = self.workload.split_done.wait(30)
            step.note(f"test fault: one transfer split into two transactions "
                      f"({'done' if done else 'not done within 30 s'})")
            time.sleep(0.3)              # the readers' last reads of the step

    def _last_errors(self, targets: list[str]) -> str:
        return "; ".join(f"{t}: {self.checker.last_error.get(t, 'no error')}" for t in targets)

    # -- 2, 3. one and two nodes down ----------------------------------------------------------
    def _kill_node(self, step: StepResult, index: int) -> float:
        node_id = self.victims[index]
        pid = self.deployment.handle.node_process(node_id).pid
        killed = time.monotonic()
        self.deployment.handle.node_process(node_id).kill()
        step.note(f"node {node_id} (pid {pid}) killed with SIGKILL")
        return killed

    def _writes_continue(self, step: StepResult, index: int) -> None:
        killed = self._kill_node(step, index)
        acks, rate = self._watch(step, self.settings.window)
        first = self.checker.first_ack_after(killed)
        step.figures.update(nodes_down=index + 1, transfers_per_s=round(rate, 1))
        if first is not None:
            step.figures["first_ack_after_kill_s"] = round(first - killed, 3)
        step.check(acks > 0, f"no transfer acknowledged in {self.settings.window:g} s with "
                             f"{index + 1} of 6 nodes down (writes must continue)")

    def kill_one(self, step: StepResult) -> None:
        self._writes_continue(step, 0)

    def kill_two(self, step: StepResult) -> None:
        self._writes_continue(step, 1)

    # -- 4. three nodes down -------------------------------------------------------------------
    def kill_three(self, step: StepResult) -> None:
        settings = self.settings
        killed = self._kill_node(step, 2)
        time.sleep(settings.stall_grace)
        stalled_from = time.monotonic()
        time.sleep(settings.window)
        acks_grace = self.checker.acks_between(killed, stalled_from)
        acks = self.checker.acks_between(stalled_from)
        waiting = sum(1 for t in list(self.checker.transfers.values())
                      if t.outcome == "pending" and t.sent_wall is not None)
        step.figures.update(nodes_down=3, acks_in_grace=acks_grace, acks_while_stalled=acks,
                            commits_waiting=waiting)
        step.check(acks == 0, f"{acks} transfer(s) acknowledged with 3 of 6 nodes down "
                              f"(a write quorum is impossible: falsely acknowledged)")
        missing = self._reads_resumed(stalled_from, ["writer", "replica-1", "replica-2"], 0)
        reads = {t: self.checker.reads[t] for t in ("writer", "replica-1", "replica-2")}
        step.figures["reads_total"] = sum(reads.values())
        step.check(not missing, f"no consistent read while stalled from "
                                f"{', '.join(missing)} ({self._last_errors(missing)})")

    # -- 5. revive -----------------------------------------------------------------------------
    def revive(self, step: StepResult) -> None:
        settings = self.settings
        deployment = self.deployment
        handle = deployment.handle
        repaired = self.victims[2]
        restarted = time.monotonic()
        for node_id in self.victims:
            process = handle.node_process(node_id)
            if node_id == repaired:      # the node step 6 damages scrubs often
                process.node_args = deployment.node_args + (
                    "--scrub-interval", str(settings.scrub_interval))
            process.start()
        for node_id in self.victims:
            handle.node_process(node_id).wait_ready(60)
        step.figures["nodes_ready_s"] = round(time.monotonic() - restarted, 2)
        first = self._wait(lambda: self.checker.first_ack_after(restarted), 60)
        step.check(first is not None, "commits did not resume within 60 s of the restart")
        if first is not None:
            step.figures["first_ack_after_restart_s"] = round(first - restarted, 3)
        survivors = [n for n in deployment.node_ids() if n not in self.victims]
        scls = deployment.scls()
        target = {}
        for node_id in survivors:
            for pg, scl in scls.get(node_id, {}).items():
                target[pg] = max(target.get(pg, 0), scl)
        step.note(f"target: the survivors' SCL per PG at restart "
                  f"{', '.join(f'{pg}:{scl}' for pg, scl in sorted(target.items()))}")

        def caught_up() -> bool:
            current = deployment.scls()
            return all(current.get(n, {}).get(pg, -1) >= scl
                       for n in self.victims for pg, scl in target.items())

        ok = self._wait(caught_up, settings.catch_up_timeout, 0.2)
        step.figures["catch_up_s"] = round(time.monotonic() - restarted, 2)
        if not ok:
            current = deployment.scls()
            step.fail(f"SCLs did not reach the survivors' {target} within "
                      f"{settings.catch_up_timeout:g} s: {current}")
        acks, rate = self._watch(step, min(2.0, settings.window))
        step.figures["transfers_per_s"] = round(rate, 1)
        step.check(acks > 0, "no transfer acknowledged after the nodes came back")

    # -- 6. corrupt ----------------------------------------------------------------------------
    def corrupt(self, step: StepResult) -> None:
        settings = self.settings
        node_id = self.victims[2]
        process = self.deployment.handle.node_process(node_id)
        before = process.status() or {}
        begin = time.monotonic()
        detected = None
        for attempt in range(1, 4):
            status = process.status() or {}
            materialized = {int(pg): entry["materialized_lsn"]
                            for pg, entry in status.get("pgs", {}).items()}
            damage = self._flip_a_record(process.info.data, materialized)
            if damage is None:
                time.sleep(0.5)
                continue
            path, offset, lsn, pg = damage
            where = "above" if lsn > materialized.get(pg, 0) else "at or below"
            step.note(f"attempt {attempt}: flipped a bit of the record at lsn {lsn} "
                      f"(offset {offset}) of {os.path.relpath(path, self.cluster_dir)}, "
                      f"{where} the node's materialized lsn {materialized.get(pg, 0)}")

            def found():
                status = process.status()
                if status and status["log_repairs"] > before.get("log_repairs", 0) and \
                        status["damage_found"] > before.get("damage_found", 0):
                    return status
                return None

            detected = self._wait(lambda: found() or (not os.path.exists(path) and "gone"),
                                  settings.repair_timeout / 2, 0.1)
            if detected == "gone":
                step.note("the damaged file was collected (materialized and archived) before "
                          "a scrub read it; trying another record")
                detected = None
                continue
            break
        step.check(detected is not None, f"the damage on node {node_id} was not detected "
                                         f"within {settings.repair_timeout / 2:g} s")
        if detected is None:
            return
        step.figures["detected_s"] = round(time.monotonic() - begin, 2)
        step.figures["damage_found"] = detected["damage_found"] - before.get("damage_found", 0)
        # Repaired: the node's SCL is back at least where the peers were when it was found.
        peers = self.deployment.scls()
        target = {}
        for other, pgs in peers.items():
            if other != node_id:
                for pg_id, scl in pgs.items():
                    target[pg_id] = max(target.get(pg_id, 0), scl)
        repaired = self._wait(lambda: all(
            (self.deployment.scls().get(node_id, {}).get(p, -1) >= s)
            for p, s in target.items()), settings.repair_timeout, 0.2)
        step.figures["repaired_s"] = round(time.monotonic() - begin, 2)
        step.check(bool(repaired), f"node {node_id}'s SCL did not come back to the peers' "
                                   f"{target} within {settings.repair_timeout:g} s")
        after = process.status() or {}
        step.figures["gossip_fetches"] = after.get("gossip_fetches", 0) - \
            before.get("gossip_fetches", 0)
        # A later scrub pass finds nothing more.
        passes = after.get("scrub_passes", 0)
        clean = self._wait(lambda: (s := process.status()) and s["scrub_passes"] >= passes + 2
                           and s, settings.repair_timeout / 2, 0.1)
        step.check(bool(clean) and clean["damage_found"] == after.get("damage_found"),
                   "a scrub pass after the repair still found damage (or none ran)")
        acks, rate = self._watch(step, min(1.5, settings.window))
        step.figures["transfers_per_s"] = round(rate, 1)
        step.check(acks > 0, "no transfer acknowledged after the repair")

    def _flip_a_record(self, data_dir: str, materialized: dict[int, int]
                       ) -> tuple[str, int, int, int] | None:
        """Flip one payload bit of a complete, non-VOID record in the first two thirds of a
        hot log file of the node, preferably one above the PG's materialized LSN (its loss
        lowers SCL and peers must fill it); (path, offset, lsn, pg) or None if none."""
        candidates = []
        for name in sorted(os.listdir(data_dir)):
            if not name.startswith("pg-"):
                continue
            folder = os.path.join(data_dir, name)
            for log_name in sorted(os.listdir(folder)):
                if log_name.startswith("redo-") and log_name.endswith(".log"):
                    candidates.append((int(name[3:]), os.path.join(folder, log_name)))
        self.rng.shuffle(candidates)
        choices = []                     # (above the materialized LSN?, pg, path, record)
        for pg, path in candidates:
            try:
                with open(path, "rb") as handle:
                    data = handle.read()
            except OSError:
                continue
            records = []
            offset = LOG_HEADER_SIZE
            while offset + RECORD_HEADER.size <= len(data):
                fields = RECORD_HEADER.unpack_from(data, offset)
                length = fields[1]
                if length < RECORD_HEADER.size or offset + length > len(data):
                    break
                if fields[5] != RecordType.VOID and length > RECORD_HEADER.size:
                    records.append((offset, length, fields[2]))
                offset += length
            # Damage in the middle of the log, not at its tail: any record above the
            # materialized LSN but the file's last, or one in the first two thirds.
            for number, record in enumerate(records[:-1]):
                above = record[2] > materialized.get(pg, 0)
                if above or number < len(records) * 2 // 3:
                    choices.append((above, pg, path, record))
        above = [choice for choice in choices if choice[0]]
        for _above, pg, path, (offset, length, lsn) in [
                self.rng.choice(above or choices)] if choices else []:
            try:
                with open(path, "r+b") as handle:
                    handle.seek(offset + length - 1)
                    byte = handle.read(1)
                    handle.seek(offset + length - 1)
                    handle.write(bytes([byte[0] ^ 0x04]))
                    handle.flush()
                    os.fsync(handle.fileno())
                return path, offset, lsn, pg
            except (OSError, IndexError):
                return None
        return None

    # -- 7. failover ---------------------------------------------------------------------------
    def failover(self, step: StepResult) -> None:
        settings = self.settings
        deployment = self.deployment
        # The restore target: a moment of steady work, with transfers before and after it.
        time.sleep(0.5)
        self.restore_time = time.time()
        time.sleep(1.0)
        old = read_writer(self.cluster_dir) or {}
        writer = deployment.writer
        load = load_average()
        killed_wall = time.time()
        killed = time.monotonic()
        writer.kill()                        # kill -9, and reaped
        window = CpuWindow(deployment.pids)
        step.note(f"writer pid {writer.pid} (epoch {old.get('epoch')}) killed with SIGKILL")
        replica = deployment.replica_sql[0]
        command = [sys.executable, "-m", "aurora_lite", "failover", self.cluster_dir,
                   "--replica", replica, "--json"]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
        command_s = time.monotonic() - killed
        step.figures["failover_command_s"] = round(command_s, 3)
        if not step.check(result.returncode == 0, f"aurora-lite failover exited with "
                                                  f"{result.returncode}: "
                                                  f"{result.stderr.strip()[-500:]}"):
            return
        info = json.loads(result.stdout)
        deployment.writer_sql = info.get("sql")
        first = self._wait(lambda: self.checker.first_ack_after(killed), 60, 0.02)
        cpu = window.close()
        step.check(first is not None, "no transfer acknowledged within 60 s of the kill")
        if first is None:
            return
        elapsed = first - killed
        self._failover_breakdown(step, info, killed_wall, elapsed, command_s, load, cpu)
        step.figures["epoch"] = f"{old.get('epoch')} -> {info.get('epoch')}"
        self._failover_verdict(step, elapsed, cpu, window.cpus)
        in_doubt = sum(1 for t in list(self.checker.transfers.values())
                       if t.outcome == "in-doubt")
        step.figures["in_doubt"] = in_doubt
        acks, rate = self._watch(step, min(2.0, settings.window))
        step.figures["transfers_per_s"] = round(rate, 1)
        # Every transfer acknowledged so far is on the new writer (and none that failed).
        connection = connect(info["sql"], autocommit=True)
        try:
            read_at = time.time()           # transfers acknowledged later may be missing here
            balances, ledger = read_state(connection)
            count = len(ledger)
        finally:
            close_quietly(connection)
        self.checker.check_state("new writer", balances, ledger, acknowledged_before=read_at)
        step.figures["ledger_rows"] = count
        # The other replica follows the new writer.
        begin = time.monotonic()
        caught = self._wait(lambda: self._ledger_count(deployment.replica_sql[1]) >= count, 30,
                            0.2)
        step.check(bool(caught), f"replica 2 did not reach the new writer's {count} ledger "
                                 f"rows within 30 s")
        step.figures["replica_2_follows_s"] = round(time.monotonic() - begin, 2)

    def _failover_breakdown(self, step: StepResult, info: dict, killed_wall: float,
                            elapsed: float, command_s: float, load: float | None,
                            cpu: dict) -> None:
        """Where the time from the kill to the first acknowledged transfer went:
        ``command_start_s`` (the failover process's start, imports, reading the cluster file:
        kill -> PROMOTE sent), ``promote_s`` (PROMOTE -> PROMOTED, as the command measured
        it; ``recovery_s`` of it is the replica's writer recovery), ``new_writer_s`` (kill ->
        DIR/writer.json names the new writer), ``clients_s`` (that -> the first
        acknowledged transfer: clients reconnecting and committing)."""
        figures = step.figures
        figures.clear()                      # in the order they are read
        figures["first_write_s"] = round(elapsed, 3)
        figures["target_s"] = self.settings.failover_bound
        record = read_writer(self.cluster_dir) or {}
        promote = info.get("elapsed_s")
        recorded = None
        if record.get("pid") == info.get("pid") and record.get("since"):
            recorded = record["since"] - killed_wall
        if recorded is not None and promote is not None:
            figures["command_start_s"] = round(max(0.0, recorded - promote), 3)
        figures["promote_s"] = promote
        figures["recovery_s"] = info.get("seconds")
        if recorded is not None:
            figures["new_writer_s"] = round(recorded, 3)
            figures["clients_s"] = round(elapsed - recorded, 3)
        figures["failover_command_s"] = round(command_s, 3)
        figures["load_1min"] = None if load is None else round(load, 1)
        for key in ("machine_cores", "other_cores"):
            if cpu.get(key) is not None:
                figures[f"{key}_busy"] = round(cpu[key], 2)

    def _failover_verdict(self, step: StepResult, elapsed: float, cpu: dict,
                          cpus: int) -> None:
        """FAIL above the bound (issue 6's 5 s target unless --failover-bound says otherwise).
        --quick only: up to QUICK_LOADED_BOUND_S when other work kept at least half of the
        cores busy from the kill to the first write (then the step says so)."""
        settings = self.settings
        bound = settings.failover_bound
        if elapsed <= bound:
            return
        where = ", ".join(f"{key} {step.figures[key]}" for key in
                          ("command_start_s", "promote_s", "clients_s")
                          if step.figures.get(key) is not None)
        other = cpu.get("other_cores")
        loaded = other is not None and other >= cpus / 2
        relaxed = settings.failover_loaded_bound
        if relaxed is not None and loaded and elapsed <= relaxed:
            step.note(f"first acknowledged transfer {elapsed:.2f} s after the kill: above the "
                      f"{bound:g} s target ({where}); allowed in --quick up to {relaxed:g} s "
                      f"because other work kept {other:.1f} of {cpus} cores busy")
            return
        why = "" if relaxed is None else (
            f"; --quick allows up to {relaxed:g} s only when other work keeps at least "
            f"{cpus / 2:g} of {cpus} cores busy (it kept "
            f"{'?' if other is None else f'{other:.1f}'})")
        step.fail(f"first acknowledged transfer {elapsed:.2f} s after the kill: above the "
                  f"{bound:g} s target ({where}){why}")

    def _ledger_count(self, address: str) -> int:
        try:
            connection = connect(address, autocommit=True)
        except Error:
            return -1
        try:
            return connection.execute("SELECT count(*) FROM ledger").fetchall()[0][0]
        except Error:
            return -1
        finally:
            close_quietly(connection)

    # -- 8. restore ----------------------------------------------------------------------------
    def restore(self, step: StepResult) -> None:
        settings = self.settings
        if self.restore_time is None:
            step.fail("no restore time was taken (the failover step did not run)")
            return
        moment = datetime.datetime.fromtimestamp(self.restore_time, datetime.timezone.utc)
        text = moment.isoformat(timespec="microseconds").replace("+00:00", "Z")
        step.note(f"target time {text}")
        archive = self.deployment.archive
        begin = time.monotonic()

        def covered():
            result = subprocess.run([sys.executable, "-m", "aurora_lite", "restore",
                                     "--archive", archive, "--window", "--json"],
                                    capture_output=True, text=True, timeout=60)
            if result.returncode != 0:
                return None
            window = json.loads(result.stdout)
            return window if window["latest_time"] > text else None

        window = self._wait(covered, settings.restore_timeout, 0.5)
        step.figures["archive_caught_up_s"] = round(time.monotonic() - begin, 2)
        if not step.check(window is not None, f"the archive did not reach {text} within "
                                              f"{settings.restore_timeout:g} s"):
            return
        target = os.path.join(self.directory, "restored")
        started = time.monotonic()
        result = subprocess.run([sys.executable, "-m", "aurora_lite", "restore", "--archive",
                                 archive, "--to-time", text, target, "--json"]
                                + ([] if settings.fsync else ["--no-fsync"]),
                                capture_output=True, text=True, timeout=300)
        step.figures["restore_s"] = round(time.monotonic() - started, 2)
        if not step.check(result.returncode == 0, f"aurora-lite restore exited with "
                                                  f"{result.returncode}: "
                                                  f"{result.stderr.strip()[-500:]}"):
            return
        info = json.loads(result.stdout)
        step.note(f"restored the commit at lsn {info['lsn']} ({info['commit_time']})")
        import aurora_lite
        connection = aurora_lite.connect(target, autocommit=True)
        try:
            balances, ledger = read_state(connection)
        finally:
            connection.close()
        before = sum(1 for t in list(self.checker.transfers.values())
                     if t.outcome == "acknowledged" and t.ack_wall <= self.restore_time)
        step.figures.update(ledger_rows=len(ledger), acknowledged_by_target=before)
        self.checker.check_state("restore", balances, ledger,
                                 acknowledged_before=self.restore_time,
                                 sent_after=self.restore_time)
        step.check(sum(b for b, _o, _r in balances.values()) == self.checker.total,
                   "the restored balances do not add up")

    # -- 9. verify -----------------------------------------------------------------------------
    def verify(self, step: StepResult) -> None:
        workload, self.workload = self.workload, None
        stuck = workload.stop(timeout=30) if workload is not None else []
        step.check(not stuck, f"client threads still blocked after 30 s: {', '.join(stuck)}")
        writer = self.deployment.writer_sql
        connection = connect(writer, autocommit=True)
        try:
            balances, ledger = read_state(connection)
        finally:
            close_quietly(connection)
        self.checker.check_state("writer (final)", balances, ledger)
        outcomes = self.checker.outcomes()
        in_doubt = [t for t in list(self.checker.transfers.values())
                    if t.outcome == "in-doubt"]
        step.figures.update(ledger_rows=len(ledger), acknowledged=outcomes["acknowledged"],
                            in_doubt=len(in_doubt),
                            in_doubt_committed=sum(1 for t in in_doubt if t.id in ledger),
                            failed=outcomes["failed"])
        for number, address in enumerate(self.deployment.replica_sql[1:], 2):
            caught = self._wait(lambda: self._ledger_count(address) >= len(ledger), 30, 0.2)
            if not step.check(bool(caught), f"replica {number} did not reach the writer's "
                                            f"final state within 30 s"):
                continue
            replica = connect(address, autocommit=True)
            try:
                balances, rows = read_state(replica)
            finally:
                close_quietly(replica)
            self.checker.check_state(f"replica-{number} (final)", balances, rows)
            step.check(rows == ledger, f"replica {number}'s ledger differs from the writer's")
        reads = self.checker.reads
        step.figures["consistent_reads"] = sum(reads.values())
        step.figures["violations"] = len(self.checker.violations)
