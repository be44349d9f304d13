// The RFC 4180 reader and writer (grammar and leniencies in csv.h).
//
// The reader is a state machine fed one physical line at a time, so a record that spans lines
// (a quoted field holding a line break) costs one pass over its characters:
//   kStart     at the start of a field:  '"' -> kQuoted, ',' -> empty field, else kPlain
//   kPlain     in a non-escaped field:   ',' ends the field, '"' is an error
//   kQuoted    in an escaped field:      '"' -> kQuote, else data (line breaks too)
//   kQuote     after a '"' in kQuoted:   '"' -> a literal '"' (kQuoted), ',' ends the field,
//                                        the end of the line ends the record, else an error
// The end of a line ends the record in every state but kQuoted.
#include "core/csv.h"

#include <fmt/format.h>

namespace ds2 {

namespace {

class Splitter {
 public:
  explicit Splitter(std::vector<std::string>* fields) : fields_(fields) { fields_->clear(); }

  // Feeds one line (without its break); true when the record is complete.
  bool feed(std::string_view line) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    for (char c : line) {
      if (!error_.empty()) return true;  // the rest of the line belongs to the bad record
      step(c);
    }
    if (state_ == kQuoted) {
      cur_ += '\n';
      return false;
    }
    if (error_.empty()) fields_->push_back(std::move(cur_));
    return true;
  }
  // The input ended inside an escaped field.
  void end_of_input() { error_ = fmt::format("field {}: unterminated quote", field_no()); }
  std::string error() const { return error_; }

 private:
  enum State { kStart, kPlain, kQuoted, kQuote };

  size_t field_no() const { return fields_->size() + 1; }
  void end_field() {
    fields_->push_back(std::move(cur_));
    cur_.clear();
    state_ = kStart;
  }
  void step(char c) {
    switch (state_) {
      case kStart:
        if (c == '"')
          state_ = kQuoted;
        else if (c == ',')
          end_field();
        else {
          cur_ += c;
          state_ = kPlain;
        }
        break;
      case kPlain:
        if (c == ',')
          end_field();
        else if (c == '"')
          error_ = fmt::format("field {}: a quote inside an unquoted field", field_no());
        else
          cur_ += c;
        break;
      case kQuoted:
        if (c == '"')
          state_ = kQuote;
        else
          cur_ += c;
        break;
      case kQuote:
        if (c == '"') {
          cur_ += c;
          state_ = kQuoted;
        } else if (c == ',')
          end_field();
        else
          error_ = fmt::format("field {}: text after its closing quote", field_no());
        break;
    }
  }

  std::vector<std::string>* fields_;
  std::string cur_, error_;
  State state_ = kStart;
};

bool blank_line(std::string_view s) {
  if (!s.empty() && s.back() == '\r') s.remove_suffix(1);
  return s.find_first_not_of(" \t") == std::string_view::npos;
}

}  // namespace

std::string split_csv_record(std::string_view text, std::vector<std::string>* fields) {
  Splitter s(fields);
  if (!s.feed(text)) s.end_of_input();
  return s.error();
}

bool CsvReader::next(CsvRecord* r) {
  std::string line;
  if (!std::getline(in_, line)) return false;
  r->line = ++line_;
  r->lines = 1;
  r->blank = blank_line(line);
  Splitter s(&r->fields);
  bool done = s.feed(line);
  while (!done) {
    if (!std::getline(in_, line)) {
      s.end_of_input();
      break;
    }
    ++line_;
    ++r->lines;
    done = s.feed(line);
  }
  r->error = s.error();
  return true;
}

std::string csv_field(std::string_view s) {
  if (s.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(s);
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string csv_record(const std::vector<std::string>& fields) {
  std::string out;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i) out += ',';
    out += csv_field(fields[i]);
  }
  return out;
}

}  // namespace ds2
