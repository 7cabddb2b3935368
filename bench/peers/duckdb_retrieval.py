"""DuckDB's ASOF JOIN doing the same retrieval as Headwater: same Parquet in, Parquet out.

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
