"""The PostgreSQL + pgvector engine (issue #12): the index in a database shared by every node.

``open_live`` / ``create_live`` give the live generation of a space; ``engine.PgEngine``
implements ``search.engine.IndexEngine``; generations are schemas swapped in one transaction.
"""
