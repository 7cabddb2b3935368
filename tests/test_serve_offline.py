"""headwater serve-offline (Feast's remote offline store over Arrow Flight) against malformed,
mistyped and unauthorised calls: each a Feast error document naming what was wrong, the server
still answering afterwards, nothing written. The Feast client itself is in test_feast_compat.py."""
import hashlib
import json
import socket
import subprocess
import time

import pyarrow as pa
import pyarrow.flight as fl
import pyarrow.parquet as pq
import pytest

from conftest import HEADWATER

TOKEN, READER = "writer-token", "reader-token"


@pytest.fixture
def offline(driver_repo):
    config = driver_repo / "feature_store.yaml"
    tokens = "".join(
        f"    - {{name: {name}, sha256: {hashlib.sha256(token.encode()).hexdigest()}, "
        f"scopes: [{scopes}]}}\n"
        for name, token, scopes in (("writer", TOKEN, "read_offline, write_offline"),
                                    ("reader", READER, "read_offline")))
    config.write_text(config.read_text() + "auth:\n  tokens:\n" + tokens)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([HEADWATER, "-c", driver_repo, "serve-offline", "--port", str(port)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for _ in range(200):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.05)
    yield driver_repo, port
    server.terminate()
    assert server.wait(timeout=10) == 0, server.stderr.read()


def client(port, token=TOKEN):
    headers = [(b"authorization", b"Bearer " + token.encode())] if token else []
    return fl.FlightClient(f"grpc+tcp://127.0.0.1:{port}"), fl.FlightCallOptions(headers=headers)


def exchange(port, command, table=None, token=TOKEN):
    flight, options = client(port, token)
    descriptor = fl.FlightDescriptor.for_command(
        command if isinstance(command, (bytes, str)) else json.dumps(command))
    writer, reader = flight.do_exchange(descriptor, options)
    if table is None:  # entity rows
        table = pa.table({"driver_id": [1001],
                          "event_timestamp": pa.array([0], pa.timestamp("us", "UTC"))})
    writer.begin(table.schema)
    writer.write_table(table)
    writer.done_writing()
    return reader.read_all()


def feast_error(call):
    """The Feast error document a failing call carried: (class, message)."""
    with pytest.raises(fl.FlightError) as raised:
        call()
    text = str(raised.value)
    assert "Flight error: " in text, text
    document = json.loads(text[text.index("{"):text.index("}") + 1])
    assert document["module"] == "feast.errors"
    return document["class"], document["message"]


PULL = {"api": "pull_all_from_table_or_query", "data_source_name": "driver_stats_source",
        "join_key_columns": ["driver_id"], "feature_name_columns": ["conv_rate"],
        "timestamp_field": "event_timestamp", "created_timestamp_column": "created"}


@pytest.mark.parametrize("command, expected", [
    (b"{", ("FeastError", "the command")),
    ("[1]", ("FeastError", "the command must be a JSON object")),
    ({"no_api": 1}, ("FeastError", 'the command has no "api"')),
    ({"api": "drop_everything"}, ("FeastError", "unsupported offline API 'drop_everything'")),
    ({"api": "get_historical_features", "feature_refs": "driver_hourly_stats:conv_rate"},
     ("FeastError", '"feature_refs" must be a list of strings')),
    ({"api": "get_historical_features", "feature_refs": ["nope:x"]},
     ("FeatureViewNotFoundException", "unknown feature view 'nope'")),
    ({**PULL, "data_source_name": "nope"},
     ("FeastObjectNotFoundException", "unknown data source 'nope'")),
    ({**PULL, "feature_name_columns": ["nope"]},
     ("FeastObjectNotFoundException", "has no column 'nope'")),
    ({**PULL, "timestamp_field": "conv_rate"},
     ("FeastError", "column 'conv_rate' is float, not a timestamp")),
    ({**PULL, "start_date": "yesterday"}, ("FeastError", '"start_date": ')),
])
def test_malformed_commands_get_feast_errors(offline, command, expected):
    repo, port = offline
    name, message = feast_error(lambda: exchange(port, command))
    assert name == expected[0] and expected[1] in message, message
    assert exchange(port, PULL).num_rows > 0  # still serving


def test_entity_rows_without_times_or_keys_are_refused(offline):
    repo, port = offline
    command = {"api": "get_historical_features", "feature_refs": ["driver_hourly_stats:conv_rate"]}
    name, message = feast_error(lambda: exchange(port, command, pa.table({"driver_id": [1001]})))
    assert message == "the entity rows have no timestamp column"
    rows = pa.table({"event_timestamp": pa.array([0], pa.timestamp("us", "UTC"))})
    name, message = feast_error(lambda: exchange(port, command, rows))
    assert "driver_id" in message, message


def test_tokens_and_scopes(offline):
    repo, port = offline
    for token in ("", "wrong"):
        name, message = feast_error(lambda: exchange(port, PULL, token=token))
        assert name == "FeastPermissionError" and "API token" in message
    source = repo / "data" / "driver_stats.parquet"
    before = source.read_bytes()
    rows = pq.read_table(source).slice(0, 1)
    flight, options = client(port, READER)
    descriptor = fl.FlightDescriptor.for_command(json.dumps(
        {"api": "offline_write_batch", "feature_view_names": ["driver_hourly_stats"]}))

    def put():
        writer, _ = flight.do_put(descriptor, rows.schema, options)
        writer.write_table(rows)
        writer.close()
    name, message = feast_error(put)
    assert name == "FeastPermissionError" and "lacks the scope" in message
    assert source.read_bytes() == before  # nothing written


def test_a_refused_upload_is_read_to_its_end_before_the_error(offline):
    """Feast's client writes all its entity rows, then reads; only the read maps an error to a Feast
    exception. The server can refuse a wrong token from the call's headers alone, but it still
    takes the upload, so a client slower to write than the server is to answer (CI was) gets its
    refusal with the read, not as a bare Flight error from the write."""
    repo, port = offline
    flight, options = client(port, "wrong")
    descriptor = fl.FlightDescriptor.for_command(json.dumps(
        {"api": "get_historical_features", "feature_refs": ["driver_hourly_stats:conv_rate"]}))
    for size in (1, 500_000):  # one row, and 8 MB: past gRPC's flow-control window
        rows = pa.table({"driver_id": pa.array(range(size), pa.int64()),
                         "event_timestamp": pa.array([0] * size, pa.timestamp("us", "UTC"))})
        writer, reader = flight.do_exchange(descriptor, options)
        time.sleep(0.5)  # the server has long decided
        writer.begin(rows.schema)
        writer.write_table(rows)
        writer.done_writing()
        name, message = feast_error(reader.read_all)
        assert name == "FeastPermissionError" and "API token" in message


def test_a_write_with_a_bad_row_writes_nothing(offline):
    repo, port = offline
    source = repo / "data" / "driver_stats.parquet"
    before = source.read_bytes()
    rows = pq.read_table(source).slice(0, 2)
    ids = rows.column("driver_id").to_pylist()
    rows = rows.set_column(rows.schema.get_field_index("driver_id"), "driver_id",
                           pa.array([ids[0], None], pa.int64()))
    flight, options = client(port)
    descriptor = fl.FlightDescriptor.for_command(json.dumps(
        {"api": "offline_write_batch", "feature_view_names": ["driver_hourly_stats"]}))

    def put():
        writer, _ = flight.do_put(descriptor, rows.schema, options)
        writer.write_table(rows)
        writer.close()
    name, message = feast_error(put)
    assert "driver_id" in message, message
    assert source.read_bytes() == before
