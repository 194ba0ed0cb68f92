"""A test double for the Ray executor's workers, named as such: `scripted_dying:<marker file>`.

Importing this module registers the backend (the Ray executor has each worker import the
module that registered the suite's backend). It is the oracle double, except that the first
call in any process finds the marker file missing, creates it with its process id, and kills
that process with SIGKILL: a worker lost mid-sample, as an out-of-memory kill or a lost node
would leave it. Every later call, in any process, answers like the oracle.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

from rlm_bench.errors import UserError
from rlm_bench.models import BACKENDS
from rlm_bench.models.embedded import EmbeddedModel
from tests.doubles import Reply, ScriptedModel, oracle_reply


def dying_reply(marker: Path) -> Reply:
    def reply(prompt: str) -> str:
        try:
            fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return oracle_reply(prompt)
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        os.kill(os.getpid(), signal.SIGKILL)
        raise AssertionError("unreachable: the process is gone")

    return reply


@BACKENDS.register("scripted_dying")
def dying_backend(arg: str, options: dict[str, object]) -> ScriptedModel:
    if not arg:
        raise UserError("scripted_dying needs a marker file: scripted_dying:<path>")
    return ScriptedModel(EmbeddedModel().tokenizer, reply=dying_reply(Path(arg)))
