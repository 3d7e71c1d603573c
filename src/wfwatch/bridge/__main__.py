"""``python -m wfwatch.bridge`` runs ``wfwatch serve`` (tests start bridge processes this way)."""

from __future__ import annotations

import os
import sys

import click

from wfwatch.bridge.cli import serve_command


def main() -> None:
    """Run the command, then leave with ``os._exit`` like the main CLI.

    A temporalio client still alive at interpreter shutdown can crash in its
    native finalizers; exiting directly once output is flushed avoids that.
    """
    code = 0
    try:
        serve_command.main(standalone_mode=False)
    except click.ClickException as err:
        err.show()
        code = err.exit_code
    except click.exceptions.Exit as done:
        code = done.exit_code
    except click.Abort:
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
