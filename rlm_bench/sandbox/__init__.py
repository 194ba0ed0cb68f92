"""A process sandbox for model-written Python: the REPL of a Recursive Language Model.

The long context lives in a variable of a Python REPL; the model writes blocks of code; each
block runs here and its output goes back to the model. Blocks can call host functions
(`llm_query`, ...) that run in the harness process::

    with Sandbox(timeout_s=10, variables={"context": text},
                 functions={"llm_query": ask}) as sb:
        result = sb.run("print(len(context))")
        answer = sb.get("answer")

Each `Sandbox` runs its blocks in a Python process of its own (the *worker*, `worker.py`), which
keeps variables between blocks. Linux only (it relies on `resource`, sessions and `/proc`).

What it guarantees
------------------
The sandbox is defence in depth against accidents, runaway loops and sloppy or confused model
code. Against that, it guarantees:

- **The harness survives.** Whatever a block does (loops forever, exhausts memory, crashes the
  interpreter, kills itself, writes garbage into its pipes), `run` returns a `RunResult` that
  says what happened, and the next `run` works. The harness never blocks on the worker past a
  deadline, and never holds more than one frame (at most 256 MiB, in practice the output limit).
- **A separate process** in a session and process group of its own, started with a minimal
  environment (HOME, TMPDIR, PATH, LANG, PYTHONPATH; nothing of the harness's, so no API keys),
  with a fresh temporary directory as cwd, HOME and TMPDIR, and only its two protocol pipes
  open besides stdin (/dev/null), stdout (/dev/null) and stderr (a log file).
- **Time.** A block that runs longer than `timeout_s` (not counting time spent waiting for host
  functions) has its whole process group killed with SIGKILL; the result says `timed_out` and
  `state_lost`, and the next block starts a fresh worker with the initial variables.
- **Kernel limits**, set by the worker on itself before any model code runs: address space
  (`memory_mb`: allocations past it raise MemoryError, which the block sees), CPU seconds over
  the worker's life (`cpu_s`: SIGXCPU, reported), file size (64 MB), no core dumps.
- **Bounded output.** stdout and stderr of a block share `output_chars`; the rest is counted,
  not stored (a print loop of gigabytes costs CPU time, not memory), and the kept text ends with
  a note of how much was cut. Error text is cut the same way.
- **An audit hook** (PEP 578, `guard.py`) that raises PermissionError, which the block sees, on:
  starting processes (fork, exec, spawn, system, subprocess, pty, multiprocessing); network
  access (creating any socket but AF_UNIX, connect, bind, sendto, DNS lookups); native calls
  through ctypes (resolving a symbol, reading memory at an address; loading a library stays
  allowed, since numpy and pandas do on import); changing files outside the working directory
  (opening for writing, creating, removing, renaming, linking, chmod/chown, utime, truncate,
  xattrs, rmtree; paths resolved through symlinks); and signalling any process but the worker
  itself.
- **The REPL keeps running** on an exception (the result carries the traceback, without the
  sandbox's own frames) and on `sys.exit()`, `exit()`, `quit()` or `raise SystemExit`.

What it does not guarantee
--------------------------
It is **not a security boundary**. The audit hook and the limits live inside the process that
runs the untrusted code, so code written to escape can escape. Known ways: native code, e.g.
`ctypes.memmove` to a raw address (it raises no audit event) or a shared library the block writes
into its directory and imports as an extension module; crafting code objects or bytecode to
corrupt the interpreter; re-loading a C extension to get an unpatched
`_posixsubprocess.fork_exec`; `os.open(name, flags, dir_fd=fd)`, which the hook checks as if
`name` were relative to the cwd; `os.mkfifo`/`os.mknod` and pidfd signals, which raise no audit
event; writing raw frames into the protocol pipes (the harness then reports a broken worker and
restarts it). For adversarial code, run the worker (or the whole harness) inside a real
boundary: a container or VM without network, such as gVisor, nsjail, Firecracker or a
`--network none` container with a read-only root.

Also, by design or by limitation:

- **Reading is allowed everywhere** the harness's user can read: Python imports standard
  modules lazily, from anywhere on sys.path. A block that knows a path can read it, including
  the harness user's files such as `~/.netrc` (HOME points elsewhere, but absolute paths work).
- **No network namespace**: network blocking is the audit hook alone.
- **No RLIMIT_NPROC** (root ignores it): forks are refused by the hook, and the process-group
  kill is the second line.
- The memory limit is on address space, not resident memory; each thread a block starts
  reserves some of it.
- Threads a block starts keep running between blocks; their CPU time counts toward `cpu_s`, and
  they can call host functions only while a block is running.
- A block that times out or kills its worker loses its output, which the worker holds until the
  block ends.
- Files in the working directory survive a restart of the worker (only variables are lost), and
  are removed with the directory on `close()`.
- Writes straight to file descriptors 1 and 2 (`os.write(1, ...)`) are not captured: they go to
  /dev/null and to the worker's log.
- Host functions take and return JSON values, and run in the thread that called `run`, for as
  long as they take.
"""

from rlm_bench.sandbox.host import RunResult, Sandbox
from rlm_bench.sandbox.process import SandboxError

__all__ = ["RunResult", "Sandbox", "SandboxError"]
