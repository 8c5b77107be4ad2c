"""Shell completion (shtab) for options whose values come from the registries, including
comma-separated lists: `--server vsftpd,pro<TAB>`."""

from __future__ import annotations

import argparse
import re
from collections.abc import Sequence


def words(action: argparse.Action, valid: Sequence[str], lists: bool = True) -> argparse.Action:
    """Complete `action`'s value from `valid` (each item of a comma-separated list)."""
    name = "_ftps_harness_" + re.sub(r"\W", "_", action.dest)
    choices = " ".join([*valid, "all"] if lists else valid)
    action.complete = {  # type: ignore[attr-defined]
        "bash": name,
        "zsh": f"({choices})",
        "tcsh": f"({choices})",
        "preamble": {
            "bash": (
                f'{name}() {{\n  local cur="$1" head=""\n'
                f'  [[ "$cur" == *,* ]] && head="${{cur%,*}},"\n'
                f'  compgen -P "$head" -W "{choices}" -- "${{cur##*,}}"\n}}\n'
            )
        },
    }
    return action
