"""The `schutting` command line: the parser and command table (``main``), the index commands
(``commands``), ``harvest``, ``jobs`` and the progress display (``progress``)."""
