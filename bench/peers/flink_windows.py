"""PyFlink peer of the stream benchmark: the ticker job as Flink SQL HOP windows.

    python flink_windows.py EVENTS_CSV [--parallelism 1]

Reads the same events (ticker, price, timestamp in epoch milliseconds) from a CSV file in
streaming mode with a 5 s bounded-out-of-orderness watermark, computes MIN/MAX/AVG(price) per
ticker over HOP windows of 5, 10 and 60 minutes sliding by 1 minute, and writes the rows to a
blackhole sink. Prints one JSON line: the job's wall time and the time of an empty job on the
same mini-cluster (JVM and job start-up), so the caller can report both.
"""
import argparse
import json
import time

from pyflink.table import EnvironmentSettings, TableEnvironment


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("events_csv")
    parser.add_argument("--parallelism", type=int, default=1)
    args = parser.parse_args()

    started = time.perf_counter()
    env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    config = env.get_config()
    config.set("parallelism.default", str(args.parallelism))
    config.set("pipeline.object-reuse", "true")
    env.execute_sql("""
        CREATE TABLE trades (
            ticker STRING,
            price DOUBLE,
            ts_millis BIGINT,
            ts AS TO_TIMESTAMP_LTZ(ts_millis, 3),
            WATERMARK FOR ts AS ts - INTERVAL '5' SECOND
        ) WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'csv')
    """ % args.events_csv)
    env.execute_sql("CREATE TABLE sink_empty (n BIGINT) WITH ('connector' = 'blackhole')")
    empty_started = time.perf_counter()
    env.execute_sql("INSERT INTO sink_empty SELECT 1").wait()
    empty_seconds = time.perf_counter() - empty_started

    selects = []
    for minutes in (5, 10, 60):
        selects.append(f"""
            SELECT ticker, window_end, MIN(price), MAX(price), AVG(price)
            FROM TABLE(HOP(TABLE trades, DESCRIPTOR(ts), INTERVAL '1' MINUTE,
                           INTERVAL '{minutes}' MINUTE))
            GROUP BY ticker, window_start, window_end""")
    env.execute_sql("""CREATE TABLE sink (ticker STRING, window_end TIMESTAMP(3),
        min_price DOUBLE, max_price DOUBLE, mean_price DOUBLE) WITH ('connector' = 'blackhole')""")
    statements = env.create_statement_set()
    for select in selects:
        statements.add_insert_sql("INSERT INTO sink " + select)
    job_started = time.perf_counter()
    statements.execute().wait()
    job_seconds = time.perf_counter() - job_started
    print(json.dumps({"job_seconds": round(job_seconds, 3),
                      "empty_job_seconds": round(empty_seconds, 3),
                      "total_seconds": round(time.perf_counter() - started, 3),
                      "parallelism": args.parallelism}))


if __name__ == "__main__":
    main()
