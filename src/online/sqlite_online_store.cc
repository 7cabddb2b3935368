#include "sqlite_online_store.h"

#include <sqlite3.h>

#include <filesystem>

namespace headwater::online {
namespace {

namespace fs = std::filesystem;

// A prepared statement, finalized when it goes out of scope.
class Statement {
 public:
  Statement(sqlite3* db, const char* sql) {
    status_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr);
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  bool ok() const { return status_ == SQLITE_OK; }
  sqlite3_stmt* get() const { return stmt_; }
  void BindText(int index, std::string_view text) {
    sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_STATIC);
  }
  void BindBlob(int index, std::string_view bytes) {
    // A zero-length blob, not NULL, for an empty value.
    sqlite3_bind_blob(stmt_, index, bytes.empty() ? "" : bytes.data(),
                      static_cast<int>(bytes.size()), SQLITE_STATIC);
  }
  std::string_view Blob(int column) const {
    const void* data = sqlite3_column_blob(stmt_, column);
    return {static_cast<const char*>(data),
            static_cast<size_t>(sqlite3_column_bytes(stmt_, column))};
  }

 private:
  sqlite3_stmt* stmt_ = nullptr;
  int status_ = SQLITE_ERROR;
};

Status FromSqlite(sqlite3* db, const std::string& what) {
  return Status::IOError("online store (SQLite) ", what, ": ",
                         db != nullptr ? sqlite3_errmsg(db) : "out of memory");
}

// Values are compared as blobs (memcmp, then length): the byte order the greatest-value rule
// of online_store.h is stated in.
constexpr const char* kSchema =
    "CREATE TABLE IF NOT EXISTS headwater_online ("
    " view TEXT NOT NULL, key BLOB NOT NULL, value BLOB NOT NULL,"
    " PRIMARY KEY (view, key)) WITHOUT ROWID";

constexpr const char* kUpsert =
    "INSERT INTO headwater_online (view, key, value) VALUES (?1, ?2, ?3) "
    "ON CONFLICT (view, key) DO UPDATE SET value = excluded.value "
    "WHERE excluded.value > headwater_online.value";

}  // namespace

Result<std::unique_ptr<SqliteOnlineStore>> SqliteOnlineStore::Open(const std::string& path,
                                                                   OpenMode mode) {
  std::unique_ptr<SqliteOnlineStore> store(new SqliteOnlineStore());
  store->path_ = path;
  store->mode_ = mode;
  if (mode == OpenMode::kReadWrite) {
    std::error_code error;
    fs::create_directories(fs::path(path).parent_path(), error);
  }
  ARROW_RETURN_NOT_OK(store->EnsureOpen());
  return store;
}

Status SqliteOnlineStore::EnsureOpen() {
  if (db_ != nullptr) return Status::OK();
  const bool writable = mode_ == OpenMode::kReadWrite;
  std::error_code error;
  if (!writable && !fs::exists(path_, error)) return Status::OK();  // nothing written yet
  const int flags = (writable ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE : SQLITE_OPEN_READONLY) |
                    SQLITE_OPEN_NOMUTEX;
  if (sqlite3_open_v2(path_.c_str(), &db_, flags, nullptr) != SQLITE_OK) {
    Status status = FromSqlite(db_, "open " + path_);
    Close();
    return status;
  }
  // Another process writing waits for its turn rather than failing at once.
  sqlite3_busy_timeout(db_, 30000);
  if (writable) {
    Status status = Exec("PRAGMA journal_mode = WAL", "open " + path_);
    if (status.ok()) status = Exec("PRAGMA synchronous = FULL", "open " + path_);
    if (status.ok()) status = Exec(kSchema, "open " + path_);
    if (!status.ok()) {
      Close();
      return status;
    }
  }
  return Status::OK();
}

SqliteOnlineStore::~SqliteOnlineStore() { Close(); }

void SqliteOnlineStore::Close() {
  if (db_ != nullptr) sqlite3_close_v2(db_);
  db_ = nullptr;
}

Status SqliteOnlineStore::Exec(const char* sql, const std::string& what) {
  char* message = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &message) == SQLITE_OK) return Status::OK();
  Status status = Status::IOError("online store (SQLite) ", what, ": ",
                                  message != nullptr ? message : sqlite3_errmsg(db_));
  sqlite3_free(message);
  return status;
}

Status SqliteOnlineStore::CreateViews(const std::vector<std::string>&) {
  return Status::OK();  // every view shares the one table
}

Status SqliteOnlineStore::DropViews(const std::vector<std::string>& views) {
  std::lock_guard lock(mutex_);
  if (db_ == nullptr) return Status::OK();
  if (mode_ != OpenMode::kReadWrite) return Status::Invalid("online store opened read-only");
  Statement remove(db_, "DELETE FROM headwater_online WHERE view = ?1");
  if (!remove.ok()) return FromSqlite(db_, "drop views");
  for (const std::string& view : views) {
    remove.BindText(1, view);
    if (sqlite3_step(remove.get()) != SQLITE_DONE) return FromSqlite(db_, "drop view " + view);
    sqlite3_reset(remove.get());
  }
  return Status::OK();
}

Status SqliteOnlineStore::Teardown() {
  std::lock_guard lock(mutex_);
  Close();
  for (const char* suffix : {"", "-wal", "-shm"}) {
    std::error_code error;
    fs::remove(path_ + suffix, error);
    if (error) return Status::IOError("cannot remove ", path_ + suffix, ": ", error.message());
  }
  return Status::OK();
}

Result<WriteResult> SqliteOnlineStore::Write(const std::string& view, const ByteRows& keys,
                                             const ByteRows& values) {
  std::lock_guard lock(mutex_);
  if (mode_ != OpenMode::kReadWrite) return Status::Invalid("online store opened read-only");
  ARROW_RETURN_NOT_OK(EnsureOpen());
  ARROW_RETURN_NOT_OK(Exec("BEGIN IMMEDIATE", "write " + view));
  WriteResult result;
  auto write = [&]() -> Status {
    Statement upsert(db_, kUpsert);
    if (!upsert.ok()) return FromSqlite(db_, "write " + view);
    auto put = [&](std::string_view key, std::string_view value) -> Result<bool> {
      upsert.BindText(1, view);
      upsert.BindBlob(2, key);
      upsert.BindBlob(3, value);
      if (sqlite3_step(upsert.get()) != SQLITE_DONE) return FromSqlite(db_, "write " + view);
      sqlite3_reset(upsert.get());
      return sqlite3_changes(db_) > 0;
    };
    for (size_t k = 0; k < keys.size(); ++k) {
      ARROW_ASSIGN_OR_RAISE(bool changed, put(keys[k], values[k]));
      ++(changed ? result.written : result.skipped_older);
    }
    const std::string newest = NewestEventTimeValue(values);
    if (!newest.empty()) ARROW_RETURN_NOT_OK(put(kNewestEventTimeKey, newest).status());
    return Status::OK();
  };
  Status status = write();
  if (!status.ok()) {
    (void)Exec("ROLLBACK", "write " + view);
    return status;
  }
  ARROW_RETURN_NOT_OK(Exec("COMMIT", "write " + view));
  return result;
}

Status SqliteOnlineStore::Read(const std::vector<ReadKey>& keys, std::vector<std::string>* values,
                               std::vector<uint8_t>* found) {
  values->assign(keys.size(), std::string());
  found->assign(keys.size(), 0);
  std::lock_guard lock(mutex_);
  ARROW_RETURN_NOT_OK(EnsureOpen());
  if (db_ == nullptr) return Status::OK();
  Statement select(db_, "SELECT value FROM headwater_online WHERE view = ?1 AND key = ?2");
  if (!select.ok()) return FromSqlite(db_, "read");
  for (size_t i = 0; i < keys.size(); ++i) {
    if (keys[i].key.empty()) continue;
    select.BindText(1, keys[i].view);
    select.BindBlob(2, keys[i].key);
    const int step = sqlite3_step(select.get());
    if (step == SQLITE_ROW) {
      (*values)[i] = std::string(select.Blob(0));
      (*found)[i] = 1;
    } else if (step != SQLITE_DONE) {
      return FromSqlite(db_, "read");
    }
    sqlite3_reset(select.get());
  }
  return Status::OK();
}

Status SqliteOnlineStore::Scan(
    const std::string& view, const std::function<void(std::string_view, std::string_view)>& visit) {
  std::lock_guard lock(mutex_);
  ARROW_RETURN_NOT_OK(EnsureOpen());
  if (db_ == nullptr) return Status::OK();
  Statement scan(db_, "SELECT key, value FROM headwater_online WHERE view = ?1 ORDER BY key");
  if (!scan.ok()) return FromSqlite(db_, "scan " + view);
  scan.BindText(1, view);
  int step;
  while ((step = sqlite3_step(scan.get())) == SQLITE_ROW) {
    if (scan.Blob(0) == kNewestEventTimeKey) continue;
    visit(scan.Blob(0), scan.Blob(1));
  }
  if (step != SQLITE_DONE) return FromSqlite(db_, "scan " + view);
  return Status::OK();
}

}  // namespace headwater::online
