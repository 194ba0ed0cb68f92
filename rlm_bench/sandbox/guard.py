"""The worker's audit hook (PEP 578): refuses, with a PermissionError that model code sees and
can read, what a REPL block has no business doing: starting processes, using the network, calling
native code through ctypes, changing files outside its working directory, and signalling other
processes.

An audit hook sees every such operation that goes through CPython's own functions, which is what
careless or confused code does. It is not a wall against code that sets out to get around it; the
package docstring lists the known ways.

PermissionError is an OSError, so library code that tolerates a failed write or connection (the
import system writing a .pyc, for one) degrades as it would without permission.
"""

from __future__ import annotations

import _posixsubprocess
import os
import sys
from socket import AF_UNIX

_PROCESS_EVENTS = frozenset(
    {
        "os.exec",
        "os.fork",
        "os.forkpty",
        "os.posix_spawn",
        "os.spawn",
        "os.system",
        "subprocess.Popen",
    }
)

_NETWORK_EVENTS = frozenset(
    {
        "socket.bind",
        "socket.connect",
        "socket.getaddrinfo",
        "socket.gethostbyaddr",
        "socket.gethostbyname",
        "socket.getnameinfo",
        "socket.sendmsg",
        "socket.sendto",
    }
)

# Events that change the filesystem, with where their paths are among the event's arguments:
# (index of the path, index of its dir_fd or None, whether a symlink as the last component is
# followed). Removing or renaming a symlink acts on the link itself, which may point anywhere.
_PATH_EVENTS: dict[str, tuple[tuple[int, int | None, bool], ...]] = {
    "os.chmod": ((0, 2, True),),
    "os.chown": ((0, 3, True),),
    "os.link": ((0, 2, True), (1, 3, False)),
    "os.mkdir": ((0, 2, False),),
    "os.remove": ((0, 1, False),),
    "os.removexattr": ((0, None, True),),
    "os.rename": ((0, 2, False), (1, 3, False)),
    "os.rmdir": ((0, 1, False),),
    "os.setxattr": ((0, None, True),),
    "os.symlink": ((1, 2, False),),
    "os.truncate": ((0, None, True),),
    "os.utime": ((0, 3, True),),
    "shutil.rmtree": ((0, 1, False),),
}

# What native code needs from ctypes: resolving a symbol, calling it, reading or writing memory
# at an address. Loading a library ("ctypes.dlopen") stays allowed: numpy and pandas load one on
# import, and without the rest it cannot do anything.
_CTYPES_EVENTS = frozenset(
    {
        "ctypes.call_function",
        "ctypes.cdata",
        "ctypes.dlsym",
        "ctypes.dlsym/handle",
        "ctypes.string_at",
        "ctypes.wstring_at",
    }
)

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


def install(workdir: str) -> None:
    """From here on, for the life of the process: audit hooks cannot be removed."""
    sys.addaudithook(_Policy(os.path.realpath(workdir)))
    # `subprocess` and multiprocessing's spawn start method call this directly, and it raises no
    # audit event of its own; subprocess.Popen is refused by its event first anyway.
    _posixsubprocess.fork_exec = _refuse_fork_exec


def _refuse_fork_exec(*args: object) -> None:
    raise PermissionError("the sandbox does not allow starting processes (fork_exec)")


class _Policy:
    def __init__(self, workdir: str) -> None:
        self._workdir = workdir
        self._pid = os.getpid()

    def __call__(self, event: str, args: tuple) -> None:
        if event == "open":
            self._check_open(*args)
        elif event in _PATH_EVENTS:
            self._check_paths(event, args)
        elif event in _PROCESS_EVENTS:
            raise PermissionError(f"the sandbox does not allow starting processes ({event})")
        elif event in _NETWORK_EVENTS or (event == "socket.__new__" and args[1] != AF_UNIX):
            raise PermissionError(f"the sandbox does not allow network access ({event})")
        elif event in _CTYPES_EVENTS:
            raise PermissionError(
                f"the sandbox does not allow native calls through ctypes ({event}): they would "
                "get around its checks"
            )
        elif event == "os.killpg" or (event == "os.kill" and args[0] != self._pid):
            raise PermissionError(
                f"the sandbox does not allow signalling other processes ({event}{args!r})"
            )

    def _check_open(self, path: object, mode: object, flags: int) -> None:
        # An int is a descriptor that is already open: whatever opened it was checked then.
        if isinstance(path, int) or not flags & _WRITE_FLAGS:
            return
        if self._resolve(path, None, follow=True) == os.devnull:
            return
        self._require_inside("opening a file for writing", path, None, follow=True)

    def _check_paths(self, event: str, args: tuple) -> None:
        for path_index, dir_fd_index, follow in _PATH_EVENTS[event]:
            path = args[path_index]
            dir_fd = None if dir_fd_index is None else args[dir_fd_index]
            if isinstance(path, int):
                if event == "os.truncate":
                    continue  # ftruncate needs a descriptor open for writing, which was checked
                raise PermissionError(
                    f"the sandbox does not allow {event} on a file descriptor (use a path)"
                )
            self._require_inside(event, path, dir_fd, follow)

    def _require_inside(self, what: str, path: object, dir_fd: int | None, follow: bool) -> None:
        real = self._resolve(path, dir_fd, follow)
        if real is not None and (real == self._workdir or real.startswith(self._workdir + os.sep)):
            return
        raise PermissionError(
            f"the sandbox does not allow {what} outside its working directory "
            f"{self._workdir}: {path!r}"
        )

    @staticmethod
    def _resolve(path: object, dir_fd: int | None, follow: bool) -> str | None:
        """The absolute path the kernel will act on, symlinks resolved; None if it cannot tell."""
        try:
            path = os.fsdecode(path)
            if dir_fd is not None and dir_fd >= 0 and not os.path.isabs(path):
                base = os.readlink(f"/proc/self/fd/{dir_fd}")  # fd-relative, as shutil.rmtree
            else:
                base = os.getcwd()
            full = os.path.join(base, path)
            head, tail = os.path.split(full)
            if follow or tail in ("", ".", ".."):
                return os.path.realpath(full)
            return os.path.join(os.path.realpath(head), tail)
        except (OSError, TypeError, ValueError):
            return None
