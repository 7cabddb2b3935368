# Writes data/driver_stats/driver_stats.parquet: hourly statistics of drivers 1001-1005 over
# the 15 days up to now, like the file `feast init` generates for its quickstart.
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd


def driver_stats(end: datetime, days: int = 15) -> pd.DataFrame:
    end = end.replace(minute=0, second=0, microsecond=0)
    hours = pd.date_range(end - timedelta(days=days), end, freq="1h", inclusive="left")
    rng = np.random.default_rng(42)
    frames = []
    for driver_id in range(1001, 1006):
        frames.append(pd.DataFrame({
            "event_timestamp": hours,
            "driver_id": np.int64(driver_id),
            "conv_rate": rng.random(len(hours)).astype(np.float32),
            "acc_rate": rng.random(len(hours)).astype(np.float32),
            "avg_daily_trips": rng.integers(0, 1000, len(hours)).astype(np.int64),
        }))
    df = pd.concat(frames, ignore_index=True)
    df["created"] = df["event_timestamp"] + timedelta(minutes=1)
    return df


if __name__ == "__main__":
    out = Path(__file__).parent / "data" / "driver_stats"
    out.mkdir(parents=True, exist_ok=True)
    driver_stats(datetime.now(timezone.utc)).to_parquet(out / "driver_stats.parquet", index=False)
    print(f"wrote {out / 'driver_stats.parquet'}")
