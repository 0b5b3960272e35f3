"""Exceptions the CLI turns into one-line messages."""


class MsroiError(Exception):
    """A problem a user can fix (bad input, bad option); printed as one line, no traceback."""


class InputError(MsroiError):
    """An input file cannot be used. The message names the file and the problem."""

    def __init__(self, path, problem):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}")


class OutputError(MsroiError):
    """An output cannot be written where asked (it would overwrite an input or another
    output, or the place is not writable). The message names the output and the problem."""

    def __init__(self, path, problem):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}")
