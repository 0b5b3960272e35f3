"""The log of one workflow job: where its stderr (and its error, if it fails) goes."""

from __future__ import annotations

import contextlib
import traceback


@contextlib.contextmanager
def job_log(path, stdout: bool = False):
    """Send stderr (and stdout when ``stdout``) to the log file ``path`` for the block.

    Workflow jobs are short-lived, so freed memory is kept for reuse
    (:func:`msroi.lean.reuse_freed_memory`). An exception leaving the block is written to
    the log (a one-line message for an msroi error, the traceback otherwise) before it
    propagates, so a failed job's log says why.
    """
    from msroi import lean
    from msroi.errors import MsroiError

    lean.reuse_freed_memory()
    with open(path, "w", encoding="utf-8") as log:
        with contextlib.redirect_stderr(log), (contextlib.redirect_stdout(log) if stdout else contextlib.nullcontext()):
            try:
                yield log
            except MsroiError as e:
                print(f"msroi: {e}", file=log)
                raise
            except BaseException:
                traceback.print_exc(file=log)
                raise
