"""The verdict and the table of `schutting bench load`: which targets its phases met, for people."""

from __future__ import annotations

from typing import Any

PHASES = ("idle", "hostile", "ingest", "reindex")  # the order they run in
TARGET_P95_RATIO = 3.0  # reindex p95 at most this times idle p95
TARGET_HOSTILE_P95_MS = 1000.0  # clients, their searches and /health each, while hostile uploads run


def target(phases: list[dict[str, Any]]) -> dict[str, Any]:
    """The targets of the phases that ran: 0 errors; reindex p95 <= 3x idle p95 (idle and reindex ran);
    hostile phase p95 under 1 s for all client requests, the searches among them, and /health."""
    by_name = {p["name"]: p for p in phases}
    errors = sum(p["errors"] for p in phases)
    checks: dict[str, bool] = {"no_errors": errors == 0}
    ratio = None
    if "idle" in by_name and "reindex" in by_name:
        idle_p95, reindex_p95 = by_name["idle"]["p95_ms"], by_name["reindex"]["p95_ms"]
        ratio = round(reindex_p95 / idle_p95, 2) if idle_p95 and reindex_p95 else None
        checks["reindex_p95_at_most_3x_idle"] = ratio is not None and ratio <= TARGET_P95_RATIO
    hostile_p95 = None
    if "hostile" in by_name:
        phase = by_name["hostile"]
        hostile_p95 = {"clients": phase["p95_ms"], "search": phase["by_kind"].get("search", {}).get("p95_ms"),
                       "health": phase["health"]["p95_ms"]}  # fmt: skip
        checks["hostile_p95_under_1s"] = all(
            ms is not None and ms < TARGET_HOSTILE_P95_MS for ms in hostile_p95.values()
        )
    return {"errors": errors, "reindex_p95_over_idle_p95": ratio, "hostile_p95_ms": hostile_p95,
            "checks": checks, "met": all(checks.values())}  # fmt: skip


def format_text(result: dict[str, Any]) -> str:
    index = result["index"]
    lines = [f"{result['clients']} clients, {result['seconds']} s per phase, "
             f"{index['documents']} documents / {index['chunks']} chunks ({result['model']})",
             f"{'phase':<8} {'requests':>8} {'errors':>6} {'p50 ms':>8} {'p95 ms':>8} {'health p95':>10}  note"]  # fmt: skip
    for p in result["phases"]:
        lines.append(
            f"{p['name']:<8} {p['requests']:>8} {p['errors']:>6} {p['p50_ms']!s:>8} {p['p95_ms']!s:>8} "
            f"{p['health']['p95_ms']!s:>10}  {_note(p)}"
        )
    target = result["target"]
    failed = [name for name, ok in target["checks"].items() if not ok]
    lines.append(f"target met: {target['met']}" + (f" (missed: {', '.join(failed)})" if failed else "")
                 + f"; errors {target['errors']}, reindex p95 / idle p95 = {target['reindex_p95_over_idle_p95']} "
                 f"(at most {TARGET_P95_RATIO}), hostile p95 ms = {target['hostile_p95_ms']} "
                 f"(under {TARGET_HOSTILE_P95_MS:.0f})")  # fmt: skip
    return "\n".join(lines)


def _note(phase: dict[str, Any]) -> str:
    job, hostile = phase.get("job"), phase.get("hostile")
    if job:
        return f"{job['kind']} {job['state']} in {job['seconds']} s"
    if hostile:
        return f"{hostile['uploads_in_flight']} hostile uploads in flight: {hostile['statuses']}"
    return ""
