"""DuckDB's ASOF JOIN doing the same retrieval as Headwater: same Parquet in, Parquet out.

Paths may be s3:// URIs (bench/object_storage.py): DuckDB's httpfs extension, from the
duckdb-extension-httpfs wheel, then reads them with the AWS_* environment's key and endpoint.

The query keeps every entity row (LEFT), in input order (ORDER BY the file row number), takes the
latest feature row at or before each entity row's time, and nulls it when older than the TTL.
DuckDB's ASOF JOIN has no created-timestamp tie-break; on this data exact ties are negligible.

`features` may name several files, comma-separated (the multi-view shape): one ASOF JOIN per file,
on the columns it shares with the entity rows (its join keys, one or several) and the time; its
other columns but `created` are its features.
"""
import sys
import time

import duckdb

entities, features, output, ttl_days, threads = sys.argv[1:6]
con = duckdb.connect()
con.execute(f"SET threads = {int(threads)}")
if any(p.startswith("s3://") for p in (entities, features, output)):
    import os
    import duckdb_extension_httpfs
    extension = os.path.join(os.path.dirname(duckdb_extension_httpfs.__file__), "extensions",
                             f"v{duckdb.__version__}", "httpfs.duckdb_extension")
    con.execute(f"LOAD '{extension}'")
    endpoint = os.environ["AWS_ENDPOINT_URL"]
    con.execute(f"""CREATE SECRET (TYPE s3, KEY_ID '{os.environ["AWS_ACCESS_KEY_ID"]}',
                    SECRET '{os.environ["AWS_SECRET_ACCESS_KEY"]}', REGION 'us-east-1',
                    ENDPOINT '{endpoint.split("://")[-1]}', URL_STYLE 'path',
                    USE_SSL {str(endpoint.startswith("https")).lower()})""")
started = time.perf_counter()


def columns(path):
    return [row[0] for row in con.execute(f"DESCRIBE SELECT * FROM read_parquet('{path}')").fetchall()]


entity_columns = columns(entities)
selected, joins = [], []
for v, path in enumerate(features.split(",")):
    keys = [c for c in columns(path) if c in entity_columns and c != "event_timestamp"]
    names = [c for c in columns(path) if c not in entity_columns and c != "created"]
    selected += [f"CASE WHEN v{v}.event_timestamp >= e.event_timestamp - INTERVAL {int(ttl_days)} "
                 f"DAY THEN v{v}.{n} END AS {n}" for n in names]
    joins.append(f"ASOF LEFT JOIN read_parquet('{path}') v{v} ON " +
                 " AND ".join(f"e.{k} = v{v}.{k}" for k in keys) +
                 f" AND e.event_timestamp >= v{v}.event_timestamp")
con.execute(f"""
COPY (
  SELECT e.* EXCLUDE (file_row_number), {", ".join(selected)}
  FROM read_parquet('{entities}', file_row_number = true) e
  {" ".join(joins)}
  ORDER BY e.file_row_number
) TO '{output}' (FORMAT parquet)
""")
print(f"duckdb {duckdb.__version__}: {time.perf_counter() - started:.3f} s", file=sys.stderr)
