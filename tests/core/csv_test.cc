// core/csv.h against RFC 4180 (section 2's grammar). The oracle: each case's fields are written
// out by hand from the grammar, not produced by the code under test.
#include "core/csv.h"

#include <gtest/gtest.h>

#include <sstream>

namespace ds2 {
namespace {

using Fields = std::vector<std::string>;

Fields split(const std::string& text) {
  Fields f;
  const std::string err = split_csv_record(text, &f);
  EXPECT_EQ(err, "") << "record: " << text;
  return f;
}

std::string split_error(const std::string& text) {
  Fields f;
  return split_csv_record(text, &f);
}

std::vector<CsvRecord> read_all(const std::string& text) {
  std::istringstream in(text);
  CsvReader r(in);
  std::vector<CsvRecord> out;
  for (CsvRecord rec; r.next(&rec);) out.push_back(rec);
  return out;
}

TEST(Csv, PlainFields) {
  EXPECT_EQ(split("aaa,bbb,ccc"), (Fields{"aaa", "bbb", "ccc"}));
  EXPECT_EQ(split(" a , b "), (Fields{" a ", " b "}));  // spaces are part of a field
  EXPECT_EQ(split("x"), (Fields{"x"}));
}

TEST(Csv, EmptyFieldsAreKeptTrailingOneToo) {
  // A split on ',' through std::getline returns {"1", "2.5"} here: the field after the last
  // comma is lost (what eval/report.cc's old reader did).
  EXPECT_EQ(split("1,2.5,"), (Fields{"1", "2.5", ""}));
  EXPECT_EQ(split(",a"), (Fields{"", "a"}));
  EXPECT_EQ(split(",,"), (Fields{"", "", ""}));
  EXPECT_EQ(split(""), (Fields{""}));
  EXPECT_EQ(split("\"\",\"\""), (Fields{"", ""}));
}

TEST(Csv, EscapedFields) {
  EXPECT_EQ(split("\"aaa\",\"b,bb\",ccc"), (Fields{"aaa", "b,bb", "ccc"}));
  EXPECT_EQ(split("\"he said \"\"hi\"\"\""), (Fields{"he said \"hi\""}));
  EXPECT_EQ(split("\"\"\"\""), (Fields{"\""}));
  EXPECT_EQ(split("a,\"b\"\"\",c"), (Fields{"a", "b\"", "c"}));
}

TEST(Csv, CrlfEndsARecord) {
  EXPECT_EQ(split("a,b\r"), (Fields{"a", "b"}));
  EXPECT_EQ(split("a,\r"), (Fields{"a", ""}));
  EXPECT_EQ(split("a,\"q\"\r"), (Fields{"a", "q"}));
}

TEST(Csv, MalformedRecordsNameTheField) {
  EXPECT_EQ(split_error("a\"b"), "field 1: a quote inside an unquoted field");
  EXPECT_EQ(split_error("x,\"a\"b,c"), "field 2: text after its closing quote");
  EXPECT_EQ(split_error("\"abc"), "field 1: unterminated quote");
  EXPECT_EQ(split_error("x,y,\"abc,def"), "field 3: unterminated quote");
}

TEST(Csv, ReaderJoinsLinesInsideQuotesAndNumbersRecords) {
  const auto r = read_all("h1,h2\r\n\"line1\r\nline2\",x\r\n\r\n  \t\nlast,\"row\"");
  ASSERT_EQ(r.size(), 5u);
  EXPECT_EQ(r[0].fields, (Fields{"h1", "h2"}));
  EXPECT_EQ(r[0].line, 1);
  EXPECT_EQ(r[1].fields, (Fields{"line1\nline2", "x"}));
  EXPECT_EQ(r[1].line, 2);
  EXPECT_EQ(r[1].lines, 2);
  EXPECT_TRUE(r[2].blank);
  EXPECT_EQ(r[2].line, 4);
  EXPECT_TRUE(r[3].blank);
  EXPECT_FALSE(r[4].blank);
  EXPECT_EQ(r[4].line, 6);
  EXPECT_EQ(r[4].fields, (Fields{"last", "row"}));
  for (const auto& rec : r) EXPECT_EQ(rec.error, "");
}

TEST(Csv, ReaderReportsAQuoteOpenAtTheEnd) {
  const auto r = read_all("a,b\nc,\"open,\nmore\n");
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[1].line, 2);
  EXPECT_EQ(r[1].lines, 2);  // lines 2 and 3, to the end of the input
  EXPECT_EQ(r[1].error, "field 2: unterminated quote");
}

TEST(Csv, ReaderGoesOnAfterAMalformedLine) {
  const auto r = read_all("a\"b,c\nd,e\n");
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].error, "field 1: a quote inside an unquoted field");
  EXPECT_EQ(r[1].fields, (Fields{"d", "e"}));
  EXPECT_EQ(r[1].line, 2);
}

TEST(Csv, WriterQuotesOnlyWhenNeeded) {
  EXPECT_EQ(csv_field("plain text"), "plain text");
  EXPECT_EQ(csv_field(""), "");
  EXPECT_EQ(csv_field("a,b"), "\"a,b\"");
  EXPECT_EQ(csv_field("say \"x\""), "\"say \"\"x\"\"\"");
  EXPECT_EQ(csv_field("two\nlines"), "\"two\nlines\"");
  EXPECT_EQ(csv_field("cr\r"), "\"cr\r\"");
  EXPECT_EQ(csv_record({"1", "a,b", ""}), "1,\"a,b\",");
}

TEST(Csv, WhatTheWriterWritesReadsBack) {
  // A regression check of writer against reader (both are this file's code); the cases above
  // are the oracle for each side.
  const Fields f = {"", "a", "b,c", "\"", "x\ny", " sp ", "\"\"q\"", ","};
  std::istringstream in(csv_record(f) + "\n" + csv_record({"next"}) + "\n");
  CsvReader r(in);
  CsvRecord rec;
  ASSERT_TRUE(r.next(&rec));
  EXPECT_EQ(rec.fields, f);
  EXPECT_EQ(rec.lines, 2);
  ASSERT_TRUE(r.next(&rec));
  EXPECT_EQ(rec.fields, Fields{"next"});
  EXPECT_EQ(rec.line, 3);
  EXPECT_FALSE(r.next(&rec));
}

}  // namespace
}  // namespace ds2
