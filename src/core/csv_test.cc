#include "core/csv.h"

#include <gtest/gtest.h>

#include "core/error.h"

namespace stackbill {
namespace {

TEST(CsvTest, ParsesQuotedFieldsWithCommasQuotesAndNewlines) {
  auto rows = ParseCsv("a,\"b,c\",\"say \"\"hi\"\"\"\r\n1,\"two\nlines\",3\n", "t.csv");
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0], (CsvRow{"a", "b,c", "say \"hi\""}));
  EXPECT_EQ((*rows)[1], (CsvRow{"1", "two\nlines", "3"}));
}

TEST(CsvTest, AcceptsAMissingFinalLineEndAndEmptyFields) {
  auto rows = ParseCsv("a,,c", "t.csv");
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ((*rows)[0], (CsvRow{"a", "", "c"}));
}

void ExpectCsvError(std::string_view text, std::string_view where) {
  auto rows = ParseCsv(text, "t.csv");
  ASSERT_FALSE(rows.ok()) << text;
  EXPECT_EQ(rows.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ErrorCode(rows.status()), "InvalidCsv");
  EXPECT_NE(Message(rows.status()).find(where), std::string_view::npos) << rows.status();
}

TEST(CsvTest, RejectsAnUnterminatedQuoteNamingWhereItOpened) {
  ExpectCsvError("a,b\nc,\"never closed\n", "t.csv:2:3");
}

TEST(CsvTest, RejectsAQuoteInsideAnUnquotedField) { ExpectCsvError("ab\"c\n", "t.csv:1:3"); }

TEST(CsvTest, RejectsTextAfterAClosingQuote) { ExpectCsvError("\"a\"b,c\n", "t.csv:1:4"); }

TEST(CsvTest, RejectsABareCarriageReturn) { ExpectCsvError("a\rb\n", "t.csv:1:2"); }

TEST(CsvTest, TableRejectsARowWithTheWrongNumberOfFields) {
  auto table = ParseCsvTable("x,y\n1,2\n3\n", "t.csv");
  ASSERT_FALSE(table.ok());
  EXPECT_EQ(ErrorCode(table.status()), "InvalidCsv");
  EXPECT_NE(Message(table.status()).find("t.csv:3"), std::string_view::npos);
}

TEST(CsvTest, TableRejectsEmptyInput) {
  EXPECT_EQ(ErrorCode(ParseCsvTable("", "t.csv").status()), "InvalidCsv");
}

TEST(CsvTest, TableFindsColumnsAndRowLines) {
  auto table = ParseCsvTable("x,y\n1,\"a\nb\"\n3,4\n", "t.csv");
  ASSERT_TRUE(table.ok());
  EXPECT_EQ(table->ColumnIndex("y"), 1);
  EXPECT_EQ(table->ColumnIndex("z"), -1);
  EXPECT_EQ(table->row_lines, (std::vector<int>{2, 4}));
}

TEST(CsvWriterTest, QuotesWhatNeedsItAndNeutralisesFormulas) {
  EXPECT_EQ(CsvText("plain"), "plain");
  EXPECT_EQ(CsvText("a,b"), "\"a,b\"");
  EXPECT_EQ(CsvText("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(CsvText("two\nlines"), "\"two\nlines\"");
  EXPECT_EQ(CsvText("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
  EXPECT_EQ(CsvText("+1"), "'+1");
  EXPECT_EQ(CsvText("-2"), "'-2");
  EXPECT_EQ(CsvText("@SUM(A1)"), "'@SUM(A1)");
  EXPECT_EQ(CsvText(""), "");
  std::string out;
  AppendCsvLine(out, {"a", "1.5", CsvText("x,y")});
  EXPECT_EQ(out, "a,1.5,\"x,y\"\r\n");
  // What it writes reads back as the text (after the neutralising quote).
  auto rows = ParseCsv(out, "test");
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ((*rows)[0], (CsvRow{"a", "1.5", "x,y"}));
}

}  // namespace
}  // namespace stackbill
