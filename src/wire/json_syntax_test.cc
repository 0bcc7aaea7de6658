// FirstJsonError (nlohmann's SAX parser): JSON passes; each kind of error is
// found at the offending byte; strings refuse invalid UTF-8 and unpaired
// surrogates; a number beyond a double is an error of its own kind.

#include "wire/json_syntax.h"

#include <gtest/gtest.h>

#include <string>

namespace stackbill {
namespace {

TEST(JsonSyntaxTest, JsonTextsPass) {
  for (const std::string_view text :
       {"{}", "[]", " {\"a\" : [1, -2.5e+3, true, false, null, \"x\"]}\r\n", "0", "-0", "\"\"",
        "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00\"", "[[],{},[{}]]", "{\"a\":{\"b\":{}}}",
        "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"", "18446744073709551616", "1e-400"}) {
    EXPECT_FALSE(FirstJsonError(text).has_value()) << text;
  }
}

TEST(JsonSyntaxTest, ANumberBeyondADoubleIsOutOfRange) {
  for (const std::string_view text : {"1e400", "[-1e400]", R"({"quantity":1e400})"}) {
    const std::optional<JsonError> error = FirstJsonError(text);
    ASSERT_TRUE(error.has_value()) << text;
    EXPECT_TRUE(error->number_out_of_range) << text;
  }
}

TEST(JsonSyntaxTest, ErrorIsFoundAtTheOffendingByte) {
  struct Case {
    std::string_view text;
    std::size_t offset;
  };
  for (const Case& c :
       {Case{R"({"value":[1,]})", 12}, Case{"[1 2]", 3}, Case{"{\"a\" 1}", 5}, Case{"{a:1}", 1},
        Case{"{\"a\":1,}", 7}, Case{"[1]]", 3}, Case{"[1] x", 4}, Case{"tru", 3}}) {
    const std::optional<JsonError> error = FirstJsonError(c.text);
    ASSERT_TRUE(error.has_value()) << c.text;
    EXPECT_EQ(error->offset, c.offset) << c.text;
    EXPECT_FALSE(error->number_out_of_range) << c.text;
  }
}

TEST(JsonSyntaxTest, TextThatEndsEarlyFails) {
  for (const std::string_view text : {"", "  ", "{", "[1,", "{\"a\":", "\"abc"}) {
    EXPECT_TRUE(FirstJsonError(text).has_value()) << text;
  }
}

TEST(JsonSyntaxTest, InvalidUtf8InAStringFails) {
  for (const std::string_view text :
       {"\"\xff\"", "\"\xc0\x80\"", "\"\xe0\x80\x80\"", "\"\xed\xa0\x80\"", "\"\xf4\x90\x80\x80\"",
        "\"\xc3\"", "\"\x80\""}) {
    EXPECT_TRUE(FirstJsonError(text).has_value()) << text;
  }
}

TEST(JsonSyntaxTest, UnpairedSurrogateEscapeFails) {
  for (const std::string_view text :
       {R"("\ud800")", R"("\udc00")", R"("\ud800\u0041")", R"("\ud800\ud800")", R"("\ud800x")"}) {
    EXPECT_TRUE(FirstJsonError(text).has_value()) << text;
  }
}

TEST(JsonSyntaxTest, AppendJsonStringEscapesWhatJsonRequires) {
  std::string out = "x";
  AppendJsonString("", out);
  AppendJsonString(R"({"a":"b\c"})", out);
  AppendJsonString("\x01tab\tnew\nend\x1f", out);
  AppendJsonString("caf\xc3\xa9 plain", out);
  EXPECT_EQ(out, std::string(R"(x"""{\"a\":\"b\\c\"}""\u0001tab\u0009new\u000aend\u001f")") +
                     "\"caf\xc3\xa9 plain\"");
  // Whatever goes in comes back out of a JSON parser.
  for (std::string_view text : {"", "\"", "\\\\", "a\"b\\c\x02", "plain text"}) {
    std::string json;
    AppendJsonString(text, json);
    EXPECT_FALSE(FirstJsonError(json).has_value()) << json;
  }
}

}  // namespace
}  // namespace stackbill
