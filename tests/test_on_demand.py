"""On-demand feature views (issue 14): the same values from `get-online-features`, the HTTP
server and `get-historical-features`; request values with the entities; bad requests as 400s."""
import csv
import json
from datetime import datetime, timezone

import pyarrow.parquet as pq
import pytest

from test_online import HOUR, NOW, iso, write_repo
from test_server import Server

ON_DEMAND = """
sources:
  - name: req
    type: request
    schema:
      - {name: bonus, dtype: Float64}
      - {name: flag, dtype: Bool}
      - {name: label, dtype: String}
on_demand_feature_views:
  - name: derived
    sources: [stats, req]
    schema:
      - {name: rate_plus, dtype: Float64}
      - {name: per_bonus, dtype: Float64}
      - {name: doubled, dtype: Int64}
      - {name: tag, dtype: String}
      - {name: small, dtype: Bool}
      - {name: age, dtype: Float64}
    expressions:
      rate_plus: rate + bonus
      per_bonus: trips / bonus
      doubled: if(flag, trips * 2, trips)
      tag: note || '-' || label
      small: rate < 1
      age: now() - stats.event_timestamp
  - name: stored
    sources: [stats]
    write_to_online_store: true
    schema: [{name: trips_x10, dtype: Int64}, {name: shout, dtype: String}]
    expressions: {trips_x10: trips * 10, shout: "note || '!'"}
feature_services:
  - {name: with_derived, features: [derived, {stats: [trips]}]}
"""

# Request rows: driver 1 (fresh row), 2**40 (older than the ttl), 3 (rate null), 99 (no row);
# a zero bonus divides to null, a null label gives a null tag.
DRIVERS = [1, 2**40, 3, 99, 1]
BONUS = [1.5, 2.0, 0.0, 1.0, None]
FLAG = [True, False, True, None, False]
LABEL = ["a", "b", None, "d", "e"]
FEATURES = ["derived:rate_plus", "derived:per_bonus", "derived:doubled", "derived:tag",
            "derived:small"]


@pytest.fixture
def repo(tmp_path, cli):
    write_repo(tmp_path, "rocksdb")
    (tmp_path / "on_demand.yaml").write_text(ON_DEMAND)
    cli("apply")
    cli("materialize", iso(NOW - 60 * HOUR), iso(NOW))
    return tmp_path


def request(features=FEATURES, **extra):
    entities = {"driver_id": DRIVERS, "bonus": BONUS, "flag": FLAG, "label": LABEL}
    return {"features": features, "entities": entities, **extra}


def columns(answer):
    names = answer["metadata"]["feature_names"]
    return {name: result for name, result in zip(names, answer["results"])}


def online(cli, body):
    args = ["get-online-features", "--entities", json.dumps(body["entities"])]
    if "feature_service" in body:
        args += ["--feature-service", body["feature_service"]]
    else:
        args += ["--features", ",".join(body["features"])]
    if body.get("full_feature_names"):
        args.append("--full-feature-names")
    return json.loads(cli(*args).stdout)


def test_online_values_statuses_and_the_server_agrees_with_the_cli(repo, cli):
    answer = online(cli, request())
    got = columns(answer)
    # Stored inputs: driver 1's newest row has rate 1.111 (Float32), trips 3, note "new".
    rate = float(pq.read_table(repo / "data" / "stats.parquet").column("rate")[2].as_py())
    assert got["rate_plus"]["values"] == [rate + 1.5, None, None, None, None]
    assert got["rate_plus"]["statuses"] == ["PRESENT", "NULL_VALUE", "NULL_VALUE", "NULL_VALUE",
                                            "NULL_VALUE"]
    assert got["per_bonus"]["values"] == [2.0, None, None, None, None]
    assert got["doubled"]["values"] == [6, None, 10, None, 3]
    assert got["tag"]["values"] == ["new-a", None, None, None, "new-e"]
    assert got["small"]["values"] == [False, None, None, None, False]
    # Request values are not echoed (as in Feast's answers); the join key is.
    assert answer["metadata"]["feature_names"] == ["driver_id"] + [f.split(":")[1] for f in FEATURES]
    assert got["driver_id"]["values"] == DRIVERS
    # The event time of an on-demand value is the newest source row it read.
    assert got["doubled"]["event_timestamps"][0] == iso(NOW - 2 * HOUR).replace("+00:00", "Z")
    assert got["doubled"]["event_timestamps"][3] == "1970-01-01T00:00:00Z"

    server = Server(repo)
    try:
        status, body = server.request("POST", "/get-online-features", request())
        assert status == 200
        assert json.loads(body) == answer
        # A feature service naming the on-demand view, with full names.
        status, body = server.post("/get-online-features", {
            "feature_service": "with_derived", "full_feature_names": True,
            "entities": request()["entities"]})
        assert status == 200, body
        names = body["metadata"]["feature_names"]
        assert names[1:] == ["derived__rate_plus", "derived__per_bonus", "derived__doubled",
                             "derived__tag", "derived__small", "derived__age", "stats__trips"]
        # A missing request value or one of the wrong type is a 400 naming it.
        entities = {"driver_id": [1], "flag": [True], "label": ["x"]}
        status, body = server.post("/get-online-features",
                                   {"features": FEATURES, "entities": entities})
        assert status == 400 and "needs the request value 'bonus'" in body["detail"], body
        entities["bonus"] = ["1.5"]
        status, body = server.post("/get-online-features",
                                   {"features": FEATURES, "entities": entities})
        assert status == 400 and "entities.bonus[0]" in body["detail"], body
        # Only the request values the requested features read are needed.
        status, body = server.post("/get-online-features", {
            "features": ["derived:small", "stats:trips"], "entities": {"driver_id": [1]}})
        assert status == 200 and columns(body)["small"]["values"] == [False], body
        assert server.get("/health")[0] == 200
    finally:
        server.stop()


def test_training_data_has_the_online_values(repo, cli, tmp_path):
    """Offline values equal online values for the same inputs: entity rows at NOW read the rows
    materialized up to NOW; now() is each entity row's time."""
    entities = tmp_path / "entities.csv"
    with entities.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["driver_id", "event_timestamp", "bonus", "flag", "label"])
        for row in zip(DRIVERS, BONUS, FLAG, LABEL):
            writer.writerow([row[0], iso(NOW), "" if row[1] is None else row[1],
                             "" if row[2] is None else str(row[2]).lower(),
                             "" if row[3] is None else row[3]])
    out = tmp_path / "training.parquet"
    cli("get-historical-features", "--entities", entities, "--features",
        ",".join(FEATURES + ["derived:age"]), "--output", out)
    offline = pq.read_table(out).to_pydict()
    got = columns(online(cli, request(FEATURES + ["derived:age"])))
    for feature in [f.split(":")[1] for f in FEATURES]:
        assert offline[feature] == got[feature]["values"], feature
    assert offline["age"][0] == 2 * 3600.0  # NOW - the row's event time, exactly
    seconds_since_now = (datetime.now(timezone.utc) - NOW).total_seconds()
    assert 2 * 3600.0 <= got["age"]["values"][0] <= 2 * 3600.0 + seconds_since_now + 1
    # Without the request column, an error naming it.
    (tmp_path / "no_bonus.csv").write_text(f"driver_id,event_timestamp\n1,{iso(NOW)}\n")
    err = cli("get-historical-features", "--entities", tmp_path / "no_bonus.csv", "--features",
              "derived:rate_plus", "--output", out, ok=False).stderr
    assert "needs the request value 'bonus'" in err and "add a column 'bonus'" in err


def test_write_to_online_store_views_are_computed_when_their_source_is_written(repo, cli):
    """write_to_online_store: the values are computed as the source's rows are materialized or
    written, stored like features, and read without computing."""
    def read(*drivers):
        body = {"features": ["stored:trips_x10", "stored:shout"], "entities": {"driver_id": list(drivers)}}
        return columns(online(cli, body))

    got = read(1, 3, 99)
    assert got["trips_x10"]["values"] == [30, 50, None]
    assert got["shout"]["values"] == ["new!", "q!", None]
    assert got["trips_x10"]["statuses"] == ["PRESENT", "PRESENT", "NOT_FOUND"]
    assert got["trips_x10"]["event_timestamps"][0] == iso(NOW - 2 * HOUR)
    assert len(cli("online-dump", "--view", "stored").stdout.splitlines()) >= 2
    server = Server(repo)
    try:
        # Writing the source writes the stored values; writing the view takes its source's rows
        # and stores only its values.
        row = {"driver_id": [5], "ts": [iso(NOW - HOUR)], "rate": [0.5], "trips": [7],
               "tags": [None], "note": ["w"]}
        assert server.post("/write-to-online-store", {"feature_view_name": "stats", "df": row})[0] == 200
        row = dict(row, driver_id=[6], trips=[8])
        status, body = server.post("/write-to-online-store", {"feature_view_name": "stored", "df": row})
        assert status == 200 and body["written"] == 1, body
        status, body = server.post("/get-online-features", {
            "features": ["stored:trips_x10", "stats:trips"], "entities": {"driver_id": [5, 6]}})
        assert columns(body)["trips_x10"]["values"] == [70, 80]
        assert columns(body)["trips"]["statuses"] == ["PRESENT", "NOT_FOUND"]
    finally:
        server.stop()
    # Changing how it computes drops what was stored; materializing computes it again.
    (repo / "on_demand.yaml").write_text(ON_DEMAND.replace("trips * 10", "trips * 100"))
    assert "dropped the stored values of stored" in cli("apply").stdout
    assert read(1)["trips_x10"]["statuses"] == ["NOT_FOUND"]
    cli("materialize", iso(NOW - 60 * HOUR), iso(NOW))
    assert read(1)["trips_x10"]["values"] == [300]
    # What cannot be computed at write time is refused at apply.
    (repo / "on_demand.yaml").write_text(ON_DEMAND.replace(
        "    sources: [stats]\n    write_to_online_store", "    sources: [stats, req]\n    write_to_online_store"))
    assert "write_to_online_store needs mode expression and one source" in cli("apply", ok=False).stderr
