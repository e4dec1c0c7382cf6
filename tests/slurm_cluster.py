"""A real single-node Slurm cluster on this machine, for the slurm-launcher tests and the
launcher benchmark.

:func:`start_cluster` starts ``munged`` (as the ``munge`` user, with a fresh key),
``slurmctld`` and ``slurmd`` on localhost from a ``slurm.conf`` written to a temporary
directory that also holds every state, spool, log and pid file, and points ``SLURM_CONF``
at it; :meth:`SlurmCluster.stop` stops them again. Needs root and the Debian packages
``slurm-wlm`` and ``munge``; :func:`unavailable` says in one line why a cluster cannot be
started here (or returns None).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REQUEUE_DELAY_SECONDS = 20
BINARIES = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scancel", "sinfo")


def unavailable() -> str | None:
    """Why no cluster can be started here, or None when it can."""
    missing = [name for name in BINARIES if shutil.which(name) is None]
    if missing:
        return f"Slurm binaries missing ({', '.join(missing)}): apt-get install slurm-wlm munge"
    if os.geteuid() != 0:
        return "starting slurmd needs root"
    try:
        pwd.getpwnam("munge")
    except KeyError:
        return "no munge user: apt-get install munge"
    return None


def _memory_mb() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) // 1024 - 512  # leave the OS some room
    raise RuntimeError("no MemTotal in /proc/meminfo")


@dataclass
class SlurmCluster:
    root: Path
    node: str
    cpus: int
    processes: list[subprocess.Popen] = field(default_factory=list)
    previous_conf: str | None = None
    munge_dir: Path | None = None

    @property
    def conf(self) -> Path:
        return self.root / "slurm.conf"

    def stop(self) -> None:
        """Cancel what is left, stop the daemons (newest first), restore ``SLURM_CONF``."""
        if self.munge_dir is not None and len(self.processes) == 3:
            with contextlib.suppress(subprocess.TimeoutExpired):
                subprocess.run(["scancel", "--user", "root"], capture_output=True, timeout=10)
        for process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in reversed(self.processes):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self.previous_conf is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = self.previous_conf
        if self.munge_dir is not None:
            shutil.rmtree(self.munge_dir, ignore_errors=True)


def _free_port() -> int:
    """A TCP port nothing listens on now, so two test clusters on one machine (two
    sessions, or a developer's beside CI) do not collide on Slurm's fixed defaults."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _slurm_conf(root: Path, node: str, cpus: int, memory_mb: int) -> str:
    return f"""\
ClusterName=rest-test
SlurmctldHost={node}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
ReturnToService=2
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool/%n
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd.pid
SlurmctldLogFile={root}/slurmctld.log
SlurmdLogFile={root}/slurmd.log
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
SchedulerParameters=defer_batch=0
MessageTimeout=30
InactiveLimit=0
KillWait=0
MinJobAge=30
MaxArraySize=10001
DefMemPerCPU=512
NodeName={node} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory_mb} State=UNKNOWN
PartitionName=debug Nodes={node} Default=YES MaxTime=INFINITE State=UP
"""


def _munge(root: Path) -> tuple[subprocess.Popen, Path]:
    """Start munged as the munge user with a fresh key; return it and its socket."""
    munge = pwd.getpwnam("munge")
    # munged runs as the munge user, who must reach its directory: pytest's temporary
    # directories are private to root, so the key and socket live in their own one.
    directory = Path(tempfile.mkdtemp(prefix="rest-munge-"))
    directory.chmod(0o755)
    key = directory / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o400)
    os.chown(directory, munge.pw_uid, munge.pw_gid)
    os.chown(key, munge.pw_uid, munge.pw_gid)
    socket_path = directory / "munge.socket"
    process = subprocess.Popen(
        [
            "munged",
            "--foreground",
            "--force",
            f"--key-file={key}",
            f"--socket={socket_path}",
            f"--pid-file={directory / 'munged.pid'}",
            f"--log-file={directory / 'munged.log'}",
            f"--seed-file={directory / 'munged.seed'}",
        ],
        user=munge.pw_uid,
        group=munge.pw_gid,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return process, socket_path


def start_cluster(root: Path, timeout: float = 60) -> SlurmCluster:
    """Start munged, slurmctld and slurmd under ``root``; wait until the node is idle."""
    root.mkdir(parents=True, exist_ok=True)
    node = socket.gethostname().split(".")[0]
    cpus = os.cpu_count() or 1
    cluster = SlurmCluster(root, node, cpus, previous_conf=os.environ.get("SLURM_CONF"))
    for directory in ("state", "spool"):
        (root / directory).mkdir()
    cluster.conf.write_text(_slurm_conf(root, node, cpus, _memory_mb()))
    os.environ["SLURM_CONF"] = str(cluster.conf)
    try:
        munged, socket_path = _munge(root)
        cluster.processes.append(munged)
        cluster.munge_dir = socket_path.parent
        _wait_for(socket_path.exists, timeout, "munged did not create its socket")
        # Slurm's munge plugins (auth and cred) find the socket through AuthInfo. Its
        # cred_expire is also how long a requeued job waits before it may start again
        # (default 120 s); a job restarted sooner fails ("Job credential revoked").
        auth = f"AuthInfo=socket={socket_path},cred_expire={REQUEUE_DELAY_SECONDS}"
        cluster.conf.write_text(
            cluster.conf.read_text().replace("AuthType=auth/munge", f"AuthType=auth/munge\n{auth}")
        )
        log = (root / "daemons.log").open("ab")
        cluster.processes.append(
            subprocess.Popen(["slurmctld", "-D", "-i"], stdout=log, stderr=log)
        )
        cluster.processes.append(subprocess.Popen(["slurmd", "-D"], stdout=log, stderr=log))

        def idle() -> bool:
            state = subprocess.run(
                ["sinfo", "-h", "-n", node, "-o", "%t"], capture_output=True, text=True
            )
            return state.returncode == 0 and state.stdout.strip() in {"idle", "mix"}

        _wait_for(idle, timeout, f"the node did not come up; see {root}/slurmctld.log")
    except BaseException:
        cluster.stop()
        raise
    return cluster


def _wait_for(condition, timeout: float, message: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(message)
        time.sleep(0.2)
