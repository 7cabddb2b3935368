"""get_historical_features(...).to_df() from Python on the retrieval benchmark data.

Usage: sdk_historical.py REPO ENTITIES_PARQUET
Prints JSON with the seconds of: reading the entity file, the join to Arrow, and to pandas.
"""
import json
import sys
import time

import pyarrow.parquet as pq

from headwater import FeatureStore

repo, entities = sys.argv[1], sys.argv[2]
started = time.perf_counter()
store = FeatureStore(repo_path=repo)
entity_table = pq.read_table(entities)
read = time.perf_counter()
job = store.get_historical_features(entity_df=entity_table,
                                    features=store.get_feature_service("all_features"))
table = job.to_arrow()
joined = time.perf_counter()
df = job.to_df()
done = time.perf_counter()
assert len(df) == entity_table.num_rows
print(json.dumps({"read_seconds": read - started, "join_seconds": joined - read,
                  "to_df_seconds": done - joined, "total_seconds": done - started,
                  "rows": table.num_rows, "columns": table.num_columns}))
