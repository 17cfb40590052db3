"""The one exception users see: a clear one-line message and, where it helps, what to do."""


class LmlabError(Exception):
    """A problem with the user's input, data, run or checkpoint (not a bug in lmlab).

    The CLI prints `error: <message>` and exits with code 2, without a traceback unless `--debug`.
    """
