// Request routing and error mapping of the feature server, in process (no HTTP transport).
#include "headwater/server/feature_service.h"

#include <gtest/gtest.h>

#include <fstream>

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

}  // namespace
}  // namespace headwater::server
