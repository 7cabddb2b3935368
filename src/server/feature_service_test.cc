// Request routing and error mapping of the feature server, in process (no HTTP transport).
#include "headwater/server/feature_service.h"

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "headwater/registry/repo_config.h"
#include "store/driver_repository.h"

namespace headwater::server {
namespace {

class FeatureServiceTest : public store::DriverRepositoryTest {
 protected:
  // Applies the definitions, then serves the repository (the online store's one writer).
  std::unique_ptr<FeatureService> Serve(ErrorBody error_body = ErrorBody::kHeadwater) {
    {
      auto store = OpenStore();
      ApplyDefinitions(*store);
    }
    auto config = registry::LoadRepoConfig(repo_);
    EXPECT_TRUE(config.ok()) << config.status().message();
    auto service = FeatureService::Make(*config, clock_, error_body);
    EXPECT_TRUE(service.ok()) << service.status().message();
    return service.ok() ? std::move(*service) : nullptr;
  }

  // Auth on, with the tokens "reader-token" (read_online) and "writer-token" (write_online).
  void WriteAuth() {
    std::ofstream(repo_ / "feature_store.yaml")
        << "project: drivers\n"
           "auth:\n"
           "  tokens:\n"
           "    - {name: reader, sha256: "
           "ba5005a40cf5212e4ac0190104cc127edab013294bb71279a975b27a80982d45, scopes: "
           "[read_online]}\n"
           "    - {name: writer, sha256: "
           "3590c0a59f72ce02700194a05f228a725c1f135a6dcb3ded9b2d86ab6a6f52cb, scopes: "
           "[write_online]}\n";
  }

  static HttpResponse Post(FeatureService& service, std::string_view path, std::string_view body,
                           std::string_view authorization = {}) {
    return service.Handle({"POST", path, body, authorization});
  }
};

constexpr std::string_view kRead =
    R"({"features": ["driver_stats:conv_rate"], "entities": {"driver_id": [1001, 7]}})";

TEST_F(FeatureServiceTest, RoutesByPathAndMethod) {
  auto service = Serve();
  auto missing = service->Handle({"GET", "/nope", "", ""});
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.body, R"({"error":"not found","detail":"no endpoint /nope"})");
  auto method = service->Handle({"GET", "/get-online-features", "", ""});
  EXPECT_EQ(method.status, 405);
  EXPECT_EQ(method.body,
            R"({"error":"method not allowed","detail":"use POST /get-online-features"})");
  auto health = service->Handle({"GET", "/health?verbose=1", "", ""});
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.body, R"({"status":"ok","registry_version":1})");
  EXPECT_EQ(service->Handle({"GET", "/metrics", "", ""}).status, 200);
}

TEST_F(FeatureServiceTest, MapsErrorsToStatusCodes) {
  auto service = Serve();
  struct Case {
    std::string_view body;
    int status;
    std::string_view detail;  // a part of it
  };
  const Case cases[] = {
      {"{", 400, "the body"},
      {"[1]", 400, "the body must be a JSON object"},
      {R"({"entities": {"driver_id": [1]}})", 400, "give either"},
      {R"({"features": ["driver_stats:conv_rate"], "feature_service": "s",
           "entities": {"driver_id": [1]}})",
       400, "give either"},
      {R"({"features": ["nope:x"], "entities": {"driver_id": [1]}})", 404,
       "unknown feature view 'nope'"},
      {R"({"features": ["driver_stats:nope"], "entities": {"driver_id": [1]}})", 404,
       "has no feature 'nope'"},
      {R"({"feature_service": "nope", "entities": {"driver_id": [1]}})", 404,
       "unknown feature service 'nope'"},
      {R"({"features": ["driver_stats:conv_rate"], "entities": {"driver_id": ["7"]}})", 400,
       R"(entities.driver_id[0]: expected an integer, got the string \"7\")"},
      {R"({"features": ["driver_stats:conv_rate"], "entities": {"rider": [1]}})", 400,
       "entities lack join key 'driver_id'"},
      {R"({"features": ["driver_stats:conv_rate"]})", 400, R"(missing \"entities\")"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.body);
    auto response = Post(*service, "/get-online-features", c.body);
    EXPECT_EQ(response.status, c.status);
    EXPECT_NE(response.body.find(c.detail), std::string::npos) << response.body;
    EXPECT_EQ(response.body.rfind(
                  c.status == 404 ? R"({"error":"not found")" : R"({"error":"invalid request")", 0),
              0u)
        << response.body;
  }
  auto push = Post(*service, "/push", R"({"push_source_name": "nope", "df": {}})");
  EXPECT_EQ(push.status, 404);
  // An end in the future is clamped to now, and the answer says what was asked.
  auto future = Post(*service, "/materialize-incremental", R"({"end_ts": "2030-01-01T00:00:00"})");
  EXPECT_EQ(future.status, 200) << future.body;
  EXPECT_NE(future.body.find(R"("requested_end":"2030-01-01T00:00:00Z")"), std::string::npos)
      << future.body;
}

// Feast's remote clients read an error as a JSON string holding {module, class, message} and
// raise that class; the class follows what was not found.
TEST_F(FeatureServiceTest, FeastErrorBodiesNameFeastsExceptionClasses) {
  auto service = Serve(ErrorBody::kFeast);
  struct Case {
    std::string_view path;
    std::string_view body;
    int status;
    std::string_view expected;
  };
  const Case cases[] = {
      {"/get-online-features", R"({"features": ["nope:x"], "entities": {"driver_id": [1]}})", 404,
       R"("{\"module\":\"feast.errors\",\"class\":\"FeatureViewNotFoundException\",)"
       R"(\"message\":\"feature reference 'nope:x': unknown feature view 'nope'\"}")"},
      {"/get-online-features", R"({"feature_service": "nope", "entities": {"driver_id": [1]}})",
       404,
       R"("{\"module\":\"feast.errors\",\"class\":\"FeatureServiceNotFoundException\",)"
       R"(\"message\":\"unknown feature service 'nope'\"}")"},
      {"/get-online-features",
       R"({"features": ["driver_stats:nope"], "entities": {"driver_id": [1]}})", 404,
       R"("{\"module\":\"feast.errors\",\"class\":\"FeastObjectNotFoundException\",)"
       R"(\"message\":\"feature reference 'driver_stats:nope': feature view 'driver_stats' )"
       R"(has no feature 'nope'\"}")"},
      {"/push", R"({"push_source_name": "nope", "df": {}})", 404,
       R"("{\"module\":\"feast.errors\",\"class\":\"PushSourceNotFoundException\",)"
       R"(\"message\":\"unknown push source 'nope'\"}")"},
      {"/write-to-online-store", R"({"feature_view_name": "nope", "df": {}})", 404,
       R"("{\"module\":\"feast.errors\",\"class\":\"FeatureViewNotFoundException\",)"
       R"(\"message\":\"unknown feature view 'nope'\"}")"},
      {"/get-online-features", "[1]", 400,
       R"("{\"module\":\"feast.errors\",\"class\":\"FeastError\",)"
       R"(\"message\":\"the body must be a JSON object\"}")"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.body);
    auto response = Post(*service, c.path, c.body);
    EXPECT_EQ(response.status, c.status);
    EXPECT_EQ(response.body, c.expected);
  }
}

TEST_F(FeatureServiceTest, MaterializedValuesAreServedInFeastsShape) {
  auto service = Serve();
  auto materialized =
      Post(*service, "/materialize",
           R"({"start_ts": "2026-03-02T00:00:00", "end_ts": "2026-03-02T02:00:00"})");
  ASSERT_EQ(materialized.status, 200) << materialized.body;
  auto read = Post(*service, "/get-online-features", kRead);
  ASSERT_EQ(read.status, 200) << read.body;
  EXPECT_EQ(read.body, R"({"metadata":{"feature_names":["driver_id","conv_rate"]},"results":[)"
                       R"({"values":[1001,7],"statuses":["PRESENT","PRESENT"],)"
                       R"("event_timestamps":["1970-01-01T00:00:00Z","1970-01-01T00:00:00Z"]},)"
                       R"({"values":[1001.01,null],"statuses":["PRESENT","NOT_FOUND"],)"
                       R"("event_timestamps":["2026-03-02T01:00:00Z","1970-01-01T00:00:00Z"]}]})");
}

TEST_F(FeatureServiceTest, TokensAreCheckedBeforeTheBodyWithTheirScopes) {
  WriteAuth();
  auto service = Serve();
  EXPECT_EQ(Post(*service, "/get-online-features", "{").status, 401);
  EXPECT_EQ(Post(*service, "/get-online-features", "{", "Bearer wrong").status, 401);
  EXPECT_EQ(Post(*service, "/get-online-features", kRead, "Bearer reader-token").status, 200);
  EXPECT_EQ(Post(*service, "/get-online-features", kRead, "Bearer writer-token").status, 403);
  // A reader cannot push, whether or not the source exists.
  EXPECT_EQ(
      Post(*service, "/push", R"({"push_source_name": "nope"})", "Bearer reader-token").status,
      403);
  EXPECT_EQ(Post(*service, "/push", R"({"push_source_name": "driver_push"})", "Bearer reader-token")
                .status,
            403);
  // The health check stays open.
  EXPECT_EQ(service->Handle({"GET", "/health", "", ""}).status, 200);
}

TEST_F(FeatureServiceTest, UiApiShowsRegistryLineageFreshnessAndStatistics) {
  auto service = Serve();
  auto get = [&](std::string_view path) { return service->Handle({"GET", path, "", ""}); };
  auto registry = get("/api/registry");
  ASSERT_EQ(registry.status, 200) << registry.body;
  // Each object with the file and line it was defined at; lineage source -> view -> service.
  EXPECT_NE(registry.body.find(R"("location":{"file":)"), std::string::npos) << registry.body;
  EXPECT_NE(registry.body.find("definitions.yaml\",\"line\":"), std::string::npos);
  for (std::string_view edge :
       {R"({"from":"data_source/driver_hourly","to":"data_source/driver_push"})",
        R"({"from":"entity/driver","to":"feature_view/driver_stats"})",
        R"({"from":"data_source/driver_push","to":"feature_view/driver_stats"})",
        R"({"from":"feature_view/driver_stats","to":"feature_service/driver_service"})"}) {
    EXPECT_NE(registry.body.find(edge), std::string::npos) << edge << "\n" << registry.body;
  }

  auto before = get("/api/freshness");
  ASSERT_EQ(before.status, 200) << before.body;
  EXPECT_NE(before.body.find(R"("materializations":0,"last_materialization":null,)"
                             R"("incremental_marker":null)"),
            std::string::npos)
      << before.body;
  ASSERT_EQ(Post(*service, "/materialize",
                 R"({"start_ts": "2026-03-02T00:00:00", "end_ts": "2026-03-02T02:00:00"})")
                .status,
            200);
  ASSERT_TRUE(service->RefreshRegistry().ok());
  auto after = get("/api/freshness");
  EXPECT_NE(after.body.find(R"("last_materialization":{"start":"2026-03-02T00:00:00Z",)"
                            R"("end":"2026-03-02T02:00:00Z","written_at":"2026-03-02T12:00:00Z",)"
                            R"("keys_written":3},"incremental_marker":"2026-03-02T02:00:00Z",)"
                            R"("newest_online_event":"2026-03-02T01:00:00Z","age_seconds":39600)"),
            std::string::npos)
      << after.body;

  auto started =
      Post(*service, "/api/statistics", R"({"feature_view": "driver_stats", "bins": 4})");
  ASSERT_EQ(started.status, 202) << started.body;
  EXPECT_EQ(started.body, R"({"job":"1","done":false,"progress":0})");
  HttpResponse polled;
  for (int i = 0; i < 500; ++i) {
    polled = get("/api/statistics/1");
    if (polled.body.find(R"("done":true)") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  // trips: hours 0..11 for three drivers; bins of width 2.75 over [0, 11].
  EXPECT_NE(polled.body.find(R"({"name":"trips","type":"Int64","count":36,"nulls":0,"min":0,)"
                             R"("max":11,"mean":5.5,"histogram":[9,9,9,9]})"),
            std::string::npos)
      << polled.body;
  EXPECT_NE(polled.body.find(R"("done":true,"progress":1,"result":{"feature_view":"driver_stats")"),
            std::string::npos)
      << polled.body;
  EXPECT_EQ(Post(*service, "/api/statistics", R"({"feature_view": "nope"})").status, 404);
  EXPECT_EQ(Post(*service, "/api/statistics", "{").status, 400);
  EXPECT_EQ(Post(*service, "/api/statistics", R"({"feature_view": 1})").status, 400);
  EXPECT_EQ(
      Post(*service, "/api/statistics", R"({"feature_view": "driver_stats", "bins": 0})").status,
      400);
  EXPECT_EQ(get("/api/statistics/99").status, 404);
  EXPECT_EQ(get("/api/statistics/x1").status, 404);
  EXPECT_EQ(get("/api/statistics/99999999999999999999").status, 404);

  // Live metrics: a sample a second, rates since the previous one.
  clock_.Advance(Duration{1'000'000});
  service->Sample();
  clock_.Advance(Duration{1'000'000});
  service->Sample();
  auto metrics = get("/api/metrics");
  ASSERT_EQ(metrics.status, 200) << metrics.body;
  EXPECT_NE(metrics.body.find(R"("interval_seconds":1,"t":[)"), std::string::npos);
  EXPECT_NE(metrics.body.find(R"("/get-online-features":{"requests_per_second":[0],)"),
            std::string::npos)
      << metrics.body;
  EXPECT_EQ(get("/api/metrics?since=99999999999").body.find(R"("t":[])") != std::string::npos,
            true);
  EXPECT_EQ(get("/api/metrics?since=x").status, 400);

  // The page and its assets, with no token needed; nothing else under /ui.
  auto page = get("/ui");
  EXPECT_EQ(page.status, 200);
  EXPECT_TRUE(page.ui_asset);
  EXPECT_EQ(page.content_type, "text/html; charset=utf-8");
  EXPECT_NE(page.body.find("<script src=\"/ui/app.js\">"), std::string::npos);
  EXPECT_EQ(get("/ui/app.js").content_type, "text/javascript; charset=utf-8");
  EXPECT_EQ(get("/ui/../feature_store.yaml").status, 404);
  EXPECT_EQ(get("/ui/package.json").status, 404);
  EXPECT_EQ(service->Handle({"POST", "/ui", "", ""}).status, 405);
  EXPECT_EQ(get("/api/whoami").body, R"({"auth":false,"scopes":["read_online","write_online",)"
                                     R"("write_offline","materialize","read_offline"]})");
}

TEST_F(FeatureServiceTest, UiApiNeedsAValidTokenAndStatisticsNeedReadOffline) {
  WriteAuth();
  auto service = Serve();
  auto get = [&](std::string_view path, std::string_view token) {
    return service->Handle({"GET", path, "", token}).status;
  };
  for (std::string_view path : {"/api/whoami", "/api/registry", "/api/freshness", "/api/metrics"}) {
    EXPECT_EQ(get(path, ""), 401) << path;
    EXPECT_EQ(get(path, "Bearer wrong"), 401) << path;
    EXPECT_EQ(get(path, "Bearer reader-token"), 200) << path;
  }
  EXPECT_EQ(service
                ->Handle({"POST", "/api/statistics", R"({"feature_view": "driver_stats"})",
                          "Bearer reader-token"})
                .status,
            403);
  EXPECT_EQ(get("/api/statistics/1", "Bearer reader-token"), 403);
  EXPECT_EQ(get("/ui", ""), 200);
  EXPECT_EQ(service->Handle({"GET", "/api/whoami", "", "Bearer reader-token"}).body,
            R"({"auth":true,"scopes":["read_online"]})");
}

}  // namespace
}  // namespace headwater::server
