"""The index subcommands (ingest, search, similar, delete, info, reindex, eval, serve): each turns
parsed arguments into one library call and formats the answer."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from api.cli.progress import ProgressBar, failures_text
from api.coverage import semantic_coverage
from api.evaluation.answerability import answerability, format_answerability
from api.evaluation.evaluate import evaluate, evaluate_folds, format_metrics
from api.evaluation.folds import format_folds
from api.evaluation.similar_answerability import (
    FOLDS,
    format_similar_answerability,
    is_find_similar_set,
    similar_answerability,
)
from api.jobs import ingest_params, run_in_foreground
from api.queries import build_filters, municipality_codes, question, result_dicts
from api.settings import Settings
from ingest.draft import draft_query
from ingest.pipeline import IngestReport
from ingest.reindex import ReindexFailed
from search.engines import OpenedIndex, Place, require_live
from search.errors import DocumentNotFound, InvalidInput, UnreadableDocument
from search.locking import WriterLock
from search.retrieval import QueryDocument, query_document, search, similar
from search.strength import STRONG, similar_strengths, strengths
from search.types import Result


class NothingIndexed(UnreadableDocument):
    """An ingest in which every file failed: the command prints its report and exits non-zero."""

    def __init__(self, count: int, output: str) -> None:
        super().__init__("ingest", f"none of the {count} document(s) could be read")
        self.output = output


def cmd_ingest(settings: Settings, args: argparse.Namespace) -> str:
    missing = [str(p) for p in args.paths if not p.exists()]
    if missing:
        raise InvalidInput(f"no such file or folder: {', '.join(missing)}")
    params = ingest_params(
        settings, [p.resolve() for p in args.paths],  # absolute, so --sync works from any folder
        municipality=args.municipality or "", doc_type=args.doc_type or "", date=args.date or "",
        title=args.title or "", doc_id=args.doc_id or "", model=args.model or "", force=args.force,
        sync=args.sync, ocr=not args.no_ocr, ocr_page_limit=args.ocr_page_limit, limit_bytes=False,
        isolated=False, lexical_first=args.lexical_first,
    )  # fmt: skip
    with ProgressBar("ingest", args.json) as bar:
        job, report = run_in_foreground(settings, "ingest", params, bar)
    if args.json:
        output = json.dumps({"job": job.id, **report.as_dict()}, ensure_ascii=False)
    else:
        index = require_live(Place.of(settings))
        try:
            output = f"job {job.id}: {_ingest_text(report, index)}"
        finally:
            index.close()
    if report.failed and not (report.done or report.skipped or report.removed):
        raise NothingIndexed(len(report.failed), output)
    return output


def _ingest_text(report: IngestReport, index: OpenedIndex) -> str:
    lines = [
        f"added {len(report.added)}, replaced {len(report.replaced)}, unchanged {len(report.skipped)}, "
        f"removed {len(report.removed)}, failed {len(report.failed)}; {report.chunks} chunks in "
        f"{report.seconds:.1f}s ({report.chunks / report.seconds if report.seconds else 0:.1f} chunks/s, "
        f"model {index.manifest.model_id})",
        f"index: {index.catalog.count_documents()} documents, {index.catalog.count_chunks()} chunks",
    ]
    if pending := index.count_pending():
        lines.append(
            f"{pending} passages wait for their vectors (found by words until then): run `schutting embed`"
        )
    lines += [f"FAILED {source}: {reason}" for source, reason in report.failed]
    return "\n".join(lines)


def _filters_from(args: argparse.Namespace, municipality: Sequence[str] | None = None) -> Any:
    """Filters from the common options; `municipality` overrides --municipality when given."""
    return build_filters(
        args.municipality if municipality is None else municipality, args.exclude_municipality,
        args.province, args.doc_type,
        args.date_from, args.date_to, args.all_versions, args.valid_on, args.legal_basis,
    )  # fmt: skip


def cmd_search(settings: Settings, args: argparse.Namespace) -> str:
    index = require_live(Place.of(settings))
    mode = args.mode or settings.search_mode
    filters = _filters_from(args)
    results = search(index, question(args.query), filters, k=args.k, mode=mode)
    matches = strengths(index, mode, args.query, filters, results)
    share = semantic_coverage(index)
    out = _results_out(results, matches, args.json, {"query": args.query, "mode": mode,
                                                      "semantic_coverage": round(share, 4)})  # fmt: skip
    if share < 1 and not args.json:
        out += f"\nsemantic index {int(100 * share)}% complete: documents not yet embedded are found by words"
    return out


def cmd_similar(settings: Settings, args: argparse.Namespace) -> str:
    if bool(args.doc_id) == bool(args.file):
        raise InvalidInput("give either a document id or --file, not both or neither")
    index = require_live(Place.of(settings))
    if args.file:
        # With --file, --municipality names the draft's own municipality (excluded), not a filter.
        own = municipality_codes(args.municipality[:1])
        query = draft_query(index, args.file, settings.read_options(), own[0] if own else "")
        filters = _filters_from(args, municipality=())
    else:
        query = query_document(index, args.doc_id)
        filters = _filters_from(args)
    if args.include_own:
        query = QueryDocument(query.text, query.vectors, "", query.doc_id)
    mode = args.mode or settings.search_mode
    results = similar(index, query, filters, k=args.k, mode=mode)
    matches = similar_strengths(index, query, results)
    head = {"document": args.doc_id or str(args.file), "mode": mode}
    return _results_out(results, matches, args.json, head)


def _results_out(results: list[Result], matches: list[str], as_json: bool, head: dict[str, Any]) -> str:
    answered = STRONG in matches
    if as_json:
        rows = result_dicts(results, matches)
        return json.dumps({**head, "answered": answered, "results": rows}, ensure_ascii=False, indent=2)
    if not results:
        return "no results: try other words or fewer filters"
    lines = [] if answered else ["Geen goede treffers voor uw vraag (no strong match); the nearest results:"]
    for rank, (r, match) in enumerate(zip(results, matches, strict=True), 1):
        d = r.document
        lines.append(f"{rank:2}. {d.title}  [{d.id}]")
        lines.append(
            f"    {d.municipality or '?'} · {d.doc_type or '?'} · {d.date or '?'} · {match} · score {r.score:.3f}"
        )
        if r.hits:
            h = r.hits[0]
            text = " ".join(h.text.split())
            lines.append(f"    {h.label or ''}: {text[:220]}{'…' if len(text) > 220 else ''}")
    return "\n".join(lines)


def cmd_delete(settings: Settings, args: argparse.Namespace) -> str:
    with WriterLock(settings.data_dir, "schutting delete"):
        index = require_live(Place.of(settings))
        try:
            missing = [d for d in args.doc_ids if index.catalog.document(d) is None]
            found = index.delete(args.doc_ids)
            index.flush()
        finally:
            index.close()
    if missing:
        raise DocumentNotFound(f"deleted {found}; not in the index: {', '.join(missing)}")
    return json.dumps({"deleted": args.doc_ids}) if args.json else f"deleted {found} document(s)"


def cmd_info(settings: Settings, args: argparse.Namespace) -> str:
    index = require_live(Place.of(settings))
    info = {
        "data_dir": str(settings.data_dir),
        "generation": index.folder.name,
        "model": index.manifest.model_id,
        "dim": index.manifest.dim,
        "documents": index.catalog.count_documents(),
        "chunks": index.catalog.count_chunks(),
        "municipalities": len(index.catalog.municipalities()),
    }
    return json.dumps(info) if args.json else "\n".join(f"{k}: {v}" for k, v in info.items())


def cmd_reindex(settings: Settings, args: argparse.Namespace) -> str:
    try:
        with ProgressBar("reindex", args.json) as bar:
            job, report = run_in_foreground(settings, "reindex", {"model": args.model or ""}, bar)
    except ReindexFailed as exc:
        print(failures_text(exc.report), file=sys.stderr)
        raise
    index = require_live(Place.of(settings))
    model, generation = index.manifest.model_id, index.folder.name
    index.close()
    if args.json:
        return json.dumps({"job": job.id, "model": model, "generation": generation, **report.as_dict()})
    return (
        f"job {job.id}: reindexed {report.done} documents, {report.chunks} chunks in {report.seconds:.1f}s "
        f"with {model}; live generation {generation}"
    )


def cmd_eval(settings: Settings, args: argparse.Namespace) -> str:
    mode = args.mode or settings.search_mode
    if getattr(args, "answerability", False) and is_find_similar_set(args.folder, args.split):
        found = similar_answerability(args.folder, settings, model=args.model or settings.model, mode=mode,
                                      split=args.split, limit=args.limit, k=args.folds or FOLDS)  # fmt: skip
        return json.dumps(found) if args.json else format_similar_answerability(found)
    if getattr(args, "answerability", False):
        found = answerability(args.folder, settings, model=args.model or settings.model, mode=mode,
                              split=args.split, limit=args.limit)  # fmt: skip
        return json.dumps(found) if args.json else format_answerability(found)
    if getattr(args, "folds", None):
        found = evaluate_folds(args.folder, settings, model=args.model or settings.model, k=args.folds,
                               split=args.split)  # fmt: skip
        return json.dumps(found) if args.json else format_folds(found)
    metrics = evaluate(args.folder, settings, model=args.model or settings.model, mode=mode, split=args.split,
                       limit=args.limit)  # fmt: skip
    return json.dumps(metrics) if args.json else format_metrics(metrics)


def cmd_serve(settings: Settings, args: argparse.Namespace) -> None:
    import uvicorn

    from api.http import create_app

    uvicorn.run(create_app(settings), host=args.host, port=args.port)
