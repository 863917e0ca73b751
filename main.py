"""Launch HARLab: ``python main.py [PROJECT_DIR]``.

Opens the main window when a display is available; with no display (or missing system
libraries) it says so and runs the same main job headless instead: the demo pipeline through
the CLI. Heavy libraries are imported only after the window is shown.
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="main.py", description="HARLab desktop workbench")
    parser.add_argument("project", nargs="?", help="project folder to open (created if new)")
    parser.add_argument("--headless", action="store_true",
                        help="do not open a window; run the demo pipeline in the terminal")
    parser.add_argument("--dry-run", action="store_true",
                        help="headless only: print the pipeline's steps without running them")
    args = parser.parse_args(argv)

    from ui.system_libs import display_problem

    problem = None if args.headless else display_problem()
    if args.headless or problem:
        if problem:
            print(f"HARLab: cannot open a window ({problem}).\n"
                  "Running the headless demo pipeline instead; see `harlab --help` for every "
                  "stage.", file=sys.stderr)
        from harlab.cli.headless import run_headless

        return run_headless(args.project, dry_run=args.dry_run)

    from ui.app import run_gui

    return run_gui(args.project)


if __name__ == "__main__":
    raise SystemExit(main())
