"""The command line: parse, call vaultsync.commands, print. Heavy imports happen inside commands.

Exit codes: 0 success; 1 error, invalid input, refused or failed apply, and
usage errors (not click's 2, which means "changes present" under
--detailed-exitcode); 2 changes present / drift detected; 130 interrupted.

One module per command group (``plan_apply``, ``existing``, ``admin``), the shared options in ``options``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

import click

from vaultsync import __version__
from vaultsync.cli.admin import dev_server, force_unlock, state
from vaultsync.cli.existing import drift, import_, init
from vaultsync.cli.options import CONTEXT
from vaultsync.cli.plan_apply import apply, plan, validate
from vaultsync.console import Console, wants_color
from vaultsync.errors import VaultsyncError


@click.group(context_settings=CONTEXT)
@click.version_option(__version__, "--version", prog_name="vaultsync", message="%(prog)s %(version)s")
def cli() -> None:
    """Declarative sync for the secrets vault of EDC connectors.

    Keep the desired secrets of a connector in a JSON file; `plan` shows what
    would change (never the values), `apply` makes the minimal calls.

    \b
    Connection: --url / EDC_MANAGEMENT_URL,
    --api-key-file PATH (a file holding the key) or EDC_API_KEY (the key itself),
    --api-version / EDC_API_VERSION (auto by default: probes v4, v3, v4beta once per run).
    Shell completion: eval "$(_VAULTSYNC_COMPLETE=bash_source vaultsync)"
    (zsh_source, fish_source for other shells).
    """


for _command in (validate, plan, apply, import_, drift, init, state, force_unlock, dev_server):
    cli.add_command(_command)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name="vaultsync", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.Abort:
        click.echo("Aborted.", err=True)
        return 130
    except click.ClickException as exc:  # usage errors: 1, because 2 means "changes present"
        exc.show()
        return 1
    except VaultsyncError as exc:
        color = wants_color(sys.stderr, "--no-color" in (argv or sys.argv))
        console = Console(color=False, err_color=color)
        console.error(str(exc))
        for note in getattr(exc, "__notes__", ()):  # what else went wrong on the way out (a lock left behind)
            console.error(str(note))
        return exc.exit_code
    except KeyboardInterrupt:
        click.echo("\nInterrupted.", err=True)
        return 130
    except BrokenPipeError:
        # `vaultsync plan | head`: the reader left; say nothing more and keep Python from complaining at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except SystemExit as exc:
        return int(exc.code) if isinstance(exc.code, int) else 1
    return 0
