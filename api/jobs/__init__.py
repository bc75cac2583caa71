"""Admin jobs (ingest, reindex, harvest, embed): their records (``store``; ``pg_store`` on PostgreSQL),
what each kind does (``kinds``), and running them (``runner``): in the web app's runner thread or in
the CLI's foreground."""

from api.jobs.embedding import duration, embed_params
from api.jobs.kinds import HarvestIncomplete, harvest_params, ingest_options, ingest_params, ingest_target
from api.jobs.progress import Display, JobProgress
from api.jobs.records import KINDS, Job, JobRecords
from api.jobs.runner import JobRunner, execute, run_in_foreground
from api.jobs.store import JobStore

__all__ = [
    "KINDS",
    "Display",
    "HarvestIncomplete",
    "Job",
    "JobProgress",
    "JobRecords",
    "JobRunner",
    "JobStore",
    "duration",
    "embed_params",
    "execute",
    "harvest_params",
    "ingest_options",
    "ingest_params",
    "ingest_target",
    "run_in_foreground",
]
