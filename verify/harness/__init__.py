"""Running claims (layer ``harness``, above ``claims``): the runner, shards, the process
and Ray engines, result records and their schema, atomic files and progress bars, pinned
cases and the pytest plugin (``pytest --ptverify``)."""
