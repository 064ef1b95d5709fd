"""The ``engagement-report`` command: arguments, listing, exit status."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from .config import UsageError, load_params_file, notebook_title, parse_cli_value, read_notebook, select_notebooks
from .folder import FolderLockedError
from .run import DEFAULT_TIMEOUT, KernelSetupError, build_reports

__all__ = ["main", "EXIT_OK", "EXIT_FAILED", "EXIT_USAGE", "EXIT_LOCKED"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_LOCKED = 0, 1, 2, 3


def _positive_seconds(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if value < 0:
        raise argparse.ArgumentTypeError("the timeout must be 0 (no limit) or more seconds")
    return value or None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="engagement-report",
        description="Run the analysis notebooks with parameters and write self-contained HTML reports.",
        epilog="Parameter file format and precedence: see `python -m pydoc engagement_utils.reports`. "
        f"Exit status: {EXIT_OK} all built, {EXIT_FAILED} a notebook failed, {EXIT_USAGE} usage or setup "
        f"error, {EXIT_LOCKED} another run holds the report folder's lock.",
    )
    parser.add_argument("notebooks", nargs="*", metavar="NOTEBOOK", help="name (00_data_overview) or path; default: all")
    parser.add_argument("--params", metavar="FILE.yml", help="YAML parameter file")
    parser.add_argument(
        "-p",
        "--parameter",
        nargs=2,
        action="append",
        metavar=("NAME", "VALUE"),
        default=[],
        help="set a parameter for every selected notebook that declares it (repeatable)",
    )
    parser.add_argument("--output-dir", metavar="DIR", help="report folder (default: params file's, else reports)")
    parser.add_argument("--exports-dir", metavar="DIR",
                        help="folder for files with user ids, outside the report folder "
                        "(default: OUTPUT_DIR/../exports/NAME)")
    parser.add_argument("--notebooks-dir", metavar="DIR", default="notebooks", help="where notebook names are looked up")
    parser.add_argument("--timeout", metavar="SECONDS", type=_positive_seconds, default=DEFAULT_TIMEOUT,
                        help=f"stop a notebook whose cell runs longer than this (default {DEFAULT_TIMEOUT}; 0: no limit)")
    parser.add_argument("--timings", action="store_true",
                        help="print each notebook's seconds per section and write every cell's seconds "
                        "to OUTPUT_DIR/timings.csv")
    parser.add_argument("--list", action="store_true", help="list the selected notebooks and their parameters, run nothing")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress output (failures are still reported)")
    return parser


def _list_notebooks(selection: list[str], notebooks_dir: Path, params_file: str | None) -> None:
    config_selection = load_params_file(params_file)["notebooks"] if params_file else None
    for path in select_notebooks(selection or config_selection, notebooks_dir):
        source, declared = read_notebook(path)
        print(f"{path.stem}  ({path}): {notebook_title(source, path.stem)}")
        for name, info in declared.items():
            help_text = f"  # {info['help']}" if info.get("help") else ""
            print(f"    {name} = {info.get('default')}{help_text}")
        if not declared:
            print("    (no parameters)")


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point ``engagement-report``; returns the exit status.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name; default ``sys.argv[1:]``.

    Returns
    -------
    int
        0 all reports built, 1 a notebook failed, 2 usage or setup error,
        3 another run holds the report folder's lock.

    Examples
    --------
    Usage (it runs notebooks, so it is not a doctest)::

        main(["01_cohort_retention", "-p", "period", "month"])
        0
    """
    args = _parser().parse_args(argv)
    notebooks_dir = Path(args.notebooks_dir)
    try:
        if args.list:
            _list_notebooks(args.notebooks, notebooks_dir, args.params)
            return EXIT_OK
        summary = build_reports(
            args.notebooks or None,
            notebooks_dir=notebooks_dir,
            output_dir=args.output_dir,
            parameters={name: parse_cli_value(value) for name, value in args.parameter},
            params_file=args.params,
            progress=not args.quiet,
            timeout=args.timeout,
            exports_dir=args.exports_dir,
            timings=args.timings,
        )
    except (UsageError, KernelSetupError) as exc:
        print(f"engagement-report: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except FolderLockedError as exc:
        print(f"engagement-report: error: {exc}", file=sys.stderr)
        return EXIT_LOCKED
    built = len(summary.results) - len(summary.failed)
    message = f"{built} of {len(summary.results)} report(s) built; index: {summary.index_path}"
    if summary.exports_dir is not None and not args.quiet:
        message += f"\nfiles with user ids (do not send): {summary.exports_dir}"
    if summary.failed:
        names = ", ".join(r.name for r in summary.failed)
        print(f"{message}\n{len(summary.failed)} notebook(s) failed: {names}", file=sys.stderr)
        return EXIT_FAILED
    if not args.quiet:
        print(message, file=sys.stderr)
    return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
