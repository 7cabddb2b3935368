"""DuckDB's ASOF JOIN doing the same retrieval as Headwater: same Parquet in, Parquet out.

Paths may be s3:// URIs (bench/object_storage.py): DuckDB's httpfs extension, from the
duckdb-extension-httpfs wheel, then reads them with the AWS_* environment's key and endpoint.

The query keeps every entity row (LEFT), in input order (ORDER BY the file row number), takes the
latest feature row at or before each entity row's time, and nulls it when older than the TTL.
DuckDB's ASOF JOIN has no created-timestamp tie-break; on this data exact ties are negligible.
"""
import sys
import time

import duckdb

entities, features, output, ttl_days, threads = sys.argv[1:6]
names = [f"f{i}" for i in range(10)]
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
selected = ", ".join(
    f"CASE WHEN f.event_timestamp >= e.event_timestamp - INTERVAL {int(ttl_days)} DAY "
    f"THEN f.{n} END AS {n}" for n in names)
con.execute(f"""
COPY (
  SELECT e.driver_id, e.event_timestamp, e.label, {selected}
  FROM read_parquet('{entities}', file_row_number = true) e
  ASOF LEFT JOIN read_parquet('{features}') f
    ON e.driver_id = f.driver_id AND e.event_timestamp >= f.event_timestamp
  ORDER BY e.file_row_number
) TO '{output}' (FORMAT parquet)
""")
print(f"duckdb {duckdb.__version__}: {time.perf_counter() - started:.3f} s", file=sys.stderr)
