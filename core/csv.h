// CSV as RFC 4180 defines it: the one reader and writer of comma-separated files (the CSV
// manifest, RUN/metrics.csv and RUN/dev.csv, the report's reads of them).
//
// Grammar (RFC 4180, section 2):
//   record  = field *("," field)
//   field   = escaped / non-escaped
//   escaped = DQUOTE *(TEXTDATA / "," / CR / LF / 2DQUOTE) DQUOTE
//   non-escaped = *TEXTDATA            (TEXTDATA: any character but DQUOTE, ",", CR, LF)
// What this reader takes from it and where it is lenient:
//   - a record ends at LF or CRLF outside quotes; inside an escaped field a line break is data
//     (read back as "\n" whichever break the file used), so a record may span lines;
//   - "a,b," has three fields, the last one empty; an empty line is one empty field;
//   - a DQUOTE inside a non-escaped field, or text between a closing DQUOTE and the next
//     comma, is malformed (the record's `error` names the field); so is an escaped field that
//     the input ends inside;
//   - fields are not trimmed: spaces belong to the field.
// The writer quotes a field only when it holds a comma, a DQUOTE, CR or LF (doubling DQUOTEs),
// so reading back what it wrote gives the same fields.
#pragma once

#include <cstdint>
#include <istream>
#include <string>
#include <string_view>
#include <vector>

namespace ds2 {

// One record of a CSV file.
struct CsvRecord {
  std::vector<std::string> fields;
  int64_t line = 0;    // 1-based line of the file where the record starts
  int64_t lines = 0;   // physical lines it spans (more than 1 when a quoted field holds a break)
  bool blank = false;  // the line was empty or held only spaces and tabs (fields: that text)
  // Empty when the record is well-formed; else what is wrong, naming the 1-based field, e.g.
  // "field 3: unterminated quote". `fields` then holds the fields before the bad one.
  std::string error;
};

// Splits one record held whole in `text` (a line break outside quotes is not expected there;
// one trailing CR is dropped). Returns "" when well-formed, else the error as in CsvRecord.
std::string split_csv_record(std::string_view text, std::vector<std::string>* fields);

// Reads the records of a CSV stream one at a time (memory: one record).
class CsvReader {
 public:
  explicit CsvReader(std::istream& in) : in_(in) {}
  // The next record into `r`; false at the end of the input (r then untouched).
  bool next(CsvRecord* r);

 private:
  std::istream& in_;
  int64_t line_ = 0;
};

// `s` as one CSV field: as it is, or in DQUOTEs with its DQUOTEs doubled when it holds a
// comma, a DQUOTE, CR or LF.
std::string csv_field(std::string_view s);
// The fields as one record (no line break at the end).
std::string csv_record(const std::vector<std::string>& fields);

}  // namespace ds2
