#include "api/portal_routes.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "services/testing/refusing_authenticator.h"

namespace stackbill {
namespace {

constexpr Timestamp kNow = Timestamp::FromUnixSeconds(1'800'000'000);

class PortalRoutesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("stackbill-portal-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_ / "nested");
    Write("index.html", "<!doctype html><title>portal</title>");
    Write("app.js", "console.log('portal');");
    Write("portal.css", "body{}");
    Write(".hidden.js", "secret");
    Write("notes.md", "not served");
    Write("nested/inner.js", "not served");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void Write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
  }

  HttpResponse Get(const Router& router, std::string path) {
    HttpRequest request;
    request.method = "GET";
    request.path = std::move(path);
    request.request_id = "rid";
    return router.Dispatch(request, kNow);
  }

  std::filesystem::path dir_;
  RefusingAuthenticator authenticator_;
};

std::string Header(const HttpResponse& response, std::string_view name) {
  for (const auto& [key, value] : response.headers) {
    if (key == name) return value;
  }
  return "";
}

// Issue 10: only plain names with the portal's extensions are served, from
// one flat directory, with no token, each with the portal's CSP.
TEST_F(PortalRoutesTest, ServesThePortalFilesWithoutATokenUnderTheCsp) {
  absl::StatusOr<PortalAssets> assets = LoadPortalAssets(dir_);
  ASSERT_TRUE(assets.ok()) << assets.status();
  EXPECT_EQ(assets->files.size(), 3u);
  Router router(authenticator_, "https://billing.example");
  ASSERT_TRUE(AddPortalRoutes(router, *std::move(assets)).ok());

  for (const std::string path : {"/portal", "/portal/"}) {
    const HttpResponse index = Get(router, path);
    EXPECT_EQ(index.status, 200) << path;
    EXPECT_EQ(index.content_type, "text/html; charset=utf-8");
    EXPECT_EQ(index.body, "<!doctype html><title>portal</title>");
    EXPECT_EQ(Header(index, "Content-Security-Policy"), kPortalContentSecurityPolicy);
    EXPECT_EQ(Header(index, "X-Content-Type-Options"), "nosniff");
  }
  const HttpResponse script = Get(router, "/portal/app.js");
  EXPECT_EQ(script.status, 200);
  EXPECT_EQ(script.content_type, "text/javascript; charset=utf-8");
  EXPECT_EQ(Header(script, "Content-Security-Policy"), kPortalContentSecurityPolicy);
  EXPECT_EQ(Get(router, "/portal/portal.css").content_type, "text/css; charset=utf-8");

  for (const std::string path :
       {"/portal/.hidden.js", "/portal/notes.md", "/portal/nested/inner.js", "/portal/../s.db",
        "/portal/missing.js"}) {
    EXPECT_EQ(Get(router, path).status, 404) << path;
  }
}

TEST_F(PortalRoutesTest, AMissingDirectoryOrIndexIsNotFound) {
  EXPECT_TRUE(absl::IsNotFound(LoadPortalAssets(dir_ / "absent").status()));
  std::filesystem::remove(dir_ / "index.html");
  EXPECT_TRUE(absl::IsNotFound(LoadPortalAssets(dir_).status()));
}

// The policy forbids inline scripts and eval, and every other origin.
TEST(PortalPolicyTest, AllowsOnlyTheServersOwnScriptsAndApi) {
  const std::string_view csp = kPortalContentSecurityPolicy;
  EXPECT_NE(csp.find("default-src 'none'"), std::string_view::npos);
  EXPECT_NE(csp.find("script-src 'self';"), std::string_view::npos);
  EXPECT_NE(csp.find("connect-src 'self'"), std::string_view::npos);
  EXPECT_EQ(csp.find("unsafe"), std::string_view::npos);
}

}  // namespace
}  // namespace stackbill
