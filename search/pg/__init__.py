"""The PostgreSQL + pgvector engine (issue #12): the index in a database shared by every node.

``engine.PgEngine`` implements ``search.engine.IndexEngine``; ``generations`` are schemas swapped in
one transaction; ``queue`` holds jobs as rows for workers; ``search.engines`` opens the live index.
"""
