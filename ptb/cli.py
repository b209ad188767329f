"""What the ptb entrypoints share: turning known errors into one clear line and exit code 1."""

from __future__ import annotations

import functools
import sys

from common.group_json import GroupFileError
from common.loop import NonFiniteLossError
from ptb.config import ConfigError
from ptb.experiment import RestoreError
from ptb.reader import DataError

USER_ERRORS = (DataError, ConfigError, RestoreError, GroupFileError, NonFiniteLossError)


def exit_on_user_error(program: str):
    """Decorate main(): a user error prints 'program: error: message' on stderr and exits 1."""

    def wrap(main):
        @functools.wraps(main)
        def run(argv):
            try:
                return main(argv)
            except USER_ERRORS as e:
                print(f"{program}: error: {e}", file=sys.stderr)
                sys.exit(1)

        return run

    return wrap
