package dev.headwater.flink;

import org.apache.flink.table.annotation.DataTypeHint;
import org.apache.flink.table.annotation.FunctionHint;
import org.apache.flink.table.functions.AggregateFunction;
import org.apache.flink.types.Row;

/**
 * headwater_tile(value, event_time_us, sequence): the mergeable partial state of one pane of a
 * stream feature view's input column, exactly as Headwater's engine folds events into a Tile
 * (src/engine/window_aggregation.cc, Tile::Add) — the same operations in the same order, so the
 * doubles are the same bits. Null values are not counted. Doubles leave as their IEEE-754 bits
 * (BIGINT) so that no text round trip can change them.
 *
 * No merge(): the planner must run it in one phase, in arrival order, as the embedded engine
 * does.
 */
@FunctionHint(
    output =
        @DataTypeHint(
            "ROW<n BIGINT, sum_bits BIGINT, min_bits BIGINT, max_bits BIGINT, mean_bits BIGINT,"
                + " m2_bits BIGINT, last_time BIGINT, last_sequence BIGINT, last_bits BIGINT>"))
public class Tile extends AggregateFunction<Row, Tile.State> {

  /** Tile's fields; public for Flink's POJO serializer. */
  public static class State {
    public long count = 0;
    public double sum = 0;
    public double min = 0;
    public double max = 0;
    public double mean = 0;
    public double m2 = 0;
    public long lastTime = Long.MIN_VALUE;
    public long lastSequence = Long.MIN_VALUE;
    public double last = 0;
  }

  @Override
  public State createAccumulator() {
    return new State();
  }

  public void accumulate(State s, Double value, Long eventTime, Long sequence) {
    if (value == null || eventTime == null || sequence == null) return;
    final double v = value;
    if (s.count == 0) {
      s.min = v;
      s.max = v;
    } else {
      s.min = Math.min(s.min, v);
      s.max = Math.max(s.max, v);
    }
    ++s.count;
    s.sum += v;
    final double delta = v - s.mean;
    s.mean += delta / (double) s.count;
    s.m2 += delta * (v - s.mean);
    if (eventTime > s.lastTime || (eventTime == s.lastTime && sequence > s.lastSequence)) {
      s.lastTime = eventTime;
      s.lastSequence = sequence;
      s.last = v;
    }
  }

  @Override
  public Row getValue(State s) {
    return Row.of(
        s.count,
        Double.doubleToRawLongBits(s.sum),
        Double.doubleToRawLongBits(s.min),
        Double.doubleToRawLongBits(s.max),
        Double.doubleToRawLongBits(s.mean),
        Double.doubleToRawLongBits(s.m2),
        s.lastTime,
        s.lastSequence,
        Double.doubleToRawLongBits(s.last));
  }
}
