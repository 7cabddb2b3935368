#pragma once
// A stream feature view's window operator with the conversions around it: event batches (the
// columns of the view's event source, as in its batch source) in; finalised rows out, encoded
// for the online store and as an Arrow table for the view's offline dataset. Backfill
// (`headwater materialize`) and live streams both run through this class.

#include <arrow/type_fwd.h>

#include <memory>
#include <string>
#include <vector>

#include "headwater/core/entity_key.h"
#include "headwater/engine/window_aggregator.h"
#include "headwater/registry/definitions.h"

namespace headwater::ingest {

/// A tile message (what a Flink job of flink/flink_sql.h writes; one key's tiles of one pane):
/// the view's join-key columns (named as in the event source), `event_time` (epoch
/// milliseconds: the pane's greatest event time) and per aggregated column C the fields
/// `C__n`, `C__sum_bits`, `C__min_bits`, `C__max_bits`, `C__mean_bits`, `C__m2_bits`,
/// `C__last_time` (µs), `C__last_sequence`, `C__last_bits` of engine::Tile, doubles as their
/// IEEE-754 bits so that no text round trip can change them.
inline constexpr const char* kTileTimeColumn = "event_time";
inline constexpr const char* kTileFields[] = {"n",         "sum_bits",      "min_bits",
                                              "max_bits",  "mean_bits",     "m2_bits",
                                              "last_time", "last_sequence", "last_bits"};

/// The tile topic also carries the job's rejects: a message it refused or found late, as
/// `{"headwater_reject": reason, "headwater_partition", "headwater_offset": where in the
/// source topic, "headwater_payload": the message, base64}` — members in that order (Flink's
/// JSON writer keeps the declared order), so this prefix tells them from tiles.
inline constexpr std::string_view kRejectPrefix = R"({"headwater_reject":)";

/// The Kafka topic of a view's tiles: headwater-<project>-<view>-tiles.
inline std::string TileTopic(std::string_view project, std::string_view view) {
  return "headwater-" + std::string(project) + "-" + std::string(view) + "-tiles";
}

/// Rows finalised by one call, in both forms.
struct WindowOutput {
  ByteRows keys;    // encoded entity keys, for the online store
  ByteRows values;  // encoded feature rows (online/feature_row_codec.h)
  /// Join keys, event_timestamp (UTC microseconds), then the features: the offline rows (null
  /// until WindowJob::BuildTable when Finalize was asked not to build it).
  std::shared_ptr<arrow::Table> table;
  int64_t rows() const { return static_cast<int64_t>(keys.size()); }

  // What BuildTable needs besides the keys.
  std::shared_ptr<arrow::Array> ends;
  std::vector<std::shared_ptr<arrow::Array>> features;
};

class WindowJob {
 public:
  static Result<WindowJob> Make(const registry::Definitions& definitions,
                                const registry::FeatureView& view);

  const std::string& view_name() const { return view_name_; }
  /// The event-source columns read: join keys, the timestamp field, aggregated columns.
  const std::vector<std::string>& input_columns() const { return input_columns_; }
  /// The join-key columns of the event source, in entity order.
  const std::vector<std::string>& key_columns() const { return key_columns_; }
  /// The event time column (of the event source).
  const std::string& time_column() const { return time_column_; }
  /// The schema of WindowOutput::table.
  const std::shared_ptr<arrow::Schema>& output_schema() const { return output_schema_; }

  /// Checks, before anything is logged or consumed, that `events` has input_columns() with
  /// every key and time set and the times readable.
  Status Check(const arrow::RecordBatch& events) const;

  /// Folds events in. `events` must have input_columns() without null keys or times
  /// (Invalid otherwise). Rows judged late are appended to `late` (indices into `events`).
  Status Consume(const arrow::RecordBatch& events, std::vector<int64_t>* late);
  /// Folds in tiles computed by Flink (flink/flink_sql.h: the key columns, the pane's greatest
  /// event time, and per aggregated column its tile fields). Rows whose pane was already final
  /// are appended to `late`.
  Status ConsumeTiles(const arrow::RecordBatch& tiles, std::vector<int64_t>* late);
  /// The columns of a tile message, as the Kafka reader decodes them: key columns typed as in
  /// `event_schema`, the event time, the tile fields as int64.
  Result<std::shared_ptr<arrow::Schema>> TileSchema(const arrow::Schema& event_schema) const;

  /// The greatest event time of the batch last consumed (INT64_MIN when it was empty): what that
  /// batch tells its partition's watermark.
  int64_t batch_max_time() const { return batch_max_time_; }

  /// Finalises rows up to `until` (see WindowAggregator::FinalizeUntil). Without `with_table`,
  /// only what the online store takes is made; BuildTable makes the offline rows after (a
  /// pipeline publishes rows online first: decoding 10,000 keys into Arrow columns can wait).
  Result<WindowOutput> Finalize(int64_t until, bool with_table = true);
  /// Fills `out->table` from what Finalize kept.
  Status BuildTable(WindowOutput* out) const;

  engine::WindowAggregator& op() { return op_; }
  const engine::WindowAggregator& op() const { return op_; }

 private:
  WindowJob(engine::WindowAggregator op) : op_(std::move(op)) {}

  std::string view_name_;
  std::vector<std::string> key_columns_;    // event-source columns, in entity order
  std::vector<ScalarKind> key_kinds_;       // the entities' value types
  std::vector<std::string> value_columns_;  // distinct aggregated columns
  std::string time_column_;
  std::vector<std::string> input_columns_;
  std::vector<registry::Field> features_;
  std::shared_ptr<arrow::Schema> output_schema_;
  engine::WindowAggregator op_;
  int64_t batch_max_time_ = INT64_MIN;
};

}  // namespace headwater::ingest
