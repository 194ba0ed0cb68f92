"""The REPL sandbox against what model-written code does by accident or on purpose: each test runs
real blocks in a real worker process, checks what the block was allowed to do (a file that must
not exist, a connection that must not arrive, a process that must be gone), and then checks that
the same Sandbox still works and says honestly whether variables survived."""

from __future__ import annotations

import gc
import os
import socket
import threading
import time
from pathlib import Path

import pytest

from rlm_bench.sandbox import RunResult, Sandbox, SandboxError


def ok(result: RunResult) -> str:
    """The stdout of a block that must have succeeded."""
    assert result.error is None, result.error
    assert not result.timed_out and not result.state_lost
    return result.stdout


def worker_pid(sb: Sandbox) -> int:
    return int(ok(sb.run("import os\nprint(os.getpid())")))


def is_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def processes_in_group(pgid: int) -> int:
    count = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # fields after the parenthesised command: state ppid pgrp ...
            if int(stat.rsplit(")", 1)[1].split()[2]) == pgid:
                count += 1
    return count


def test_variables_persist_between_blocks_and_a_final_expression_is_shown():
    with Sandbox(timeout_s=5) as sb:
        ok(sb.run("total = sum(range(10))\nwords = ['a', 'b']"))
        assert ok(sb.run("words.append('c')\ntotal * 2")) == "90\n"
        assert sb.get("words") == "['a', 'b', 'c']"
        assert ok(sb.run("x = 1\nx")) == "1\n"
        assert ok(sb.run("None")) == ""


def test_initial_variables_arrive_intact_and_fast():
    context = ("The quick brown fox — naïve café 🦊 \n" * 150_000)[:5_000_000]
    started = time.monotonic()
    with Sandbox(
        timeout_s=10,
        variables={"context": context, "meta": {"n": 3, "tags": ["x"]}, "k": 7, "odd": "a\ud800"},
    ) as sb:
        out = ok(sb.run("print(len(context), type(meta).__name__, meta['tags'], k + 1, len(odd))"))
        elapsed = time.monotonic() - started
        assert out == f"{len(context)} dict ['x'] 8 2\n"
        assert sb.get("context") == context
        assert sb.get("odd") == "a\ud800"  # half a surrogate pair, as a cut context may end
    assert elapsed < 5, f"starting with a 5 MB variable took {elapsed:.1f} s"


def test_host_functions_run_in_the_harness_thread_that_called_run():
    calls = []

    def llm_query(prompt, **options):
        calls.append((prompt, options, os.getpid(), threading.get_ident()))
        return f"answer to {prompt}"

    def llm_query_batched(prompts):
        return [llm_query(p) for p in prompts]

    functions = {"llm_query": llm_query, "llm_query_batched": llm_query_batched}
    with Sandbox(timeout_s=5, functions=functions) as sb:
        out = ok(
            sb.run(
                "one = llm_query('q1', max_tokens=5)\n"
                "many = llm_query_batched(['q2', 'q3'])\n"
                "print(one)\nprint(type(many).__name__, many)"
            )
        )
    assert out == "answer to q1\nlist ['answer to q2', 'answer to q3']\n"
    here = (os.getpid(), threading.get_ident())
    assert calls == [("q1", {"max_tokens": 5}, *here), ("q2", {}, *here), ("q3", {}, *here)]


def test_megabytes_cross_to_and_from_host_functions_and_arrive_intact():
    # Non-ASCII, \r\n and \r kept as they are, and half a surrogate pair at the end.
    context = "naïve café 🦊 line\r\n" * 60_000 + "lone\r\ud800"
    seen = []

    def llm_query_batched(prompts):
        seen.append(prompts)
        return [p[::-1] for p in prompts]

    with Sandbox(
        timeout_s=10,
        variables={"context": context},
        functions={"llm_query_batched": llm_query_batched},
    ) as sb:
        out = ok(
            sb.run(
                "size = len(context) // 4 + 1\n"
                "parts = [context[i:i + size] for i in range(0, len(context), size)]\n"
                "back = llm_query_batched(parts)\n"
                "print(len(parts), all(b == p[::-1] for b, p in zip(back, parts)))"
            )
        )
    assert out == "4 True\n"
    assert len(seen) == 1 and "".join(seen[0]) == context


def test_an_error_in_a_host_function_is_a_runtime_error_in_the_block():
    def llm_query(prompt):
        raise ValueError(f"quota exhausted before {prompt!r}")

    with Sandbox(timeout_s=5, functions={"llm_query": llm_query}) as sb:
        caught = ok(
            sb.run(
                "try:\n    llm_query('q')\n"
                "except RuntimeError as e:\n    print('caught:', e)\nkept = 1"
            )
        )
        assert "caught: llm_query() failed in the harness: ValueError: quota exhausted" in caught
        result = sb.run("llm_query('again')")
        assert "RuntimeError: llm_query() failed in the harness: ValueError" in result.error
        assert "llm_query('again')" in result.error
        assert not result.state_lost
        assert ok(sb.run("print(kept)")) == "1\n"


def test_time_waiting_for_host_functions_does_not_count_toward_the_timeout():
    def llm_query(prompt):
        time.sleep(1.5)
        return "slow answer"

    with Sandbox(timeout_s=1, functions={"llm_query": llm_query}) as sb:
        result = sb.run("print(llm_query('q'))")
    assert ok(result) == "slow answer\n"
    assert result.seconds >= 1.5


def test_an_infinite_loop_times_out_kills_the_worker_and_the_next_block_starts_fresh():
    with Sandbox(timeout_s=0.5, variables={"context": "initial"}) as sb:
        ok(sb.run("defined_later = 1"))
        pid = worker_pid(sb)
        result = sb.run("while True:\n    pass")
        assert result.timed_out and result.state_lost
        assert "timed out after 0.5 s" in result.error
        assert 0.5 <= result.seconds < 10
        assert is_gone(pid)
        after = sb.run("print(context, 'defined_later' in globals())")
        assert ok(after) == "initial False\n"
        assert worker_pid(sb) != pid


def test_a_memory_bomb_is_a_memory_error_and_the_repl_survives():
    with Sandbox(timeout_s=20, memory_mb=256) as sb:
        ok(sb.run("kept = 'still here'"))
        result = sb.run("hog = []\nwhile True:\n    hog.append(' ' * 10**7)")
        assert "MemoryError" in result.error
        assert not result.timed_out and not result.state_lost
        assert "MemoryError" in sb.run("x = bytearray(10**12)").error
        assert ok(sb.run("del hog\nprint(kept)")) == "still here\n"


@pytest.mark.parametrize(
    "code",
    [
        "import os\nwhile True:\n    os.fork()",
        "import subprocess\nsubprocess.run(['true'])",
        "import os\nos.system('true')",
        "import os\nos.posix_spawnp('true', ['true'], {})",
        "import multiprocessing as mp\nmp.get_context('spawn').Process(target=print).start()",
        "import pty\npty.spawn('true')",
    ],
    ids=["fork-bomb", "subprocess", "system", "posix_spawn", "multiprocessing", "pty"],
)
def test_starting_processes_is_refused(code):
    with Sandbox(timeout_s=5) as sb:
        ok(sb.run("kept = 1"))
        pid = worker_pid(sb)
        result = sb.run(code)
        assert "PermissionError: the sandbox does not allow starting processes" in result.error
        assert not result.timed_out and not result.state_lost
        assert processes_in_group(pid) == 1
        assert ok(sb.run("print(kept)")) == "1\n"


def test_native_calls_through_ctypes_are_refused():
    with Sandbox(timeout_s=5) as sb:
        pid = worker_pid(sb)
        for code in [
            "import ctypes\nctypes.CDLL(None).fork()",
            "import ctypes\nctypes.string_at(id(1), 8)",
            "import ctypes\nctypes.c_char.from_address(id(1))",
        ]:
            error = sb.run(code).error or ""
            assert "PermissionError: the sandbox does not allow native calls" in error, code
        assert processes_in_group(pid) == 1


def test_common_libraries_still_work_under_the_guard():
    """numpy loads a library through ctypes on import, asyncio makes a socket pair, tempfile
    creates files under TMPDIR: none of these may be refused."""
    with Sandbox(timeout_s=30) as sb:
        out = sb.run(
            "import asyncio, tempfile, numpy\n"
            "async def three():\n    await asyncio.sleep(0)\n    return 3\n"
            "with tempfile.NamedTemporaryFile('w') as f:\n    f.write('x')\n"
            "print(asyncio.run(three()), int(numpy.arange(4).sum()))"
        )
    assert ok(out) == "3 6\n"


def test_a_huge_print_is_cut_and_costs_no_memory():
    # 10**9 characters: if they were stored, the 256 MB worker would raise MemoryError.
    with Sandbox(timeout_s=30, memory_mb=256, output_chars=1000) as sb:
        result = sb.run(
            "import sys\nfor _ in range(100_000):\n    print('x' * 9_999)\n"
            "sys.stderr.write('e' * 10)\nkept = 1"
        )
        assert result.error is None and result.truncated
        assert (
            result.stdout
            == "x" * 1000 + f"\n... [output truncated: {10**9 - 1000} more characters]"
        )
        assert result.stderr == "\n... [output truncated: 10 more characters]"
        assert ok(sb.run("print(kept)")) == "1\n"


def test_a_long_error_is_cut_too():
    with Sandbox(timeout_s=5, output_chars=500) as sb:
        result = sb.run("raise ValueError('v' * 10_000)")
    assert result.truncated
    assert result.error.startswith("Traceback") and "more characters]" in result.error
    assert len(result.error) < 600


def test_a_network_connection_never_arrives():
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        with Sandbox(timeout_s=5) as sb:
            for code in [
                f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=1)",
                f"import socket\ns = socket.socket()\ns.connect(('127.0.0.1', {port}))",
                "import urllib.request\nurllib.request.urlopen('http://example.com', timeout=1)",
                "import socket\nsocket.getaddrinfo('localhost', 80)",
            ]:
                result = sb.run(code)
                assert "PermissionError: the sandbox does not allow network access" in (
                    result.error or ""
                ), code
            listener.settimeout(0.3)
            with pytest.raises(TimeoutError):
                listener.accept()
            ok(sb.run("import socket\na, b = socket.socketpair()"))  # local pairs still work


@pytest.mark.parametrize(
    "code",
    [
        "open({target!r}, 'w').write('x')",
        "import pathlib\npathlib.Path({target!r}).write_text('x')",
        "import os\nos.open({target!r}, os.O_WRONLY | os.O_CREAT)",
        "import os\nos.symlink({target!r}, 'link')\nopen('link', 'w').write('x')",
        "open({victim!r}, 'a').write('x')",
        "import os\nos.remove({victim!r})",
        "import os\nos.rename({victim!r}, 'stolen.txt')",
        "import os\nos.link({victim!r}, 'hard')\nopen('hard', 'a').write('x')",
        "import os\nos.chmod({victim!r}, 0o777)",
        "import shutil\nshutil.rmtree({victim_dir!r})",
        "import os\nos.mkdir({target!r})",
        "import os\nos.chdir('..')\nopen('escaped.txt', 'w')",
    ],
    ids=[
        "open",
        "pathlib",
        "os.open",
        "symlink",
        "append",
        "remove",
        "rename",
        "hard-link",
        "chmod",
        "rmtree",
        "mkdir",
        "chdir",
    ],
)
def test_writing_outside_the_working_directory_is_refused(tmp_path, code):
    victim_dir = tmp_path / "owned"
    victim_dir.mkdir()
    victim = victim_dir / "keep.txt"
    victim.write_text("original")
    victim.chmod(0o644)
    target = tmp_path / "created.txt"
    with Sandbox(timeout_s=5) as sb:
        paths = {"target": str(target), "victim": str(victim), "victim_dir": str(victim_dir)}
        result = sb.run(code.format(**paths))
        assert "PermissionError: the sandbox does not allow" in result.error
        assert "outside its working directory" in result.error
        assert not result.state_lost
        assert not (sb.workdir.parent / "escaped.txt").exists()
    assert not target.exists()
    assert victim.read_text() == "original"
    assert victim.stat().st_mode & 0o777 == 0o644


def test_writing_inside_the_working_directory_works(tmp_path):
    outside = tmp_path / "keep.txt"
    outside.write_text("original")
    with Sandbox(timeout_s=5) as sb:
        out = ok(
            sb.run(
                "import os, shutil, tempfile\n"
                "os.makedirs('a/b')\nopen('a/b/notes.txt', 'w').write('hi')\n"
                "fd, path = tempfile.mkstemp()\nos.close(fd)\n"
                f"os.symlink({str(outside)!r}, 'link')\nos.remove('link')\n"
                "print(open('a/b/notes.txt').read(), os.path.dirname(path) == os.getcwd())\n"
                "shutil.rmtree('a')\nprint(sorted(os.listdir('.')) == [os.path.basename(path)])"
            )
        )
    assert out == "hi True\nTrue\n"
    assert outside.read_text() == "original"


def test_the_block_cannot_kill_the_harness():
    with Sandbox(timeout_s=5) as sb:
        ok(sb.run("kept = 1"))
        for code in [
            "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)",
            "import os, signal\nos.killpg(os.getpgid(os.getppid()), signal.SIGKILL)",
        ]:
            result = sb.run(code)
            assert "PermissionError: the sandbox does not allow signalling" in result.error
            assert not result.state_lost
        assert ok(sb.run("print(kept)")) == "1\n"


@pytest.mark.parametrize(
    ("code", "shown"),
    [
        ("import sys\nsys.exit(3)", "SystemExit(3)"),
        ("exit()", "SystemExit(None)"),
        ("quit(2)", "SystemExit(2)"),
        ("raise SystemExit('bye')", "SystemExit('bye')"),
    ],
)
def test_exiting_keeps_the_repl_running(code, shown):
    with Sandbox(timeout_s=5) as sb:
        ok(sb.run("kept = 7"))
        result = sb.run(code)
        assert result.error == f"{shown} raised: the REPL keeps running"
        assert not result.state_lost
        assert ok(sb.run("print(kept)")) == "7\n"


def test_an_exception_reports_the_traceback_of_the_users_code_and_keeps_state():
    with Sandbox(timeout_s=5) as sb:
        ok(sb.run("x = 41\ndef divide(v):\n    return v / 0"))
        result = sb.run("y = x + 1\ndivide(y)")
        assert result.error.startswith("Traceback (most recent call last):")
        assert 'File "<cell 2>", line 2, in <module>' in result.error
        assert 'File "<cell 1>", line 3, in divide' in result.error
        assert "return v / 0" in result.error
        assert result.error.rstrip().endswith("ZeroDivisionError: division by zero")
        assert "rlm_bench" not in result.error and "worker" not in result.error
        assert not result.state_lost
        assert ok(sb.run("print(x, y)")) == "41 42\n"
        syntax = sb.run("if x >\n    pass")
        assert 'File "<cell 4>", line 1' in syntax.error and "SyntaxError" in syntax.error
        outside = sb.run("return 5")
        assert "return 5" in outside.error and "'return' outside function" in outside.error


def test_get_returns_str_of_a_variable_and_raises_key_error_for_an_unknown_one():
    with Sandbox(timeout_s=5) as sb:
        ok(
            sb.run(
                "answer = 42\nclass Bad:\n    def __str__(self):\n        raise ValueError('no')"
            )
        )
        ok(sb.run("bad = Bad()"))
        assert sb.get("answer") == "42"
        with pytest.raises(KeyError, match="final_answer"):
            sb.get("final_answer")
        with pytest.raises(SandboxError, match="ValueError: no"):
            sb.get("bad")
        assert ok(sb.run("print(answer)")) == "42\n"


def test_get_of_a_value_whose_str_never_returns_times_out_and_restarts_the_repl():
    with Sandbox(timeout_s=0.5) as sb:
        ok(sb.run("class Endless:\n    def __str__(self):\n        while True:\n            pass"))
        ok(sb.run("endless = Endless()"))
        with pytest.raises(SandboxError, match="timed out after 0.5 s"):
            sb.get("endless")
        with pytest.raises(KeyError):
            sb.get("endless")


def test_the_worker_gets_none_of_the_harness_environment(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-harness-secret")
    with Sandbox(timeout_s=5) as sb:
        names = ok(sb.run("import os\nprint(sorted(os.environ))\nprint(list(os.environ.values()))"))
    assert "OPENAI_API_KEY" not in names and "sk-harness-secret" not in names
    assert "VIRTUAL_ENV" not in names


def test_the_working_directory_is_fresh_and_removed_on_close_with_the_process():
    first, second = Sandbox(timeout_s=5), Sandbox(timeout_s=5)
    try:
        out = ok(first.run("import os\nprint(os.getcwd())\nprint(os.listdir('.'))"))
        cwd, listing = out.splitlines()
        assert Path(cwd).resolve() == first.workdir.resolve() and listing == "[]"
        assert ok(second.run("import os\nprint(os.getcwd())")).strip() != cwd
        assert ok(first.run("import os\nprint(os.environ['HOME'] == os.getcwd())")) == "True\n"
        pid = worker_pid(first)
    finally:
        first.close()
        second.close()
    assert not first.workdir.exists() and not first.workdir.parent.exists()
    assert not second.workdir.exists()
    assert is_gone(pid)
    first.close()  # twice is fine
    with pytest.raises(SandboxError, match="closed"):
        first.run("1")


def test_a_sandbox_dropped_without_close_leaves_nothing_behind():
    sb = Sandbox(timeout_s=5)
    pid, workdir = worker_pid(sb), sb.workdir
    del sb
    gc.collect()
    assert is_gone(pid) and not workdir.parent.exists()


def test_a_worker_that_dies_is_reported_and_replaced():
    with Sandbox(timeout_s=5, variables={"context": "initial"}) as sb:
        ok(sb.run("defined_later = 1"))
        result = sb.run("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)")
        assert result.state_lost and not result.timed_out
        assert "killed by SIGKILL" in result.error
        assert ok(sb.run("print(context, 'defined_later' in globals())")) == "initial False\n"


def test_the_cpu_limit_kills_the_worker_and_says_so():
    with Sandbox(timeout_s=30, cpu_s=1) as sb:
        result = sb.run("while True:\n    pass")
        assert result.state_lost and not result.timed_out
        assert "CPU time limit" in result.error and "SIGXCPU" in result.error
        assert ok(sb.run("print('fresh')")) == "fresh\n"


def test_garbage_on_the_protocol_pipe_is_a_lost_worker_not_a_harness_crash():
    with Sandbox(timeout_s=5) as sb:
        result = sb.run("import os, sys\nos.write(int(sys.argv[3]), b'\\xff' * 64)")
        assert result.state_lost and "malformed message" in result.error
        assert ok(sb.run("print('fresh')")) == "fresh\n"


def test_a_host_function_cannot_reenter_its_sandbox():
    holder = {}
    functions = {"llm_query": lambda prompt: holder["sb"].run(prompt).stdout}
    with Sandbox(timeout_s=5, functions=functions) as sb:
        holder["sb"] = sb
        result = sb.run("llm_query('print(1)')")
        assert "one request at a time" in result.error
        assert ok(sb.run("print(2)")) == "2\n"
